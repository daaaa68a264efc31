# Shared by the bench scripts and tools/soak.sh (sourced, not run): start chorusd on a free
# loopback port and wait for its ready line, retrying if another process took the port first.
# Sets server_pid and server_port.

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# launch_chorusd LOG NAME COMMAND...   (COMMAND gets --listen 127.0.0.1:PORT appended)
launch_chorusd() {
    local log=$1 name=$2
    shift 2
    for _ in 1 2 3; do
        server_port=$(free_port)
        "$@" --listen "127.0.0.1:$server_port" 2>"$log" &
        server_pid=$!
        for _ in $(seq 200); do
            grep -qs 'ready on' "$log" && return 0
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    done
    echo "$name: chorusd did not start:" >&2
    cat "$log" >&2
    exit 2
}

# Stops the server launch_chorusd started, if it still runs (for an EXIT trap).
stop_chorusd() {
    if [[ -n ${server_pid:-} ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
