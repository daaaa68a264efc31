#!/usr/bin/env bash
# `make cluster-demo`: a whole Chorus cluster on this machine, in the foreground: one Redis, three
# chorusd nodes and nginx balancing WebSockets over them (as deploy/nginx.conf does). Open the
# printed URL in two tabs: the members may sit on different nodes and still hear each other.
# Kill a node (kill -9 PID) to watch its members resume on another one; kill Redis to watch the
# nodes run degraded and recover when the script restarts it. Ctrl-C stops everything.
# Logs, the generated nginx.conf and nginx's temp folders go to $BUILD/cluster-demo/; nothing
# under /etc or /var is touched, so it runs as root or not.
#
# Environment (all optional; a default port that is taken is replaced by a free one):
#   CLUSTER_DEMO_REDIS_PORT=6390   CLUSTER_DEMO_NGINX_PORT=8080
#   CLUSTER_DEMO_NODE_PORTS="8081 8082 8083"   (one node per port)
#   CLUSTER_DEMO_THREADS=1         chorusd --threads per node
#   CLUSTER_DEMO_REDIS_RESTART_S=5 when Redis dies, it is restarted (empty) after this long
#   CLUSTER_DEMO_ARGS=             more chorusd flags, e.g. "--resume-grace 30s"
#   BUILD=build  CHORUSD=$BUILD/chorusd  NGINX=nginx  REDIS_SERVER=redis-server
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CHORUSD=${CHORUSD:-$BUILD/chorusd}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
PYTHON=${PYTHON:-python3}
THREADS=${CLUSTER_DEMO_THREADS:-1}
REDIS_RESTART_S=${CLUSTER_DEMO_REDIS_RESTART_S:-5}
read -r -a EXTRA_ARGS <<<"${CLUSTER_DEMO_ARGS:-}"
DIR=$BUILD/cluster-demo

say() { echo "cluster-demo: $*" >&2; }
die() { say "$*"; exit 2; }

# --- what it needs ------------------------------------------------------------------------------
[[ -x $CHORUSD ]] || die "$CHORUSD is missing (make $CHORUSD)"
"$CHORUSD" --help 2>&1 | grep -q -- '--redis' ||
    die "$CHORUSD has no cluster mode (--redis) yet; rebuild it from a tree that has core/cluster"
if [[ ! -x $NGINX || ! -x $REDIS_SERVER ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        say "installing redis-server nginx-light"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nginx-light
        NGINX=$(command -v nginx || echo /usr/sbin/nginx)
        REDIS_SERVER=$(command -v redis-server || echo /usr/bin/redis-server)
    fi
    [[ -x $NGINX && -x $REDIS_SERVER ]] ||
        die "needs redis-server and nginx: make deps (or apt-get install redis-server nginx-light)"
fi

# One demo per build folder: a second one would delete the first one's logs and config.
mkdir -p "$BUILD"
exec 9>"$BUILD/cluster-demo.lock"
flock -n 9 || die "another cluster demo is running from $DIR"

# --- ports --------------------------------------------------------------------------------------
port_free() {  # PORT: can we bind 127.0.0.1:PORT?
    "$PYTHON" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}
any_free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
taken=" "
pick_port() {  # LABEL PORT EXPLICIT: prints the port to use; an explicit one must be free
    local label=$1 port=$2 explicit=$3
    [[ $port =~ ^[0-9]+$ && $port -ge 1 && $port -le 65535 ]] || die "$label: '$port' is not a port"
    if [[ $taken != *" $port "* ]] && port_free "$port"; then
        echo "$port"
    elif [[ $explicit == 1 ]]; then
        die "$label: port $port is in use"
    else
        local other
        other=$(any_free_port)
        say "$label: port $port is in use; using $other instead"
        echo "$other"
    fi
}
REDIS_PORT=$(pick_port CLUSTER_DEMO_REDIS_PORT "${CLUSTER_DEMO_REDIS_PORT:-6390}" \
    "${CLUSTER_DEMO_REDIS_PORT:+1}")
taken+="$REDIS_PORT "
NGINX_PORT=$(pick_port CLUSTER_DEMO_NGINX_PORT "${CLUSTER_DEMO_NGINX_PORT:-8080}" \
    "${CLUSTER_DEMO_NGINX_PORT:+1}")
taken+="$NGINX_PORT "
NODE_PORTS=()
for wanted in ${CLUSTER_DEMO_NODE_PORTS:-8081 8082 8083}; do
    port=$(pick_port CLUSTER_DEMO_NODE_PORTS "$wanted" "${CLUSTER_DEMO_NODE_PORTS:+1}")
    taken+="$port "
    NODE_PORTS+=("$port")
done
[[ ${#NODE_PORTS[@]} -ge 1 ]] || die "CLUSTER_DEMO_NODE_PORTS is empty"

# --- process bookkeeping ------------------------------------------------------------------------
redis_pid='' nginx_pid=''
node_pids=()
stop_pid() {  # PID SECONDS: SIGTERM, then SIGKILL if it is still there after SECONDS
    local pid=$1 limit=$2
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((limit * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    trap - EXIT INT TERM
    say "stopping"
    # nginx first (it closes the clients' sockets), then the nodes together (each drains and
    # leaves the cluster, which needs Redis), then Redis.
    stop_pid "$nginx_pid" 5
    local pid
    for pid in "${node_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${node_pids[@]}"; do stop_pid "$pid" 15; done
    stop_pid "$redis_pid" 5
    say "stopped; logs are in $DIR/"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {  # WHAT PID SECONDS COMMAND...: poll COMMAND until it succeeds or PID exits
    local what=$1 pid=$2 limit=$3
    shift 3
    for _ in $(seq $((limit * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || { say "$what exited during start-up"; return 1; }
        sleep 0.1
    done
    say "$what did not become ready within ${limit}s"
    return 1
}
healthz() {  # PORT [WANT]: prints the /healthz body; fails unless the status is 200 (and WANT)
    "$PYTHON" - "$@" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=2)
c.request("GET", "/healthz")
r = c.getresponse()
body = r.read().decode(errors="replace").strip()
print(r.status, body)
sys.exit(0 if r.status == 200 and (len(sys.argv) < 3 or sys.argv[2] in body) else 1)
PY
}
show_log() { say "last lines of $1:"; tail -n 20 "$1" >&2 || true; }

# --- Redis --------------------------------------------------------------------------------------
rm -rf "$DIR"
mkdir -p "$DIR"/tmp/{body,proxy,fastcgi,uwsgi,scgi}
abs=$(cd "$DIR" && pwd)
start_redis() {  # no persistence: a restart starts empty, as after a data loss
    "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$abs" >>"$DIR/redis.log" 2>&1 9>&- &
    redis_pid=$!
    wait_for "redis-server" "$redis_pid" 10 \
        grep -q "^$redis_pid:.*Ready to accept connections" "$DIR/redis.log" ||
        { show_log "$DIR/redis.log"; exit 1; }
}
start_redis

# --- the chorusd nodes --------------------------------------------------------------------------
secret=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
for i in "${!NODE_PORTS[@]}"; do
    n=$((i + 1))
    "$CHORUSD" --listen "127.0.0.1:${NODE_PORTS[$i]}" --redis "redis://127.0.0.1:$REDIS_PORT" \
        --node-id "node$n" --cluster-secret "$secret" --threads "$THREADS" "${EXTRA_ARGS[@]}" \
        2>"$DIR/node$n.log" 9>&- &
    node_pids+=($!)
done
for i in "${!NODE_PORTS[@]}"; do
    n=$((i + 1)) log="$DIR/node$((i + 1)).log"
    wait_for "node$n" "${node_pids[$i]}" 10 grep -q 'ready on' "$log" ||
        { show_log "$log"; exit 1; }
    # Ready first answers "degraded" until its Redis connection is up.
    wait_for "node$n (healthz ok)" "${node_pids[$i]}" 10 healthz "${NODE_PORTS[$i]}" '"ok"' ||
        { healthz "${NODE_PORTS[$i]}" >&2 || true; show_log "$log"; exit 1; }
done

# --- nginx (the same proxy settings as deploy/nginx.conf, with build-local paths) ---------------
{
    echo "# Generated by tools/cluster_demo.sh for this run; see deploy/nginx.conf."
    echo "daemon off;"
    echo "worker_processes 1;"
    echo "pid $abs/nginx.pid;"
    echo "error_log $abs/nginx-error.log notice;"
    echo "events { worker_connections 4096; }"
    echo "http {"
    echo "    log_format chorus '\$remote_addr [\$time_local] \"\$request_method \$uri\" \$status \$request_time'"
    echo "                      ' upstream=\$upstream_addr (\$upstream_status)';"
    echo "    access_log $abs/nginx-access.log chorus;"
    for t in client_body:body proxy:proxy fastcgi:fastcgi uwsgi:uwsgi scgi:scgi; do
        echo "    ${t%%:*}_temp_path $abs/tmp/${t#*:};"
    done
    echo "    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }"
    # The room map and the balancing line of deploy/nginx.conf (room affinity), as shipped.
    awk '/^    map \$uri \$chorus_room \{/,/^    \}/' deploy/nginx.conf
    echo "    upstream chorus {"
    grep -E '^ +hash \$chorus_room consistent;' deploy/nginx.conf
    echo "        zone chorus 64k;"
    for port in "${NODE_PORTS[@]}"; do
        echo "        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"
    done
    echo "    }"
    cat <<'EOF'
    server {
EOF
    echo "        listen 127.0.0.1:$NGINX_PORT;"
    cat <<'EOF'
        location / {
            proxy_pass http://chorus;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout http_503;
            proxy_next_upstream_tries 3;
            proxy_read_timeout 30s;
            proxy_send_timeout 30s;
            error_page 502 504 = @no_node;
        }
        location @no_node {
            default_type application/json;
            return 503 '{"error":"overloaded","message":"no node can take the connection now"}';
        }
    }
}
EOF
} >"$DIR/nginx.conf"
"$NGINX" -t -q -p "$abs" -c "$abs/nginx.conf" -e "$abs/nginx-error.log" ||
    { show_log "$DIR/nginx-error.log"; exit 1; }
"$NGINX" -p "$abs" -c "$abs/nginx.conf" -e "$abs/nginx-error.log" 2>>"$DIR/nginx-error.log" 9>&- &
nginx_pid=$!
wait_for "nginx" "$nginx_pid" 10 healthz "$NGINX_PORT" || { show_log "$DIR/nginx-error.log"; exit 1; }

# --- running ------------------------------------------------------------------------------------
echo
echo "Chorus cluster demo: ${#NODE_PORTS[@]} nodes, Redis on 127.0.0.1:$REDIS_PORT"
echo "  open http://127.0.0.1:$NGINX_PORT/   (nginx; open it in two tabs and join the same room)"
for i in "${!NODE_PORTS[@]}"; do
    echo "  node$((i + 1)): http://127.0.0.1:${NODE_PORTS[$i]}/  pid ${node_pids[$i]}" \
        " log $DIR/node$((i + 1)).log"
done
echo "  redis-server: pid $redis_pid (restarted empty ${REDIS_RESTART_S}s after it dies)"
echo "  kill -9 PID: a crash (members resume elsewhere); kill PID: a drain (close 1001)"
echo "  Ctrl-C stops everything."
echo

# Report each process that ends; a dead node is part of the demo, a dead Redis or nginx is not.
name_of() {
    local pid=$1 i
    [[ $pid == "$redis_pid" ]] && { echo redis-server; return; }
    [[ $pid == "$nginx_pid" ]] && { echo nginx; return; }
    for i in "${!node_pids[@]}"; do
        [[ $pid == "${node_pids[$i]}" ]] && { echo "node$((i + 1))"; return; }
    done
    echo "pid $pid"
}
alive=("$redis_pid" "$nginx_pid" "${node_pids[@]}")
while [[ ${#alive[@]} -gt 0 ]]; do
    status=0
    wait -n -p ended "${alive[@]}" 2>/dev/null || status=$?  # no "Killed" job notices
    [[ -n ${ended:-} ]] || continue
    name=$(name_of "$ended")
    say "$name exited (status $status)"
    next=()
    for pid in "${alive[@]}"; do [[ $pid == "$ended" ]] || next+=("$pid"); done
    alive=("${next[@]}")
    ended=
    case $name in
    nginx) show_log "$DIR/nginx-error.log"; exit 1 ;;
    redis-server)
        # Lets the demo show both Redis failures: the nodes run degraded while it is away, and
        # they re-register their members into the empty one when it is back.
        say "the nodes are degraded now; restarting redis-server (empty) in ${REDIS_RESTART_S}s"
        sleep "$REDIS_RESTART_S" & wait $!
        start_redis
        say "redis-server is back: pid $redis_pid"
        alive+=("$redis_pid") ;;
    esac
done
