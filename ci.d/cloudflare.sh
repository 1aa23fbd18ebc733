# shellcheck shell=bash
# Cloudflare runtime tests (tests/cloudflare/): real workerd through miniflare (npm), and wrangler for the
# example Worker's config check. Sourced by .ci/run from the repo root with `set -euo pipefail` active
# and the venv activated. Idempotent: a directory whose node_modules came from the same
# package-lock.json is left alone.

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "ci.d/cloudflare.sh: node (>= 20) and npm are required for miniflare/workerd and wrangler" >&2
    return 1
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    echo "ci.d/cloudflare.sh: wrangler 4.86 / miniflare 4 need Node >= 20, found $(node --version)" >&2
    return 1
fi

# miniflare 4.20260426.0 (workerd 1.20260426.1) and wrangler 4.86.0 (the last release for Node 20)
for _ft_cf_dir in tests/cloudflare/harness examples/cloudflare-worker; do
    _ft_cf_sum="$(sha256sum "$_ft_cf_dir/package-lock.json" | cut -d' ' -f1)"
    if [ "$(cat "$_ft_cf_dir/node_modules/.freshtoken-lock-sha256" 2>/dev/null || true)" != "$_ft_cf_sum" ]; then
        (cd "$_ft_cf_dir" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$_ft_cf_sum" > "$_ft_cf_dir/node_modules/.freshtoken-lock-sha256"
    fi
done
unset _ft_cf_dir _ft_cf_sum

# The workerd tests fail instead of skipping when the runtime is missing (also whenever CI is set).
export FRESHTOKEN_REQUIRE_WORKERD=1
export WRANGLER_SEND_METRICS=false
