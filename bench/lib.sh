# Shared by the bench scripts (run.sh, functions.sh), sourced before anything else: messages,
# installing Debian packages, the temp dir and the processes started, cleaned up on exit, free
# loopback ports, and waiting for a server's first 200.

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

as_root() {
  if ((EUID == 0)); then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root or sudo to run: $*"
  fi
}

APT_UPDATED=0
apt_install() {
  if ((APT_UPDATED == 0)); then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# Processes we start, and their cleanup whatever happens.
# ---------------------------------------------------------------------------------------------
TMP=$(mktemp -d /tmp/pylon-bench.XXXXXX)
# nginx workers drop to an unprivileged user when started by root: they must reach the temp dir.
chmod 755 "$TMP"
PIDS=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    # Bounded wait, then SIGKILL whatever is left.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if ((rc != 0)); then
    for f in "$TMP"/*.log; do
      [[ -s $f ]] || continue
      echo "---- last lines of $f" >&2
      tail -n 20 "$f" >&2
    done
  fi
  if [[ ${KEEP_TMP:-0} == 1 ]]; then
    log "kept $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A loopback TCP port nobody listens on (from /proc: no ss/netstat needed on a bare machine).
USED_PORTS=" "
free_port() {
  local port hex
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 40000))
    hex=$(printf ':%04X ' "$port")
    if ! grep -qi "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null && [[ $USED_PORTS != *" $port "* ]]; then
      USED_PORTS+="$port "
      echo "$port"
      return 0
    fi
  done
  die "no free port found"
}

# Waits (bounded) until `curl` gets a 200 from the URL; extra args go to curl.
wait_http_200() {
  local url=$1 pid=$2; shift 2
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || die "process $pid exited before serving $url"
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" || true) == 200 ]] && return 0
    sleep 0.1
  done
  die "no 200 from $url after 10s"
}
