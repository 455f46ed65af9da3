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

# Sets NGINX; installs nginx, wrk and curl from Debian's packages when missing.
need_nginx_wrk_curl() {
  NGINX=$(command -v nginx || true)
  [[ -n $NGINX ]] || { [[ -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx; } || true
  if [[ -z $NGINX ]]; then
    log "installing nginx-light"
    apt_install nginx-light || apt_install nginx
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  fi
  [[ -x $NGINX ]] || die "nginx not found after install"
  command -v wrk >/dev/null || { log "installing wrk"; apt_install wrk; }
  command -v curl >/dev/null || { log "installing curl"; apt_install curl; }
}

# Sets PYLON_BIN: the one given, or a release build of this checkout (needs ROOT).
need_pylon() {
  if [[ -n ${PYLON_BIN:-} ]]; then
    [[ -x $PYLON_BIN ]] || die "PYLON_BIN=$PYLON_BIN is not an executable"
    return 0
  fi
  command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain, or set PYLON_BIN"
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/pylon-target}
  log "building pylon (release) into $CARGO_TARGET_DIR"
  (cd "$ROOT" && cargo build --release --bin pylon --quiet) || die "cargo build --release failed"
  PYLON_BIN=$CARGO_TARGET_DIR/release/pylon
}
