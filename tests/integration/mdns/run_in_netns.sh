#!/bin/sh
# Run a command in a network namespace of its own (an unprivileged user
# namespace: `unshare -rn`), with loopback up and multicast routed on it, so
# mDNS traffic stays inside and multicast on lo is reliable. Exits 77 (ctest
# SKIP) only when this machine cannot make such a namespace, saying why.
# usage: run_in_netns.sh COMMAND [ARG...]
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] || [ $# -eq 0 ]; then
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    [ $# -eq 0 ] && exit 2
    exit 0
fi
if ! why=$(unshare -rn true 2>&1); then
    echo "SKIP: cannot create a network namespace (unshare -rn: $why)"
    exit 77
fi
exec unshare -rn sh -c 'ip link set lo up && ip route add 224.0.0.0/4 dev lo && exec "$@"' sh "$@"
