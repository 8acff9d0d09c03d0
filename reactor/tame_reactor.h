/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TAME_REACTOR_H
#define TAME_REACTOR_H

/*
 * tamerocks reactor: one loop per OS thread that runs fibers from a FIFO run
 * queue, drives one io_uring, fires timers and takes work from other threads
 * through a bounded inbox.
 *
 * Threads: a reactor is created, run and destroyed by one OS thread, its
 * owner. tame_spawn, tame_wake and tame_reactor_stop may be called from any
 * thread. The fiber-facing calls (tame_park, tame_yield, tame_sleep_ns and
 * the tame_io_* family) act on the calling fiber; tame_io_* and
 * tame_sleep_ns called off a fiber perform the plain system call instead.
 *
 * Commands return >= 0 on success and -errno on failure.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "tame_fiber.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tame_reactor; /* opaque */
struct statx;

/* Defaults and limits, unit last. */
#define TAME_REACTOR_DEFAULT_RING_ENTRIES 256u
#define TAME_REACTOR_MAX_RING_ENTRIES 4096u
#define TAME_REACTOR_DEFAULT_INBOX_CAPACITY 4096u
#define TAME_REACTOR_MAX_INBOX_CAPACITY (1u << 20)
#define TAME_REACTOR_DEFAULT_SLICE_NS 500000ull
#define TAME_REACTOR_DEFAULT_IDLE_POLL_NS 50000ull
#define TAME_REACTOR_DEFAULT_SUBMIT_NS 50000ull
#define TAME_REACTOR_DEFAULT_SUBMIT_DEPTH 16u
#define TAME_REACTOR_DEFAULT_WAKE_BATCH 8u
#define TAME_REACTOR_MAX_WAKE_BATCH 4096u
#define TAME_REACTOR_DEFAULT_WAKE_WAIT_NS 50000ull
#define TAME_REACTOR_MAX_WAKE_WAIT_NS 1000000000ull
#define TAME_REACTOR_DEFAULT_READ_BUFFERS 64u
#define TAME_REACTOR_MAX_READ_BUFFERS 65536u
#define TAME_REACTOR_DEFAULT_READ_BUFFER_BYTES ((size_t)32 << 10)
#define TAME_REACTOR_MAX_READ_BUFFER_BYTES ((size_t)16 << 20)
#define TAME_REACTOR_MAX_READ_BUFFER_POOL_BYTES ((size_t)1 << 30)

/* tame_reactor_opts.flags */
/* If io_uring cannot be set up, run I/O as blocking system calls on the
 * reactor thread instead of failing tame_reactor_create. */
#define TAME_REACTOR_SYNC_FALLBACK (1u << 0)
/* Do not even try io_uring (tests, or a seccomp profile known to deny it). */
#define TAME_REACTOR_NO_IO_URING (1u << 1)
/* Time each io_uring operation a fiber waits for, in three stages (the
 * io_*_ns stats): queued in the SQ, in the kernel, and completed but waiting
 * for the reactor to run the fiber again. Costs three clock reads per
 * operation; off by default. */
#define TAME_REACTOR_TIME_IO (1u << 2)

struct tame_reactor_opts {
	const char *name;	  /* copied; for messages and fiber names */
	unsigned ring_entries;	  /* SQ entries, power of two, 1..MAX */
	unsigned max_inflight;	  /* I/O in flight, at most 2 * ring_entries - 1
				   * (one CQ slot stays free for the reactor's
				   * own eventfd read); 0 = that maximum */
	unsigned inbox_capacity;  /* cross-thread spawns queued, power of two */
	size_t stack_bytes;	  /* per fiber; 0 = TAME_FIBER_DEFAULT_STACK_BYTES */
	uint64_t slice_ns;	  /* cooperative preemption budget */
	uint64_t idle_poll_ns;	  /* busy-poll before sleeping; 0 = sleep now */
	unsigned flags;		  /* TAME_REACTOR_* */
	uint64_t submit_ns;	  /* while fibers run, hand queued SQEs to the
				   * kernel once the last enter is this old;
				   * 0 = after every fiber that queued one but
				   * the pass's last (the loop's enter follows) */
	unsigned submit_depth;	  /* ... and only while fewer than this many of
				   * the reactor's operations are in the kernel;
				   * 0 = never before the pass ends */
	bool submit_tune;	  /* now and then measure the pass with no depth
				   * limit (submit_ns alone) against it, and keep
				   * the one that completes more per second at
				   * about the same CPU (reactor/submit_tune.h);
				   * false = submit_depth always */
	unsigned read_buffers;	  /* buffers for direct reads (tame_io_read_direct),
				   * 0 = none; at most MAX_READ_BUFFERS */
	size_t read_buffer_bytes; /* each, a multiple of 4096, at most
				   * MAX_READ_BUFFER_BYTES; all of them together
				   * at most MAX_READ_BUFFER_POOL_BYTES */
	unsigned wake_batch;	  /* sleeping with K of its operations in the
				   * kernel, the reactor asks to be woken by
				   * min(wake_batch, K / 2) completions ... */
	uint64_t wake_wait_ns;	  /* ... or by the first once this long has
				   * passed (the kernel's min_wait, 6.12+;
				   * without it, or with wake_batch 1 or
				   * wake_wait_ns 0, by the first completion).
				   * wake_batch 1..MAX_WAKE_BATCH, wake_wait_ns
				   * at most MAX_WAKE_WAIT_NS */
};

/* Fill opts with the defaults above. */
void tame_reactor_opts_init(struct tame_reactor_opts *opts);

/*
 * Create a reactor owned by the calling thread. opts may be NULL for the
 * defaults. Returns 0 and sets *out, -EINVAL for an out-of-range option, or
 * the io_uring_setup error (-ENOSYS, -EPERM, ...) when the kernel refuses
 * io_uring and TAME_REACTOR_SYNC_FALLBACK is not set; a message saying why
 * and what to do is written to stderr in that case.
 */
int tame_reactor_create(const struct tame_reactor_opts *opts,
			struct tame_reactor **out);

enum tame_run_mode {
	TAME_RUN_UNTIL_STOPPED = 0, /* return after tame_reactor_stop */
	TAME_RUN_UNTIL_EMPTY = 1,   /* ... or once no fiber is left */
};

/*
 * Run the loop on the owner thread. Returns 0 when stopped (or empty, per
 * mode), -EPERM from another thread, -EBUSY if already running.
 */
int tame_reactor_run(struct tame_reactor *r, enum tame_run_mode mode);

/* Ask a running reactor to return from tame_reactor_run; any thread. */
void tame_reactor_stop(struct tame_reactor *r);

/*
 * Destroy a reactor that is not running; owner thread only. Fibers still
 * parked on it are discarded without unwinding.
 */
void tame_reactor_destroy(struct tame_reactor *r);

/* The reactor whose loop is running on this thread, or NULL. */
struct tame_reactor *tame_reactor_current(void);

/* "io_uring", "io_uring+single_issuer+defer_taskrun", "sync", ... */
const char *tame_reactor_backend(const struct tame_reactor *r);
bool tame_reactor_uses_io_uring(const struct tame_reactor *r);

struct tame_reactor_stats {
	uint64_t fibers_spawned;
	uint64_t fibers_exited;
	uint64_t fibers_live;
	uint64_t switches;	/* fiber resumes */
	uint64_t parks;
	uint64_t wakes_remote;	/* wakes from other threads that queued a
				 * parked fiber (a wake that only leaves a
				 * token is not counted) */
	uint64_t yields;
	uint64_t sqes_submitted;
	uint64_t cqes_reaped;
	uint64_t io_enters;	/* io_uring_enter calls (submit or wait) */
	uint64_t inbox_msgs;
	uint64_t inbox_full;	/* spawns refused with -EAGAIN */
	uint64_t timers_fired;
	uint64_t sleeps;	/* times the loop slept in the kernel */
	uint64_t loop_turns;
	uint64_t early_enters;	/* io_enters made while fibers ran (submit_ns) */
	/* submit_tune: windows measured, of them run with no depth limit,
	 * trials that reached a decision, decisions that changed it. */
	uint64_t submit_tune_windows;
	uint64_t submit_tune_open_windows;
	uint64_t submit_tune_trials;
	uint64_t submit_tune_changes;
	/* With TAME_REACTOR_TIME_IO, per io_uring operation a fiber waited for
	 * (tame_io_* reads, writes, syncs, ...; the eventfd and retries not
	 * counted separately), sums over io_timed operations: */
	uint64_t io_timed;
	uint64_t io_queued_ns;	/* queued -> handed to the kernel (io_uring_enter) */
	uint64_t io_kernel_ns;	/* handed to the kernel -> completion reaped */
	uint64_t io_resume_ns;	/* completion reaped -> its fiber running again */
	/* Direct reads on fibers (tame_io_read_direct*, their batches; an
	 * unaligned read counts once per aligned span it reads): through one
	 * of the reactor's read buffers, of them as IORING_OP_READ_FIXED
	 * (registered buffers), and not through them (larger than a buffer,
	 * all buffers in use, none: into the caller's memory, or for an
	 * unaligned span into memory allocated for it). */
	uint64_t read_buf_reads;
	uint64_t read_buf_fixed;
	uint64_t read_buf_bypassed;
	/* of those, unaligned spans read into memory allocated for them */
	uint64_t read_buf_allocated;
	/* Not this reactor's: operations in the kernel across all reactors
	 * of the process when read, the device queue submit_depth is
	 * compared with. */
	uint64_t io_in_kernel_all;
	/* sleeps that asked for more than one completion (wake_batch) */
	uint64_t batched_sleeps;
};

/* Snapshot the counters; any thread (values are individually atomic). */
void tame_reactor_get_stats(const struct tame_reactor *r,
			    struct tame_reactor_stats *out);

/*
 * Start fn(arg) on a new fiber of r. From r's owner thread the fiber is
 * queued directly; from any other thread the request travels through r's
 * bounded inbox. Returns 0, -EAGAIN when the inbox is full, -ENOMEM, or
 * -ESHUTDOWN once r is being destroyed.
 */
int tame_spawn(struct tame_reactor *r, tame_fiber_fn fn, void *arg);

/*
 * Park / wake. tame_park suspends the calling fiber until tame_wake(self).
 * A wake is a token: one that arrives before the park (even while the park
 * is still switching away) makes that park return at once; wakes do not
 * accumulate beyond one token. Callers re-check their condition after a
 * park returns. tame_wake may be called from any thread, including threads
 * that are not fibers; f must be alive (parked or running).
 */
void tame_park(void);
void tame_wake(struct tame_fiber *f);

/*
 * Park until woken or until the CLOCK_MONOTONIC deadline passes. Returns 0
 * when woken, -ETIMEDOUT when the deadline passed first.
 */
int tame_park_until(uint64_t deadline_ns);

/* Move the calling fiber to the back of the run queue. Off a fiber:
 * sched_yield(). */
void tame_yield(void);

/* Sleep at least ns; parks a fiber, nanosleeps a plain thread. Returns 0. */
int tame_sleep_ns(uint64_t ns);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t tame_now_ns(void);

/*
 * Cooperative preemption: true once the calling fiber has run for longer
 * than its reactor's slice_ns since it was last resumed (measured from its
 * first tame_should_yield call in that slice). tame_maybe_yield yields then.
 * The clock is not read on every call: the calls' own pace sets how many go
 * unread (at most TAME_SHOULD_YIELD_SKIP_MAX in a row), so that the end of
 * the slice is seen within about an eighth of a slice while the pace holds.
 */
#define TAME_SHOULD_YIELD_SKIP_MAX 16
bool tame_should_yield(void);
void tame_maybe_yield(void);

/* The calling fiber's reactor, or NULL off a fiber. */
struct tame_reactor *tame_fiber_reactor(void);

/*
 * No-yield sections: between enter and exit, on this thread, nothing parks
 * or yields. port/'s locks, waits and sleeps block the OS thread instead, and
 * tame_io_* run as plain system calls, so no other fiber of the thread runs
 * inside the section. tame_yield returns at once. Sections nest; any thread;
 * a thread-local counter; an exit without an enter is ignored. (A fiber cannot switch inside a section, so the
 * counter is per thread.)
 */
void tame_noyield_enter(void);
void tame_noyield_exit(void);

/* True on a reactor fiber outside any no-yield section: a blocking call made
 * now would park instead of blocking the thread. */
bool tame_can_park(void);

/*
 * Fiber-facing I/O. On a fiber of a reactor with io_uring, each call
 * prepares one SQE, parks the fiber until its CQE and returns the CQE's
 * result; -EINTR and -EAGAIN are resubmitted internally. Off a fiber (or on
 * a reactor running the sync fallback) the same call is the plain system
 * call. Results: >= 0 as the system call, or -errno. Reads and writes may be
 * short, exactly as pread/pwrite.
 */
ssize_t tame_io_read(int fd, void *buf, size_t len, off_t off);
ssize_t tame_io_write(int fd, const void *buf, size_t len, off_t off);
ssize_t tame_io_readv(int fd, const struct iovec *iov, int iovcnt, off_t off);
ssize_t tame_io_writev(int fd, const struct iovec *iov, int iovcnt,
		       off_t off);
/*
 * A read of a file opened without O_DIRECT. On a fiber it first tries
 * preadv2(RWF_NOWAIT), which copies what the page cache holds and never
 * blocks; only a read that would block (-EAGAIN) goes through io_uring, so
 * a cache hit costs no ring round trip and no park. May return fewer bytes
 * than asked, as pread does. Off a fiber: pread. Never use it on an
 * O_DIRECT descriptor: a direct preadv2 waits for the device. On a fiber
 * that used up its slice it yields first (tame_maybe_yield), as does
 * tame_io_write_buffered: both can finish without parking.
 */
ssize_t tame_io_read_buffered(int fd, void *buf, size_t len, off_t off);

/*
 * A write to a file opened without O_DIRECT, for callers that prefer a
 * short inline copy into the page cache to a hop through io_uring's worker
 * threads. On a fiber it first tries pwritev2(RWF_NOWAIT), which never
 * blocks; if the write would block (-EAGAIN) it goes through io_uring as
 * tame_io_write does. File systems without non-blocking buffered writes
 * (ext4 answers -EOPNOTSUPP) would have io_uring punt every such write to
 * a worker thread, so there the write is done inline with pwrite, as the
 * default RocksDB Env does on its own thread. *nowait caches what the file
 * system supports (start it at 0; it becomes 1 or -1). Off a fiber: pwrite.
 */
ssize_t tame_io_write_buffered(int fd, const void *buf, size_t len, off_t off, int *nowait);

int tame_io_fsync(int fd);
int tame_io_fdatasync(int fd);
int tame_io_sync_file_range(int fd, off_t off, off_t len, unsigned flags);
int tame_io_fallocate(int fd, int mode, off_t off, off_t len);
/* posix_fadvise's advice for [off, off + len) (len 0: to the end). */
int tame_io_fadvise(int fd, off_t off, off_t len, int advice);
int tame_io_openat(int dirfd, const char *path, int flags, mode_t mode);
int tame_io_statx(int dirfd, const char *path, int flags, unsigned mask,
		  struct statx *out);
int tame_io_close(int fd);
int tame_io_renameat(int olddirfd, const char *oldpath, int newdirfd,
		     const char *newpath, unsigned flags);
int tame_io_unlinkat(int dirfd, const char *path, int flags);
int tame_io_mkdirat(int dirfd, const char *path, mode_t mode);
int tame_io_linkat(int olddirfd, const char *oldpath, int newdirfd,
		   const char *newpath, int flags);

/*
 * A read of a file opened with O_DIRECT (offset, length and, without read
 * buffers, the buffer aligned as the file requires). On a fiber, a read of
 * at most read_buffer_bytes lands in one of the reactor's read buffers and
 * is copied to buf: the device then writes into a small set of pages that
 * stay pinned, registered with io_uring when the kernel allows it
 * (IORING_OP_READ_FIXED: no page pinning per read), instead of into memory
 * the caller allocated for this read. Larger reads, reads while every
 * buffer is in use and reactors without buffers read into buf as
 * tame_io_read does. The buffers are set up on the reactor's first direct
 * read; if io_uring refuses to register them (RLIMIT_MEMLOCK), they are
 * used unregistered and a message says so once per process. Off a fiber:
 * pread.
 */
ssize_t tame_io_read_direct(int fd, void *buf, size_t len, off_t off);

/*
 * Reads len bytes at off from an O_DIRECT fd into buf, none of which need be
 * aligned: the align-aligned span around them is read into a read buffer of
 * the reactor (or, when none is free or the span is larger, into an aligned
 * buffer allocated for this read; off a fiber with pread) and the requested
 * bytes copied to buf. align: the file's direct-I/O alignment, a power of
 * two. Returns the bytes read, fewer only at EOF, or -errno.
 */
ssize_t tame_io_read_direct_unaligned(int fd, void *buf, size_t len, off_t off, size_t align);

/* How a reactor's read buffers are set up. */
enum tame_read_buffers_mode {
	TAME_READ_BUFFERS_NONE = 0,	    /* none (yet): opts.read_buffers 0, no
					     * direct read so far, or setup failed */
	TAME_READ_BUFFERS_REGISTERED = 1,   /* registered: IORING_OP_READ_FIXED */
	TAME_READ_BUFFERS_UNREGISTERED = 2, /* io_uring refused to register them */
};
enum tame_read_buffers_mode tame_reactor_read_buffers(const struct tame_reactor *r);

/* One read of a batch: the caller fills fd..off, tame_io_read_batch sets
 * res to the bytes read or -errno. */
struct tame_io_read_req {
	int fd;
	void *buf;
	size_t len;
	off_t off;
	ssize_t res;
};

/*
 * Submit all n reads at once and wait for every one of them; a fiber parks
 * once. Off a fiber the reads go through a small io_uring of the calling
 * thread's own (64 at a time; created on its first batch, released at
 * thread exit), or one after another where io_uring is unavailable; a fiber
 * of a reactor on the sync fallback reads one after another. Returns n,
 * -EINVAL or -ENOMEM.
 */
int tame_io_read_batch(struct tame_io_read_req *reqs, size_t n);

/* tame_io_read_batch for O_DIRECT files: on a fiber, reads that fit go
 * through the reactor's read buffers as tame_io_read_direct's do. */
int tame_io_read_batch_direct(struct tame_io_read_req *reqs, size_t n);

/*
 * tame_io_read_batch for an O_DIRECT file and requests none of whose
 * offsets, lengths or buffers need be aligned: each request's aligned span
 * is read as tame_io_read_direct_unaligned reads it, all of them at once.
 * A member's res is its bytes read (fewer only at EOF or when longer than
 * 1 GiB) or -errno. Returns n, -EINVAL or -ENOMEM.
 */
int tame_io_read_batch_direct_unaligned(struct tame_io_read_req *reqs, size_t n, size_t align);

#ifdef __cplusplus
}
#endif

#endif /* TAME_REACTOR_H */
