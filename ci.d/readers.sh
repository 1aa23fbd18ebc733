# shellcheck shell=bash
# The token readers in other languages (readers/, tests/reader/): Go from Debian (the Go reader is standard
# library only: no module download), the npm `redis` client for the Node reader. The Worker reader runs in
# the miniflare/workerd that ci.d/cloudflare.sh installs. Sourced by scripts/test-setup.sh from the repo root,
# venv active, `set -euo pipefail`. Idempotent: each step is skipped when its result is already there.

if ! command -v go >/dev/null 2>&1; then
    _ft_sudo=""
    if [ "$(id -u)" != "0" ]; then _ft_sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $_ft_sudo apt-get install -y -q golang-go || { $_ft_sudo apt-get update -q && $_ft_sudo apt-get install -y -q golang-go; }
    unset _ft_sudo
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "ci.d/readers.sh: node (>= 20) and npm are required for the Node reader" >&2
    return 1
fi
_ft_rd_sum="$(sha256sum readers/node/package-lock.json | cut -d' ' -f1)"
if [ "$(cat readers/node/node_modules/.freshtoken-lock-sha256 2>/dev/null || true)" != "$_ft_rd_sum" ]; then
    (cd readers/node && npm ci --no-audit --no-fund --loglevel=error)
    echo "$_ft_rd_sum" > readers/node/node_modules/.freshtoken-lock-sha256
fi
unset _ft_rd_sum

# The reader tests fail instead of skipping when a toolchain is missing.
export FRESHTOKEN_REQUIRE_READERS=1
