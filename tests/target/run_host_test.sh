#!/usr/bin/env bash
# tests/target/run_host_test.sh PROGRAM [ARGS...]: run a host test program of
# the QEMU tests (built by the host build, tests/integration/qemu) from the
# target build's ctest. Exit 77 (skipped) with a message when the host build
# has not made it yet (`make sim` or `make test` builds it).
set -u
prog="${1:?usage: $0 PROGRAM [ARGS...]}"
shift
if [ ! -x "$prog" ]; then
    echo "skipped: $prog not built (build the host preset first: make sim; or set ML_HOST_BUILD_DIR)" >&2
    exit 77
fi
exec "$prog" "$@"
