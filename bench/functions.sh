#!/usr/bin/env bash
# A hosted function's cost: requests/s and latency through Pylon to a warm awslambdaric worker
# running bench/function/app.py, against the same handler behind nginx proxying to a plain
# Python HTTP server (bench/function/server.py), measured in one run. Both sides get WORKERS
# Python processes, each answering one request at a time (a Lambda worker's model), and wrk
# keeps WORKERS connections open, so neither side queues nor refuses. See bench/README.md.
#
# Environment:
#   DURATION  seconds of each measured wrk run (default 15, at most 300)
#   WARMUP    seconds of the warm-up run before each measurement (default 3)
#   WORKERS   Python processes on each side, and wrk connections (default 4)
#   ROUNDS    measurements of each side, in turn (default 2)
#   WORK_US   microseconds of CPU work the handler does per call (default 0: it only answers)
#   PYLON_BIN use this pylon binary instead of building one
#   KEEP_TMP=1 keep the temp dir (configs, logs, raw wrk output) after the run
set -euo pipefail

DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
WORKERS=${WORKERS:-4}
ROUNDS=${ROUNDS:-2}
WORK_US=${WORK_US:-0}
export BENCH_WORK_US=$WORK_US

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for v in DURATION WARMUP WORKERS ROUNDS WORK_US; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((DURATION >= 1 && DURATION <= 300)) || die "DURATION must be between 1 and 300 seconds"
((WARMUP <= 60)) || die "WARMUP must be at most 60 seconds"
((WORKERS >= 1 && WORKERS <= 64)) || die "WORKERS must be between 1 and 64"
((ROUNDS >= 1 && ROUNDS <= 20)) || die "ROUNDS must be between 1 and 20"

# Tools: nginx, wrk and curl from Debian's packages; awslambdaric in the tests' venv.
need_nginx_wrk_curl
PYTHON_LAMBDA=$(bash "$ROOT/tests/e2e/clients/install.sh" | awk -F= '$1 == "python_lambda" {print $2}')
[[ -x $PYTHON_LAMBDA ]] || die "tests/e2e/clients/install.sh gave no python_lambda"

need_pylon
FUNCTION_DIR=$ROOT/bench/function

# The plain side: WORKERS Python servers behind nginx, with kept-alive upstream connections.
UPSTREAMS=""
for i in $(seq "$WORKERS"); do
  port=$(free_port)
  (cd "$FUNCTION_DIR" && exec python3 server.py "$port") >"$TMP/server-$i.log" 2>&1 &
  PIDS+=("$!")
  wait_http_200 "http://127.0.0.1:$port/ready" "$!"
  UPSTREAMS+="        server 127.0.0.1:$port;"$'\n'
done
NGINX_PORT=$(free_port)
cat >"$TMP/nginx.conf" <<EOF
worker_processes auto;
pid $TMP/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    upstream python {
$UPSTREAMS        keepalive $WORKERS;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://python;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
"$NGINX" -t -q -p "$TMP" -e "$TMP/nginx.log" -c "$TMP/nginx.conf" || die "nginx rejected $TMP/nginx.conf"
"$NGINX" -p "$TMP" -e "$TMP/nginx.log" -c "$TMP/nginx.conf" >"$TMP/nginx-stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_http_200 "http://127.0.0.1:$NGINX_PORT/ready" "$NGINX_PID"

# The function side: Pylon hosting app.handler with WORKERS workers at most.
PYLON_PORT=$(free_port)
ADMIN_PORT=$(free_port)
STATUS_PORT=$(free_port)
"$PYLON_BIN" serve --data-dir "$TMP/pylon-data" --listen "127.0.0.1:$PYLON_PORT" \
  --admin-listen "127.0.0.1:$ADMIN_PORT" --status-listen "127.0.0.1:$STATUS_PORT" \
  --access-log off --allow-hosted-functions >"$TMP/pylon.log" 2>&1 &
PYLON_PID=$!
PIDS+=("$PYLON_PID")
wait_http_200 "http://127.0.0.1:$STATUS_PORT/readyz" "$PYLON_PID"
TOKEN=$(cat "$TMP/pylon-data/admin-token")
ADMIN=http://127.0.0.1:$ADMIN_PORT
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
admin POST /v1/functions "{\"name\": \"bench\", \"command\": [\"$PYTHON_LAMBDA\", \"-m\", \"awslambdaric\"],
  \"handler\": \"app.handler\", \"working_dir\": \"$FUNCTION_DIR\", \"timeout_ms\": 10000,
  \"max_concurrency\": $WORKERS, \"environment\": {\"BENCH_WORK_US\": \"$WORK_US\"}}" >/dev/null
GROUP=$(admin POST /v1/groups '{"name": "bench"}' | json_field id)
API=$(admin POST "/v1/groups/$GROUP/apis" '{"name": "fn", "request": {"method": "GET", "path": "/fn"},
  "backend": {"service": {"inline": {"type": "function", "format": "aws-lambda", "hosted": "bench"}}}}' | json_field id)
admin POST "/v1/groups/$GROUP/apis/$API/publish" '{"environment": "RELEASE"}' >/dev/null
PYLON_HOST="$GROUP.localhost"
wait_http_200 "http://127.0.0.1:$PYLON_PORT/fn" "$PYLON_PID" -H "Host: $PYLON_HOST"

# Measurement.
declare -A RPS P50 P99 BAD
ROWS=()
to_ms() { # wrk latency (us/ms/s) -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[^m]s$/) n *= 1000; printf "%.2f", n }'
}
run() { # name url [wrk args]
  local name=$1 url=$2; shift 2
  wrk -t1 -c"$WORKERS" -d"${WARMUP}s" "$@" "$url" >/dev/null 2>&1 || true
  local out=$TMP/wrk-$name.txt
  wrk -t1 -c"$WORKERS" -d"${DURATION}s" --latency "$@" "$url" >"$out" 2>&1 || die "wrk failed for $name"
  RPS[$name]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  P50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  BAD[$name]=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$out")
  BAD[$name]=${BAD[$name]:-0}
  ROWS+=("$name")
  log "$name: ${RPS[$name]} req/s, p99 ${P99[$name]} ms"
}
for round in $(seq "$ROUNDS"); do
  run "nginx-python#$round" "http://127.0.0.1:$NGINX_PORT/fn"
  run "pylon-function#$round" "http://127.0.0.1:$PYLON_PORT/fn" -H "Host: $PYLON_HOST"
done

echo
echo "function benchmark: GET /fn -> app.handler (answers the path after ${WORK_US} us of work), $WORKERS Python processes a side,"
echo "wrk -t1 -c$WORKERS -d${DURATION}s (warm-up ${WARMUP}s), $(nproc) CPUs"
echo "nginx-python: nginx (worker_processes auto, upstream keepalive) -> $WORKERS ThreadingHTTPServer processes calling the handler"
echo "pylon-function: Pylon -> hosted function (aws-lambda format, Lambda proxy event) -> $WORKERS warm awslambdaric workers"
echo
printf '%-18s %10s %9s %9s %8s\n' target 'req/s' 'p50(ms)' 'p99(ms)' non-2xx
for name in "${ROWS[@]}"; do
  printf '%-18s %10s %9s %9s %8s\n' "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "${BAD[$name]}"
done
echo
for round in $(seq "$ROUNDS"); do
  awk -v f="${RPS[pylon-function#$round]}" -v n="${RPS[nginx-python#$round]}" \
    -v fp="${P99[pylon-function#$round]}" -v np="${P99[nginx-python#$round]}" -v r="$round" \
    'BEGIN { printf "round %d: pylon-function/nginx-python req/s %.2f, p99 %.2f\n", r, f / n, fp / np }'
done
