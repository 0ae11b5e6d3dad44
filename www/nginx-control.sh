# shellcheck shell=bash
# One private nginx instance run from a prefix directory: what www/serve.sh (the dev server)
# and www/deploy/nginx/serve.sh (the production config) share. Sourced, not run.
#
# The sourcing script sets, before calling anything here:
#   nginx    the nginx binary          port  the port on 127.0.0.1
#   prefix   runtime dir (nginx_prefix below picks one)
#   name     what the messages call the script (e.g. www/serve.sh)
#   start_hint  (optional) added to the error when a started instance never answers
# and defines:
#   render          write "$conf" (the rendered config)
#   answers URL     exit 0 when the instance at URL answers its health probe
#   serving         the text after "serving " once it answers (what, where)
# It then dispatches start|stop|status|restart|foreground to nginx_start, nginx_stop, ...

die() { echo "$name: $*" >&2; exit 1; }

# nginx_prefix CACHE_NAME: $NGINX_PREFIX, else <repo>/.cache/CACHE_NAME when writable, else a
# directory under $TMPDIR unique to this checkout.
nginx_prefix() {
    if [[ -n "${NGINX_PREFIX:-}" ]]; then
        echo "$NGINX_PREFIX"
    elif mkdir -p "$root/.cache/$1" 2>/dev/null && [[ -w "$root/.cache/$1" ]]; then
        echo "$root/.cache/$1"
    else
        echo "${TMPDIR:-/tmp}/geodetect-$1-$(id -u)/$(printf '%s' "$root" | sha256sum | cut -c1-12)"
    fi
}

# The paths and URL that follow from $prefix and $port.
nginx_paths() {
    pidfile="$prefix/nginx.pid"
    conf="$prefix/nginx.conf"
    url="http://127.0.0.1:$port/"
}

# nginx with our prefix, config and an early error log (so it never touches /var/log/nginx).
run_nginx() { "$nginx" -p "$prefix" -c "$conf" -e "$prefix/logs/error.log" "$@"; }

running_pid() {
    local pid
    pid="$(cat "$pidfile" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# The port this prefix's running instance listens on (from the rendered config).
running_port() { sed -n 's/^ *listen 127\.0\.0\.1:\([0-9]*\);.*/\1/p' "$conf" 2>/dev/null | head -n1; }

nginx_start() {
    local pid
    if pid="$(running_pid)"; then
        echo "already running (pid $pid) at http://127.0.0.1:$(running_port)/"
        return 0
    fi
    if curl -s -o /dev/null --max-time 1 "$url"; then
        die "something else already listens on 127.0.0.1:$port (try PORT=...)"
    fi
    render
    run_nginx -t -q || die "config test failed ($conf)"
    run_nginx
    local i
    for i in $(seq 1 50); do
        if answers "$url"; then
            echo "serving $(serving) (pid $(running_pid); config $conf; logs $prefix/logs)"
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$prefix/logs/error.log" >&2 || true
    die "nginx did not answer its health probe at $url${start_hint:+; $start_hint}"
}

nginx_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        echo "not running"
        rm -f "$pidfile"
        return 0
    fi
    kill -QUIT "$pid"
    local i
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || { echo "stopped (pid $pid)"; return 0; }
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null || true
    sleep 0.5
    kill -0 "$pid" 2>/dev/null && die "pid $pid did not stop"
    echo "stopped (pid $pid)"
}

nginx_status() {
    local pid
    if pid="$(running_pid)"; then
        url="http://127.0.0.1:$(running_port)/"
        if answers "$url"; then
            echo "running (pid $pid) at $url"
            return 0
        fi
        echo "running (pid $pid) but not answering its health probe at $url"
        return 1
    fi
    echo "not running"
    return 1
}

nginx_foreground() {
    local pid
    if pid="$(running_pid)"; then
        die "already running in the background (pid $pid); $name stop first"
    fi
    render
    run_nginx -t -q || die "config test failed ($conf)"
    echo "serving $(serving); Ctrl-C to stop"
    exec "$nginx" -p "$prefix" -c "$conf" -e "$prefix/logs/error.log" -g "daemon off;"
}
