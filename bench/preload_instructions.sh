#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# preload_instructions.sh: what LD_PRELOAD=libtamerocks.so costs a program
# that does not use tamerocks (Debian's db_bench with the default Env), in
# instructions, which a shared, noisy machine cannot blur: valgrind's
# callgrind counts the instructions the process executed, the same count for
# the same binary and input whatever else the machine is doing.
#
# With the preload, every pthread_mutex_*, pthread_cond_*, rwlock, key,
# sleep and sched_yield call RocksDB makes goes through port/'s code on its
# plain-thread path (one thread-local check, then a futex-based lock). That
# path is what this measures.
#
# For each benchmark: db_bench under callgrind without and with the preload,
# each twice: with --reads/--num = OPS and with OPS/10, so that the setup
# (process start, DB open and close) cancels out:
#     instructions per op = (Ir(OPS) - Ir(OPS/10)) / (OPS - OPS/10)
# The ratio without/with is the speed the preload leaves (>= 0.98x is the
# goal of issue 4), as far as instructions tell it: it does not see cache
# misses or the futex system calls' cost, which the timed overhead phase of
# threads64_compare.sh does (noisily).
#
# Benchmarks: readrandom (buffered, page cache warm, 1 thread and 4 threads)
# and fillrandom (fresh DB, 1 thread). Under valgrind the threads are
# serialized; contention is rare, so this is the uncontended path.
#
# usage: bench/preload_instructions.sh [--lib=PATH] [--dir=DIR] [--ops=N]
#          [--db_bench=PATH] [--keep]
#   --ops   reads (or writes) per run, default 20000 (the whole script took
#           about 2 minutes on 2 vCPUs)
# Exit status: 0 done (a missed goal is a figure, not a failure); 1 a run
# failed; 2 bad arguments or setup.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lib="$root/build/libtamerocks.so"
dir=/var/tmp/tamerocks-preload-ir
ops=20000
db_bench=db_bench
keep=0

die() {
	echo "preload_instructions.sh: $*" >&2
	exit 2
}

for arg in "$@"; do
	case $arg in
	--lib=*) lib=${arg#*=} ;;
	--dir=*) dir=${arg#*=} ;;
	--ops=*) ops=${arg#*=} ;;
	--db_bench=*) db_bench=${arg#*=} ;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument '$arg' (see --help)" ;;
	esac
done
[[ "$ops" =~ ^[0-9]+$ ]] && [ "$ops" -ge 1000 ] || die "--ops must be a number >= 1000"
[ -f "$lib" ] || die "no $lib: build it first (cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build)"
command -v valgrind >/dev/null || die "valgrind not found: apt-get install valgrind"
command -v "$db_bench" >/dev/null || die "db_bench not found: apt-get install rocksdb-tools"

small=$((ops / 10))
mkdir -p "$dir"
work=$(mktemp -d "$dir/run.XXXXXX")
cleanup() {
	if [ "$keep" = 0 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

common=(--seed=1234567 --value_size=400 --cache_size=1048576 --compression_type=none
	--verify_checksum=true --statistics=false --histogram=false)

# The DB every readrandom reads: loaded once, no callgrind.
"$db_bench" --db="$work/base" "${common[@]}" --num=$((ops * 5)) --seed=1234568 \
	--benchmarks=fillrandom,flush,compactall --use_existing_db=0 >"$work/load.out" 2>&1 ||
	die "loading the DB failed: $(tail -3 "$work/load.out")"

# ir PRELOAD(0|1) NAME DB_BENCH-ARGS...: total instructions of one run.
ir() {
	local preload=$1 name=$2 out="$work/cg.$2.$1" env=()
	shift 2
	[ "$preload" = 1 ] && env=(env "LD_PRELOAD=$lib")
	rm -f "$out".*
	if ! "${env[@]}" valgrind --tool=callgrind --callgrind-out-file="$out.cg" \
		"$db_bench" "$@" >"$out.log" 2>&1; then
		echo "preload_instructions.sh: run '$name' (preload $preload) failed:" >&2
		tail -5 "$out.log" >&2
		exit 1
	fi
	grep -m1 -oP '^(summary|totals): \K[0-9]+' "$out.cg" ||
		{ echo "no callgrind summary in $out.cg" >&2; exit 1; }
}

# per_op PRELOAD NAME ARGS-WITH-@N@: instructions per op, setup cancelled.
per_op() {
	local preload=$1 name=$2 big small_ir a1 a2
	shift 2
	local args_big=() args_small=()
	# @N@: the run's ops; @Q@: a quarter of them (per thread of 4);
	# @S@: big or small, for paths that must differ.
	for a in "$@"; do
		a1=${a//@N@/$ops} a2=${a//@N@/$small}
		a1=${a1//@Q@/$((ops / 4))} a2=${a2//@Q@/$((small / 4))}
		args_big+=("${a1//@S@/big}")
		args_small+=("${a2//@S@/small}")
	done
	big=$(ir "$preload" "$name.big" "${args_big[@]}")
	small_ir=$(ir "$preload" "$name.small" "${args_small[@]}")
	awk -v b="$big" -v s="$small_ir" -v n="$((ops - small))" 'BEGIN { printf "%.0f", (b - s) / n }'
}

echo "preload_instructions.sh: instructions per op of Debian's db_bench (default Env), without and with"
echo "LD_PRELOAD=$lib, counted by valgrind --tool=callgrind"
echo "machine: $(uname -r), $(nproc) CPUs; db_bench $("$db_bench" --version 2>&1 | head -1 || true)"
echo "ops per run: $ops (setup cancelled with a run of $small)"
printf '%-28s %14s %14s %10s %8s\n' benchmark "Ir/op plain" "Ir/op preload" "ratio" "goal"
fails=0
row() {
	local name=$1
	shift
	local a b
	a=$(per_op 0 "$name" "$@")
	b=$(per_op 1 "$name" "$@")
	awk -v n="$name" -v a="$a" -v b="$b" 'BEGIN {
		r = a / b
		printf "%-28s %14d %14d %9.3fx %8s\n", n, a, b, r, (r >= 0.98 ? "met" : "MISSED")
	}'
}
read_args=(--db="$work/base" "${common[@]}" --num=$((ops * 5)) --use_existing_db=1
	--benchmarks=readrandom)
# Warm the page cache, so every run reads the same way.
cat "$work"/base/*.sst >/dev/null
row "readrandom, 1 thread" "${read_args[@]}" --threads=1 --reads=@N@
row "readrandom, 4 threads" "${read_args[@]}" --threads=4 --reads=@Q@
# fillrandom writes a fresh DB each run (the preload and size in its path).
row "fillrandom, 1 thread" --db="$work/fill.@S@" "${common[@]}" --num=@N@ --threads=1 \
	--benchmarks=fillrandom --use_existing_db=0
echo "(Ir/op: instructions per op with the setup cancelled; ratio: plain / preload, i.e. the speed"
echo " the preload leaves if time followed instructions)"
