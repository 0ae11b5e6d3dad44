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

name="www/serve.sh"
# shellcheck source=nginx-control.sh
source "$www/nginx-control.sh"
prefix="$(nginx_prefix nginx)"
nginx_paths

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

answers() { [[ "$(curl -s --max-time 2 "${1}__serve_health" 2>/dev/null)" == ok ]]; }
serving() { echo "$www at $url (pkg/ at ${url}pkg/)"; }

case "${1:-}" in
    start) nginx_start ;;
    stop) nginx_stop ;;
    status) nginx_status ;;
    restart) nginx_stop; nginx_start ;;
    foreground) nginx_foreground ;;
    *) echo "usage: $0 start|stop|status|restart|foreground   (PORT=${port})" >&2; exit 2 ;;
esac
