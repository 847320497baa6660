#!/usr/bin/env bash
# The main job: the local mode on the quickstart. Set-up first (scripts/setup.sh), then `twctl up`: NATS, the
# demo ERP on PostgreSQL and its bridge, the marketplace sandboxes and the adapters, a steady scenario with
# live progress for TRADEWIND_RUN_DURATION (default 60s), a drain, and a summary with a consistency check.
# Pass arguments to change it, e.g. `./scripts/run.sh --scenario chaos --duration 2m`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

printf '\n\033[1m==> building twctl\033[0m\n'
cargo build --quiet --locked -p cli --bin twctl
target="${CARGO_TARGET_DIR:-target}"
twctl="$target/debug/twctl"

printf '\n\033[1m==> twctl validate examples/\033[0m\n'
"$twctl" validate examples/

if [ "$#" -eq 0 ]; then
  set -- --duration "${TRADEWIND_RUN_DURATION:-60s}" --summary "$target/tradewind-summary.json"
fi
printf '\n\033[1m==> twctl up examples/quickstart %s\033[0m\n' "$*"
exec "$twctl" up examples/quickstart "$@"
