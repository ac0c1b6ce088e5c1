# Shared helpers for the scripts in .ci/: progress lines and idempotent installs.
# Every install checks first, so a second run costs seconds.

CI_STEP_T0=${CI_STEP_T0:-$(date +%s)}
export CI_STEP_T0

step() {
  local now; now=$(date +%s)
  printf '\n\033[1m[cecyber %4ss] %s\033[0m\n' "$((now - CI_STEP_T0))" "$*"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The wasm-bindgen version in Cargo.lock: the CLI must match it exactly.
wasm_bindgen_version() {
  grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p'
}

need_rust_wasm() {
  command -v cargo >/dev/null || { echo "Rust is missing: install it with rustup (https://rustup.rs)"; exit 1; }
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    step "Adding the wasm32 target (one time)"
    rustup target add wasm32-unknown-unknown
  fi
  local want; want=$(wasm_bindgen_version)
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    step "Installing wasm-bindgen-cli $want (one time, about 4 minutes on 2 cores)"
    # No --locked: its lock file pins crates some registries lack (see BUILD.md).
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

need_frontend_packages() {
  if [ ! -f frontend/node_modules/echarts/dist/echarts.min.js ] || [ ! -f frontend/node_modules/@novnc/novnc/core/rfb.js ] \
    || [ ! -x frontend/node_modules/.bin/wasm-opt ] || [ ! -x frontend/node_modules/.bin/esbuild ]; then
    step "Installing the browser's JavaScript packages (npm: ECharts, noVNC; binaryen, esbuild)"
    (cd frontend && npm ci --no-audit --no-fund)
  fi
}

need_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    step "Installing Chromium from Debian's packages (one time)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  fi
}

need_e2e_packages() {
  if [ ! -x end2end/node_modules/.bin/playwright ]; then
    step "Installing the end-to-end test packages (npm)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

# Python clients the simulator is tested against (src/tests/sim_clients.rs) and websockify, the
# reference proxy of the console benchmark (server/tests/console_bench.rs), pinned, in target/pyvenv
# (or $CECYBER_PYVENV).
need_python_clients() {
  local venv=${CECYBER_PYVENV:-target/pyvenv}
  if ! "$venv/bin/python" -c 'import proxmoxer, requests, pve_exporter, websockify' 2>/dev/null; then
    step "Installing the Python PVE clients for the simulator tests and websockify for the console benchmark (one time)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q proxmoxer==2.3.0 requests==2.34.2 prometheus-pve-exporter==3.10.2 \
      websockify==0.13.0
  fi
}

# QEMU for the simulator's QEMU mode (tests/sim_qemu.rs). From bookworm-backports: plain
# bookworm's QEMU 7.2 would remove the machine's qemu-utils 10 (see BUILD.md).
need_qemu() {
  if ! command -v qemu-system-x86_64 >/dev/null; then
    step "Installing QEMU from bookworm-backports (one time, about 100 MB)"
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo 'deb http://deb.debian.org/debian bookworm-backports main' \
        | as_root tee /etc/apt/sources.list.d/backports.list >/dev/null
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      -t bookworm-backports --no-install-recommends qemu-system-x86
  fi
}

# nginx for the reverse-proxy tests (end2end/tests/proxy.spec.ts). Only the binary is used: the
# tests run their own nginx (end2end/start-nginx.sh) with every path under target/, as root or
# not. Debian's package would start the system service on port 80: a policy-rc.d that refuses
# service starts is in place during the install (unless the machine has one already), and the
# service is disabled after it.
need_nginx() {
  if [ ! -x /usr/sbin/nginx ]; then
    step "Installing nginx from Debian's packages (one time; its service is not started)"
    local policy=/usr/sbin/policy-rc.d ours=false
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\n# Written by Cecyber'"'"'s .ci/lib.sh (need_nginx) for the install only.\nexit 101\n' \
        | as_root tee "$policy" >/dev/null
      as_root chmod 755 "$policy"
      ours=true
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx \
      || { if $ours; then as_root rm -f "$policy"; fi; return 1; }
    if $ours; then as_root rm -f "$policy"; fi
    # Nor at the next boot (`systemctl enable --now nginx` to use the system's nginx).
    if command -v systemctl >/dev/null; then as_root systemctl disable --quiet nginx 2>/dev/null || true; fi
  fi
}
