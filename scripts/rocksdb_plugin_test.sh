#!/usr/bin/env bash
# Build RocksDB's env_basic_test from Debian's rocksdb source with tamerocks
# as the in-tree plugin plugin/tamerocks (cmake -DROCKSDB_PLUGINS=tamerocks,
# Debug), then run it against tamerocks:// (TEST_ENV_URI, then TEST_FS_URI).
# See docs/plugin.md. Long (a Debug librocksdb on the machine's cores): not
# part of scripts/test.sh or CI.
#
# Usage: scripts/rocksdb_plugin_test.sh [fetch|configure|build|test|all]
#   all (default) runs the four steps in order; each step is idempotent.
# Environment:
#   TAME_ROCKSDB_WORK  work directory, outside the repository
#                      (default: <repo>/../rocksdb-src)
#   JOBS               parallel build jobs (default: nproc)
#   TAME_ROCKSDB_URI   the URI to test (default: tamerocks://)
#   TAME_ROCKSDB_TESTS RocksDB test programs to build and run
#                      (default: env_basic_test; e.g. "env_basic_test
#                      db_basic_test db_wal_test": any test program of
#                      RocksDB's CMake build; every DBTestBase test honours
#                      TEST_ENV_URI / TEST_FS_URI)
#   TAME_ROCKSDB_TIMEOUT seconds one test program may run (default 3600)
#   TAME_ROCKSDB_VARS  the variables to run with (default "TEST_ENV_URI
#                      TEST_FS_URI"; either alone)
# Exit status: 0 when the URI resolves to tamerocks' Env and FileSystem and
# every test passed with TEST_ENV_URI and with TEST_FS_URI, but for the
# cases of hook_dependent and posix_env_dependent below, which are left out
# and named; the cases of run_alone (and of rocksdb_aligns, with
# align_direct_reads:false) are left out of their program's run and
# each run in a process of its own, where they must pass.
set -euo pipefail

TAME_ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${TAME_ROCKSDB_WORK:-$(cd "$TAME_ROOT/.." && pwd)/rocksdb-src}
JOBS=${JOBS:-$(nproc)}
URI=${TAME_ROCKSDB_URI:-tamerocks://}
TESTS=${TAME_ROCKSDB_TESTS:-env_basic_test}
TIMEOUT=${TAME_ROCKSDB_TIMEOUT:-3600}
VARS=${TAME_ROCKSDB_VARS:-TEST_ENV_URI TEST_FS_URI}
for v in $VARS; do
	case "$v" in
	TEST_ENV_URI | TEST_FS_URI) ;;
	*) echo "rocksdb_plugin_test: TAME_ROCKSDB_VARS: '$v' is not TEST_ENV_URI or TEST_FS_URI" >&2 && exit 2 ;;
	esac
done
BUILD=$WORK/build-plugin-debug
want_version=7.8

die() { echo "rocksdb_plugin_test: $*" >&2; exit 1; }
step() { echo "== $* ($(date -u +%H:%M:%S))"; }

case "$WORK/" in
"$TAME_ROOT"/*) die "TAME_ROCKSDB_WORK=$WORK is inside the repository; RocksDB's code must stay out of it" ;;
esac

# The unpacked source directory, or nothing yet.
src_dir() {
	find "$WORK" -maxdepth 1 -type d -name "rocksdb-$want_version.*" 2>/dev/null | sort | tail -n 1
}

# Debian ships sources through deb-src entries; mirror the binary entries.
ensure_deb_src() {
	if grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ ||
		grep -qs '^deb-src ' /etc/apt/sources.list; then
		return
	fi
	[ "$(id -u)" = 0 ] || die "no deb-src entry in apt's sources; rerun as root to add one"
	local bin=/etc/apt/sources.list.d/debian.sources
	[ -r "$bin" ] || die "$bin not found: add a deb-src entry for Debian's main archive by hand"
	step "adding /etc/apt/sources.list.d/deb-src.sources"
	sed 's/^Types: deb$/Types: deb-src/' "$bin" >/etc/apt/sources.list.d/deb-src.sources
	apt-get update -qq
}

fetch() {
	if [ -n "$(src_dir)" ]; then
		echo "rocksdb source: $(src_dir)"
		return
	fi
	command -v dpkg-source >/dev/null || die "dpkg-source missing: apt-get install dpkg-dev"
	ensure_deb_src
	step "apt-get source rocksdb into $WORK"
	mkdir -p "$WORK"
	# A deb-src entry added without apt-get update is not known to apt yet.
	(cd "$WORK" && apt-get source rocksdb) ||
		(apt-get update -qq && cd "$WORK" && apt-get source rocksdb)
	[ -n "$(src_dir)" ] || die "apt-get source did not unpack rocksdb $want_version.x into $WORK"
}

link_plugin() {
	local link
	link="$(src_dir)/plugin/tamerocks"
	if [ -e "$link" ] && [ ! -L "$link" ]; then
		die "$link exists and is not our symlink; remove it"
	fi
	ln -sfn "$TAME_ROOT" "$link"
	echo "plugin: $link -> $TAME_ROOT"
}

configure() {
	[ -n "$(src_dir)" ] || die "no rocksdb source in $WORK: run the fetch step"
	link_plugin
	step "configure $BUILD"
	# Debug: RocksDB builds tests only then (and enables RTTI by itself).
	# Static librocksdb only: the plugin must then register through the
	# registrar the generated build_version.cc names, not through luck.
	cmake -S "$(src_dir)" -B "$BUILD" \
		-DCMAKE_BUILD_TYPE=Debug \
		-DROCKSDB_PLUGINS=tamerocks \
		-DWITH_TESTS=ON \
		-DWITH_ALL_TESTS=ON \
		-DROCKSDB_BUILD_SHARED=OFF \
		-DWITH_BENCHMARK_TOOLS=OFF \
		-DWITH_CORE_TOOLS=OFF \
		-DWITH_TOOLS=OFF \
		-DWITH_TRACE_TOOLS=OFF \
		-DWITH_GFLAGS=OFF \
		-DPORTABLE=ON \
		-DFAIL_ON_WARNINGS=OFF
}

build() {
	[ -f "$BUILD/CMakeCache.txt" ] || configure
	local t0=$SECONDS t
	for t in $TESTS; do
		step "build $t with $JOBS jobs"
		cmake --build "$BUILD" --target "$t" -j"$JOBS"
	done
	echo "build took $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s"
}

# A URI RocksDB cannot resolve does not fail the tests: Env::CreateFromUri
# ignores the unknown name (ConfigOptions::ignore_unsupported_options) and
# hands back the default Env, and every case passes on Posix. So first prove,
# with the same librocksdb.a, that the URI yields tamerocks' Env and
# FileSystem.
check_uri() {
	local prog=$BUILD/tamerocks_uri_check libs
	libs=$(sed -n 's/^tamerocks_LIBS = //p' "$TAME_ROOT/tamerocks.mk")
	step "check that $URI resolves to tamerocks"
	cat >"$prog.cc" <<'EOF'
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "rocksdb/convenience.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

using ROCKSDB_NAMESPACE::ConfigOptions;
using ROCKSDB_NAMESPACE::Env;
using ROCKSDB_NAMESPACE::FileSystem;
using ROCKSDB_NAMESPACE::Status;

static bool Tame(const char *name) { return std::strncmp(name, "Tame", 4) == 0; }

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const std::string uri = argv[1];
  bool ok = true;
  // As env_basic_test resolves TEST_ENV_URI, and TEST_FS_URI too.
  Env *env = nullptr;
  std::shared_ptr<Env> env_guard;
  Status s = Env::CreateFromUri(ConfigOptions(), uri, "", &env, &env_guard);
  const char *env_name = env ? env->Name() : "(none)";
  const char *env_fs = env ? env->GetFileSystem()->Name() : "(none)";
  std::printf("Env::CreateFromUri(%s): %s: Env %s, FileSystem %s\n", uri.c_str(),
              s.ToString().c_str(), env_name, env_fs);
  ok = ok && s.ok() && Tame(env_name) && Tame(env_fs);
  // As the DBTestBase tests resolve TEST_FS_URI.
  std::shared_ptr<FileSystem> fs;
  s = FileSystem::CreateFromString(ConfigOptions(), uri, &fs);
  const char *fs_name = fs ? fs->Name() : "(none)";
  std::printf("FileSystem::CreateFromString(%s): %s: FileSystem %s\n", uri.c_str(),
              s.ToString().c_str(), fs_name);
  ok = ok && s.ok() && Tame(fs_name);
  return ok ? 0 : 1;
}
EOF
	# shellcheck disable=SC2046,SC2086 # one word per library
	g++ -std=c++17 -g -I"$(src_dir)/include" "$prog.cc" -o "$prog" \
		"$BUILD/librocksdb.a" $(printf -- '-l%s ' $libs) -ldl
	"$prog" "$URI" || die "$URI does not resolve to tamerocks in this build"
}

# Cases that cannot pass on any FileSystem but RocksDB's own Posix one, per
# program (a gtest negative filter). DBWALTest's two simulate a crash that
# leaves a WAL's preallocated blocks behind by turning off the trim on close
# through the sync point "PosixWritableFile::Close", a test hook inside
# PosixWritableFile::Close; another FileSystem's file never reaches it, trims
# on close as it should, and the cases then find no preallocated blocks to
# check. The recovery-time truncation they are about is proven by
# DBWALTest.TruncateLastLogAfterRecoverWithFlush / WithoutFlush, which run.
hook_dependent() {
	case "$1" in
	db_wal_test) echo "DBWALTest.TruncateLastLogAfterRecoverWALEmpty:DBWALTest.ReadOnlyRecoveryNoTruncate" ;;
	esac
}

# Cases that depend on what earlier cases of their program left behind, per
# program and variable: left out of the program's run, then each run in a
# process of its own. DBTest.PurgeInfoLogs fails after the 45 DBTest cases
# declared before it with Env::Default() as with tamerocks.
# DBTest.GetThreadStatus counts every thread registered with RocksDB's
# thread status: with TEST_ENV_URI those include the Posix Env's threads that
# DBTest.MockEnvTest (a MockEnv over Env::Default()) started, beside the
# tamerocks Env's it sized (docs/plugin.md).
run_alone() {
	case "$1 $2" in
	"db_test TEST_ENV_URI") echo "DBTest.PurgeInfoLogs:DBTest.GetThreadStatus" ;;
	"db_test TEST_FS_URI") echo "DBTest.PurgeInfoLogs" ;;
	esac
}

# Cases that check what RocksDB itself does for a direct file, per program:
# they watch RocksDB's paths for a file that answers use_direct_io() true,
# which a tamerocks file never takes when it aligns its own direct reads
# (URI align_direct_reads:true, the default). These are left out of their
# program's run and each run in a process of its own with
# align_direct_reads:false, where RocksDB aligns, and must pass.
# DBBlobBasicTest.MultiGetWithDirectIO expects one aligned request from
# RocksDB for three sorted blob reads (a sync point on RandomAccessFileReader's
# aligned path). The PrefetchTest cases /3 (a file system that supports
# Prefetch, direct reads) expect RocksDB never to call Prefetch on a direct
# file: it checks use_direct_io() first; a self-aligned file is asked, and
# answers NotSupported.
rocksdb_aligns() {
	case "$1" in
	db_blob_basic_test) echo "DBBlobBasicTest.MultiGetWithDirectIO" ;;
	prefetch_test) echo "PrefetchTest/PrefetchTest.Basic/3:PrefetchTest/PrefetchTest.ConfigureAutoMaxReadaheadSize/3:PrefetchTest/PrefetchTest.ConfigureInternalAutoReadaheadSize/3" ;;
	esac
}

# URI with align_direct_reads:false added to its options.
uri_rocksdb_aligns() {
	case "$URI" in
	*://) echo "${URI}align_direct_reads:false" ;;
	*) echo "${URI},align_direct_reads:false" ;;
	esac
}

# Cases that test the Posix Env's thread pools rather than the DB's Env,
# per program: left out with TEST_ENV_URI only (with TEST_FS_URI the DB's
# Env is Env::Default()'s pools over the FileSystem, and they pass).
# ConcurrentBottomPriLowPriCompactions and FullCompactionInBottomPriThreadPool
# size Env::Default()'s BOTTOM pool and expect a compaction forwarded to the
# DB Env's BOTTOM pool; the tamerocks Env's BOTTOM pool stays at 0 threads,
# as the Posix Env's does unless sized, so RocksDB keeps it in LOW (the first
# then waits forever on a sync point). CompactRangeBottomPri counts the jobs
# of each pool through "ThreadPoolImpl::Impl::BGThread:BeforeRun", a test
# hook inside the Posix Env's ThreadPoolImpl. docs/plugin.md has the details.
posix_env_dependent() {
	case "$1" in
	db_universal_compaction_test) echo "*DBTestUniversalCompaction.ConcurrentBottomPriLowPriCompactions/*" ;;
	db_compaction_test) echo "*DBCompactionTestWithParam.FullCompactionInBottomPriThreadPool/*:DBCompactionTest.CompactRangeBottomPri" ;;
	esac
}

# Runs one test program with one variable set to the URI, under timeout(1)
# (TAME_ROCKSDB_TIMEOUT seconds: a hang fails instead of stopping the run);
# prints gtest's summary and the failed cases, and returns the program's
# status.
run_one() {
	local prog=$1 var=$2 log=$BUILD/$1.$2.log
	step "$var=$URI $prog"
	local rc=0 t0=$SECONDS skip alone aligns c
	local -a args=()
	skip=$(hook_dependent "$prog")
	if [ -n "$skip" ]; then
		echo "$prog: left out (they need PosixWritableFile's test hook): ${skip//:/ }"
	fi
	alone=$(run_alone "$prog" "$var")
	if [ -n "$alone" ]; then
		echo "$prog: run alone after the others (they depend on what earlier cases leave): ${alone//:/ }"
		skip=${skip:+$skip:}$alone
	fi
	aligns=$(rocksdb_aligns "$prog")
	if [ -n "$aligns" ]; then
		echo "$prog: run alone with $(uri_rocksdb_aligns) (they check what RocksDB itself does for a direct file): ${aligns//:/ }"
		skip=${skip:+$skip:}$aligns
	fi
	if [ "$var" = TEST_ENV_URI ] && [ -n "$(posix_env_dependent "$prog")" ]; then
		echo "$prog: left out (they test the Posix Env's thread pools, not the DB's Env):" \
			"$(posix_env_dependent "$prog")"
		skip=${skip:+$skip:}$(posix_env_dependent "$prog")
	fi
	if [ -n "$skip" ]; then
		args=("--gtest_filter=-$skip")
	fi
	(cd "$BUILD" && env "$var=$URI" timeout "$TIMEOUT" "./$prog" "${args[@]}") >"$log" 2>&1 || rc=$?
	if [ "$rc" = 124 ]; then
		echo "$prog $var: TIMED OUT after $TIMEOUT s, in: $(grep '^\[ RUN' "$log" | tail -n 1)"
	fi
	grep -E '^\[==========\] [0-9]+ tests|^\[  (PASSED|SKIPPED) |^\[  FAILED  \] [0-9]' "$log" || true
	sed -n '/listed below:$/,$p' "$log" | grep -E '^\[  FAILED  \] [^0-9]' || true
	echo "$prog $var: exit status $rc in $((SECONDS - t0)) s; full log $log"
	for c in ${alone//:/ } ${aligns//:/ }; do
		local uri=$URI clog=$log.${c//\//_}
		[[ ":$aligns:" == *":$c:"* ]] && uri=$(uri_rocksdb_aligns)
		if (cd "$BUILD" && env "$var=$uri" timeout "$TIMEOUT" "./$prog" "--gtest_filter=$c") \
			>"$clog" 2>&1 && grep -q '^\[  PASSED  \] 1 test' "$clog"; then
			echo "$prog $var: $c alone ($var=$uri): passed"
		else
			echo "$prog $var: $c alone ($var=$uri): FAILED; log $clog"
			rc=1
		fi
	done
	if [ "$prog" = env_basic_test ]; then
		local custom
		custom=$(grep -c '^\[       OK \] CustomEnv/' "$log" || true)
		echo "$prog $var: CustomEnv cases passed: $custom"
		if [ "$custom" = 0 ]; then
			echo "$prog $var: no CustomEnv case passed: $URI was not used" >&2
			rc=1
		fi
	fi
	return $rc
}

run_tests() {
	local t rc=0
	for t in $TESTS; do
		[ -x "$BUILD/$t" ] || build
	done
	check_uri
	for t in $TESTS; do
		for v in $VARS; do
			run_one "$t" "$v" || rc=1
		done
	done
	if [ $rc = 0 ]; then echo "RESULT: PASS ($TESTS)"; else echo "RESULT: FAIL ($TESTS)"; fi
	return $rc
}

case "${1:-all}" in
fetch) fetch ;;
configure)
	fetch
	configure
	;;
build)
	fetch
	build
	;;
test) run_tests ;;
all)
	fetch
	configure
	build
	run_tests
	;;
*) die "unknown step '$1' (fetch|configure|build|test|all)" ;;
esac
