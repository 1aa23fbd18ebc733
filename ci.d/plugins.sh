# Sourced by .ci/run from the repo root (venv active, set -euo pipefail).
# Installs every provider plugin under plugins/ (editable, one pip call) so that their entry points are
# registered and `pytest` (testpaths include plugins/) runs each plugin's tests and the conformance kit.
plugin_args=()
for plugin_dir in plugins/*/; do
    if [[ -f "${plugin_dir}pyproject.toml" ]]; then
        plugin_args+=(-e "${plugin_dir%/}")
    fi
done
if ((${#plugin_args[@]})); then
    # hatchling/editables are the plugins' build backend; installing them first lets pip build without
    # network access to a fresh isolated build environment.
    python -m pip install --quiet hatchling editables
    python -m pip install --quiet --no-build-isolation --no-deps "${plugin_args[@]}"
fi
unset plugin_args plugin_dir
