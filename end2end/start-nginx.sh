#!/usr/bin/env bash
# Runs nginx in front of a Cecyber test server, for tests/proxy.spec.ts, with the recipe that
# README.md shows (end2end/nginx/cecyber.conf) as its configuration. Only what cannot be the same
# on a test machine is replaced, each line checked to be found exactly once: the listen address
# (HTTPS on 127.0.0.1:PORT, no IPv6), Cecyber's address (127.0.0.1:BACKEND_PORT) and the
# certificate (self-signed, made here). Everything nginx writes — pid, logs, temp files, the
# rendered configuration — is in target/e2e-nginx-PORT, so it runs as root or not, beside any
# system nginx. It stays in the foreground: Playwright stops it.
# Usage: start-nginx.sh PORT BACKEND_PORT
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-3390}
backend=${2:-3380}
nginx=${NGINX:-/usr/sbin/nginx}
[ -x "$nginx" ] || { echo "start-nginx.sh: $nginx is missing (.ci/lib.sh's need_nginx installs it)" >&2; exit 1; }
dir=$PWD/target/e2e-nginx-$port
rm -rf "$dir"
mkdir -p "$dir/logs" "$dir/temp"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null

awk -v port="$port" -v backend="$backend" -v dir="$dir" '
  { t = $0; sub(/^[ \t]+/, "", t); indent = substr($0, 1, length($0) - length(t)) }
  t == "listen 443 ssl http2;"      { print indent "listen 127.0.0.1:" port " ssl http2;"; hit[1]++; next }
  t == "listen [::]:443 ssl http2;" { hit[2]++; next }
  t == "server 127.0.0.1:3000;"     { print indent "server 127.0.0.1:" backend ";"; hit[3]++; next }
  t ~ /^ssl_certificate[ \t]/       { print indent "ssl_certificate " dir "/cert.pem;"; hit[4]++; next }
  t ~ /^ssl_certificate_key[ \t]/   { print indent "ssl_certificate_key " dir "/key.pem;"; hit[5]++; next }
  { print }
  END {
    split("listen 443|listen [::]:443|server 127.0.0.1:3000|ssl_certificate|ssl_certificate_key", what, "|")
    for (i = 1; i <= 5; i++) if (hit[i] != 1) {
      printf "start-nginx.sh: end2end/nginx/cecyber.conf has %d \"%s\" lines, 1 expected: update this script with it\n", hit[i], what[i] > "/dev/stderr"
      bad = 1
    }
    exit bad
  }
' end2end/nginx/cecyber.conf > "$dir/cecyber.conf"

# Test-only wrapper: the main context and the http block around the recipe. As root, the
# workers stay root so they can write the temp files here (nginx would otherwise use nobody).
{
  if [ "$(id -u)" -eq 0 ]; then echo 'user root;'; fi
  cat <<CONF
worker_processes 1;
pid nginx.pid;
error_log logs/error.log warn;
events { worker_connections 512; }
http {
    access_log logs/access.log;
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    include cecyber.conf;
}
CONF
} > "$dir/nginx.conf"

"$nginx" -e stderr -p "$dir/" -c "$dir/nginx.conf" -t -q
exec "$nginx" -e stderr -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;'
