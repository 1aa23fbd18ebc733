# shellcheck shell=bash
# Interop test servers (tests/interop/): oidc-provider (npm) and django-oauth-toolkit (PyPI).
# Sourced by scripts/test-setup.sh (make test, .ci/run) from the repo root, `set -euo pipefail` active,
# venv activated.
# Idempotent and fast on a warm machine: each step is skipped when its pinned result is already there.

_ft_oidc_dir="tests/interop/servers/oidc"

# -- oidc-provider 9.13.3 (exact tree from package-lock.json) --------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "ci.d/interop.sh: node (>= 20) and npm are required for the oidc-provider interop server" >&2
    return 1
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    echo "ci.d/interop.sh: oidc-provider 9 needs Node >= 20, found $(node --version)" >&2
    return 1
fi
_ft_lock_sum="$(sha256sum "$_ft_oidc_dir/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$_ft_oidc_dir/node_modules/.freshtoken-lock-sha256" 2>/dev/null || true)" != "$_ft_lock_sum" ]; then
    (cd "$_ft_oidc_dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$_ft_lock_sum" > "$_ft_oidc_dir/node_modules/.freshtoken-lock-sha256"
fi

# -- django-oauth-toolkit 3.4.1 + Django 5.2 into the active python --------------------------------
_ft_dot_pins=("django==5.2.19" "django-oauth-toolkit==3.4.1" "oauthlib==4.0.1")
if ! python - "${_ft_dot_pins[@]}" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    assert version(name) == want, pin
PY
then
    python -m pip install --disable-pip-version-check -q "${_ft_dot_pins[@]}"
fi

unset _ft_oidc_dir _ft_lock_sum _ft_dot_pins
