#!/usr/bin/env bash
# Throughput and latency of Pylon as a pass-through proxy, next to nginx doing the same job and
# to the backend alone, then of the same route behind `app` (Alibaba APP signature)
# authentication, and with the whole pipeline on (`pylon-full`: signature, throttling, an IP
# allow list, metrics and an access log file), measured in one run on this machine. HTTPS too:
# Pylon's TLS listener against nginx's `listen ssl`, same certificate, with keep-alive
# (`*-https`) and with a new connection and full handshake per request (`*-https-new`). See
# bench/README.md.
#
# Environment:
#   DURATION    seconds of each measured wrk run (default 15, at most 300)
#   WARMUP      seconds of the warm-up run before each measurement (default 3)
#   CONNECTIONS wrk connections (default 64); THREADS wrk threads (default 1)
#   ROUNDS      how many times to measure pylon, pylon-app and pylon-full, in turn (default 1, at
#               most 20)
#   CALLGRIND=1 instead of wrk: run Pylon under valgrind's callgrind and count the instructions it
#               executes per request, pass-through against app-signed and each pylon-full feature
#               (deterministic, unlike req/s on a shared machine); REQUESTS per target (default 2000)
#   PYLON_BIN   use this pylon binary instead of building one
#   SIGN_BIN    use this sign_requests binary (crates/auth/examples) instead of building one
#   KEEP_TMP=1  keep the temp dir (configs, logs, raw wrk output) after the run
set -euo pipefail

DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-1}
CALLGRIND=${CALLGRIND:-0}
REQUESTS=${REQUESTS:-2000}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for v in DURATION WARMUP CONNECTIONS THREADS ROUNDS CALLGRIND REQUESTS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((DURATION >= 1 && DURATION <= 300)) || die "DURATION must be between 1 and 300 seconds"
((WARMUP <= 60)) || die "WARMUP must be at most 60 seconds"
((CONNECTIONS >= 1 && CONNECTIONS <= 1024)) || die "CONNECTIONS must be between 1 and 1024"
((THREADS >= 1 && THREADS <= CONNECTIONS)) || die "THREADS must be between 1 and CONNECTIONS"
((ROUNDS >= 1 && ROUNDS <= 20)) || die "ROUNDS must be between 1 and 20"
((REQUESTS >= 100 && REQUESTS <= 1000000)) || die "REQUESTS must be between 100 and 1000000"

# ---------------------------------------------------------------------------------------------
# 1. Tools: nginx and wrk from Debian's packages, curl to drive the admin API.
# ---------------------------------------------------------------------------------------------
need_nginx_wrk_curl
# HAProxy and Caddy: reference rows, the other proxies users might pick instead (wrk runs only).
if ((CALLGRIND == 0)); then
  need_haproxy
  command -v caddy >/dev/null || { log "installing caddy"; apt_install caddy; }
fi
CADDY=$(command -v caddy || true)
if ((CALLGRIND)); then
  command -v valgrind >/dev/null || { log "installing valgrind"; apt_install valgrind; }
  command -v ab >/dev/null || { log "installing apache2-utils (ab)"; apt_install apache2-utils; }
fi

# ---------------------------------------------------------------------------------------------
# 2. Pylon, release build.
# ---------------------------------------------------------------------------------------------
need_pylon
# The signing load generator's precomputer: wrk's Lua cannot afford HMAC-SHA256 per request.
if [[ -n ${SIGN_BIN:-} ]]; then
  [[ -x $SIGN_BIN ]] || die "SIGN_BIN=$SIGN_BIN is not an executable"
else
  command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain, or set SIGN_BIN"
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/pylon-target}
  log "building the request signer (release example sign_requests of pylon-auth)"
  (cd "$ROOT" && cargo build --release -p pylon-auth --example sign_requests --quiet) ||
    die "cargo build of the sign_requests example failed"
  SIGN_BIN=$CARGO_TARGET_DIR/release/examples/sign_requests
fi
APP_LUA=$ROOT/bench/app-sign.lua
[[ -r $APP_LUA ]] || die "$APP_LUA missing"

TICK=$(getconf CLK_TCK)

# utime+stime, in clock ticks, of a process and its direct children (nginx master + workers;
# pylon's threads are already counted in its own process line).
cpu_ticks() {
  local root=$1 total=0 f stat rest pid ppid
  for f in /proc/[0-9]*/stat; do
    read -r stat 2>/dev/null <"$f" || continue
    pid=${stat%% *}
    rest=${stat##*) } # fields after the command name, which may hold spaces
    read -r _ ppid _ _ _ _ _ _ _ _ _ utime stime _ <<<"$rest"
    if [[ $pid == "$root" || $ppid == "$root" ]]; then
      total=$((total + utime + stime))
    fi
  done
  echo "$total"
}

# Sets MACHINE_BUSY and MACHINE_TOTAL, the machine's CPU time from /proc/stat in ticks, all CPUs
# (busy includes steal: time the hypervisor gave to someone else). No subshell: see below.
machine_ticks() {
  local _cpu user nice system idle iowait irq softirq steal
  read -r _cpu user nice system idle iowait irq softirq steal _ </proc/stat
  MACHINE_BUSY=$((user + nice + system + irq + softirq + steal))
  MACHINE_TOTAL=$((MACHINE_BUSY + idle + iowait))
}
# Sets CHILD_TICKS, utime+stime of this shell's waited-for children (fields 16 and 17 of its
# /proc stat), which around a wrk run is wrk's CPU. Called in this shell, not in $(...).
children_ticks() {
  local stat rest cutime cstime
  read -r stat </proc/$$/stat
  rest=${stat##*) }
  read -r _ _ _ _ _ _ _ _ _ _ _ _ _ cutime cstime _ <<<"$rest"
  CHILD_TICKS=$((cutime + cstime))
}

# ---------------------------------------------------------------------------------------------
# 3. The backend: nginx answering 200 "ok\n", one worker.
# ---------------------------------------------------------------------------------------------
BACKEND_PORT=$(free_port)
PROXY_PORT=$(free_port)
PROXY_TLS_PORT=$(free_port)
PYLON_PORT=$(free_port)
PYLON_TLS_PORT=$(free_port)
ADMIN_PORT=$(free_port)

# One certificate (ECDSA P-256, as most sites serve now) for both HTTPS servers. wrk sends the
# URL's address as SNI, which is no host name: each server presents it as its default.
command -v openssl >/dev/null || { log "installing openssl"; apt_install openssl; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=bench.localhost -addext "subjectAltName=DNS:bench.localhost" \
  -keyout "$TMP/tls.key" -out "$TMP/tls.pem" 2>/dev/null || die "openssl could not make the test certificate"
chmod 644 "$TMP/tls.key"

mkdir -p "$TMP/proxy-tmp"
write_backend_conf "$BACKEND_PORT"

# ---------------------------------------------------------------------------------------------
# 4. nginx as a plain reverse proxy with upstream keep-alive. Pylon's tokio runtime runs one
#    worker thread per core, so nginx gets one worker per core too (`auto`): same CPU budget.
# ---------------------------------------------------------------------------------------------
{
  echo "worker_processes auto;"
  nginx_common proxy
  echo "http {"
  http_common proxy
  proxy_pass_server "$PROXY_PORT" "$BACKEND_PORT"
  cat <<EOF
    server {
        listen 127.0.0.1:$PROXY_TLS_PORT ssl;
        ssl_certificate $TMP/tls.pem;
        ssl_certificate_key $TMP/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
} >"$TMP/proxy.conf"

start_nginx backend
BACKEND_PID=$STARTED
wait_http_200 "http://127.0.0.1:$BACKEND_PORT/bench" "$BACKEND_PID"
start_nginx proxy
PROXY_PID=$STARTED
wait_http_200 "http://127.0.0.1:$PROXY_PORT/bench" "$PROXY_PID"

# ---------------------------------------------------------------------------------------------
# 4b. HAProxy and Caddy as the same pass-through proxy: one thread per CPU (nbthread,
#     GOMAXPROCS), kept-alive backend connections (http-reuse always; Caddy's transport keeps
#     64 idle per host, as nginx's keepalive 64), no access log (neither logs by default).
# ---------------------------------------------------------------------------------------------
HAPROXY_PID="" CADDY_PID=""
if ((CALLGRIND == 0)); then
  [[ -n $CADDY ]] || die "caddy not found after install"
  start_haproxy "$BACKEND_PORT"
  CADDY_PORT=$(free_port)

  mkdir -p "$TMP/caddy-home"
  cat >"$TMP/Caddyfile" <<EOF
{
    admin off
    auto_https off
}
:$CADDY_PORT {
    bind 127.0.0.1
    reverse_proxy 127.0.0.1:$BACKEND_PORT {
        transport http {
            keepalive 90s
            keepalive_idle_conns_per_host 64
        }
    }
}
EOF
  # A home of its own: Caddy keeps state under HOME and the XDG directories.
  HOME="$TMP/caddy-home" XDG_DATA_HOME="$TMP/caddy-home" XDG_CONFIG_HOME="$TMP/caddy-home" \
    GOMAXPROCS=$NCPU "$CADDY" run --config "$TMP/Caddyfile" --adapter caddyfile >"$TMP/caddy.log" 2>&1 &
  CADDY_PID=$!
  PIDS+=("$CADDY_PID")
  wait_http_200 "http://127.0.0.1:$CADDY_PORT/bench" "$CADDY_PID"
fi

# ---------------------------------------------------------------------------------------------
# 5. Pylon with one published pass-through API to the same backend.
# ---------------------------------------------------------------------------------------------
TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
mkdir -p "$TMP/pylon-data"
# Under callgrind every instruction Pylon executes is counted; counting starts at the first
# measured request (callgrind_control --zero) and is written out after each target (--dump).
WRAP=()
((CALLGRIND)) && WRAP=(valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.out" -q)
# A free status port, for builds that have a status listener (PYLON_BIN may be an older one).
STATUS=()
SERVE_HELP=$("$PYLON_BIN" serve --help)
[[ $SERVE_HELP == *--status-listen* ]] && STATUS=(--status-listen 127.0.0.1:0)
# The measured baseline writes no access log, as the nginx proxy (`access_log off`); pylon-full
# writes one to a file.
NO_ACCESS_LOG=()
[[ $SERVE_HELP == *--access-log* ]] && NO_ACCESS_LOG=(--access-log off)
# The HTTPS listener, for builds that have one.
TLS_LISTEN=()
[[ $SERVE_HELP == *--tls-listen* ]] && TLS_LISTEN=(--tls-listen "127.0.0.1:$PYLON_TLS_PORT")
PYLON_LOG=warn "${WRAP[@]}" "$PYLON_BIN" serve \
  --data-dir "$TMP/pylon-data" \
  --listen "127.0.0.1:$PYLON_PORT" \
  --admin-listen "127.0.0.1:$ADMIN_PORT" "${STATUS[@]}" "${NO_ACCESS_LOG[@]}" "${TLS_LISTEN[@]}" \
  --admin-token "$TOKEN" >"$TMP/pylon.log" 2>&1 &
PYLON_PID=$!
PIDS+=("$PYLON_PID")

ADMIN=http://127.0.0.1:$ADMIN_PORT

for _ in $(seq 600); do
  kill -0 "$PYLON_PID" 2>/dev/null || die "pylon exited at start"
  curl -s -o /dev/null --max-time 2 -H "Authorization: Bearer $TOKEN" "$ADMIN/v1/groups" && break
  sleep 0.1
done
GROUP_ID=$(admin POST /v1/groups '{"name":"bench"}' | json_id)
[[ -n $GROUP_ID ]] || die "no group id in the admin answer"
API_ID=$(admin POST "/v1/groups/$GROUP_ID/apis" \
  "{\"name\":\"bench\",\"request\":{\"method\":\"GET\",\"path\":\"/bench\"},\"backend\":{\"service\":{\"inline\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:$BACKEND_PORT\"}},\"path\":\"/\"}}" |
  json_id)
[[ -n $API_ID ]] || die "no API id in the admin answer"
admin POST "/v1/groups/$GROUP_ID/apis/$API_ID/publish" '{"environment":"RELEASE"}' >/dev/null
PYLON_HOST=$GROUP_ID.localhost
wait_http_200 "http://127.0.0.1:$PYLON_PORT/bench" "$PYLON_PID" -H "Host: $PYLON_HOST"
[[ $(curl -s --max-time 2 -H "Host: $PYLON_HOST" "http://127.0.0.1:$PYLON_PORT/bench") == ok ]] ||
  die "pylon does not pass the backend's body through"
if ((${#TLS_LISTEN[@]})); then
  # The bench's certificate, as the default for clients without a host name in SNI.
  cert_json=$(python3 -c 'import json,sys; print(json.dumps({"name": "bench", "default": True,
    "certificate": open(sys.argv[1]).read(), "private_key": open(sys.argv[2]).read()}))' \
    "$TMP/tls.pem" "$TMP/tls.key")
  admin POST /v1/certificates "$cert_json" >/dev/null
  [[ $(curl -sk --max-time 2 -H "Host: $PYLON_HOST" "https://127.0.0.1:$PYLON_TLS_PORT/bench") == ok ]] ||
    die "pylon does not serve the route over HTTPS"
fi

# ---------------------------------------------------------------------------------------------
# 5b. The same route behind `app` authentication: a second group (so the path is the same
#     /bench and the Host header as long), an API with "auth":{"type":"app"}, an app, and a
#     grant of the API to the app in RELEASE. Everything else as in 5.
# ---------------------------------------------------------------------------------------------
json_str() { # field -> first "field":"value" of the JSON on stdin
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" | head -n 1
}
APP_GROUP_ID=$(admin POST /v1/groups '{"name":"bench-app"}' | json_id)
[[ -n $APP_GROUP_ID ]] || die "no group id in the admin answer"
APP_API_ID=$(admin POST "/v1/groups/$APP_GROUP_ID/apis" \
  "{\"name\":\"bench\",\"request\":{\"method\":\"GET\",\"path\":\"/bench\"},\"backend\":{\"service\":{\"inline\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:$BACKEND_PORT\"}},\"path\":\"/\"},\"auth\":{\"type\":\"app\"}}" |
  json_id)
[[ -n $APP_API_ID ]] || die "no API id in the admin answer"
APP_JSON=$(admin POST /v1/apps '{"name":"bench-client"}')
APP_ID=$(json_id <<<"$APP_JSON")
APP_KEY=$(json_str app_key <<<"$APP_JSON")
APP_SECRET=$(json_str app_secret <<<"$APP_JSON")
[[ -n $APP_ID && -n $APP_KEY && -n $APP_SECRET ]] || die "no app id, app_key or app_secret in: $APP_JSON"
admin POST /v1/authorizations \
  "{\"app_id\":\"$APP_ID\",\"api_id\":\"$APP_API_ID\",\"environment\":\"RELEASE\"}" >/dev/null
admin POST "/v1/groups/$APP_GROUP_ID/apis/$APP_API_ID/publish" '{"environment":"RELEASE"}' >/dev/null
APP_HOST=$APP_GROUP_ID.localhost
[[ ${#APP_HOST} == "${#PYLON_HOST}" ]] || log "note: the two groups' Host headers differ in length"

# Signed requests, precomputed: 1000 without a nonce per wrk thread (cycled: each stays valid
# for the gateway's 15-minute clock window, and reusing one is legal without X-Ca-Nonce).
sign_with() { # key secret host out count [--nonce]
  "$SIGN_BIN" --key "$1" --secret "$2" --host "$3" --path /bench \
    --files "$THREADS" --out "$4" --count "$5" ${6:+"$6"} || die "sign_requests failed"
}
sign_requests() { # out count [--nonce]
  sign_with "$APP_KEY" "$APP_SECRET" "$APP_HOST" "$@"
}
sign_requests "$TMP/signed" $((1000 * THREADS))

# One curl with signed headers: `line` is `<ts> <sig>` or `<ts> <nonce> <sig>`.
# Sets SIGNED_HEADERS to `-H` options (curl's and ab's syntax) for one precomputed request.
signed_headers() { # file line [app key]
  local list ts nonce sig
  list=$(sed -n '1s/^# x-ca-signature-headers: //p' "$1")
  read -r ts nonce sig <<<"$2"
  [[ -n $sig ]] || { sig=$nonce; nonce=; }
  SIGNED_HEADERS=(-H 'Accept: application/json' -H "X-Ca-Key: ${3:-$APP_KEY}"
    -H 'X-Ca-Signature-Method: HmacSHA256' -H "X-Ca-Signature-Headers: $list"
    -H "X-Ca-Timestamp: $ts" ${nonce:+-H "X-Ca-Nonce: $nonce"} -H "X-Ca-Signature: $sig")
}
signed_curl() { # file line -> HTTP status and body
  signed_headers "$1" "$2"
  curl -s --max-time 2 -w ' %{http_code}' -H "Host: $APP_HOST" "${SIGNED_HEADERS[@]}" \
    "http://127.0.0.1:$PYLON_PORT/bench"
}
# Authentication is really enforced on this route, and the signed requests pass it.
for _ in $(seq 50); do
  status=$(signed_curl "$TMP/signed.0" "$(sed -n 2p "$TMP/signed.0")")
  [[ $status == *' 200' ]] && break
  sleep 0.1
done
[[ $status == $'ok\n 200' ]] || die "a precomputed signed request got: $status"
status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "Host: $APP_HOST" \
  "http://127.0.0.1:$PYLON_PORT/bench")
[[ $status == 4* ]] || die "an unsigned request to the app-auth API got $status, not a 4xx"
tampered=$(sed -n 2p "$TMP/signed.0" | sed 's/ [^ ]*$/ AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=/')
status=$(signed_curl "$TMP/signed.0" "$tampered")
[[ $status == *' 4'?? ]] || die "a request with a wrong signature got: $status"

# ---------------------------------------------------------------------------------------------
# 5d. pylon-full: a second Pylon (so that its access log and metrics cost nothing to the rows
#     above) with the app route four times, in four groups: app only (`pylon-full-app`: what the
#     process-wide access log file and metrics add), with a throttling policy whose limits are
#     far above the load (`pylon-full-throttle`), with an IP allow list holding loopback
#     (`pylon-full-ip`), and with both (`pylon-full`, the row the ratios are of).
# ---------------------------------------------------------------------------------------------
FULL_PORT=$(free_port)
FULL_ADMIN_PORT=$(free_port)
ACCESS_LOG=()
[[ $SERVE_HELP == *--access-log* ]] && ACCESS_LOG=(--access-log "$TMP/full-access.log")
((${#ACCESS_LOG[@]})) || log "note: this pylon has no --access-log: pylon-full runs without its access log"
FULL_WRAP=()
((CALLGRIND)) && FULL_WRAP=(valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind-full.out" -q)
mkdir -p "$TMP/full-data"
PYLON_LOG=warn "${FULL_WRAP[@]}" "$PYLON_BIN" serve \
  --data-dir "$TMP/full-data" \
  --listen "127.0.0.1:$FULL_PORT" \
  --admin-listen "127.0.0.1:$FULL_ADMIN_PORT" "${STATUS[@]}" "${ACCESS_LOG[@]}" \
  --admin-token "$TOKEN" >"$TMP/pylon-full.log" 2>&1 &
FULL_PID=$!
PIDS+=("$FULL_PID")
MAIN_ADMIN=$ADMIN
ADMIN=http://127.0.0.1:$FULL_ADMIN_PORT
for _ in $(seq 600); do
  kill -0 "$FULL_PID" 2>/dev/null || die "the pylon-full pylon exited at start"
  curl -s -o /dev/null --max-time 2 -H "Authorization: Bearer $TOKEN" "$ADMIN/v1/groups" && break
  sleep 0.1
done
FULL_APP_JSON=$(admin POST /v1/apps '{"name":"bench-client"}')
FULL_APP_ID=$(json_id <<<"$FULL_APP_JSON")
FULL_KEY=$(json_str app_key <<<"$FULL_APP_JSON")
FULL_SECRET=$(json_str app_secret <<<"$FULL_APP_JSON")
[[ -n $FULL_APP_ID && -n $FULL_KEY && -n $FULL_SECRET ]] || die "no app in: $FULL_APP_JSON"
# Limits at the largest value: the counters are taken and checked, and never refuse.
admin POST /v1/policies '{"name":"far-above-the-load","kind":"throttle","config":{"unit":"second","api_limit":4294967295,"app_limit":4294967295,"ip_limit":4294967295}}' >/dev/null
admin POST /v1/policies '{"name":"loopback-only","kind":"ip-control","config":{"action":"allow","addresses":["127.0.0.0/8","::1"]}}' >/dev/null
declare -A FULL_HOST
full_group() { # target policy...
  local target=$1 gid api policy; shift
  gid=$(admin POST /v1/groups "{\"name\":\"$target\"}" | json_id)
  api=$(admin POST "/v1/groups/$gid/apis" \
    "{\"name\":\"bench\",\"request\":{\"method\":\"GET\",\"path\":\"/bench\"},\"backend\":{\"service\":{\"inline\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:$BACKEND_PORT\"}},\"path\":\"/\"},\"auth\":{\"type\":\"app\"}}" |
    json_id)
  [[ -n $gid && -n $api ]] || die "no group or API for $target"
  admin POST /v1/authorizations \
    "{\"app_id\":\"$FULL_APP_ID\",\"api_id\":\"$api\",\"environment\":\"RELEASE\"}" >/dev/null
  admin POST "/v1/groups/$gid/apis/$api/publish" '{"environment":"RELEASE"}' >/dev/null
  for policy in "$@"; do
    admin POST "/v1/policies/$policy/bindings" "{\"api_id\":\"$api\",\"environment\":\"RELEASE\"}" >/dev/null
  done
  FULL_HOST[$target]=$gid.localhost
  [[ ${#FULL_HOST[$target]} == "${#PYLON_HOST}" ]] || log "note: $target's Host header differs in length"
  sign_with "$FULL_KEY" "$FULL_SECRET" "${FULL_HOST[$target]}" "$TMP/signed-$target" $((1000 * THREADS))
}
full_group pylon-full-app
full_group pylon-full-throttle far-above-the-load
full_group pylon-full-ip loopback-only
full_group pylon-full far-above-the-load loopback-only
ADMIN=$MAIN_ADMIN
# Every pylon-full route answers a precomputed signed request, and the policies are in force.
full_curl() { # target -> body and status
  signed_headers "$TMP/signed-$1.0" "$(sed -n 2p "$TMP/signed-$1.0")" "$FULL_KEY"
  curl -s --max-time 2 -w ' %{http_code}' -H "Host: ${FULL_HOST[$1]}" "${SIGNED_HEADERS[@]}" \
    "http://127.0.0.1:$FULL_PORT/bench"
}
for target in pylon-full-app pylon-full-throttle pylon-full-ip pylon-full; do
  for _ in $(seq 50); do
    status=$(full_curl "$target")
    [[ $status == *' 200' ]] && break
    sleep 0.1
  done
  [[ $status == $'ok\n 200' ]] || die "$target: a precomputed signed request got: $status"
done
if ((${#ACCESS_LOG[@]})); then
  [[ -s $TMP/full-access.log ]] || die "pylon-full wrote no access log to $TMP/full-access.log"
fi

ratio() { # label a b -> "label: a/b" to two places, when b > 0
  awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%s: %.2f\n", l, a / b }'
}

# ---------------------------------------------------------------------------------------------
# 5c. CALLGRIND=1: instructions per request instead of wrk. ab (keep-alive, 8 connections) sends
#     REQUESTS requests per target; what Pylon executed in between is read from callgrind's dump.
# ---------------------------------------------------------------------------------------------
if ((CALLGRIND)); then
  signed_headers "$TMP/signed.0" "$(sed -n 2p "$TMP/signed.0")"
  declare -A IR
  count_target() { # name pid port host [ab -H options...]
    local name=$1 pid=$2 port=$3 host=$4 out=$TMP/ab-$1.txt dump; shift 4
    # Warm the connection pools and caches first, uncounted.
    ab -q -k -n 200 -c 8 -H "Host: $host" "$@" "http://127.0.0.1:$port/bench" >/dev/null
    callgrind_control --zero "$pid" >/dev/null || die "callgrind_control --zero failed"
    ab -q -k -n "$REQUESTS" -c 8 -H "Host: $host" "$@" "http://127.0.0.1:$port/bench" >"$out" 2>&1 || true
    callgrind_control --dump="$name" "$pid" >/dev/null || die "callgrind_control --dump failed"
    grep -q '^Failed requests: *0$' "$out" && ! grep -q '^Non-2xx responses' "$out" ||
      die "$name: ab saw failed or non-2xx requests: $(cat "$out")"
    # The hint ends the trigger line ("Client Request: <name>"): pylon-full is not pylon-full-app.
    dump=$(grep -l "^desc: Trigger: .*[: ]$name\$" "$TMP"/callgrind*.out* | head -n 1)
    [[ -n $dump ]] || die "no callgrind dump for $name"
    IR[$name]=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
    log "$name: ${IR[$name]} instructions for $REQUESTS requests"
  }
  count_target pylon "$PYLON_PID" "$PYLON_PORT" "$PYLON_HOST"
  count_target pylon-app "$PYLON_PID" "$PYLON_PORT" "$APP_HOST" "${SIGNED_HEADERS[@]}"
  # The pass-through API sent the same signed headers: what carrying them costs, without
  # verifying them (and with forwarding them to the backend, which pylon-app does not).
  count_target pylon-signed-headers "$PYLON_PID" "$PYLON_PORT" "$PYLON_HOST" "${SIGNED_HEADERS[@]}"
  for target in pylon-full-app pylon-full-throttle pylon-full-ip pylon-full; do
    signed_headers "$TMP/signed-$target.0" "$(sed -n 2p "$TMP/signed-$target.0")" "$FULL_KEY"
    count_target "$target" "$FULL_PID" "$FULL_PORT" "${FULL_HOST[$target]}" "${SIGNED_HEADERS[@]}"
  done
  echo
  echo "pylon instructions per request (callgrind, user space only, $REQUESTS requests per target, ab -k -c 8)"
  for name in pylon pylon-app pylon-signed-headers pylon-full-app pylon-full-throttle pylon-full-ip pylon-full; do
    printf '%-22s %12s\n' "$name" "$(awk -v i="${IR[$name]}" -v n="$REQUESTS" 'BEGIN { printf "%.0f", i / n }')"
  done
  echo
  added() { # label a b -> "label: +x.x%"
    awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%s: %+.1f%%\n", l, 100 * (a / b - 1) }'
  }
  ratio "pylon-app/pylon instructions-per-request ratio" "${IR[pylon-app]}" "${IR[pylon]}"
  added "app signature authentication over pass-through" "${IR[pylon-app]}" "${IR[pylon]}"
  added "of which carrying the signed headers (pylon-signed-headers over pylon)" "${IR[pylon-signed-headers]}" "${IR[pylon]}"
  added "metrics and the access log file (pylon-full-app over pylon-app)" "${IR[pylon-full-app]}" "${IR[pylon-app]}"
  added "throttling, three limits (pylon-full-throttle over pylon-full-app)" "${IR[pylon-full-throttle]}" "${IR[pylon-full-app]}"
  added "IP allow list (pylon-full-ip over pylon-full-app)" "${IR[pylon-full-ip]}" "${IR[pylon-full-app]}"
  added "the whole pipeline over app signatures (pylon-full over pylon-app)" "${IR[pylon-full]}" "${IR[pylon-app]}"
  ratio "pylon-full/pylon instructions-per-request ratio" "${IR[pylon-full]}" "${IR[pylon]}"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# 6. Measure: warm-up, then wrk, per target; CPU of the measured server around the run.
# ---------------------------------------------------------------------------------------------
# wrk latency figure ("512.00us", "1.23ms", "2.00s", "1.00m") in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}

# CPU ticks of every server the bench started, idle or not.
servers_ticks() {
  local pid total=0
  for pid in "$BACKEND_PID" "$PROXY_PID" "$PYLON_PID" "$FULL_PID" "$HAPROXY_PID" "$CADDY_PID"; do
    [[ -n $pid ]] && total=$((total + $(cpu_ticks "$pid")))
  done
  echo "$total"
}

declare -A RPS P50 P99 REQS BAD ERRS CPU OTHER WRKCPU
ROWS=() # target names in the order they ran
# wrk's arguments for the warm-up when they differ from the measured run's (the nonce run warms
# up without nonces, so its nonces all go to the measurement); set per target, then cleared.
WARM_ARGS=()
run_target() { # name url pid duration [wrk options...] [-- script args...]
  local name=$1 url=$2 pid=$3 duration=$4; shift 4
  ROWS+=("$name")
  local out=$TMP/wrk-$name.txt before after opts=() post=()
  while (($#)) && [[ $1 != -- ]]; do opts+=("$1"); shift; done
  (($#)) && post=("$@") # "--" and the script's arguments, after the URL
  log "$name: warm-up ${WARMUP}s, then ${duration}s"
  if ((WARMUP > 0)); then
    if ((${#WARM_ARGS[@]})); then
      timeout $((WARMUP + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "${WARM_ARGS[@]}" >/dev/null
    else
      timeout $((WARMUP + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "${opts[@]}" "$url" "${post[@]}" >/dev/null
    fi
  fi
  WARM_ARGS=()
  local servers_before servers_after busy total wrk_ticks
  before=$(cpu_ticks "$pid")
  servers_before=$(servers_ticks)
  children_ticks
  wrk_ticks=$CHILD_TICKS
  machine_ticks
  busy=$MACHINE_BUSY total=$MACHINE_TOTAL
  timeout $((duration + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${duration}s" --latency "${opts[@]}" "$url" "${post[@]}" >"$out"
  machine_ticks
  children_ticks
  busy=$((MACHINE_BUSY - busy)) total=$((MACHINE_TOTAL - total)) wrk_ticks=$((CHILD_TICKS - wrk_ticks))
  after=$(cpu_ticks "$pid")
  servers_after=$(servers_ticks)
  # Everything else on the machine (other jobs, the hypervisor's steal) as a share of all CPUs.
  OTHER[$name]=$(awk -v b="$busy" -v t="$total" -v s=$((servers_after - servers_before)) -v w="$wrk_ticks" \
    'BEGIN { o = b - s - w; if (o < 0) o = 0; printf "%.1f", (t > 0 ? 100 * o / t : 0) }')
  RPS[$name]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  P50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  REQS[$name]=$(awk '/requests in/ {print $1}' "$out")
  BAD[$name]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
  BAD[$name]=${BAD[$name]:-0}
  ERRS[$name]=$(awk -F'[ ,]+' '/Socket errors:/ {print $4 + $6 + $8 + $10}' "$out")
  ERRS[$name]=${ERRS[$name]:-0}
  CPU[$name]=$((after - before))
  WRKCPU[$name]=$wrk_ticks
  [[ -n ${RPS[$name]} && -n ${REQS[$name]} ]] || die "cannot parse wrk output for $name: $(cat "$out")"
}

run_target backend "http://127.0.0.1:$BACKEND_PORT/bench" "$BACKEND_PID" "$DURATION"
run_target nginx "http://127.0.0.1:$PROXY_PORT/bench" "$PROXY_PID" "$DURATION"
run_target haproxy "http://127.0.0.1:$HAPROXY_PORT/bench" "$HAPROXY_PID" "$DURATION"
run_target caddy "http://127.0.0.1:$CADDY_PORT/bench" "$CADDY_PID" "$DURATION"
# HTTPS, each round: kept-alive connections (requests/s), then a new connection and a full
# handshake per request (`Connection: close`; requests/s is handshakes/s), nginx then Pylon.
https_round() { # suffix
  ((${#TLS_LISTEN[@]})) || return 0
  run_target "nginx-https$1" "https://127.0.0.1:$PROXY_TLS_PORT/bench" "$PROXY_PID" "$DURATION"
  run_target "pylon-https$1" "https://127.0.0.1:$PYLON_TLS_PORT/bench" "$PYLON_PID" "$DURATION" -H "Host: $PYLON_HOST"
  run_target "nginx-https-new$1" "https://127.0.0.1:$PROXY_TLS_PORT/bench" "$PROXY_PID" "$DURATION" -H "Connection: close"
  run_target "pylon-https-new$1" "https://127.0.0.1:$PYLON_TLS_PORT/bench" "$PYLON_PID" "$DURATION" \
    -H "Host: $PYLON_HOST" -H "Connection: close"
}
APP_URL="http://127.0.0.1:$PYLON_PORT/bench"
# pylon, then (a) pylon-app: the 1000 precomputed signed requests per thread, cycled; no
# X-Ca-Nonce. With ROUNDS > 1 the pair is measured again (as pylon#2, pylon-app#2, ...), so that
# a drift of the machine (other tenants, the hypervisor) falls on both alike, and the spread of
# the per-round ratios shows the noise.
for round in $(seq "$ROUNDS"); do
  sfx=""
  ((round == 1)) || sfx="#$round"
  # nginx again each round after the first, so each round's ratios to it are of neighbours.
  ((round == 1)) || run_target "nginx$sfx" "http://127.0.0.1:$PROXY_PORT/bench" "$PROXY_PID" "$DURATION"
  run_target "pylon$sfx" "http://127.0.0.1:$PYLON_PORT/bench" "$PYLON_PID" "$DURATION" -H "Host: $PYLON_HOST"
  run_target "pylon-app$sfx" "$APP_URL" "$PYLON_PID" "$DURATION" -s "$APP_LUA" \
    -- cycle "$TMP/signed" "$APP_HOST" /bench "$APP_KEY"
  run_target "pylon-full$sfx" "http://127.0.0.1:$FULL_PORT/bench" "$FULL_PID" "$DURATION" -s "$APP_LUA" \
    -- cycle "$TMP/signed-pylon-full" "${FULL_HOST[pylon-full]}" /bench "$FULL_KEY"
  https_round "$sfx"
done

# (b) pylon-app-nonce: a distinct X-Ca-Nonce on every request, each line of the files sent once.
#     Sized from (a)'s rate with room to spare. The gateway remembers at most 1 000 000 nonces
#     (then it evicts early and refuses requests as old as the evicted ones), so the run is
#     shortened if it would send more than NONCE_BUDGET.
NONCE_BUDGET=900000
NONCE_DURATION=$DURATION
rate=$(awk -v r="${RPS[pylon-app]}" 'BEGIN { printf "%d", r * 1.15 + 1000 }')
if ((rate * NONCE_DURATION > NONCE_BUDGET)); then
  NONCE_DURATION=$((NONCE_BUDGET / rate))
  ((NONCE_DURATION >= 1)) || die "pylon-app ran at ${RPS[pylon-app]} req/s: too fast for the nonce budget"
  log "pylon-app-nonce: ${NONCE_DURATION}s instead of ${DURATION}s, to stay under $NONCE_BUDGET nonces"
fi
# Twice the expected count, so that a faster run or uneven threads do not run dry.
NONCE_COUNT=$((2 * rate * NONCE_DURATION + 2 * CONNECTIONS))
log "pylon-app-nonce: signing $NONCE_COUNT requests with distinct nonces"
sign_requests "$TMP/nonced" "$NONCE_COUNT" --nonce
WARM_ARGS=(-s "$APP_LUA" "$APP_URL" -- cycle "$TMP/signed" "$APP_HOST" /bench "$APP_KEY")
run_target pylon-app-nonce "$APP_URL" "$PYLON_PID" "$NONCE_DURATION" -s "$APP_LUA" \
  -- once "$TMP/nonced" "$APP_HOST" /bench "$APP_KEY"
NONCE_SENT=$(awk '/^app-sign: sent/ {print $3}' "$TMP/wrk-pylon-app-nonce.txt")
if grep -q '^app-sign: exhausted' "$TMP/wrk-pylon-app-nonce.txt"; then
  log "pylon-app-nonce ran out of precomputed nonces: its figures are invalid"
  BAD[pylon-app-nonce]="${BAD[pylon-app-nonce]}(dry)"
fi

# ---------------------------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------------------------
cpu_us_per_req() { # name -> microseconds of the server's CPU per request
  awk -v t="${CPU[$1]}" -v hz="$TICK" -v n="${REQS[$1]}" 'BEGIN { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }'
}

echo
echo "pylon benchmark: GET /bench -> backend nginx answering ok; wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s (warm-up ${WARMUP}s), $NCPU CPUs"
echo "backend: nginx, worker_processes 1; nginx proxy: worker_processes auto ($NCPU), upstream keepalive 64;"
echo "pylon: one single-threaded event loop per CPU ($NCPU), like nginx's workers. wrk shares the same CPUs."
echo "pylon-app: the same route behind app (Alibaba HmacSHA256) authentication, 1000 precomputed signed requests"
echo "per wrk thread cycled by bench/app-sign.lua (X-Ca-Timestamp, no X-Ca-Nonce); pylon-app-nonce: the same with a"
echo "distinct X-Ca-Nonce per request (${NONCE_DURATION}s, ${NONCE_SENT:-?} signed requests sent)."
echo "pylon-full: the app route on a second pylon with a throttling policy (API, app and address limits far above"
echo "the load), an IP allow list, metrics, and the access log written to a file."
echo "haproxy ($("$HAPROXY" -v | awk 'NR == 1 {print $3}'), nbthread $NCPU, http-reuse always) and caddy ($("$CADDY" version | awk '{print $1}'),"
echo "GOMAXPROCS $NCPU, 64 idle backend connections): the same pass-through, for reference."
echo "*-https: the same route over TLS (one ECDSA P-256 certificate, TLS 1.3 as wrk negotiates it), kept alive;"
echo "*-https-new: Connection: close, so every request is a new TCP connection and a full handshake (req/s = handshakes/s)."
echo
printf '%-15s %12s %10s %10s %10s %8s %14s %8s %16s\n' target 'req/s' 'p50(ms)' 'p99(ms)' non-2xx errors 'cpu/req(us)' 'other%' 'wrk-cpu/req(us)'
for name in "${ROWS[@]}"; do
  printf '%-15s %12s %10s %10s %10s %8s %14s %8s %16s\n' "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" \
    "${BAD[$name]}" "${ERRS[$name]}" "$(cpu_us_per_req "$name")" "${OTHER[$name]}" \
    "$(awk -v t="${WRKCPU[$name]}" -v hz="$TICK" -v n="${REQS[$name]}" 'BEGIN { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }')"
done
echo "(cpu/req: user+system CPU of that server's processes during the run, per request; the backend's own CPU is not included in the proxies' figures)"
echo "(wrk-cpu/req: the load generator's own CPU per request; it shares the CPUs with the servers)"
echo "(other%: CPU used during the run by anything but the bench's servers and wrk, steal included, as a share of all $NCPU CPUs:"
echo " above a few percent, something else was competing and that row's figures are disturbed)"
echo
ratio "pylon/nginx rps ratio" "${RPS[pylon]}" "${RPS[nginx]}"
ratio "pylon/nginx cpu-per-request ratio" "$(cpu_us_per_req pylon)" "$(cpu_us_per_req nginx)"
ratio "pylon/nginx p99 ratio" "${P99[pylon]}" "${P99[nginx]}"
ratio "haproxy/nginx rps ratio" "${RPS[haproxy]}" "${RPS[nginx]}"
ratio "caddy/nginx rps ratio" "${RPS[caddy]}" "${RPS[nginx]}"
ratio "pylon/haproxy rps ratio" "${RPS[pylon]}" "${RPS[haproxy]}"
ratio "pylon/haproxy cpu-per-request ratio" "$(cpu_us_per_req pylon)" "$(cpu_us_per_req haproxy)"
ratio "pylon/caddy rps ratio" "${RPS[pylon]}" "${RPS[caddy]}"
echo
ratio "pylon-app/pylon rps ratio" "${RPS[pylon-app]}" "${RPS[pylon]}"
ratio "pylon-app/nginx rps ratio" "${RPS[pylon-app]}" "${RPS[nginx]}"
ratio "pylon-app/pylon cpu-per-request ratio" "$(cpu_us_per_req pylon-app)" "$(cpu_us_per_req pylon)"
echo
ratio "pylon-full/nginx rps ratio" "${RPS[pylon-full]}" "${RPS[nginx]}"
ratio "pylon-full/pylon rps ratio" "${RPS[pylon-full]}" "${RPS[pylon]}"
ratio "pylon-full/pylon cpu-per-request ratio" "$(cpu_us_per_req pylon-full)" "$(cpu_us_per_req pylon)"
if [[ -n ${RPS[pylon-https]:-} ]]; then
  echo
  ratio "pylon-https/nginx-https rps ratio" "${RPS[pylon-https]}" "${RPS[nginx-https]}"
  ratio "pylon-https/nginx-https cpu-per-request ratio" "$(cpu_us_per_req pylon-https)" "$(cpu_us_per_req nginx-https)"
  ratio "pylon-https-new/nginx-https-new handshakes/s ratio" "${RPS[pylon-https-new]}" "${RPS[nginx-https-new]}"
  ratio "pylon-https-new/nginx-https-new cpu-per-handshake ratio" "$(cpu_us_per_req pylon-https-new)" "$(cpu_us_per_req nginx-https-new)"
fi
if ((ROUNDS > 1)); then
  # Per round: one target's round r against another's, measured one after the other.
  per_round() { # "rps" or "cpu", target, against
    local r sfx sfx2 a b out=()
    for r in $(seq "$ROUNDS"); do
      sfx=""
      ((r == 1)) || sfx="#$r"
      sfx2=$sfx
      if [[ $1 == rps ]]; then a=${RPS[$2$sfx]} b=${RPS[$3$sfx2]}
      else a=$(cpu_us_per_req "$2$sfx") b=$(cpu_us_per_req "$3$sfx2"); fi
      out+=("$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.3f", a / b }')")
    done
    printf '%s\n' "${out[@]}" | sort -n | awk '{ v[NR] = $1; s = s sprintf(" %.2f", $1) }
      END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%s (sorted); median %.2f, spread %.2f\n", s, m, v[NR] - v[1] }'
  }
  echo "pylon-app/pylon rps ratio per round:$(per_round rps pylon-app pylon)"
  echo "pylon-app/pylon cpu-per-request ratio per round:$(per_round cpu pylon-app pylon)"
  echo "pylon/nginx rps ratio per round:$(per_round rps pylon nginx)"
  echo "pylon-full/nginx rps ratio per round:$(per_round rps pylon-full nginx)"
  echo "pylon-full/pylon rps ratio per round:$(per_round rps pylon-full pylon)"
  echo "pylon-full/pylon cpu-per-request ratio per round:$(per_round cpu pylon-full pylon)"
  if [[ -n ${RPS[pylon-https]:-} ]]; then
    echo "pylon-https/nginx-https rps ratio per round:$(per_round rps pylon-https nginx-https)"
    echo "pylon-https-new/nginx-https-new handshakes/s ratio per round:$(per_round rps pylon-https-new nginx-https-new)"
  fi
fi
ratio "pylon-app-nonce/pylon rps ratio" "${RPS[pylon-app-nonce]}" "${RPS[pylon]}"
ratio "pylon-app-nonce/nginx rps ratio" "${RPS[pylon-app-nonce]}" "${RPS[nginx]}"
ratio "pylon-app-nonce/pylon cpu-per-request ratio" "$(cpu_us_per_req pylon-app-nonce)" "$(cpu_us_per_req pylon)"
invalid=0
for name in "${ROWS[@]}"; do
  if [[ ${BAD[$name]} != 0 || ${ERRS[$name]} != 0 ]]; then
    echo "warning: $name had non-2xx responses or socket errors: its figures are invalid" >&2
    invalid=1
  fi
done
# A non-2xx answer is cheaper than a proxied request (and for the app runs means a signature
# or nonce was refused): the run failed.
exit "$invalid"
