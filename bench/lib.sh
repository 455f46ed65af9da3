# Shared by the bench scripts (run.sh, profile.sh, functions.sh), sourced before anything else:
# messages, the CPU count, installing Debian packages, the temp dir and the processes started,
# cleaned up on exit, free loopback ports, waiting for a server's first 200, and the nginx
# and HAProxy set-ups.

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
# The CPUs the servers and wrk share: each proxy gets a worker or thread per CPU.
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)

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

# Waits (bounded: WAIT_SECONDS, default 10) until `curl` gets a 200 from the URL; extra args
# go to curl.
wait_http_200() {
  local url=$1 pid=$2; shift 2
  for _ in $(seq $((${WAIT_SECONDS:-10} * 10))); do
    kill -0 "$pid" 2>/dev/null || die "process $pid exited before serving $url"
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" || true) == 200 ]] && return 0
    sleep 0.1
  done
  die "no 200 from $url after ${WAIT_SECONDS:-10}s"
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

# ---------------------------------------------------------------------------------------------
# nginx: the backend and the reference proxy, from configs of their own in $TMP (needs NGINX).
# ---------------------------------------------------------------------------------------------
nginx_common() { # $1 = name
  cat <<EOF
daemon off;
pid $TMP/$1.pid;
error_log $TMP/$1.log warn;
events { worker_connections 4096; }
EOF
}
http_common() { # $1 = name
  cat <<EOF
    access_log off;
    client_body_temp_path $TMP/$1-tmp/body;
    proxy_temp_path $TMP/$1-tmp/proxy;
    fastcgi_temp_path $TMP/$1-tmp/fastcgi;
    uwsgi_temp_path $TMP/$1-tmp/uwsgi;
    scgi_temp_path $TMP/$1-tmp/scgi;
    keepalive_requests 1000000;
EOF
}

# The backend every bench proxies to: nginx answering 200 "ok\n", one worker ($TMP/backend.conf).
write_backend_conf() { # port
  mkdir -p "$TMP/backend-tmp"
  {
    echo "worker_processes 1;"
    nginx_common backend
    echo "http {"
    http_common backend
    cat <<EOF
    server {
        listen 127.0.0.1:$1;
        location / {
            default_type text/plain;
            return 200 "ok\n";
        }
    }
}
EOF
  } >"$TMP/backend.conf"
}

# nginx's plain `proxy_pass` to the backend, with kept-alive upstream connections: the
# reference every bench compares Pylon with (inside an `http` block).
proxy_pass_server() { # proxy-port backend-port
  cat <<EOF
    upstream backend {
        server 127.0.0.1:$2;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$1;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
EOF
}

# Started from this shell (not a subshell) so that cleanup can signal and reap it; sets STARTED.
start_nginx() { # $1 = name
  "$NGINX" -t -q -p "$TMP" -e "$TMP/$1.log" -c "$TMP/$1.conf" || die "nginx rejected $TMP/$1.conf"
  "$NGINX" -p "$TMP" -e "$TMP/$1.log" -c "$TMP/$1.conf" >"$TMP/$1-stdout.log" 2>&1 &
  STARTED=$!
  PIDS+=("$STARTED")
}

# Sets HAPROXY; installs HAProxy from Debian's packages when missing.
need_haproxy() {
  command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || { log "installing haproxy"; apt_install haproxy; }
  HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
  [[ -x $HAPROXY ]] || die "haproxy not found after install"
}

# HAProxy as a fair pass-through proxy to the backend: one thread per CPU (as many as nginx's
# workers and Pylon's event loops), idle backend connections reused by any request. Sets
# HAPROXY_PID and HAPROXY_PORT.
start_haproxy() { # backend-port
  HAPROXY_PORT=$(free_port)
  cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread $NCPU
    maxconn 8192
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    http-reuse always
frontend bench
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend backend
backend backend
    server b1 127.0.0.1:$1
EOF
  "$HAPROXY" -c -q -f "$TMP/haproxy.cfg" || die "haproxy rejected $TMP/haproxy.cfg"
  "$HAPROXY" -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  PIDS+=("$HAPROXY_PID")
  wait_http_200 "http://127.0.0.1:$HAPROXY_PORT/bench" "$HAPROXY_PID"
}

# The admin API of the Pylon under test (needs ADMIN and TOKEN).
admin() { # method path [json] -> response body on stdout; fails on a non-2xx status
  local body status
  body=$(curl -sS --max-time 10 -X "$1" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} -w '\n%{http_code}' "$ADMIN$2") ||
    die "admin $1 $2: curl failed"
  status=${body##*$'\n'}
  body=${body%$'\n'*}
  [[ $status == 2* ]] || die "admin $1 $2 answered $status: $body"
  printf '%s' "$body"
}
json_id() { sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1; }
