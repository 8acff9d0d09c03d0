#!/usr/bin/env bash
# The main job: install what is missing, build Release, then
#   1. the core demo: 256 fibers on one reactor thread reading through io_uring,
#      against the same workload on the synchronous fallback;
#   2. RocksDB on tamerocks: Debian's unmodified db_bench with the default Env
#      and with LD_PRELOAD=build/libtamerocks.so --env_uri=tamerocks://, side
#      by side (bench/db_bench_compare.sh --quick, about two minutes).
# Extra arguments go to db_bench_compare.sh (e.g. --dir=/path/on/disk).
set -euo pipefail
source "$(dirname "$0")/setup.sh"
tame_install_missing
tame_build "$TAME_ROOT/build" Release -DTAME_BUILD_TESTS=OFF
echo "== 1. the C core =="
"$TAME_ROOT/build/tame_core_demo"
echo
echo "== 2. RocksDB: default Env vs tamerocks:// =="
"$TAME_ROOT/bench/db_bench_compare.sh" --quick "$@"
