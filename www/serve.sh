#!/usr/bin/env bash
# Local static server for the demo and the tests: Debian's nginx, run from a private prefix.
#
#   www/serve.sh start        start in the background, wait until it answers, print the URL
#   www/serve.sh stop         stop the instance started from this checkout (pid file)
#   www/serve.sh status       say whether it runs and answers (exit 0 if so, 1 if not)
#   www/serve.sh restart
#   www/serve.sh foreground   run in the foreground (Ctrl-C stops it)
#
# Serves www/ at http://127.0.0.1:$PORT/ (PORT defaults to 8080), pkg/ at /pkg/ and
# tests/data/aoi/ at /aoi/.
# Environment: PORT, NGINX (default /usr/sbin/nginx), NGINX_PREFIX (runtime dir; default
# .cache/nginx in the checkout, or /tmp/geodetect-nginx-$UID/<hash> if that is not writable).
# Works as root and as a normal user; only listens on 127.0.0.1.
set -euo pipefail

www="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$www/.." && pwd)"
port="${PORT:-8080}"
nginx="${NGINX:-/usr/sbin/nginx}"
template="$www/nginx.conf.template"

if [[ -n "${NGINX_PREFIX:-}" ]]; then
    prefix="$NGINX_PREFIX"
elif mkdir -p "$root/.cache/nginx" 2>/dev/null && [[ -w "$root/.cache/nginx" ]]; then
    prefix="$root/.cache/nginx"
else
    prefix="${TMPDIR:-/tmp}/geodetect-nginx-$(id -u)/$(printf '%s' "$root" | sha256sum | cut -c1-12)"
fi
pidfile="$prefix/nginx.pid"
conf="$prefix/nginx.conf"
url="http://127.0.0.1:$port/"

die() { echo "serve.sh: $*" >&2; exit 1; }

render() {
    [[ -x "$nginx" ]] || die "nginx not found at $nginx (apt-get install nginx, or set NGINX=)"
    [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    mkdir -p "$prefix/logs" "$prefix/temp"
    local user_directive=""
    if [[ "$(id -u)" == 0 ]]; then
        # Workers run as the checkout's owner, so they can read it wherever it lives.
        user_directive="user $(stat -c %U "$www") $(stat -c %G "$www");"
    fi
    local text
    text="$(<"$template")"
    text="${text//@USER_DIRECTIVE@/$user_directive}"
    text="${text//@PREFIX@/$prefix}"
    text="${text//@PORT@/$port}"
    text="${text//@WWW@/$www}"
    text="${text//@PKG@/$root/pkg}"
    text="${text//@AOI@/$root/tests/data/aoi}"
    printf '%s\n' "$text" > "$conf"
}

# nginx with our prefix, config and an early error log (so it never touches /var/log/nginx).
run_nginx() { "$nginx" -p "$prefix" -c "$conf" -e "$prefix/logs/error.log" "$@"; }

running_pid() {
    local pid
    pid="$(cat "$pidfile" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

answers() { [[ "$(curl -s --max-time 2 "${url}__serve_health" 2>/dev/null)" == ok ]]; }

# The port this prefix's running instance listens on (from the rendered config).
running_port() { sed -n 's/^ *listen 127\.0\.0\.1:\([0-9]*\);.*/\1/p' "$conf" 2>/dev/null | head -n1; }

start() {
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
        if answers; then
            echo "serving $www at $url (pkg/ at ${url}pkg/; pid $(running_pid); logs $prefix/logs)"
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$prefix/logs/error.log" >&2 || true
    die "nginx did not answer at $url"
}

stop() {
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

status() {
    local pid
    if pid="$(running_pid)"; then
        url="http://127.0.0.1:$(running_port)/"
        if answers; then
            echo "running (pid $pid) at $url"
            return 0
        fi
        echo "running (pid $pid) but not answering at $url"
        return 1
    fi
    echo "not running"
    return 1
}

foreground() {
    if pid="$(running_pid)"; then
        die "already running in the background (pid $pid); www/serve.sh stop first"
    fi
    render
    run_nginx -t -q || die "config test failed ($conf)"
    echo "serving $www at $url (pkg/ at ${url}pkg/); Ctrl-C to stop"
    exec "$nginx" -p "$prefix" -c "$conf" -e "$prefix/logs/error.log" -g "daemon off;"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    restart) stop; start ;;
    foreground) foreground ;;
    *) echo "usage: $0 start|stop|status|restart|foreground   (PORT=${port})" >&2; exit 2 ;;
esac
