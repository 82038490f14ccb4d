#!/usr/bin/env bash
# deploy/run-uwsgi.sh — start the uWSGI deployment of vigil (deploy/uwsgi.ini)
# from a checkout, in the foreground, on a chosen address with a chosen
# vigil.conf: for trying it out and for tests.
#
#   deploy/run-uwsgi.sh [HOST:]PORT [CONFIG [DATA_DIR]] [-- UWSGI_OPTION...]
#
# PORT alone listens on 127.0.0.1. CONFIG is a vigil.conf (relative paths in
# it are relative to the current directory, as for `vigil serve -c`);
# DATA_DIR overrides its data_dir. The plug-in is $VIGIL_UWSGI_LIB, else
# $VG_BUILD_DIR/libvigil_uwsgi.so, else build/libvigil_uwsgi.so of this
# checkout. Other VIGIL_* variables pass through (VIGIL_UWSGI_THREADS,
# VIGIL_UWSGI_SOCKET, VIGIL_<KEY> for any vigil.conf key).
#
# The script execs uwsgi-core, so its pid is the uWSGI master's: stop it
# with SIGINT or SIGTERM; SIGHUP (and SIGQUIT) reload.
set -euo pipefail

usage() {
    echo "usage: $0 [HOST:]PORT [CONFIG [DATA_DIR]] [-- UWSGI_OPTION...]" >&2
    exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 1 ] && [ "$1" != "--" ] || usage
case $1 in
*:*) listen=$1 ;;
*[!0-9]* | "") usage ;;
*) listen=127.0.0.1:$1 ;;
esac
shift
config=
data_dir=
if [ $# -gt 0 ] && [ "$1" != "--" ]; then config=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then data_dir=$1; shift; fi
if [ $# -gt 0 ]; then
    [ "$1" = "--" ] || usage
    shift
fi

lib=${VIGIL_UWSGI_LIB:-${VG_BUILD_DIR:-$here/../build}/libvigil_uwsgi.so}
if [ ! -e "$lib" ]; then
    echo "$0: $lib not found: build the project first (cmake --build build)" >&2
    exit 2
fi
if [ -n "$config" ] && [ ! -r "$config" ]; then
    echo "$0: cannot read $config" >&2
    exit 2
fi
command -v uwsgi-core >/dev/null || { echo "$0: uwsgi-core is not installed" >&2; exit 2; }

export VIGIL_UWSGI_LISTEN=$listen
export VIGIL_UWSGI_LIB=$(realpath "$lib")
if [ -n "$config" ]; then
    export VIGIL_CONFIG=$(realpath "$config")
else
    export VIGIL_CONFIG= # defaults only, not /etc/vigil/vigil.conf
fi
[ -z "$data_dir" ] || export VIGIL_DATA_DIR=$data_dir
exec uwsgi-core --ini "$here/uwsgi.ini" "$@"
