#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# db_bench_compare.sh: Debian's unmodified db_bench with the default Env and
# with tamerocks (LD_PRELOAD + --env_uri), side by side in one run.
#
# Per benchmark and mode it prints the default Env's ops/s and us/op, the
# same for tamerocks, the ratio tamerocks/default, the "found" counts of both
# and PASS/MISS against the goals of issue 3: multireadrandom (batched, batch
# 32, with and without --async_io) with direct reads >= 2.5x, everything
# else >= 0.95x.
#
# Benchmarks: fillseq fillrandom overwrite readrandom multireadrandom
# multireadrandom_async seekrandom readwhilewriting; modes: buffered, and
# direct (--use_direct_reads=true --use_direct_io_for_flush_and_compaction=true).
#
# Method, so that both Envs do exactly the same work:
#   - every db_bench gets the same flags: fixed --seed (db_bench picks a
#     random one otherwise, and the keys read would differ), --num, --reads,
#     --threads, --compression_type=none, --verify_checksum=true and a block
#     cache much smaller than the DB;
#   - fillseq and fillrandom write into a fresh, empty directory;
#   - the read benchmarks all read ONE DB, written once by the default Env
#     (fillrandom, flush, compactall: a fixed layout, no compaction pending;
#     loaded with --seed + 1, because with the same seed readrandom would
#     read exactly the keys fillrandom wrote, all found) with
#     --use_existing_db=1; the script checks that its table files do not
#     change. Their found counts must be equal across Envs and repeats, or the
#     row says MISMATCH and the script exits 1;
#   - overwrite and readwhilewriting change the DB, so each run gets its own
#     copy of that DB. readwhilewriting's found count depends on how far the
#     concurrent writer got, so it is shown but not compared ("racy");
#   - buffered mode reads the table files once before each read run, so both
#     Envs start with them in the page cache; direct mode bypasses it;
#   - --repeat=N runs each pair N times, alternating the order (default
#     first, then tamerocks first, ...). The figure shown is the BEST run of
#     each Env (highest ops/s; its us/op): on a shared machine noise only
#     slows a run down. Every run is listed at the end ("runs"). Next to
#     the ratio of the bests, "pairs" is the median of the per-pair ratios
#     (run i of tamerocks / run i of the default Env, made back to back):
#     slow drifts of the machine cancel within a pair.
#   - every db_bench runs under timeout(1); a run that times out is a HANG.
#     Each run's LOG must name the expected FileSystem (TameFileSystem for
#     tamerocks, anything else for the default Env).
#
# usage: bench/db_bench_compare.sh [--quick] [--dir=DIR] [--lib=PATH]
#          [--threads=N] [--benchmarks=a,b,...] [--modes=buffered,direct]
#          [--repeat=N] [--timeout=S] [--num=N] [--reads=N] [--cache_mib=N]
#          [--seed=N] [--uri=tamerocks://...] [--db_bench=PATH] [--keep]
#   --quick       num 200000, reads 50000, cache 2 MiB (DB ~16 MiB): ~2 min
#   (default)     num 2000000, reads 200000, cache 8 MiB (DB ~160 MiB)
#   --dir         work directory, default /var/tmp/tamerocks-dbbench; must be
#                 on a disk file system for direct mode (not tmpfs)
#   --lib         default <repo>/build/libtamerocks.so
#   --threads     db_bench --threads, default 1
#   --repeat      runs per Env, default 2
#   --timeout     seconds per db_bench, default 600
#   --keep        keep the work directory (DBs and db_bench logs)
# After the table, with direct mode, fio's ceiling for the direct
# multireadrandom rows (see device_ceiling).
# Exit status: 0 all runs completed with equal found counts (a MISS is a
# figure, not a failure); 1 a MISMATCH, a failed or hung db_bench, or a run
# that did not use the expected Env; 2 bad arguments or setup.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lib="$root/build/libtamerocks.so"
dir=/var/tmp/tamerocks-dbbench
db_bench=db_bench
threads=1
quick=0
repeat=2
timeout_s=600
benchmarks_arg=""
modes_arg="buffered,direct"
uri="tamerocks://"
seed=1234567
keep=0
num=""
reads=""
cache_mib=""

all_benches=(fillseq fillrandom overwrite readrandom multireadrandom
	multireadrandom_async seekrandom readwhilewriting)

die() {
	echo "db_bench_compare.sh: $*" >&2
	exit 2
}

usage() {
	sed -n '3,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

for arg in "$@"; do
	case "$arg" in
	--quick) quick=1 ;;
	--dir=*) dir=${arg#*=} ;;
	--lib=*) lib=${arg#*=} ;;
	--threads=*) threads=${arg#*=} ;;
	--benchmarks=*) benchmarks_arg=${arg#*=} ;;
	--modes=*) modes_arg=${arg#*=} ;;
	--repeat=*) repeat=${arg#*=} ;;
	--timeout=*) timeout_s=${arg#*=} ;;
	--num=*) num=${arg#*=} ;;
	--reads=*) reads=${arg#*=} ;;
	--cache_mib=*) cache_mib=${arg#*=} ;;
	--seed=*) seed=${arg#*=} ;;
	--uri=*) uri=${arg#*=} ;;
	--db_bench=*) db_bench=${arg#*=} ;;
	--keep) keep=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument: $arg (see --help)" ;;
	esac
done

if [ "$quick" = 1 ]; then
	: "${num:=200000}" "${reads:=50000}" "${cache_mib:=2}"
else
	: "${num:=2000000}" "${reads:=200000}" "${cache_mib:=8}"
fi

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for pair in "threads:$threads" "repeat:$repeat" "timeout:$timeout_s" \
	"num:$num" "reads:$reads" "cache_mib:$cache_mib" "seed:$seed"; do
	if ! is_uint "${pair#*:}" || [ "${pair#*:}" -eq 0 ]; then
		die "--${pair%%:*} must be a positive integer, not '${pair#*:}'"
	fi
done

benches=()
IFS=, read -r -a wanted <<<"${benchmarks_arg:-$(
	IFS=,
	echo "${all_benches[*]}"
)}"
for b in "${wanted[@]}"; do
	[[ " ${all_benches[*]} " == *" $b "* ]] ||
		die "unknown benchmark '$b'; known: ${all_benches[*]}"
	benches+=("$b")
done
modes=()
IFS=, read -r -a wanted <<<"$modes_arg"
for m in "${wanted[@]}"; do
	case "$m" in
	buffered | direct) modes+=("$m") ;;
	*) die "unknown mode '$m'; known: buffered direct" ;;
	esac
done
if [ "${#benches[@]}" -eq 0 ] || [ "${#modes[@]}" -eq 0 ]; then
	die "nothing to run"
fi

# ---- checks a person can act on ----------------------------------------

db_bench_path=$(command -v "$db_bench" 2>/dev/null) ||
	die "db_bench not found ('$db_bench'): apt-get install rocksdb-tools, or pass --db_bench=PATH"
if [ ! -f "$lib" ]; then
	die "tamerocks library not found: $lib
  build it:  cmake -S $root -B $root/build -DCMAKE_BUILD_TYPE=Release -DTAME_BUILD_TESTS=OFF && cmake --build $root/build -j2
  or pass --lib=PATH"
fi
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
command -v timeout >/dev/null || die "timeout(1) not found (coreutils)"

# The file system of --dir, or of its nearest existing parent, so that a
# refused --dir is not left behind.
existing=$dir
while [ ! -e "$existing" ]; do existing=$(dirname "$existing"); done
read -r fstype fsdev < <(df --output=fstype,source "$existing" | tail -n 1)
if [[ " ${modes[*]} " == *" direct "* ]]; then
	case "$fstype" in
	tmpfs | ramfs)
		die "--dir=$dir is on $fstype, where O_DIRECT fails, so direct mode cannot run.
  pass --dir=<a directory on a disk file system, e.g. /var/tmp/tamerocks-dbbench>, or --modes=buffered"
		;;
	esac
fi
mkdir -p "$dir" 2>/dev/null || die "cannot create --dir=$dir"
[ -w "$dir" ] || die "--dir=$dir is not writable"
if [[ " ${modes[*]} " == *" direct "* ]]; then
	probe="$dir/.odirect_probe.$$"
	if ! dd if=/dev/zero of="$probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
		rm -f "$probe"
		die "O_DIRECT writes fail in --dir=$dir ($fstype): pass another --dir, or --modes=buffered"
	fi
	rm -f "$probe"
fi

work=$(mktemp -d "$dir/run.XXXXXX")
cleanup() {
	if [ "$keep" = 1 ]; then
		echo "kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

base="$work/base"
common=("--num=$num" "--reads=$reads" "--seed=$seed" "--threads=$threads"
	"--cache_size=$((cache_mib * 1048576))" --compression_type=none
	--verify_checksum=true)

mode_flags() {
	local on=false
	[ "$1" = direct ] && on=true
	echo "--use_direct_reads=$on --use_direct_io_for_flush_and_compaction=$on"
}

# Which DB a benchmark runs on: fresh (empty dir), base (the shared loaded
# DB, read only) or copy (a private copy of it).
db_kind() {
	case "$1" in
	fillseq | fillrandom) echo fresh ;;
	overwrite | readwhilewriting) echo copy ;;
	*) echo base ;;
	esac
}

bench_flags() {
	case "$1" in
	fillseq | fillrandom) echo "--benchmarks=$1 --use_existing_db=0" ;;
	multireadrandom)
		echo "--benchmarks=multireadrandom --multiread_batched=true --batch_size=32 --use_existing_db=1"
		;;
	multireadrandom_async)
		echo "--benchmarks=multireadrandom --multiread_batched=true --batch_size=32 --async_io=true --use_existing_db=1"
		;;
	*) echo "--benchmarks=$1 --use_existing_db=1" ;;
	esac
}

goal_of() {
	case "$2:$1" in
	direct:multireadrandom | direct:multireadrandom_async) echo 2.5 ;;
	*) echo 0.95 ;;
	esac
}

# A fingerprint of the shared DB's table files (names and sizes).
base_layout() {
	(cd "$base" && stat -c '%n %s' -- *.sst) | md5sum | cut -c1-12
}

# The words, quoted only where a shell needs it (printf %q also escapes
# the commas of --benchmarks=a,b).
shell_words() {
	local w out=""
	for w in "$@"; do
		if [[ $w =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then
			out+="$w "
		else
			out+="$(printf '%q' "$w") "
		fi
	done
	echo "${out% }"
}

# run_one ENV DB LOG FLAG...: one db_bench. Sets r_status (ok, fail, hang,
# env), r_us, r_ops, r_found and r_cmd (the command, quoted for a shell).
run_one() {
	local env=$1 db=$2 log=$3 rc=0 fs name
	shift 3
	local -a cmd=("$db_bench_path" "--db=$db" "$@")
	[ "$env" = tamerocks ] &&
		cmd=(env "LD_PRELOAD=$lib" "$db_bench_path" "--env_uri=$uri" "--db=$db" "$@")
	r_cmd=$(shell_words "${cmd[@]}")
	r_us=- r_ops=0 r_found=-
	timeout -k 10 "$timeout_s" "${cmd[@]}" >"$log.out" 2>"$log.err" || rc=$?
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		r_status=hang
		return
	fi
	name=$(sed -n 's/.*--benchmarks=\([a-z]*\).*/\1/p' <<<"${*}")
	read -r r_us r_ops r_found < <(awk -v b="$name" '
		$1 == b && $2 == ":" {
			found = "-"
			if (match($0, /\([0-9]+ of [0-9]+ found\)/)) {
				split(substr($0, RSTART + 1), f, " ")
				found = f[1]
			}
			print $3, $5, found
			exit
		}' "$log.out") || true
	if [ "$rc" != 0 ] || [ -z "${r_ops:-}" ]; then
		r_status=fail r_us=- r_ops=0 r_found=-
		return
	fi
	fs=$(awk '/Options.fs:/ { print $NF; exit }' "$db/LOG" 2>/dev/null || true)
	r_status=ok
	if [ "$env" = tamerocks ] && [ "$fs" != TameFileSystem ]; then
		r_status="wrong-env"
	elif [ "$env" = default ] && [ "$fs" = TameFileSystem ]; then
		r_status="wrong-env"
	fi
}

report_problem() {
	local what=$1 log=$2
	echo "  $what: $r_cmd"
	if [ "$what" = HANG ]; then
		echo "    (no result after $timeout_s s; killed)"
	fi
	tail -n 5 "$log.err" "$log.out" 2>/dev/null | sed 's/^/    | /'
}

failures=0
mismatches=0
runs=()
repro=()

# ---- header --------------------------------------------------------------

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
mem_gib=$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
build_type=unknown
if [ -f "$(dirname "$lib")/CMakeCache.txt" ]; then
	build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$(dirname "$lib")/CMakeCache.txt")
	build_type=${build_type:-"(empty CMAKE_BUILD_TYPE)"}
else
	build_type="unknown (no CMakeCache.txt next to the lib)"
fi
pkg=$(dpkg-query -W -f='${Package} ${Version}' rocksdb-tools 2>/dev/null || true)

echo "db_bench_compare.sh: default Env vs tamerocks, Debian db_bench, same run"
echo "machine:   $cpu, $(nproc) CPUs, ${mem_gib} GiB RAM; kernel $(uname -r); load avg $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "tamerocks: $lib, build type $build_type, --env_uri=$uri"
echo "dir:       $work on $fstype ($fsdev)"

# ---- the shared DB -------------------------------------------------------

need_base=0
for b in "${benches[@]}"; do
	[ "$(db_kind "$b")" != fresh ] && need_base=1
done
layout=""
if [ "$need_base" = 1 ]; then
	t0=$(date +%s)
	# shellcheck disable=SC2046 # mode_flags is a list of flags
	run_one default "$base" "$work/load" "${common[@]/#--seed=*/--seed=$((seed + 1))}" \
		$(mode_flags buffered) --benchmarks=fillrandom,flush,compactall --use_existing_db=0
	if [ "$r_status" != ok ]; then
		echo "loading the shared DB failed ($r_status):"
		report_problem LOAD "$work/load"
		exit 1
	fi
	load_cmd=$r_cmd
	layout=$(base_layout)
	db_mib=$(du -sm "$base" | cut -f1)
	nsst=$(find "$base" -name '*.sst' | wc -l)
	ver_log="$work/load.err"
else
	run_one default "$work/probe" "$work/probe" --benchmarks=fillseq --num=10 || true
	ver_log="$work/probe.err"
fi
rocks_ver=$(awk '/^RocksDB:/ { print $NF; exit }' "$ver_log" 2>/dev/null || true)
asserts=""
grep -q 'Assertions are enabled' "$work"/*.out 2>/dev/null && asserts=", built with assertions enabled"
echo "db_bench:  $db_bench_path, RocksDB ${rocks_ver:-?} (${pkg:-package unknown})$asserts"
echo "sizes:     $([ "$quick" = 1 ] && echo --quick || echo default): num $num, reads $reads, threads $threads, block cache $cache_mib MiB"
if [ "$need_base" = 1 ]; then
	echo "shared DB: $db_mib MiB in $nsst table files, loaded in $(($(date +%s) - t0)) s by the default Env:"
	echo "           $load_cmd"
	[ "$db_mib" -gt "$((cache_mib * 2))" ] ||
		echo "           WARNING: DB is not much larger than the block cache; pass a larger --num"
fi
echo "flags:     ${common[*]} (+ mode and benchmark flags below)"
echo "modes:     buffered: $(mode_flags buffered)"
echo "           direct:   $(mode_flags direct)"
echo "method:    best of $repeat run(s) per Env (highest ops/s), order alternating (default first in odd runs);"
echo "           ratio: best over best (the verdict); pairs: median of the ratios of the two runs made back to back"
if [ "$quick" = 1 ]; then
	echo "           --quick: each run lasts about a second or less, and on a shared machine one such run can be"
	echo "           tens of percent off: PASS/MISS here is a hint, not the goals' verdict, which comes from full"
	echo "           runs (no --quick, --repeat=5; docs/benchmarks.md)"
fi
echo

# ---- the comparison ------------------------------------------------------

printf '%-8s %-22s %12s %9s %12s %9s %7s %6s  %-21s %5s  %s\n' mode benchmark \
	"default op/s" "us/op" "tame op/s" "us/op" ratio pairs "found def/tame" goal verdict

# run_bench MODE BENCH: the repeats of one benchmark, then its table row.
run_bench() {
	local mode=$1 bench=$2 kind goal env db log i
	local -a order flags
	kind=$(db_kind "$bench")
	goal=$(goal_of "$bench" "$mode")
	read -r -a flags <<<"$(mode_flags "$mode") $(bench_flags "$bench")"
	local best_d=0 us_d=- best_t=0 us_t=- found_d=- found_t=- founds="" bad="" cmd_d="" cmd_t=""
	local pair_d pair_t pair_ratios=""
	for ((i = 1; i <= repeat; i++)); do
		pair_d=0 pair_t=0
		order=(default tamerocks)
		[ $((i % 2)) = 0 ] && order=(tamerocks default)
		for env in "${order[@]}"; do
			log="$work/$mode.$bench.$i.$env"
			db="$base"
			case "$kind" in
			fresh)
				db="$work/fresh"
				rm -rf "$db"
				;;
			copy)
				db="$work/copy"
				rm -rf "$db"
				cp -a --reflink=auto "$base" "$db"
				sync -- "$db"/*
				;;
			esac
			if [ "$mode" = buffered ] && [ "$kind" != fresh ]; then
				cat "$db"/*.sst >/dev/null
			fi
			run_one "$env" "$db" "$log" "${common[@]}" "${flags[@]}"
			runs+=("$(printf '%-8s %-22s run %d %-9s %10s op/s %9s us/op  found %s  %s' \
				"$mode" "$bench" "$i" "$env" "$r_ops" "$r_us" "$r_found" "$r_status")")
			if [ "$r_status" != ok ]; then
				bad=$r_status
				failures=$((failures + 1))
				repro+=("$mode $bench, $env, run $i: ${r_status^^}")
				repro+=("$(report_problem "${r_status^^}" "$log")")
			elif [ "$env" = default ]; then
				pair_d=$r_ops
				[ "$r_ops" -gt "$best_d" ] && best_d=$r_ops us_d=$r_us
				found_d=$r_found cmd_d=$r_cmd
			else
				pair_t=$r_ops
				[ "$r_ops" -gt "$best_t" ] && best_t=$r_ops us_t=$r_us
				found_t=$r_found cmd_t=$r_cmd
			fi
			if [ "$r_status" = ok ] && [ "$r_found" != - ]; then
				founds+="$r_found "
			fi
			[ "$kind" = base ] || rm -rf "$db"
			if [ "$kind" = base ] && [ "$(base_layout)" != "$layout" ]; then
				repro+=("WARNING: the shared DB's table files changed during $mode $bench $env run $i")
				layout=$(base_layout)
			fi
		done
		if [ "$pair_d" -gt 0 ] && [ "$pair_t" -gt 0 ]; then
			pair_ratios+="$(awk -v t="$pair_t" -v d="$pair_d" 'BEGIN { printf "%.4f", t / d }') "
		fi
	done

	local ratio=- verdict found_col="-" pairs=-
	if [ -n "$pair_ratios" ]; then
		pairs=$(tr ' ' '\n' <<<"$pair_ratios" | sed '/^$/d' | sort -g |
			awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2fx", m }')
	fi
	if [ "$best_d" -gt 0 ] && [ "$best_t" -gt 0 ]; then
		ratio=$(awk -v t="$best_t" -v d="$best_d" 'BEGIN { printf "%.2f", t / d }')
	fi
	if [ "$found_d" != - ] || [ "$found_t" != - ]; then
		found_col="$found_d/$found_t"
	fi
	if [ -n "$bad" ]; then
		verdict=${bad^^}
	elif [ "$bench" != readwhilewriting ] &&
		[ "$(tr ' ' '\n' <<<"$founds" | sed '/^$/d' | sort -u | wc -l)" -gt 1 ]; then
		verdict=MISMATCH
		mismatches=$((mismatches + 1))
		repro+=("$mode $bench: MISMATCH, found counts over all runs: $founds")
	elif awk -v r="$ratio" -v g="$goal" 'BEGIN { exit !(r >= g) }'; then
		verdict=PASS
	else
		verdict=MISS
	fi
	[ "$bench" = readwhilewriting ] && found_col="$found_col racy"
	if [ "$verdict" = MISS ] || [ "$verdict" = MISMATCH ]; then
		repro+=("$mode $bench: $verdict (${ratio}x, goal ${goal}x); reproduce (with --keep; the DB of read benchmarks is the one the load command above writes):"
			"  default:   $cmd_d" "  tamerocks: $cmd_t")
	fi
	if [ "$mode" = direct ] && [[ $bench == multireadrandom* ]]; then
		batch_rows+=("$bench ${ratio}x")
	fi
	printf '%-8s %-22s %12s %9s %12s %9s %7s %6s  %-21s %5s  %s\n' "$mode" "$bench" \
		"$best_d" "$us_d" "$best_t" "$us_t" "${ratio}x" "$pairs" "$found_col" "${goal}x" "$verdict"
}

# The device's ceiling for the direct multireadrandom rows, from fio: 4 KiB
# O_DIRECT random reads of the shared DB's largest table file, one at a time
# (as the default Env's MultiGet reads, one block after another) and in
# batches of 32 submitted and reaped together (the most a batch of 32 can
# gain). Not a goal: where one read at a time is already fast, the device
# caps what any batching reaches, and the line says by how much.
device_ceiling() {
	local sst secs=8 qd out iops=() lat=()
	if ! command -v fio >/dev/null; then
		echo "device ceiling: fio not found (apt-get install fio): not measured"
		return
	fi
	[ "$quick" = 1 ] && secs=3
	sst=$(ls -S "$base"/*.sst | head -n 1)
	for qd in 1 32; do
		if ! out=$(fio --name=ceiling --readonly --filename="$sst" --rw=randread --bs=4k --direct=1 \
			--ioengine=io_uring --iodepth="$qd" --iodepth_batch_submit="$qd" \
			--iodepth_batch_complete_min="$qd" --runtime="$secs" --time_based \
			--output-format=terse --terse-version=3 2>&1); then
			echo "device ceiling: fio failed on $sst: $(tail -n 1 <<<"$out")"
			return
		fi
		# terse v3: field 8 read IOPS, field 40 mean total latency (us)
		iops+=("$(cut -d';' -f8 <<<"$out")")
		lat+=("$(cut -d';' -f40 <<<"$out")")
	done
	printf 'device ceiling (fio, 4 KiB O_DIRECT random reads of %s, %s s each): one at a time %s IOPS (%.0f us each); batches of 32 %s IOPS (%.0f us a batch): at most %sx for a batch of 32; measured: %s\n' \
		"$(basename "$sst")" "$secs" "${iops[0]}" "${lat[0]}" "${iops[1]}" "${lat[1]}" \
		"$(awk -v a="${iops[1]}" -v b="${iops[0]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" \
		"${batch_rows[*]:-no direct multireadrandom row}"
}

batch_rows=()
t_start=$(date +%s)
for mode in "${modes[@]}"; do
	for bench in "${benches[@]}"; do
		run_bench "$mode" "$bench"
	done
done
if [[ " ${modes[*]} " == *" direct "* ]]; then
	echo
	device_ceiling
fi

echo
echo "load avg $(cut -d' ' -f1-3 /proc/loadavg) at end; comparison took $(($(date +%s) - t_start)) s"
echo
echo "runs (in order):"
printf '  %s\n' "${runs[@]}"
if [ "${#repro[@]}" -gt 0 ]; then
	echo
	echo "notes:"
	printf '  %s\n' "${repro[@]}"
fi
if [ "$failures" -gt 0 ] || [ "$mismatches" -gt 0 ]; then
	echo
	echo "FAILED: $failures failed/hung run(s), $mismatches found-count mismatch(es)"
	exit 1
fi
