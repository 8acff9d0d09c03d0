#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# fio_compare.sh: 4 KiB O_DIRECT random reads, tamerocks vs fio, from the shell.
#
#   1. runs tame_micro's I/O section (tamerocks and plain fio io_uring on the
#      same file, same run), keeping the file;
#   2. runs fio again on that file for each --variant (extra fio flags, e.g.
#      "--fixedbufs=1 --registerfiles=1"), so you can see how far fio's own
#      tuning knobs move the baseline;
#   3. removes the file unless --keep_file.
#
# Without a built tame_micro, step 1 is skipped and fio lays the file out.
# The fio command line is the one tame_micro prints; keep the two in step.
#
# usage: bench/fio_compare.sh [--bin=PATH] [--dir=D] [--file_gib=N]
#          [--seconds=S] [--qd_max=N] [--fio=PATH] [--keep_file]
#          [--variant="FIO FLAGS"]...   (default variant:
#          "--fixedbufs=1 --registerfiles=1"; --variant= alone: none)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin="$here/../build/bench/tame_micro"
dir=/var/tmp
file_gib=1
seconds=2
qd_max=128
fio=fio
keep_file=0
variants=()
variants_given=0

for arg in "$@"; do
	case "$arg" in
	--bin=*) bin=${arg#*=} ;;
	--dir=*) dir=${arg#*=} ;;
	--file_gib=*) file_gib=${arg#*=} ;;
	--seconds=*) seconds=${arg#*=} ;;
	--qd_max=*) qd_max=${arg#*=} ;;
	--fio=*) fio=${arg#*=} ;;
	--keep_file) keep_file=1 ;;
	--variant=*)
		variants_given=1
		[ -n "${arg#*=}" ] && variants+=("${arg#*=}")
		;;
	-h | --help)
		sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "fio_compare.sh: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done
[ "$variants_given" = 1 ] || variants=("--fixedbufs=1 --registerfiles=1")

die() {
	echo "fio_compare.sh: $*" >&2
	exit 1
}

command -v "$fio" >/dev/null 2>&1 || die "fio not found ('$fio'); apt-get install fio, or pass --fio=PATH"
if [ ! -d "$dir" ] || [ ! -w "$dir" ]; then
	die "$dir is not a writable directory; pass --dir=<a directory on a real disk>"
fi
fstype=$(stat -f -c %T "$dir")
case "$fstype" in
tmpfs | ramfs) die "$dir is on $fstype, not a disk; pass --dir=<a directory on a real disk>" ;;
esac

# Same name and size rounding as tame_micro, so the file is shared.
mib=$(awk -v g="$file_gib" 'BEGIN { printf "%d", g * 1024 }')
[ "$mib" -ge 1 ] || die "--file_gib too small"
bytes=$((mib * 1024 * 1024))
file="$dir/tame_micro.${mib}MiB.dat"
runtime_ms=$(awk -v s="$seconds" 'BEGIN { printf "%d", s * 1000 }')

existed=0
[ -e "$file" ] && existed=1
cleanup() {
	if [ "$keep_file" = 0 ] && [ "$existed" = 0 ]; then
		rm -f "$file"
	fi
}
trap cleanup EXIT

echo "fio_compare.sh: $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "file: $file on $fstype; $(${fio} --version)"
echo

if [ -x "$bin" ]; then
	"$bin" --no_micro --keep_file --dir="$dir" --file_gib="$file_gib" \
		--seconds="$seconds" --qd_max="$qd_max" --fio="$fio"
	echo
else
	echo "($bin not built: fio only; fio lays the file out)"
fi

# iops, then cpu us per I/O, from fio's JSON on stdin (no jq needed).
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
		printf "%.0f %.1f\n", iops, cpu
	}'
}

for variant in "${variants[@]}"; do
	echo "== fio io_uring with: ${variant}"
	printf "%4s %12s %10s\n" QD IOPS "cpu/IO us"
	qd=1
	while [ "$qd" -le "$qd_max" ]; do
		# shellcheck disable=SC2086 # the variant is a list of flags
		out=$("$fio" --name=tame_micro --filename="$file" --size="$bytes" \
			--ioengine=io_uring --direct=1 --rw=randread --bs=4k \
			--iodepth="$qd" --numjobs=1 --time_based \
			--runtime="${runtime_ms}ms" --ramp_time=250ms \
			--norandommap --randrepeat=0 --output-format=json \
			$variant 2>&1) || {
			echo "fio failed at QD $qd: $(echo "$out" | head -c 300)"
			break
		}
		read -r iops cpu < <(echo "$out" | parse_fio)
		printf "%4d %12s %10s\n" "$qd" "$iops" "$cpu"
		qd=$((qd * 2))
	done
	echo
done
