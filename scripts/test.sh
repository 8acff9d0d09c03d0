#!/usr/bin/env bash
# The whole test suite: install, then build and run ctest twice - a Debug
# build, and an ASan+UBSan build.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
tame_install_missing
jobs=$(nproc)

echo "== Debug build =="
tame_build "$TAME_ROOT/build-debug" Debug -DTAME_BUILD_BENCH=OFF
ctest --test-dir "$TAME_ROOT/build-debug" --output-on-failure -j"$jobs"

echo "== ASan+UBSan build =="
tame_build "$TAME_ROOT/build-asan" Debug -DTAME_SANITIZE=ON -DTAME_BUILD_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir "$TAME_ROOT/build-asan" --output-on-failure -j"$jobs"
