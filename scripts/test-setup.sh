#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine. Idempotent: fast when all is there.
# Each area of the project owns one snippet in ci.d/; they run here with the venv active.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
source .venv/bin/activate
for snippet in ci.d/*.sh; do
  [ -e "$snippet" ] || continue
  echo "== test set-up: $snippet"
  # shellcheck disable=SC1090
  source "$snippet"
done
