// SPDX-License-Identifier: Apache-2.0
#ifndef TAME_URI_H
#define TAME_URI_H

// URI syntax, for both --env_uri and --fs_uri:
//
//   tamerocks://                      all defaults
//   tamerocks://key:value,key:value   options (Env only; see below)
//
// RocksDB hands the whole string to the factory only when it contains no
// '=': a value with '=' is parsed by Customizable as an option map
// ("id=...;opt=...") before any factory sees it, which is why options use
// ':' and ','. Do not use '=' or ';'.
//
// Env options (each at most once):
//   fg_reactors:N    0..256. N > 0: StartThread bodies are fibers spread
//                    round-robin over N shared reactor threads (db_bench
//                    --threads=64 becomes 64 fibers). 0: every StartThread
//                    gets its own reactor thread. Default: one per online
//                    CPU when port/ is active (libtamerocks.so preloaded or linked ahead of
//                    libc, and RocksDB's thread-locals made fiber-local),
//                    else 0. N > 0 without an active port/ is refused:
//                    RocksDB's locks would block the shared thread.
//   bg_reactors:N    1..1024, default 64: cap on reactor threads per
//                    background priority (SetBackgroundThreads is clamped).
//   ring_entries:N   io_uring SQ entries per reactor, power of two,
//                    1..4096, default 256.
//   stack_bytes:N    fiber stack, 16384..67108864, default 262144.
//   slice_us:N       cooperative preemption budget, 1..10000000, default 500.
//   idle_poll_us:N   0..1000000, default 50: how long an idle reactor
//                    busy-polls its ring before sleeping in the kernel
//                    (0 sleeps at once; polling burns a CPU).
//   submit_us:N      0..1000000, default 50: while a reactor runs its ready
//                    fibers, reads and writes they queued go to the kernel
//                    once its last io_uring_enter is this old, instead of at
//                    the end of the pass (0: after every fiber that queued
//                    one but the pass's last, whose SQEs go with the enter
//                    that ends the pass; larger: fewer system calls,
//                    burstier device queue).
//   submit_depth:N   0..1000000, default 16: ... and only while fewer than
//                    N of the reactor's operations are in the kernel; with
//                    N or more the device has work, and the pass's reads
//                    go together with the enter that ends it: one plugged
//                    batch, one doorbell, instead of several (0: never
//                    before the pass ends; a large N: whenever submit_us
//                    allows). A fast device that drains N reads in less
//                    than a pass wants a larger N: see submit_tune.
//   submit_tune:B    true (default) | false: every 32 windows of at least
//                    20 ms and 1,024 completions, each reactor runs 6
//                    windows alternating submit_depth with no depth limit
//                    (submit_us alone), and keeps no limit while it
//                    completes 10 % more per second at no more than 5 %
//                    more CPU per completion of its thread (to keep it:
//                    3 % and 10 %); otherwise submit_depth
//                    (reactor/submit_tune.h). false: submit_depth always.
//   wake_batch:N     1..4096, default 8: a reactor with nothing to run
//                    and K of its operations in the kernel sleeps until
//                    min(N, K / 2) of them complete, or until one has and
//                    wake_wait_us have passed: one wake-up and one batch of
//                    new reads for several completions, instead of one per
//                    completion (1: wake at the first, as before). Needs
//                    the kernel's min_wait (Linux 6.12); without it the
//                    reactor wakes at the first completion.
//   wake_wait_us:N   0..1000000, default 50: the longest a completion waits
//                    for the others; a wake from another thread (a mutex,
//                    a condvar, a spawn) may wait as long while the
//                    reactor sleeps with 4 or more operations in the
//                    kernel (0: no batching).
//   read_buffers:N   0..65536, default 64: buffers per reactor for direct
//                    reads (use_direct_reads) made on its fibers; 0: none.
//                    A read that fits lands in one of them and is copied
//                    out, so the device writes into a few pinned pages,
//                    registered with io_uring where the kernel allows
//                    (RLIMIT_MEMLOCK), instead of into a fresh buffer each
//                    read. Set up on a reactor's first direct read.
//   read_buffer_kib:N  4..16384, a multiple of 4, default 32: bytes of each
//                    read buffer; larger reads go straight to RocksDB's
//                    buffer. read_buffers x read_buffer_kib <= 1 GiB.
//   sync_fallback:B  true (default) | false: when io_uring cannot be set up,
//                    run I/O as blocking system calls instead of failing.
//   io_uring:B       true (default) | false: false never tries io_uring;
//                    needs sync_fallback:true.
//   stats:B          false (default) | true: time every io_uring operation
//                    a fiber waits for (three clock reads each) and, when a
//                    reactor of the Env is destroyed, write one line of its
//                    counters to stderr: fibers resumed, operations, enters,
//                    sleeps, and per operation the mean time queued, in the
//                    kernel and completed-but-waiting for the reactor
//                    (the figures to tune submit_us, submit_depth and
//                    fg_reactors with), and what submit_tune chose.
//   align_direct_reads:B  true (default) | false: a file RocksDB opens for
//                    random access with use_direct_reads (SST and blob
//                    reads) still reads with O_DIRECT, past the page cache,
//                    but tells RocksDB it needs no alignment
//                    (use_direct_io() false) and aligns each read itself:
//                    the aligned span lands in a read buffer (or a buffer
//                    allocated for it) and the bytes asked for are copied
//                    to RocksDB's buffer. RocksDB then reads a block
//                    straight into the memory it keeps for it, where it
//                    would otherwise allocate an aligned buffer per read,
//                    copy the block out and free it. false: RocksDB aligns
//                    (use_direct_io() true), as with the default Env.
// The FileSystem URI (--fs_uri) takes only align_direct_reads. An unknown
// key, a malformed value or an impossible combination is an
// InvalidArgument naming the key.

#include <cstddef>
#include <cstdint>
#include <string>

#include <rocksdb/status.h>

namespace tamerocks
{

constexpr const char *kUriScheme = "tamerocks";
constexpr const char *kUriSeparator = "://";

struct TameEnvOptions {
	unsigned fg_reactors = 0;
	bool fg_reactors_given = false; // false: decided by PortReady()
	unsigned bg_reactors = 64;
	unsigned ring_entries = 256;
	size_t stack_bytes = 256 * 1024;
	uint64_t slice_us = 500;
	uint64_t idle_poll_us = 50;
	uint64_t submit_us = 50;
	unsigned submit_depth = 16;
	bool submit_tune = true;
	unsigned wake_batch = 8;
	uint64_t wake_wait_us = 50;
	unsigned read_buffers = 64;
	unsigned read_buffer_kib = 32;
	bool sync_fallback = true;
	bool io_uring = true;
	bool stats = false;
	bool align_direct_reads = true;
};

// What a FileSystem URI may carry.
struct TameFsOptions {
	bool align_direct_reads = true;
};

// Parse an Env URI ("tamerocks://..."). OK or InvalidArgument naming the key.
rocksdb::Status ParseEnvUri(const std::string &uri, TameEnvOptions *out);

// Parse a FileSystem URI: "tamerocks://" or
// "tamerocks://align_direct_reads:B". OK or InvalidArgument naming the key.
rocksdb::Status ParseFsUri(const std::string &uri, TameFsOptions *out);

} // namespace tamerocks

#endif // TAME_URI_H
