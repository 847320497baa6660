#!/usr/bin/env bash
# The main job. Today: validate every example and render the quickstart, as the operator's admission and
# rendering would see them. The local mode (`twctl up examples/quickstart`: NATS, sandboxes, demo ERP and
# adapters syncing) replaces this as it lands.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --quiet --locked -p cli --bin twctl
twctl=target/debug/twctl

printf '\n\033[1m==> twctl validate examples/\033[0m\n'
"$twctl" validate examples/

printf '\n\033[1m==> twctl render examples/quickstart\033[0m\n'
"$twctl" render examples/quickstart

cat <<'MSG'

The examples are valid, and above is the quickstart as the API server would store it.
Not yet here: the local mode that runs the sync (NATS, sandboxes, demo ERP, adapters) is being built
(issues: adapter runtime, connectors, ERP connections, twctl up); this command will run it when it lands.
MSG
