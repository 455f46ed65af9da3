#!/usr/bin/env bash
# Where a proxied request's CPU goes: Pylon's pass-through next to nginx's `proxy_pass` to the
# same backend, in one run, by the measures issue 14 asks for. For each proxy under the same wrk
# load (-t1 -c64, GET /bench):
#   - user and kernel CPU per request (utime and stime of /proc/<pid>/stat around the run);
#   - resident memory after the load (VmRSS; nginx: master and workers);
#   - system calls per request (`strace -c -f` attached for STRACE seconds of the load);
#   - the same for hyper's server and client with nothing between them (the `bare_proxy`
#     example of crates/gateway, laid out as Pylon's listener is): the floor a pipeline that
#     took no time at all would stand on, served auto-detecting HTTP/1 and HTTP/2 as Pylon
#     does (`hyper`) and HTTP/1 only (`hyper-h1`), and with the backend exchange written and
#     read in the request's task instead of through hyper's client (`inline`);
#   - for Pylon: its CPU by gateway worker thread (how evenly connections spread over them);
#     allocations per request, from a build with `--features count-allocations`
#     (its `/metrics` counters read around a wrk run), and a `perf record -g` profile of the
#     load, whose top symbols (self and with children) are written to OUT.
# See bench/README.md ("Where the user-space time goes").
#
# Environment:
#   DURATION    seconds of each measured wrk run (default 8)
#   STRACE      seconds strace is attached (default 5); PERF seconds perf records (default 5)
#   CONNECTIONS wrk connections (default 64)
#   OUT         where the reports go (default: a new /tmp/pylon-profile.* dir, kept, printed at the end)
#   PYLON_BIN, COUNTING_BIN, BARE_BIN  use these binaries (a normal build, one built with
#               --features count-allocations, and the bare_proxy example) instead of building them
#   CALLGRIND=1 also count the instructions per request of hyper alone and of Pylon under
#               valgrind's callgrind (REQUESTS requests, default 2000, ab -k -c 8), and write
#               each one's top functions, inclusive, to OUT/callgrind-<name>.txt and its whole
#               dump to OUT/callgrind-<name>.out (for callgrind_annotate --tree=caller)
#   CALLGRIND=2 only that: no load runs, perf, strace or allocation count (a few minutes)
#   CACHE_SIM=1 with CALLGRIND, also simulate the caches (valgrind's model of this machine's
#               first-level and last-level caches, one cache for all threads) and report the
#               data writes and first-level data misses per request of each server
#   AB_CONCURRENCY  ab's connections for the callgrind counts (default 8; 64 is wrk's load,
#               where each connection's memory is cold when its next request comes)
#   TURNS=N     only this: nginx, HAProxy and Pylon measured in turns, N rounds of DURATION
#               seconds each (user and system CPU per request, requests/s), with each round's
#               ratios of Pylon to nginx and to HAProxy, and their medians; on a shared machine
#               one run's ratio says little
#   KEEP_TMP=1  keep the temp dir
set -euo pipefail

DURATION=${DURATION:-8}
STRACE=${STRACE:-5}
PERF=${PERF:-5}
CONNECTIONS=${CONNECTIONS:-64}
CALLGRIND=${CALLGRIND:-0}
REQUESTS=${REQUESTS:-2000}
CACHE_SIM=${CACHE_SIM:-0}
AB_CONCURRENCY=${AB_CONCURRENCY:-8}
TURNS=${TURNS:-0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for v in DURATION STRACE PERF CONNECTIONS CALLGRIND REQUESTS CACHE_SIM AB_CONCURRENCY TURNS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((DURATION >= 2 && DURATION <= 120)) || die "DURATION must be between 2 and 120 seconds"
((TURNS <= 50)) || die "TURNS must be at most 50"
((STRACE >= 1 && STRACE < DURATION + 30 && PERF >= 1 && PERF <= 60)) || die "STRACE or PERF out of range"
OUT=${OUT:-$(mktemp -d /tmp/pylon-profile.XXXXXX)}
mkdir -p "$OUT"

need_nginx_wrk_curl
command -v strace >/dev/null || { log "installing strace"; apt_install strace; }
command -v perf >/dev/null || { log "installing linux-perf"; apt_install linux-perf; }
if ((CALLGRIND)); then
  command -v valgrind >/dev/null || { log "installing valgrind"; apt_install valgrind; }
  command -v ab >/dev/null || { log "installing apache2-utils (ab)"; apt_install apache2-utils; }
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/pylon-target}

# Two builds of this checkout: the one measured, and the same with the counting allocator.
if [[ -z ${COUNTING_BIN:-} ]] && ((CALLGRIND < 2 && TURNS == 0)); then
  command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain, or set COUNTING_BIN"
  log "building pylon (release, --features count-allocations)"
  (cd "$ROOT" && cargo build --release --bin pylon --features count-allocations --quiet) ||
    die "cargo build --features count-allocations failed"
  cp "$CARGO_TARGET_DIR/release/pylon" "$TMP/pylon-counting"
  COUNTING_BIN=$TMP/pylon-counting
fi
if [[ -z ${BARE_BIN:-} ]] && ((TURNS == 0)); then
  log "building the bare_proxy example (release)"
  (cd "$ROOT" && cargo build --release -p pylon-gateway --example bare_proxy --quiet) ||
    die "cargo build --example bare_proxy failed"
  BARE_BIN=$CARGO_TARGET_DIR/release/examples/bare_proxy
fi
need_pylon

TICK=$(getconf CLK_TCK)
BACKEND_PORT=$(free_port)
PROXY_PORT=$(free_port)

write_backend_conf "$BACKEND_PORT"
mkdir -p "$TMP/proxy-tmp"
{
  echo "worker_processes auto;"
  nginx_common proxy
  echo "http {"
  http_common proxy
  proxy_pass_server "$PROXY_PORT" "$BACKEND_PORT"
  echo "}"
} >"$TMP/proxy.conf"
start_nginx backend
BACKEND_PID=$STARTED
wait_http_200 "http://127.0.0.1:$BACKEND_PORT/bench" "$BACKEND_PID"
start_nginx proxy
PROXY_PID=$STARTED
wait_http_200 "http://127.0.0.1:$PROXY_PORT/bench" "$PROXY_PID"

# A Pylon with the one pass-through API of bench/run.sh; sets PYLON_PID, PYLON_PORT, PYLON_URL,
# STATUS_URL.
start_pylon() { # binary name
  local port admin_port status_port group api
  port=$(free_port) admin_port=$(free_port) status_port=$(free_port)
  PYLON_PORT=$port
  TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  mkdir -p "$TMP/$2-data"
  PYLON_LOG=warn "$1" serve --data-dir "$TMP/$2-data" --listen "127.0.0.1:$port" \
    --admin-listen "127.0.0.1:$admin_port" --status-listen "127.0.0.1:$status_port" \
    --access-log off --admin-token "$TOKEN" >"$TMP/$2.log" 2>&1 &
  PYLON_PID=$!
  PIDS+=("$PYLON_PID")
  STATUS_URL=http://127.0.0.1:$status_port
  wait_http_200 "$STATUS_URL/readyz" "$PYLON_PID"
  ADMIN=http://127.0.0.1:$admin_port
  group=$(admin POST /v1/groups '{"name":"bench"}' | json_id)
  api=$(admin POST "/v1/groups/$group/apis" \
    "{\"name\":\"bench\",\"request\":{\"method\":\"GET\",\"path\":\"/bench\"},\"backend\":{\"service\":{\"inline\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:$BACKEND_PORT\"}},\"path\":\"/\"}}" |
    json_id)
  admin POST "/v1/groups/$group/apis/$api/publish" '{"environment":"RELEASE"}' >/dev/null
  PYLON_HOST=$group.localhost
  PYLON_URL=http://127.0.0.1:$port/bench
  wait_http_200 "$PYLON_URL" "$PYLON_PID" -H "Host: $PYLON_HOST"
}

# utime and stime (clock ticks) of a process and its reaped children: nginx's master + workers.
user_sys() { # pid -> "utime stime"
  local pid=$1 u=0 s=0 stat rest child
  for child in $pid $(cat "/proc/$pid/task/"*/children 2>/dev/null); do
    [[ -r /proc/$child/stat ]] || continue
    read -r stat <"/proc/$child/stat"
    rest=${stat##*) }
    read -r _ _ _ _ _ _ _ _ _ _ _ ut st _ <<<"$rest"
    u=$((u + ut)) s=$((s + st))
  done
  echo "$u $s"
}

# Resident memory (MiB) of a process and its children: nginx's master + workers.
rss_mib() { # pid
  local child kb=0
  for child in $1 $(cat "/proc/$1/task/"*/children 2>/dev/null); do
    kb=$((kb + $(awk '/^VmRSS:/ { k = $2 } END { print k + 0 }' "/proc/$child/status" 2>/dev/null || echo 0)))
  done
  awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }'
}

declare -A USER_US SYS_US RPS SYSCALLS ALLOCS RSS
# utime + stime (clock ticks) of each of Pylon's gateway worker threads, in thread order: how
# evenly the connections spread over the workers.
worker_ticks() { # pid -> "ticks ticks ..."
  local t stat rest ut st out=()
  for t in /proc/"$1"/task/*; do
    [[ $(cat "$t/comm" 2>/dev/null) == pylon-gateway-* ]] || continue
    read -r stat <"$t/stat"
    rest=${stat##*) }
    read -r _ _ _ _ _ _ _ _ _ _ _ ut st _ <<<"$rest"
    out+=($((ut + st)))
  done
  echo "${out[*]}"
}
WORKER_SPLIT=
wrk_load() { # url seconds [host] -> requests sent (wrk's "requests in")
  local out=$TMP/wrk-$RANDOM.txt
  timeout $(($2 + 30)) wrk -t1 -c"$CONNECTIONS" -d"$2s" ${3:+-H "Host: $3"} "$1" >"$out"
  awk '/requests in/ {print $1}' "$out"
  awk '/^Requests\/sec:/ {print $2}' "$out" >"$out.rps"
  LAST_RPS=$(cat "$out.rps")
}

measure() { # name pid url [host]
  local name=$1 pid=$2 url=$3 host=${4:-} before after reqs
  log "$name: warm-up, then ${DURATION}s of CPU"
  wrk_load "$url" 2 "$host" >/dev/null
  before=$(user_sys "$pid")
  local workers_before workers_after
  workers_before=$(worker_ticks "$pid")
  reqs=$(wrk_load "$url" "$DURATION" "$host")
  after=$(user_sys "$pid")
  workers_after=$(worker_ticks "$pid")
  if [[ $name == pylon && -n $workers_before ]]; then
    WORKER_SPLIT=$(paste -d' ' <(tr ' ' '\n' <<<"$workers_after") <(tr ' ' '\n' <<<"$workers_before") |
      awk '{ printf "%s%d", (NR > 1 ? " / " : ""), $1 - $2 }')
  fi
  RSS[$name]=$(rss_mib "$pid")
  RPS[$name]=$LAST_RPS
  read -r u0 s0 <<<"$before"
  read -r u1 s1 <<<"$after"
  USER_US[$name]=$(awk -v d=$((u1 - u0)) -v t="$TICK" -v n="$reqs" 'BEGIN { printf "%.1f", d / t * 1e6 / n }')
  SYS_US[$name]=$(awk -v d=$((s1 - s0)) -v t="$TICK" -v n="$reqs" 'BEGIN { printf "%.1f", d / t * 1e6 / n }')

  # strace slows what it traces: calls per request are kept, not calls per second. Every
  # thread (Pylon) or process (nginx's workers) is attached before the load starts.
  log "$name: system calls over ${STRACE}s of load"
  local tasks=() t
  for t in /proc/"$pid"/task/* $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
    tasks+=(-p "${t##*/}")
  done
  strace -c -f "${tasks[@]}" -o "$OUT/strace-$name.txt" 2>/dev/null &
  local strace_pid=$!
  sleep 1
  reqs=$(wrk_load "$url" "$STRACE" "$host")
  kill -INT "$strace_pid" 2>/dev/null || true
  wait "$strace_pid" || true
  SYSCALLS[$name]=$(awk -v n="$reqs" '$NF == "total" { printf "%.2f", $4 / n }' "$OUT/strace-$name.txt")
}

# hyper alone, as Pylon's listener and pool use it, under each of bare_proxy's modes.
declare -A BARE_FLAG=([hyper]="" [hyper-h1]=--http1-only [inline]=--inline-client)
# The bare_proxy command line of a mode, listening on a port (sets BARE_CMD).
bare_cmd() { # name port
  BARE_CMD=("$BARE_BIN" "127.0.0.1:$2" "127.0.0.1:$BACKEND_PORT")
  [[ -n ${BARE_FLAG[$1]} ]] && BARE_CMD+=("${BARE_FLAG[$1]}")
  return 0
}
start_bare() { # name
  local port
  port=$(free_port)
  bare_cmd "$1" "$port"
  "${BARE_CMD[@]}" >"$TMP/$1.log" 2>&1 &
  BARE_PID=$!
  PIDS+=("$BARE_PID")
  BARE_URL=http://127.0.0.1:$port/bench
  wait_http_200 "$BARE_URL" "$BARE_PID"
}

# TURNS=N: nginx, HAProxy and Pylon in turns, nothing else.
if ((TURNS)); then
  need_haproxy
  start_haproxy "$BACKEND_PORT"
  start_pylon "$PYLON_BIN" pylon
  turn() { # pid url [host] -> "requests/s user_us system_us"
    local before after reqs u0 s0 u1 s1
    wrk_load "$2" 2 "${3:-}" >/dev/null
    before=$(user_sys "$1")
    reqs=$(wrk_load "$2" "$DURATION" "${3:-}")
    after=$(user_sys "$1")
    read -r u0 s0 <<<"$before"
    read -r u1 s1 <<<"$after"
    awk -v r="$LAST_RPS" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v t="$TICK" -v n="$reqs" \
      'BEGIN { printf "%s %.2f %.2f", r, u / t * 1e6 / n, s / t * 1e6 / n }'
  }
  echo "nginx, haproxy and pylon in turns, GET /bench, wrk -t1 -c$CONNECTIONS, ${DURATION}s each; $NCPU CPUs"
  echo "(req/s, and user CPU per request in us; ratios are pylon's over nginx's, and over haproxy's)"
  printf '%-6s %9s %7s %9s %7s %9s %7s %8s %8s %8s %8s\n' round nginx user haproxy user pylon user \
    user/ngx cpu/ngx user/hap rps/hap
  : >"$OUT/turns.txt"
  for round in $(seq 1 "$TURNS"); do
    log "round $round of $TURNS"
    read -r nr nu ns <<<"$(turn "$PROXY_PID" "http://127.0.0.1:$PROXY_PORT/bench")"
    read -r hr hu hs <<<"$(turn "$HAPROXY_PID" "http://127.0.0.1:$HAPROXY_PORT/bench")"
    read -r pr pu ps <<<"$(turn "$PYLON_PID" "$PYLON_URL" "$PYLON_HOST")"
    echo "$nr $nu $ns $pr $pu $ps $hr $hu $hs" >>"$OUT/turns.txt"
    awk -v round="$round" -v nr="$nr" -v nu="$nu" -v ns="$ns" -v pr="$pr" -v pu="$pu" -v ps="$ps" \
      -v hr="$hr" -v hu="$hu" \
      'BEGIN { printf "%-6s %9.0f %7.2f %9.0f %7.2f %9.0f %7.2f %8.2f %8.2f %8.2f %8.2f\n", round,
        nr, nu, hr, hu, pr, pu, pu / nu, (pu + ps) / (nu + ns), pu / hu, pr / hr }'
  done
  median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
  # The median over the rounds of an awk expression of turns.txt's columns.
  over_rounds() { awk "{ printf \"%.3f\\n\", $1 }" "$OUT/turns.txt" | median; }
  echo "pylon/nginx medians over $TURNS rounds:" \
    "user CPU per request $(over_rounds '$5 / $2')," \
    "user + system $(over_rounds '($5 + $6) / ($2 + $3)')," \
    "requests/s $(over_rounds '$4 / $1')"
  echo "pylon/haproxy medians:" \
    "user CPU per request $(over_rounds '$5 / $8')," \
    "user + system $(over_rounds '($5 + $6) / ($8 + $9)')," \
    "requests/s $(over_rounds '$4 / $7')"
  echo "rounds: $OUT/turns.txt (req/s, user us, system us of nginx, then pylon, then haproxy)"
  exit 0
fi

# The load runs, perf and the allocation count (all but CALLGRIND=2).
if ((CALLGRIND < 2)); then
start_pylon "$PYLON_BIN" pylon
PYLON_MAIN_PID=$PYLON_PID
measure nginx "$PROXY_PID" "http://127.0.0.1:$PROXY_PORT/bench"
measure pylon "$PYLON_PID" "$PYLON_URL" "$PYLON_HOST"
for mode in hyper hyper-h1 inline; do
  start_bare "$mode"
  measure "$mode" "$BARE_PID" "$BARE_URL"
  kill -TERM "$BARE_PID" 2>/dev/null || true
done

log "pylon: perf record -g over ${PERF}s of load"
timeout $((PERF + 40)) wrk -t1 -c"$CONNECTIONS" -d"$((PERF + 4))s" -H "Host: $PYLON_HOST" "$PYLON_URL" >/dev/null &
WRK_PID=$!
sleep 1
# DWARF call graphs: a release build keeps no frame pointers, but its unwind tables serve.
perf record -q -F 999 --call-graph dwarf,16384 -p "$PYLON_MAIN_PID" -o "$TMP/perf.data" -- sleep "$PERF" 2>/dev/null ||
  die "perf record failed (kernel.perf_event_paranoid?)"
wait "$WRK_PID" || true
perf report -i "$TMP/perf.data" --no-children --sort dso,symbol --stdio --percent-limit 0.3 -g none \
  2>/dev/null | grep '%' | grep -v '^#' | head -80 >"$OUT/perf-self.txt" || true
# User space only (Pylon's own code and libc), as shares of all of Pylon's samples.
perf report -i "$TMP/perf.data" --no-children --dsos pylon,libc.so.6 --sort dso,symbol --stdio \
  --percent-limit 0.15 -g none 2>/dev/null | grep '%' | grep -v '^#' | head -80 >"$OUT/perf-user.txt" || true
perf report -i "$TMP/perf.data" --children --sort symbol --stdio --percent-limit 2 -g none \
  2>/dev/null | grep '%' | grep -v '^#' | head -60 >"$OUT/perf-children.txt" || true
perf report -i "$TMP/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
  grep '%' | grep -v '^#' >"$OUT/perf-dso.txt" || true
# Who calls the allocator and memmove: where copies and allocations come from.
for sym in __memmove_avx512_unaligned_erms __memmove_avx_unaligned_erms malloc _int_malloc _int_free; do
  perf report -i "$TMP/perf.data" --no-children --symbols "$sym" --stdio -G --percent-limit 0.1 \
    -g caller,0.5,callee,function,percent 2>/dev/null | grep -v '^#' | grep -v '^$' | head -80 \
    >"$OUT/perf-callers-$sym.txt" || true
  [[ -s $OUT/perf-callers-$sym.txt ]] || rm -f "$OUT/perf-callers-$sym.txt"
done

kill -TERM "$PYLON_MAIN_PID" 2>/dev/null || true
start_pylon "$COUNTING_BIN" pylon-counting
allocs() { curl -s "$STATUS_URL/metrics" | awk '$1 == "pylon_allocations_total" {print $2}'; }
bytes() { curl -s "$STATUS_URL/metrics" | awk '$1 == "pylon_allocated_bytes_total" {print $2}'; }
[[ -n $(allocs) ]] || die "$COUNTING_BIN serves no pylon_allocations_total: not built with --features count-allocations"
wrk_load "$PYLON_URL" 2 "$PYLON_HOST" >/dev/null
a0=$(allocs) b0=$(bytes)
reqs=$(wrk_load "$PYLON_URL" "$DURATION" "$PYLON_HOST")
a1=$(allocs) b1=$(bytes)
ALLOCS[pylon]=$(awk -v a=$((a1 - a0)) -v n="$reqs" 'BEGIN { printf "%.1f", a / n }')
ALLOC_BYTES=$(awk -v b=$((b1 - b0)) -v n="$reqs" 'BEGIN { printf "%.0f", b / n }')
fi

# Instructions per request: the deterministic measure, where req/s and CPU time move with the
# machine. Each server runs under callgrind; what it executes between two dumps is counted.
declare -A IR CACHE
CACHE_ARGS=()
((CACHE_SIM)) && CACHE_ARGS=(--cache-sim=yes)
count_instructions() { # name url [host] -- the server's command line
  local name=$1 url=$2 host=$3 pid dump; shift 4
  valgrind --tool=callgrind "${CACHE_ARGS[@]}" --callgrind-out-file="$TMP/callgrind-$name.out" -q "$@" >"$TMP/$name-cg.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  WAIT_SECONDS=120 wait_http_200 "$url" "$pid" ${host:+-H "Host: $host"}
  ab -q -k -n 200 -c 8 ${host:+-H "Host: $host"} "$url" >/dev/null
  callgrind_control --zero "$pid" >/dev/null || die "callgrind_control --zero failed"
  ab -q -k -n "$REQUESTS" -c "$AB_CONCURRENCY" ${host:+-H "Host: $host"} "$url" >"$TMP/ab-$name.txt" 2>&1 || true
  callgrind_control --dump=measured "$pid" >/dev/null || die "callgrind_control --dump failed"
  grep -q '^Failed requests: *0$' "$TMP/ab-$name.txt" || die "$name: ab saw failed requests"
  # A busy process dumps at once; an idle one when valgrind next runs it: wait for the file.
  for _ in $(seq 60); do
    dump=$(grep -l "^desc: Trigger: .*measured\$" "$TMP/callgrind-$name.out"* 2>/dev/null | head -n 1 || true)
    [[ -n $dump ]] && break
    sleep 0.5
  done
  [[ -n $dump ]] || die "no callgrind dump for $name"
  IR[$name]=$(awk -v n="$REQUESTS" '/^(summary|totals):/ { printf "%.0f", $2 / n; exit }' "$dump")
  if ((CACHE_SIM)); then
    # Events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw.
    CACHE[$name]=$(awk -v n="$REQUESTS" '/^events:/ { for (i = 2; i <= NF; i++) col[$i] = i }
      /^(summary|totals):/ { printf "%.0f data writes, %.0f L1 data misses (%.0f read, %.0f write)",
        $(col["Dw"]) / n, ($(col["D1mr"]) + $(col["D1mw"])) / n, $(col["D1mr"]) / n, $(col["D1mw"]) / n; exit }' "$dump")
    log "$name: ${CACHE[$name]} per request"
  fi
  callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | head -70 >"$OUT/callgrind-$name.txt" || true
  cp "$dump" "$OUT/callgrind-$name.out"
  kill -TERM "$pid" 2>/dev/null || true
  log "$name: ${IR[$name]} instructions per request"
}
if ((CALLGRIND)); then
  # nginx as one process (no master, one worker), the proxy configuration on another port.
  port=$(free_port)
  { echo "master_process off;"; sed -e "s/127.0.0.1:$PROXY_PORT/127.0.0.1:$port/" \
    -e "s|$TMP/proxy.pid|$TMP/proxy-cg.pid|" "$TMP/proxy.conf"; } >"$TMP/proxy-cg.conf"
  count_instructions nginx "http://127.0.0.1:$port/bench" "" -- \
    "$NGINX" -p "$TMP" -e "$TMP/proxy-cg.log" -c "$TMP/proxy-cg.conf"
  for mode in hyper inline; do
    port=$(free_port)
    bare_cmd "$mode" "$port"
    count_instructions "$mode" "http://127.0.0.1:$port/bench" "" -- "${BARE_CMD[@]}"
  done
  # Set up (its API created and published) natively, then served again under callgrind.
  start_pylon "$PYLON_BIN" pylon-callgrind
  kill -TERM "$PYLON_PID" 2>/dev/null || true
  wait "$PYLON_PID" 2>/dev/null || true
  # (valgrind follows no exec: the command is the binary itself.)
  PYLON_LOG=warn count_instructions pylon "$PYLON_URL" "$PYLON_HOST" -- \
    "$PYLON_BIN" serve --data-dir "$TMP/pylon-callgrind-data" --listen "127.0.0.1:$PYLON_PORT" \
    --admin-listen "127.0.0.1:$(free_port)" --access-log off --admin-token "$TOKEN"
fi

{
  if ((CALLGRIND == 2)); then
    echo "instructions per request (callgrind, ab -k -c $AB_CONCURRENCY, $REQUESTS requests): nginx ${IR[nginx]}, hyper alone ${IR[hyper]}, hyper's server with an inline client ${IR[inline]}, pylon ${IR[pylon]}"
    if ((CACHE_SIM)); then
      for t in nginx hyper inline pylon; do echo "cache simulation per request, $t: ${CACHE[$t]}"; done
    fi
    exit 0
  fi
  echo "pass-through GET /bench, wrk -t1 -c$CONNECTIONS, ${DURATION}s; $NCPU CPUs"
  printf '%-8s %10s %14s %16s %14s %12s\n' target "req/s" "user us/req" "kernel us/req" "syscalls/req" "RSS MiB"
  for t in nginx hyper-h1 hyper inline pylon; do
    printf '%-8s %10s %14s %16s %14s %12s\n' "$t" "${RPS[$t]}" "${USER_US[$t]}" "${SYS_US[$t]}" "${SYSCALLS[$t]}" "${RSS[$t]}"
  done
  echo "pylon allocations per request: ${ALLOCS[pylon]} (${ALLOC_BYTES} bytes)"
  echo "pylon CPU by gateway worker thread over the run (clock ticks): $WORKER_SPLIT"
  awk -v p="${USER_US[pylon]}" -v n="${USER_US[nginx]}" 'BEGIN { printf "user CPU per request pylon/nginx: %.2f\n", p / n }'
  awk -v p="${RPS[pylon]}" -v n="${RPS[nginx]}" 'BEGIN { printf "req/s pylon/nginx: %.2f\n", p / n }'
  awk -v h="${USER_US[hyper]}" -v p="${USER_US[pylon]}" -v n="${USER_US[nginx]}" \
    'BEGIN { printf "user CPU per request hyper alone/nginx: %.2f; pylon over hyper alone: %.1f us\n", h / n, p - h }'
  if ((CALLGRIND)); then
    echo "instructions per request (callgrind, ab -k -c $AB_CONCURRENCY, $REQUESTS requests): nginx ${IR[nginx]}, hyper alone ${IR[hyper]}, hyper's server with an inline client ${IR[inline]}, pylon ${IR[pylon]}"
    if ((CACHE_SIM)); then
      for t in nginx hyper inline pylon; do echo "cache simulation per request, $t: ${CACHE[$t]}"; done
    fi
  fi
} | tee "$OUT/summary.txt"
echo "reports: $OUT (summary.txt, perf-self.txt, perf-user.txt, perf-children.txt, perf-dso.txt, strace-*.txt)"
