#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# threads64_compare.sh: Debian's unmodified db_bench with 64 benchmark
# threads, as 64 OS threads (default Env) and as 64 fibers on 1 or 2 reactor
# threads (LD_PRELOAD=libtamerocks.so --env_uri=tamerocks://fg_reactors:N),
# side by side in one run, against fio on the same file system.
#
# Phases (--phases= picks some; each prints its own table):
#   load      build ONE DB much larger than the block cache with the default
#             Env: fillrandom (1 thread, --seed + 1), flush, compactall. Every
#             read phase reads it (read only, checked: its table files must
#             not change; readwhilewriting gets its own copy). Data blocks
#             are page-aligned (--block_align=true, uncompressed 4 KiB
#             blocks): a Get then reads one aligned 4 KiB page, the I/O fio
#             does; --no_block_align keeps RocksDB's default layout, where a
#             block and its 5-byte trailer straddle pages and a Get reads
#             4 KiB or 4.5 KiB at a 512-byte offset.
#   read      readrandom, --use_direct_reads=true, --threads, --duration:
#             default Env (64 OS threads), tamerocks fg_reactors:1 and :2.
#             Per config: ops/s, CPU seconds of the db_bench process
#             (children's user+sys, from a small perl wrapper) and CPU us per
#             Get. The CPU of opening and closing the DB is measured by a
#             --reads=1 run of the same config and subtracted ("net"). The
#             block device's counters give reads per Get, their size and
#             latency, and the mean reads in flight. Goals, shown for
#             fg_reactors:1 and :2: >= 1.0x the default's ops/s at <= 0.6x
#             its net CPU per Get (of the best runs, and of the means).
#             Also, not a goal, the machine-wide CPU per Get: the process's
#             CPU plus what the rest of the machine took meanwhile, mostly
#             interrupt work done while the process's threads slept, which
#             no process is charged for.
#   stages    one more readrandom run of fg_reactors:1 and :2 with the URI's
#             stats:true: per read, the mean time queued in the SQ, in the
#             kernel (device included) and completed but waiting for the
#             reactor to run its fiber, with enters and sleeps per read
#             (docs/core.md). Not a goal; explains the read phase.
#   fio       fio io_uring randread 4 KiB, QD --threads (64), O_DIRECT,
#             numjobs 1, on a file as large as the DB in the same directory:
#             IOPS and CPU us per read. Goal: tamerocks fg_reactors:2 Gets/s
#             >= 0.8x fio IOPS. With --no_block_align, a second fio run reads
#             what RocksDB then reads: 4 KiB and 4.5 KiB at 512-byte offsets,
#             in the proportion of the tamerocks run (the workload's ceiling).
#   check     the must-show run: --threads with default Env, fg_reactors:1,
#             fg_reactors:2 for fillrandom (fresh DB; followed by readrandom in
#             the same process, whose found count proves the fill wrote the
#             same keys), readrandom, multireadrandom (batched, 32) and
#             readwhilewriting, all with direct reads and fixed --reads (not
#             --duration) so that every config reads the same keys. Found
#             counts must be equal across configs, or the script exits 1.
#   overhead  the default Env with and without LD_PRELOAD=libtamerocks.so
#             (RocksDB's own threads then use tamerocks' mutexes on their
#             futex path): readrandom (buffered, page cache warm) and
#             fillrandom (fresh DB), --threads 1 and 16, --duration, order
#             alternating, --overhead_repeat times. Goal: >= 0.98x.
#
# Method notes:
#   - fixed --seed everywhere; the DB is loaded with --seed + 1, so that
#     readrandom's thread 0 does not read exactly the keys the load wrote.
#     readwhilewriting runs with the LOAD's seed: its writer is thread 0,
#     whose key sequence is then the load's, so it only overwrites keys that
#     exist and the readers' found counts cannot race with it (its rate is
#     also capped, --rww_write_mib_s, so it never runs past the load's
#     sequence).
#   - db_bench prints the found count of ONE thread (the first reader; it
#     keeps one thread's message), so "(X of Y found)" covers Y of the
#     threads x reads Gets.
#   - every db_bench runs under timeout(1); each LOG must name the expected
#     FileSystem (TameFileSystem for tamerocks). The "threads" column is the
#     most OS threads seen in the process (sampled every 0.25 s).
#   - --statistics=false, nothing pinned.
#
# usage: bench/threads64_compare.sh [--quick] [--dir=DIR] [--lib=PATH]
#          [--phases=load,read,stages,fio,check,overhead] [--threads=N] [--num=N]
#          [--value_size=N] [--cache_mib=N] [--seed=N] [--read_seconds=S]
#          [--read_repeat=N] [--fio_seconds=S] [--check_reads=N]
#          [--check_fill_num=N] [--rww_write_mib_s=N] [--overhead_seconds=S]
#          [--overhead_repeat=N] [--overhead_threads=1,16] [--uri_opts=K:V,...]
#          [--malloc=PATH] [--no_block_align]
#          [--timeout=S] [--db_bench=PATH] [--fio=PATH] [--keep]
#   --quick             num 200000, cache 2 MiB, read 5 s x 1, fio 5 s, check
#                       reads 300/thread, fill 50000, overhead 3 s x 2: ~1.5 min
#   (default)           num 2000000 x 400 B values (about 0.5 GiB: fillrandom
#                       writes 63% unique keys), cache 8 MiB, read 20 s x 3,
#                       fio 20 s, check reads 1000/thread, fill 200000,
#                       overhead 6 s x 4 pairs: about 8 min on 2 vCPUs
#   --dir               work directory (default /var/tmp/tamerocks-threads64);
#                       must be on a disk file system (O_DIRECT)
#   --lib               default <repo>/build/libtamerocks.so
#   --uri_opts          extra tamerocks URI options, e.g. idle_poll_us:0
#   --malloc            a malloc library preloaded into EVERY db_bench run,
#                       the default Env's included (e.g. Debian's libjemalloc2:
#                       /usr/lib/x86_64-linux-gnu/libjemalloc.so.2); default:
#                       glibc's malloc
#   --no_block_align    RocksDB's default table layout (see load)
#   --keep              keep the work directory
# Exit status: 0 done (a missed goal is a figure, not a failure); 1 a found
# count mismatch, a failed or hung db_bench/fio, or a wrong Env; 2 bad
# arguments or setup.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lib="$root/build/libtamerocks.so"
dir=/var/tmp/tamerocks-threads64
db_bench=db_bench
fio=fio
phases_arg="load,read,stages,fio,check,overhead"
quick=0
keep=0
threads=64
seed=1234567
timeout_s=600
value_size=400
uri_opts=""
malloc_lib=""
block_align=true
num="" cache_mib="" read_seconds="" read_repeat="" fio_seconds="" check_reads=""
check_fill_num="" rww_write_mib_s="" overhead_seconds="" overhead_repeat=""
overhead_threads="1,16"

die() {
	echo "threads64_compare.sh: $*" >&2
	exit 2
}

usage() {
	sed -n '3,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

for arg in "$@"; do
	case "$arg" in
	--quick) quick=1 ;;
	--keep) keep=1 ;;
	--dir=*) dir=${arg#*=} ;;
	--lib=*) lib=${arg#*=} ;;
	--phases=*) phases_arg=${arg#*=} ;;
	--threads=*) threads=${arg#*=} ;;
	--num=*) num=${arg#*=} ;;
	--value_size=*) value_size=${arg#*=} ;;
	--cache_mib=*) cache_mib=${arg#*=} ;;
	--seed=*) seed=${arg#*=} ;;
	--read_seconds=*) read_seconds=${arg#*=} ;;
	--read_repeat=*) read_repeat=${arg#*=} ;;
	--fio_seconds=*) fio_seconds=${arg#*=} ;;
	--check_reads=*) check_reads=${arg#*=} ;;
	--check_fill_num=*) check_fill_num=${arg#*=} ;;
	--rww_write_mib_s=*) rww_write_mib_s=${arg#*=} ;;
	--overhead_seconds=*) overhead_seconds=${arg#*=} ;;
	--overhead_repeat=*) overhead_repeat=${arg#*=} ;;
	--overhead_threads=*) overhead_threads=${arg#*=} ;;
	--uri_opts=*) uri_opts=${arg#*=} ;;
	--malloc=*) malloc_lib=${arg#*=} ;;
	--no_block_align) block_align=false ;;
	--timeout=*) timeout_s=${arg#*=} ;;
	--db_bench=*) db_bench=${arg#*=} ;;
	--fio=*) fio=${arg#*=} ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument: $arg (see --help)" ;;
	esac
done

if [ "$quick" = 1 ]; then
	: "${num:=200000}" "${cache_mib:=2}" "${read_seconds:=5}" "${read_repeat:=1}"
	: "${fio_seconds:=5}" "${check_reads:=300}" "${check_fill_num:=50000}"
	: "${overhead_seconds:=3}" "${overhead_repeat:=2}"
else
	: "${num:=2000000}" "${cache_mib:=8}" "${read_seconds:=20}" "${read_repeat:=3}"
	: "${fio_seconds:=20}" "${check_reads:=1000}" "${check_fill_num:=200000}"
	: "${overhead_seconds:=6}" "${overhead_repeat:=4}"
fi
: "${rww_write_mib_s:=4}"

is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }
for pair in "threads:$threads" "num:$num" "value_size:$value_size" "cache_mib:$cache_mib" \
	"seed:$seed" "read_seconds:$read_seconds" "read_repeat:$read_repeat" \
	"fio_seconds:$fio_seconds" "check_reads:$check_reads" "check_fill_num:$check_fill_num" \
	"rww_write_mib_s:$rww_write_mib_s" "overhead_seconds:$overhead_seconds" \
	"overhead_repeat:$overhead_repeat" "timeout:$timeout_s"; do
	is_uint "${pair#*:}" || die "--${pair%%:*} must be a positive integer, not '${pair#*:}'"
done
IFS=, read -r -a ov_threads <<<"$overhead_threads"
for t in "${ov_threads[@]}"; do
	is_uint "$t" || die "--overhead_threads: '$t' is not a positive integer"
done
[ "$check_fill_num" -ge "$threads" ] || die "--check_fill_num must be >= --threads"
[[ $uri_opts =~ [=\;] ]] && die "--uri_opts may not contain '=' or ';' (see env/tame_uri.h)"

IFS=, read -r -a phases <<<"$phases_arg"
for p in "${phases[@]}"; do
	[[ " load read stages fio check overhead " == *" $p "* ]] ||
		die "unknown phase '$p'; known: load read stages fio check overhead"
done
want() { [[ " ${phases[*]} " == *" $1 "* ]]; }
if ! want load && { want read || want stages || want fio || want check || want overhead; }; then
	die "the read, stages, fio, check and overhead phases need the load phase's DB: add load to --phases"
fi

db_bench_path=$(command -v "$db_bench") ||
	die "db_bench not found ('$db_bench'); apt-get install rocksdb-tools, or pass --db_bench=PATH"
if want fio; then
	command -v "$fio" >/dev/null ||
		die "fio not found ('$fio'); apt-get install fio, or pass --fio=PATH (or drop the fio phase)"
fi
command -v perl >/dev/null || die "perl not found (the CPU-time wrapper needs it)"
if [ -n "$malloc_lib" ]; then
	[ -f "$malloc_lib" ] || die "--malloc=$malloc_lib does not exist (Debian: apt-get install libjemalloc2, then --malloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2)"
	malloc_lib=$(cd "$(dirname "$malloc_lib")" && pwd)/$(basename "$malloc_lib")
fi
if want read || want stages || want check || want overhead; then
	[ -f "$lib" ] || die "--lib=$lib does not exist; build it (cmake --build build) or pass --lib=PATH"
	lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
fi

# The disk: O_DIRECT must work there.
existing=$dir
while [ ! -e "$existing" ]; do existing=$(dirname "$existing"); done
read -r fstype fsdev < <(df --output=fstype,source "$existing" | tail -n 1)
case "$fstype" in
tmpfs | ramfs) die "--dir=$dir is on $fstype, where O_DIRECT fails; pass a directory on a disk" ;;
esac
mkdir -p "$dir" 2>/dev/null || die "cannot create --dir=$dir"
[ -w "$dir" ] || die "--dir=$dir is not writable"
probe="$dir/.odirect_probe.$$"
if ! dd if=/dev/zero of="$probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
	rm -f "$probe"
	die "O_DIRECT writes fail in --dir=$dir ($fstype); pass another --dir"
fi
rm -f "$probe"

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

# ---- running one program with its CPU time -----------------------------------

# perl WRAPPER OUT CMD...: runs CMD, then writes "user sys max_threads" to
# OUT: the CPU seconds of CMD and everything it waited for (times(2) of the
# children), and the most threads seen in /proc/PID/task. Exits as CMD.
wrapper="$work/cpu_wrapper.pl"
cat >"$wrapper" <<'EOF'
use strict;
use warnings;
use POSIX ":sys_wait_h";
my $out = shift @ARGV;
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
	exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!";
}
my $max = 0;
for (;;) {
	last if waitpid($pid, WNOHANG) == $pid;
	if (opendir(my $d, "/proc/$pid/task")) {
		my $n = grep { !/^\./ } readdir($d);
		closedir($d);
		$max = $n if $n > $max;
	}
	select(undef, undef, undef, 0.25);
}
my $st = $?;
my @t = times;
open(my $fh, ">", $out) or die "$out: $!";
printf $fh "%.2f %.2f %d\n", $t[2], $t[3], $max;
close($fh);
exit($st & 127 ? 128 + ($st & 127) : $st >> 8);
EOF

# Reads completed, sectors read and milliseconds spent reading (summed over
# the reads in flight) by the DB's block device: reads per Get, bytes per
# read, mean latency and mean reads in flight. Other processes' reads count
# too.
dev_stat="/sys/class/block/$(basename "$(readlink -f "$fsdev")")/stat"
[ -r "$dev_stat" ] || dev_stat=""
dev_reads() {
	if [ -n "$dev_stat" ]; then
		awk '{ print $1, $3, $4 }' "$dev_stat"
	else
		echo "0 0 0"
	fi
}

# CPU seconds the whole machine has been busy (user, nice, system, irq,
# softirq; not steal, the hypervisor's): the run's own CPU subtracted from
# the change over a run is what other processes (and interrupts) took
# meanwhile.
machine_busy() {
	awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat
}

# The words, quoted only where a shell needs it.
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

uri_of() {
	local u="tamerocks://fg_reactors:$1"
	[ -n "$uri_opts" ] && u+=",$uri_opts"
	[ "$uri_stats" = 1 ] && [[ ",$uri_opts" != *,stats:* ]] && u+=",stats:true"
	echo "$u"
}
uri_stats=0

config_label() {
	case "$1" in
	default) echo "default Env, OS threads" ;;
	preload) echo "default Env + LD_PRELOAD" ;;
	fg*) echo "tamerocks $(uri_of "${1#fg}" | sed 's|tamerocks://||')" ;;
	esac
}

# run_db CONFIG LOG DB FLAG...: one db_bench. CONFIG is default (no
# preload), preload (default Env, libtamerocks.so preloaded) or fgN
# (tamerocks, fg_reactors:N). Sets r_status (ok, fail, hang, wrong-env),
# r_cmd, r_log, r_cpu (user+sys seconds), r_others (CPU seconds the rest of
# the machine used meanwhile), r_threads and r_dev_reads / r_dev_sectors /
# r_dev_ms (the device's, during the run); its output lines are read with
# db_line.
run_db() {
	local config=$1 log=$2 db=$3 rc=0 fs d0 s0 m0 d1 s1 m1 b0 b1
	shift 3
	local -a cmd=("$db_bench_path" "--db=$db" "$@")
	local pre=${malloc_lib:+$malloc_lib:}
	case "$config" in
	default) [ -z "$malloc_lib" ] || cmd=(env "LD_PRELOAD=$malloc_lib" "${cmd[@]}") ;;
	preload) cmd=(env "LD_PRELOAD=$pre$lib" "${cmd[@]}") ;;
	fg*) cmd=(env "LD_PRELOAD=$pre$lib" "$db_bench_path" "--env_uri=$(uri_of "${config#fg}")"
		"--db=$db" "$@") ;;
	esac
	r_cmd=$(shell_words "${cmd[@]}")
	r_log=$log r_cpu=- r_threads=- r_others=-
	echo "$r_cmd" >"$log.cmd"
	read -r d0 s0 m0 < <(dev_reads)
	b0=$(machine_busy)
	timeout -k 10 "$timeout_s" perl "$wrapper" "$log.cpu" "${cmd[@]}" \
		>"$log.out" 2>"$log.err" || rc=$?
	b1=$(machine_busy)
	read -r d1 s1 m1 < <(dev_reads)
	r_dev_reads=$((d1 - d0)) r_dev_sectors=$((s1 - s0)) r_dev_ms=$((m1 - m0))
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		r_status=hang
		return
	fi
	if [ -s "$log.cpu" ]; then
		read -r u s r_threads <"$log.cpu"
		r_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
		r_others=$(awk -v a="$b0" -v b="$b1" -v c="$r_cpu" 'BEGIN { o = b - a - c; printf "%.1f", o < 0 ? 0 : o }')
	fi
	r_status=ok
	[ "$rc" = 0 ] || r_status=fail
	fs=$(awk '/Options.fs:/ { print $NF; exit }' "$db/LOG" 2>/dev/null || true)
	case "$config" in
	fg*) [ "$fs" = TameFileSystem ] || r_status=wrong-env ;;
	*) [ "$fs" != TameFileSystem ] || r_status=wrong-env ;;
	esac
}

# db_line NAME: "us ops_per_s seconds operations found" of the NAME line of
# the last run_db ("-" for found when the line has none), or nothing.
db_line() {
	awk -v b="$1" '
		$1 == b && $2 == ":" {
			found = "-"
			if (match($0, /\([0-9]+ of [0-9]+ found\)/)) {
				split(substr($0, RSTART + 1), f, " ")
				found = f[1] "/" f[3]
			}
			print $3, $5, $7, $9, found
			exit
		}' "$r_log.out"
}

failures=0
notes=()

# note_problem WHAT: record the last run as failed, with its command and the
# tail of its output.
note_problem() {
	failures=$((failures + 1))
	notes+=("$1: ${r_status^^}: $r_cmd")
	while IFS= read -r line; do
		notes+=("    | $line")
	done < <(tail -n 4 "$r_log.err" "$r_log.out" 2>/dev/null)
}

# The machine's speed now: CPU milliseconds of a fixed awk loop, and CPU
# microseconds per 4 KiB page of 100 MB of fresh memory (first touch). On
# this VM the second moves by tens of times over a session (the host backs
# guest memory lazily; steal time stays near 0) while the first does not;
# RocksDB's runs allocate, so compare both across phases and runs before
# comparing figures.
cpu_probe() {
	local TIMEFORMAT='%3U %3S' loop mem
	loop=$({ time awk 'BEGIN { for (i = 0; i < 5000000; i++) s += i }'; } 2>&1)
	mem=$({ time perl -e '$x = "a" x 100_000_000; exit(length($x) != 100_000_000)'; } 2>&1)
	awk -v l="$loop" -v m="$mem" 'BEGIN {
		split(l, a, " "); split(m, b, " ")
		printf "CPU probe: loop %.0f ms, fresh memory %.2f us/page", a[1] * 1000,
			(b[1] + b[2]) * 1e6 / (100000000 / 4096) }'
}

phase_load() { echo "load avg $(cut -d' ' -f1 /proc/loadavg), $(cpu_probe) at start"; }

fmt_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2fx", a / b; else printf "-" }'
}
verdict() { awk -v r="$1" -v g="$2" -v op="$3" 'BEGIN {
	if (r == "-" || r == "") { print "n/a"; exit }
	r += 0; ok = (op == ">=") ? r >= g : r <= g
	print (ok ? "met" : "MISSED") }'; }

# ---- header ----------------------------------------------------------------------

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
grep -qw hypervisor /proc/cpuinfo && cpu+=" (virtual machine)"
mem_gib=$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
build_type="unknown (no CMakeCache.txt next to the lib)"
if [ -f "$(dirname "$lib")/CMakeCache.txt" ]; then
	build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$(dirname "$lib")/CMakeCache.txt")
	build_type=${build_type:-"(empty CMAKE_BUILD_TYPE)"}
fi
pkg=$(dpkg-query -W -f='${Package} ${Version}' rocksdb-tools 2>/dev/null || true)
t_begin=$(date +%s)

echo "threads64_compare.sh: Debian db_bench --threads=$threads, default Env (OS threads) vs tamerocks (fibers), same run"
load1=$(cut -d' ' -f1 /proc/loadavg)
busy=""
awk -v l="$load1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }' &&
	busy=" -- other work is running: expect noisy figures"
echo "machine:   $cpu, nproc $(nproc), ${mem_gib} GiB RAM; kernel $(uname -r)"
echo "load:      load avg $(cut -d' ' -f1-3 /proc/loadavg) at start$busy"
echo "           $(cpu_probe) (see cpu_probe in the script)"
echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "tamerocks: $lib, build type $build_type; URIs $(uri_of 1), $(uri_of 2)"
if [ -n "$malloc_lib" ]; then
	echo "malloc:    $malloc_lib (preloaded into every db_bench run, the default Env's included)"
else
	echo "malloc:    glibc's"
fi
echo "dir:       $work on $fstype ($fsdev)"

common=("--seed=$seed" "--value_size=$value_size" "--cache_size=$((cache_mib * 1048576))"
	--compression_type=none "--block_align=$block_align" --verify_checksum=true --statistics=false)
direct=(--use_direct_reads=true --use_direct_io_for_flush_and_compaction=true)

# ---- load ------------------------------------------------------------------------

base="$work/base"
layout=""
base_layout() { (cd "$base" && stat -c '%n %s' -- *.sst) | md5sum | cut -c1-12; }
check_layout() {
	if [ "$(base_layout)" != "$layout" ]; then
		notes+=("WARNING: the shared DB's table files changed during $1")
		layout=$(base_layout)
	fi
}

if want load; then
	t0=$(date +%s)
	run_db default "$work/load" "$base" "${common[@]/#--seed=*/--seed=$((seed + 1))}" \
		"--num=$num" --threads=1 --benchmarks=fillrandom,flush,compactall --use_existing_db=0
	if [ "$r_status" != ok ]; then
		note_problem "load"
		printf '%s\n' "${notes[@]}"
		exit 1
	fi
	load_cmd=$r_cmd
	layout=$(base_layout)
	db_mib=$(du -sm "$base" | cut -f1)
	nsst=$(find "$base" -name '*.sst' | wc -l)
	rocks_ver=$(awk '/^RocksDB:/ { print $NF; exit }' "$work/load.err" "$work/load.out" 2>/dev/null || true)
	asserts=""
	grep -q 'Assertions are enabled' "$work/load.out" "$work/load.err" 2>/dev/null &&
		asserts=", built with assertions enabled"
	echo "db_bench:  $db_bench_path, RocksDB ${rocks_ver:-?} (${pkg:-package unknown})$asserts"
	layout_s="page-aligned 4 KiB data blocks"
	[ "$block_align" = true ] || layout_s="RocksDB's default block layout (blocks straddle pages)"
	echo "DB:        --num=$num x --value_size=$value_size: $db_mib MiB in $nsst table files, $layout_s, block cache $cache_mib MiB;"
	echo "           loaded in $(($(date +%s) - t0)) s (default Env, CPU ${r_cpu} s): $load_cmd"
	[ "$db_mib" -gt "$((cache_mib * 8))" ] ||
		echo "           WARNING: the DB is not much larger than the block cache; pass a larger --num"
	echo "flags:     ${common[*]} (+ per phase below)"
fi

# A private copy of the DB for a run that writes: table files hard-linked
# (RocksDB never changes one), everything else copied.
copy_base() {
	local to=$1 f
	rm -rf "$to"
	mkdir -p "$to"
	for f in "$base"/*; do
		case "$f" in
		*.sst) ln "$f" "$to/" ;;
		*) cp -a "$f" "$to/" ;;
		esac
	done
}

# ---- read: readrandom, direct reads, --duration ----------------------------------

read_configs=(default fg1 fg2)
declare -A best_ops best_cpu_us setup_cpu best_threads best_n best_cpu best_dpg best_kpr best_lat best_qd
declare -A best_others sum_cpu_us n_runs best_mach_us sum_mach_us

# dev_figures READS SECTORS MS OPS SECONDS: "reads/op KiB/read us/read
# reads-in-flight" (ms: milliseconds spent reading, summed over reads).
dev_figures() {
	awk -v d="$1" -v s="$2" -v m="$3" -v n="$4" -v t="$5" 'BEGIN {
		if (d > 0)
			printf "%.2f %.1f %.0f %.1f\n", d / n, s / 2 / d, m * 1000 / d, m / (t * 1000)
		else
			print "0 - - -"
	}'
}
# The width of the config column.
lw=30
for c in default fg1 fg2 preload; do
	l=$(config_label "$c")
	[ "${#l}" -le "$lw" ] || lw=${#l}
done
if want read; then
	echo
	echo "== read: readrandom --threads=$threads --use_direct_reads=true --duration=$read_seconds, best of $read_repeat (order alternating); $(phase_load)"
	rflags=("${common[@]}" "--num=$num" "--threads=$threads" "${direct[@]}"
		--benchmarks=readrandom --use_existing_db=1 --ops_between_duration_checks=100)
	# Opening and closing the DB (and creating threads or reactors) costs
	# CPU that is not the Gets': measure it per config.
	for c in "${read_configs[@]}"; do
		run_db "$c" "$work/read.setup.$c" "$base" "${rflags[@]}" --reads=1
		if [ "$r_status" != ok ]; then
			note_problem "read setup $c"
			setup_cpu[$c]=0
		else
			setup_cpu[$c]=$r_cpu
		fi
	done
	runs=()
	for ((i = 1; i <= read_repeat; i++)); do
		order=("${read_configs[@]}")
		[ $((i % 2)) = 0 ] && order=(fg2 fg1 default)
		for c in "${order[@]}"; do
			run_db "$c" "$work/read.$i.$c" "$base" "${rflags[@]}" "--duration=$read_seconds"
			check_layout "read $c run $i"
			if [ "$r_status" != ok ]; then
				note_problem "read $c run $i"
				continue
			fi
			ops="" secs="" n=""
			read -r _ ops secs n _ < <(db_line readrandom) || true
			if [ -z "$n" ]; then
				r_status=fail
				note_problem "read $c run $i (no readrandom line)"
				continue
			fi
			cpu_us=$(awk -v c="$r_cpu" -v s="${setup_cpu[$c]}" -v n="$n" \
				'BEGIN { printf "%.2f", (c - s) * 1e6 / n }')
			# Machine-wide: the process's CPU plus what the rest of the
			# machine took meanwhile, mostly interrupt work done while
			# the process's threads slept, which no process is charged.
			mach_us=$(awk -v c="$r_cpu" -v o="$r_others" -v s="${setup_cpu[$c]}" -v n="$n" \
				'BEGIN { printf "%.2f", (c + o - s) * 1e6 / n }')
			sum_mach_us[$c]=$(awk -v a="${sum_mach_us[$c]:-0}" -v b="$mach_us" 'BEGIN { print a + b }')
			read -r dpg kpr lat qd < <(dev_figures "$r_dev_reads" "$r_dev_sectors" "$r_dev_ms" "$n" "$secs")
			runs+=("$(printf 'run %d %-*s %8s op/s %8s Gets in %6s s, CPU %6s s (others %5s s), %6s us/Get net, %2s threads, %s dev reads/Get of %s KiB, %s us, QD %s' \
				"$i" "$lw" "$(config_label "$c")" "$ops" "$n" "$secs" "$r_cpu" "$r_others" "$cpu_us" \
				"$r_threads" "$dpg" "$kpr" "$lat" "$qd")")
			sum_cpu_us[$c]=$(awk -v a="${sum_cpu_us[$c]:-0}" -v b="$cpu_us" 'BEGIN { print a + b }')
			n_runs[$c]=$((${n_runs[$c]:-0} + 1))
			if [ "${ops%.*}" -gt "${best_ops[$c]:-0}" ]; then
				best_ops[$c]=${ops%.*} best_cpu_us[$c]=$cpu_us best_threads[$c]=$r_threads
				best_n[$c]=$n best_cpu[$c]=$r_cpu best_dpg[$c]=$dpg best_kpr[$c]=$kpr
				best_lat[$c]=$lat best_qd[$c]=$qd best_others[$c]=$r_others
				best_mach_us[$c]=$mach_us
			fi
		done
	done
	declare -A mean_cpu_us mean_mach_us
	for c in "${read_configs[@]}"; do
		[ "${n_runs[$c]:-0}" -gt 0 ] || continue
		mean_cpu_us[$c]=$(awk -v a="${sum_cpu_us[$c]}" -v n="${n_runs[$c]}" 'BEGIN { printf "%.2f", a / n }')
		mean_mach_us[$c]=$(awk -v a="${sum_mach_us[$c]}" -v n="${n_runs[$c]}" 'BEGIN { printf "%.2f", a / n }')
	done
	printf '%-*s %9s %6s %8s %6s %6s %6s %7s %6s %7s %6s %7s %6s %6s %6s %5s\n' "$lw" config "ops/s" ratio \
		Gets "CPU s" others setup "us/Get" ratio "mean" ratio threads "rd/Get" "KiB/rd" "lat us" "QD"
	for c in "${read_configs[@]}"; do
		printf '%-*s %9s %6s %8s %6s %6s %6s %7s %6s %7s %6s %7s %6s %6s %6s %5s\n' "$lw" "$(config_label "$c")" \
			"${best_ops[$c]:--}" "$(fmt_ratio "${best_ops[$c]:--}" "${best_ops[default]:-0}")" \
			"${best_n[$c]:--}" "${best_cpu[$c]:--}" "${best_others[$c]:--}" "${setup_cpu[$c]:--}" \
			"${best_cpu_us[$c]:--}" \
			"$(fmt_ratio "${best_cpu_us[$c]:--}" "${best_cpu_us[default]:-0}")" \
			"${mean_cpu_us[$c]:--}" \
			"$(fmt_ratio "${mean_cpu_us[$c]:--}" "${mean_cpu_us[default]:-0}")" \
			"${best_threads[$c]:--}" "${best_dpg[$c]:--}" "${best_kpr[$c]:--}" \
			"${best_lat[$c]:--}" "${best_qd[$c]:--}"
	done
	echo "(ops/s, CPU s, us/Get...: the run with the most ops/s of each config; mean: us/Get averaged over"
	echo " all its runs; CPU s: user+sys of the whole db_bench process; others: CPU s the rest of the machine"
	echo " took meanwhile (other work disturbs the run when it is large); setup: CPU s of a --reads=1 run"
	echo " (open, threads, close); us/Get: (CPU - setup) / Gets; threads: most OS threads seen;"
	echo " rd/Get, KiB/rd, lat us, QD: reads the block device completed during the run per Get, their mean"
	echo " size and latency, and the mean number in flight over db_bench's seconds)"
	mach="machine-wide CPU per Get, (CPU + others - setup) / Gets, best runs (means):"
	for c in "${read_configs[@]}"; do
		mach+=" $(config_label "$c" | sed 's/, OS threads//; s/^tamerocks //') ${best_mach_us[$c]:--} us"
		[ "$c" = default ] ||
			mach+=" $(fmt_ratio "${best_mach_us[$c]:--}" "${best_mach_us[default]:-0}")"
		mach+=" (mean ${mean_mach_us[$c]:--} us"
		[ "$c" = default ] ||
			mach+=" $(fmt_ratio "${mean_mach_us[$c]:--}" "${mean_mach_us[default]:-0}")"
		mach+=");"
	done
	echo "${mach%;}"
	echo " (interrupt work done while a process's threads sleep is charged to no process: the default"
	echo " Env's 64 threads sleep on every read, a busy reactor pays its own; the goals use the process's CPU)"
	for c in fg1 fg2; do
		r_ops=$(fmt_ratio "${best_ops[$c]:--}" "${best_ops[default]:-0}")
		r_cpu=$(fmt_ratio "${best_cpu_us[$c]:--}" "${best_cpu_us[default]:-0}")
		r_mean=$(fmt_ratio "${mean_cpu_us[$c]:--}" "${mean_cpu_us[default]:-0}")
		echo "goals, $(config_label "$c"): ops/s >= 1.0x default: ${r_ops} $(verdict "${r_ops%x}" 1.0 '>=');" \
			"CPU per Get <= 0.6x default: best runs ${r_cpu} $(verdict "${r_cpu%x}" 0.6 '<='), means ${r_mean} $(verdict "${r_mean%x}" 0.6 '<=')"
	done
	echo "runs:"
	printf '  %s\n' "${runs[@]}"
	echo "command (fg_reactors:2, last run): $(cat "$work/read.$read_repeat.fg2.cmd" 2>/dev/null)"
fi

# ---- stages: where a Get's read waits (URI stats:true) -----------------------------

# One more read run per tamerocks config with stats:true: every reactor
# times each read in three stages (docs/core.md) and prints its sums when the
# Env goes; summed here over the config's reactors. Not part of the goals:
# the timing itself costs three clock reads per read.
if want stages; then
	echo
	echo "== stages: readrandom as in read, ${read_seconds} s, with stats:true: where each read's time goes; $(phase_load)"
	printf '%-*s %9s %7s %7s %7s %7s %7s %9s %9s %9s %7s %5s %7s\n' "$lw" config "ops/s" "rd/Get" \
		"ent/rd" "early" "sleeps" "batched" "queued" "kernel" "waiting" "dev us" "QD" "nolimit"
	uri_stats=1
	for c in fg1 fg2; do
		run_db "$c" "$work/stages.$c" "$base" "${common[@]}" "--num=$num" "--threads=$threads" \
			"${direct[@]}" --benchmarks=readrandom --use_existing_db=1 \
			--ops_between_duration_checks=100 "--duration=$read_seconds"
		check_layout "stages $c"
		if [ "$r_status" != ok ]; then
			note_problem "stages $c"
			continue
		fi
		read -r _ ops secs n _ < <(db_line readrandom) || true
		read -r _ _ lat qd < <(dev_figures "$r_dev_reads" "$r_dev_sectors" "$r_dev_ms" "${n:-1}" "${secs:-1}")
		# "... D I/O operations in E enters (F early; submit_tune: O of N windows
		# with no depth limit, ...), G sleeps (B batched); per operation: Q us
		# queued, K us in the kernel, R us completed ..."
		awk -v lw="$lw" -v label="$(config_label "$c")" -v ops="${ops%.*}" -v gets="${n:-0}" \
			-v lat="$lat" -v qd="$qd" '
			# db_bench'"'"'s progress lines end in \r, not \n: the
			# stats line may follow one on the same line.
			(at = index($0, "tamerocks: stats: reactor ")) > 0 {
				nf = split(substr($0, at), t, " ")
				for (i = 1; i <= nf; i++) {
					if (t[i] == "I/O") { d = t[i - 1]; e = t[i + 3]; f = substr(t[i + 5], 2) }
					if (t[i] == "sleeps") { g = t[i - 1]; b = substr(t[i + 1], 2) }
					if (t[i] == "queued,") q = t[i - 2]
					if (t[i] == "kernel,") k = t[i - 4]
					if (t[i] == "completed") w = t[i - 2]
					if (t[i] == "submit_tune:") { o = t[i + 1]; nw = t[i + 3] }
				}
				D += d; E += e; F += f; G += g; B += b; Q += q * d; K += k * d; W += w * d
				O += o; NW += nw
				reactors++
			}
			END {
				if (!reactors || !D) { printf "%-*s no stats line from the reactors\n", lw, label; exit 1 }
				printf "%-*s %9s %7.2f %7.3f %6.0f%% %7.3f %6.0f%% %6.1f us %6.1f us %6.1f us %7s %5s %6.0f%%\n", lw, label,
					ops, gets ? D / gets : 0, E / D, E ? 100 * F / E : 0, G / D, G ? 100 * B / G : 0,
					Q / D, K / D, W / D, lat, qd, NW ? 100 * O / NW : 0
			}' "$r_log.err" || { r_status=fail; note_problem "stages $c (no stats line)"; }
	done
	uri_stats=0
	echo "(rd/Get: reads timed per Get; ent/rd: io_uring_enter calls per read; early: the share of them made"
	echo " between two fibers of a pass (submit_us); sleeps: times a reactor slept in the kernel, per read;"
	echo " batched: the share of them that waited for several completions (wake_batch);"
	echo " per read, mean: queued in the SQ, in the kernel (device included), and completed but waiting for"
	echo " the reactor to run its fiber; dev us, QD: the block device's mean latency and reads in flight;"
	echo " nolimit: the share of submit_tune's windows run with no submit_depth limit, docs/core.md)"
fi

# ---- fio ---------------------------------------------------------------------------

# iops, then fio's own CPU us per read (its job's usr_cpu + sys_cpu), from
# fio's JSON on stdin; same parser as fio_compare.sh.
parse_fio() {
	awk '
	/"job_runtime" :/ && !jr { jr = $3 + 0 }
	/"usr_cpu" :/ && !u { u = $3 + 0; hu = 1 }
	/"sys_cpu" :/ && !s { s = $3 + 0; hs = 1 }
	/"read" : \{/ { inread = 1 }
	inread && /"iops" :/ && !iops { iops = $3 + 0 }
	inread && /"total_ios" :/ && !ios { ios = $3 + 0 }
	END {
		cpu = (ios > 0 && hu && hs) ? (u + s) / 100 * jr * 1000 / ios : 0
		printf "%.0f %.2f %d\n", iops, cpu, ios
	}'
}

if want fio; then
	echo
	fio_mib=$(du -sm "$base" | cut -f1)
	fio_file="$work/fio.${fio_mib}MiB.dat"
	echo "== fio: io_uring randread, QD $threads (= --threads), O_DIRECT, numjobs 1, ${fio_mib} MiB file next to the DB, ${fio_seconds} s; $(phase_load)"
	# Lay the file out first, so the timed run only reads.
	"$fio" --name=layout --filename="$fio_file" --size="${fio_mib}M" --rw=write --bs=1M \
		--ioengine=psync --end_fsync=1 --output=/dev/null >/dev/null 2>&1 ||
		die "fio could not lay out $fio_file"
	printf '%-*s %9s %12s %16s %7s %7s %5s %7s\n' "$lw" "" IOPS "CPU us/IO" "CPU us/IO (job)" \
		"KiB/rd" "lat us" "QD" "others"
	# run_fio LABEL FIO-ARGS...: one timed run; sets fio_iops, fio_proc_cpu.
	run_fio() {
		local label=$1 rc=0 u s d0 s0 m0 d1 s1 m1 b0 b1 fio_job_cpu fio_kpr fio_lat fio_qd fio_others
		shift
		fio_cmd=("$fio" --name=randread --filename="$fio_file" --size="${fio_mib}M"
			--ioengine=io_uring --direct=1 --rw=randread "$@" "--iodepth=$threads" --numjobs=1
			--time_based --runtime="${fio_seconds}s" --ramp_time=1s --norandommap
			--randrepeat=0 --output-format=json)
		fio_iops="" fio_proc_cpu=""
		read -r d0 s0 m0 < <(dev_reads)
		b0=$(machine_busy)
		timeout -k 10 "$timeout_s" perl "$wrapper" "$work/fio.cpu" "${fio_cmd[@]}" \
			>"$work/fio.json" 2>"$work/fio.err" || rc=$?
		b1=$(machine_busy)
		read -r d1 s1 m1 < <(dev_reads)
		if [ "$rc" != 0 ]; then
			failures=$((failures + 1))
			notes+=("fio failed (exit $rc): $(shell_words "${fio_cmd[@]}")")
			return
		fi
		read -r fio_iops fio_job_cpu _ < <(parse_fio <"$work/fio.json")
		read -r u s _ <"$work/fio.cpu"
		# The process CPU includes the ramp: divide by the reads of both.
		fio_proc_cpu=$(awk -v u="$u" -v s="$s" -v i="$fio_iops" -v t="$fio_seconds" \
			'BEGIN { printf "%.2f", (u + s) * 1e6 / (i * (t + 1)) }')
		# The device counts the ramp's reads too.
		read -r _ fio_kpr fio_lat fio_qd < <(dev_figures "$((d1 - d0))" "$((s1 - s0))" \
			"$((m1 - m0))" "$fio_iops" "$((fio_seconds + 1))")
		fio_others=$(awk -v a="$b0" -v b="$b1" -v u="$u" -v s="$s" \
			'BEGIN { o = b - a - u - s; printf "%.1f", o < 0 ? 0 : o }')
		printf '%-*s %9s %12s %16s %7s %7s %5s %7s\n' "$lw" "$label" "$fio_iops" \
			"$fio_proc_cpu" "$fio_job_cpu" "$fio_kpr" "$fio_lat" "$fio_qd" "$fio_others"
		fio_cmds+=("$(shell_words "${fio_cmd[@]}")")
	}
	fio_cmds=()
	run_fio "fio io_uring QD $threads, 4 KiB" --bs=4k
	fio4k_iops=$fio_iops fio4k_cpu=$fio_proc_cpu
	# RocksDB's direct reads are a data block (4 KiB + its 5-byte trailer)
	# rounded out to 512-byte sectors: 4 KiB or 4.5 KiB, at 512-byte
	# offsets. The second run reads that mix, in the proportion the
	# tamerocks run's device reads had: the ceiling for this workload.
	# With page-aligned blocks RocksDB reads what the 4 KiB run reads.
	mix_pct=""
	if [ "$block_align" = false ] && [ -n "${best_kpr[fg2]:-}" ] && [ "${best_kpr[fg2]}" != "-" ]; then
		mix_pct=$(awk -v k="${best_kpr[fg2]}" \
			'BEGIN { p = (k * 1024 - 4096) / 512 * 100; p = p < 0 ? 0 : (p > 100 ? 100 : p); printf "%.0f", p }')
		run_fio "fio, RocksDB's sizes ($((100 - mix_pct))% 4K)" \
			"--bssplit=4k/$((100 - mix_pct)):4608/$mix_pct" --blockalign=512 --bs_unaligned
	fi
	if [ -n "$fio4k_iops" ] && [ -n "${best_ops[fg2]:-}" ]; then
		fr=$(fmt_ratio "${best_ops[fg2]}" "$fio4k_iops")
		echo "tamerocks fg_reactors:2 readrandom ${best_ops[fg2]} Gets/s = ${fr} of fio's 4 KiB IOPS (goal >= 0.80x: $(verdict "${fr%x}" 0.8 '>='));" \
			"default Env $(fmt_ratio "${best_ops[default]:--}" "$fio4k_iops"), fg_reactors:1 $(fmt_ratio "${best_ops[fg1]:--}" "$fio4k_iops")"
		if [ -n "$mix_pct" ] && [ -n "$fio_iops" ]; then
			echo "  of fio with RocksDB's read sizes: fg_reactors:2 $(fmt_ratio "${best_ops[fg2]}" "$fio_iops")," \
				"fg_reactors:1 $(fmt_ratio "${best_ops[fg1]:--}" "$fio_iops"), default Env $(fmt_ratio "${best_ops[default]:--}" "$fio_iops")"
		fi
		echo "CPU per read: tamerocks fg_reactors:2 ${best_cpu_us[fg2]} us/Get vs fio $fio4k_cpu us/IO (process, 4 KiB)"
	fi
	echo "(CPU us/IO: user+sys of the fio processes / reads (ramp included); (job): fio's usr_cpu+sys_cpu;"
	echo " others: CPU s the rest of the machine took meanwhile)"
	printf 'command: %s\n' "${fio_cmds[@]}"
	rm -f "$fio_file"
fi

# ---- check: the must-show run ------------------------------------------------------

check_configs=(default fg1 fg2)
mismatches=0

# check_bench NAME: one row. Runs NAME with every check config.
check_bench() {
	local name=$1 c db ops found founds="" verdict_s fill_w
	local -a flags=("${common[@]}" "--threads=$threads" "${direct[@]}")
	local -A ops_of found_of
	case "$name" in
	fillrandom)
		fill_w=$((check_fill_num / threads))
		# shellcheck disable=SC2054 # the comma is db_bench's list separator
		flags+=("--num=$check_fill_num" "--writes=$fill_w" "--reads=$check_reads"
			--benchmarks=fillrandom,readrandom --use_existing_db=0)
		;;
	readrandom) flags+=("--num=$num" "--reads=$check_reads" --benchmarks=readrandom --use_existing_db=1) ;;
	multireadrandom)
		flags+=("--num=$num" "--reads=$check_reads" --benchmarks=multireadrandom
			--multiread_batched=true --batch_size=32 --use_existing_db=1)
		;;
	readwhilewriting)
		# The load's seed: the writer then only overwrites loaded keys.
		flags=("${flags[@]/#--seed=*/--seed=$((seed + 1))}")
		flags+=("--num=$num" "--reads=$check_reads" --benchmarks=readwhilewriting
			"--benchmark_write_rate_limit=$((rww_write_mib_s * 1048576))" --use_existing_db=1)
		;;
	esac
	for c in "${check_configs[@]}"; do
		case "$name" in
		fillrandom)
			db="$work/check.fill"
			rm -rf "$db"
			;;
		readwhilewriting)
			db="$work/check.rww"
			copy_base "$db"
			;;
		*) db="$base" ;;
		esac
		run_db "$c" "$work/check.$name.$c" "$db" "${flags[@]}"
		[ "$db" = "$base" ] && check_layout "check $name $c"
		[ "$db" = "$base" ] || rm -rf "$db"
		if [ "$r_status" != ok ]; then
			note_problem "check $name $c"
			ops_of[$c]=${r_status^^} found_of[$c]=-
			continue
		fi
		ops="" found=""
		read -r _ ops _ _ found < <(db_line "$name") || true
		ops_of[$c]=${ops:--}
		# fillrandom has no found count: take the readrandom after it.
		if [ "$name" = fillrandom ]; then
			read -r _ _ _ _ found < <(db_line readrandom) || found=""
		fi
		found_of[$c]=${found:--}
		founds+="${found:--} "
	done
	verdict_s=PASS
	if [[ " $founds " == *" - "* ]]; then
		verdict_s=FAIL
	elif [ "$(tr ' ' '\n' <<<"$founds" | sed '/^$/d' | sort -u | wc -l)" -ne 1 ]; then
		verdict_s=MISMATCH
		mismatches=$((mismatches + 1))
		notes+=("check $name: MISMATCH: found counts default/fg1/fg2: $founds")
	fi
	local label=$name
	[ "$name" = fillrandom ] && label="fillrandom (+readrandom)"
	[ "$name" = multireadrandom ] && label="multireadrandom (b32)"
	printf '%-26s %10s %10s %6s %10s %6s  %-35s %s\n' "$label" "${ops_of[default]}" \
		"${ops_of[fg1]}" "$(fmt_ratio "${ops_of[fg1]}" "${ops_of[default]}")" \
		"${ops_of[fg2]}" "$(fmt_ratio "${ops_of[fg2]}" "${ops_of[default]}")" \
		"${found_of[default]} ${found_of[fg1]} ${found_of[fg2]}" "$verdict_s"
}

if want check; then
	echo
	echo "== check: --threads=$threads, direct reads, --reads=$check_reads per thread; found counts must be equal; $(phase_load)"
	echo "   (fillrandom: fresh DB, --num=$check_fill_num --writes=$((check_fill_num / threads)) per thread, then readrandom in the same"
	echo "    process; readwhilewriting: a copy of the DB, --seed=$((seed + 1)), writer capped at $rww_write_mib_s MiB/s)"
	printf '%-26s %10s %10s %6s %10s %6s  %-35s %s\n' benchmark "default" "fg 1" ratio "fg 2" \
		ratio "found (thread 0) default fg1 fg2" verdict
	for b in fillrandom readrandom multireadrandom readwhilewriting; do
		check_bench "$b"
	done
	echo "(op/s from db_bench; fillrandom's are the fill's, its found count the readrandom's after it)"
	echo "command (fg_reactors:2, readwhilewriting): $(cat "$work/check.readwhilewriting.fg2.cmd" 2>/dev/null)"
fi

# ---- overhead: default Env with and without the preload ------------------------------

if want overhead; then
	echo
	echo "== overhead: default Env without / with LD_PRELOAD=libtamerocks.so, --duration=$overhead_seconds, $overhead_repeat pair(s), order alternating; $(phase_load)"
	printf '%-24s %7s %11s %11s %7s %7s %10s %10s\n' benchmark threads "without" "with" \
		"best" "median" "CPU/op w/o" "CPU/op w/"
	cat "$base"/*.sst >/dev/null
	ov_runs=()
	for b in readrandom fillrandom; do
		for t in "${ov_threads[@]}"; do
			declare -A ob=() ocpu=()
			ratios=()
			for ((i = 1; i <= overhead_repeat; i++)); do
				order=(default preload)
				[ $((i % 2)) = 0 ] && order=(preload default)
				declare -A pair=()
				for c in "${order[@]}"; do
					flags=("${common[@]}" "--threads=$t" "--duration=$overhead_seconds")
					if [ "$b" = readrandom ]; then
						db="$base"
						flags+=("--num=$num" --benchmarks=readrandom --use_existing_db=1
							--use_direct_reads=false)
					else
						db="$work/ov.fill"
						rm -rf "$db"
						flags+=("--num=$num" --benchmarks=fillrandom --use_existing_db=0)
					fi
					run_db "$c" "$work/ov.$b.$t.$i.$c" "$db" "${flags[@]}"
					[ "$db" = "$base" ] && check_layout "overhead $b $c"
					[ "$db" = "$base" ] || rm -rf "$db"
					if [ "$r_status" != ok ]; then
						note_problem "overhead $b threads $t $c run $i"
						continue
					fi
					ops="" n=""
					read -r _ ops _ n _ < <(db_line "$b") || true
					if [ -z "$n" ]; then
						r_status=fail
						note_problem "overhead $b threads $t $c run $i (no $b line)"
						continue
					fi
					pair[$c]=$ops
					cpu_op=$(awk -v c="$r_cpu" -v n="$n" 'BEGIN { printf "%.2f", c * 1e6 / n }')
					ov_runs+=("$(printf '%-10s threads %2d run %d %-26s %9s op/s, CPU %6s s, %6s us/op (others %5s s)' \
						"$b" "$t" "$i" "$(config_label "$c")" "$ops" "$r_cpu" "$cpu_op" "$r_others")")
					if [ "${ops%.*}" -gt "${ob[$c]:-0}" ]; then
						ob[$c]=${ops%.*} ocpu[$c]=$cpu_op
					fi
				done
				if [ -n "${pair[default]:-}" ] && [ -n "${pair[preload]:-}" ]; then
					ratios+=("$(awk -v a="${pair[preload]}" -v b="${pair[default]}" 'BEGIN { printf "%.4f", a / b }')")
				fi
			done
			med=-
			if [ "${#ratios[@]}" -gt 0 ]; then
				med=$(printf '%s\n' "${ratios[@]}" | sort -g |
					awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2fx", m }')
			fi
			printf '%-24s %7s %11s %11s %7s %7s %10s %10s\n' "$b" "$t" "${ob[default]:--}" \
				"${ob[preload]:--}" "$(fmt_ratio "${ob[preload]:--}" "${ob[default]:-0}")" "$med" \
				"${ocpu[default]:--}" "${ocpu[preload]:--}"
			unset ob ocpu
		done
	done
	echo "(without/with: best op/s; best: ratio of the bests; median: median of the per-pair ratios; CPU/op: us,"
	echo " whole process, of the best runs; readrandom buffered with the table files in the page cache, fillrandom"
	echo " into a fresh DB; goal >= 0.98x)"
	echo "runs:"
	printf '  %s\n' "${ov_runs[@]}"
fi

echo
echo "load avg $(cut -d' ' -f1-3 /proc/loadavg) at end (counts this script's own runs: threads waiting for direct reads count);"
echo "$(cpu_probe) at end; took $(($(date +%s) - t_begin)) s"
if [ "${#notes[@]}" -gt 0 ]; then
	echo
	echo "notes:"
	printf '  %s\n' "${notes[@]}"
fi
if [ "$failures" -gt 0 ] || [ "$mismatches" -gt 0 ]; then
	echo
	echo "FAILED: $failures failed/hung run(s), $mismatches found-count mismatch(es)"
	exit 1
fi
