#!/usr/bin/env bash
# Starts Cecyber in demo mode for the end-to-end tests, with a fresh database each run.
# Usage: start-server.sh PORT [qemu]   — "qemu" runs the simulated VMs as real tiny QEMU VMs.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-3300}
data=target/e2e-$port
# CECYBER_E2E_KEEP=1 keeps the database, for a restart of the same server (restart.spec.ts).
if [ "${CECYBER_E2E_KEEP:-}" != 1 ]; then rm -rf "$data"; fi
mkdir -p "$data"
export CECYBER_LISTEN="127.0.0.1:$port"
export CECYBER_DATABASE_URL="sqlite://$data/cecyber.db"
export CECYBER_SITE_ROOT=target/site
export CECYBER_ADMIN_PASSWORD=e2e-admin-secret
export CECYBER_LOGIN_FAILURE_DELAY_MS=1000
# Fast live ticks, so "changes within two ticks" is quick to observe.
export CECYBER_LIVE_TICK_SECS=2
# A fixed port for the simulator, so tests can use its /_sim controls (e.g. drop consoles).
export CECYBER_DEMO__PORT=$((port + 1))
if [ "${2:-}" = qemu ]; then
  export CECYBER_DEMO__QEMU=true
fi
exec target/debug/cecyber --demo
