#!/usr/bin/env bash
# Installs what tamerocks builds with, from Debian 12's archive: only the
# packages that are missing. Sourced by demo.sh and test.sh.
set -euo pipefail

TAME_PACKAGES=(cmake make gcc g++ pkg-config liburing-dev libboost-context-dev
	libgtest-dev libgmock-dev libbenchmark-dev librocksdb-dev rocksdb-tools fio valgrind)

tame_install_missing() {
	local missing=() p
	for p in "${TAME_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "tamerocks: installing ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

# tame_build DIR BUILD_TYPE [extra cmake args...]
tame_build() {
	local dir=$1 type=$2
	shift 2
	cmake -S "$TAME_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
}

TAME_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
