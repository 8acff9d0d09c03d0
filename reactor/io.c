/* SPDX-License-Identifier: Apache-2.0 */
/*
 * io_uring for fibers. A call prepares one SQE whose user_data is an io_op
 * on the fiber's stack, parks the fiber and returns the CQE's result. SQEs
 * are submitted by the loop once per turn; completions are peeked in
 * batches, the CQ is advanced, and only then are the fibers woken.
 * -EAGAIN/-EINTR are resubmitted here; every other result is returned.
 * In-flight operations are bounded by max_inflight, so the CQ never
 * overflows; a full SQ is flushed and the SQE taken again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <valgrind/valgrind.h>

#include "reactor_internal.h"

/* Linux 6.12: io_uring_getevents_arg's pad is min_wait_usec. liburing 2.3
 * predates both. */
#define FEAT_MIN_TIMEOUT (1U << 15)
#define IO_RETRY_LIMIT 1000
#define IO_REAP_BATCH 64
/* The kernel caps one read/write at about 2 GiB; SQE lengths are 32 bits. */
#define IO_MAX_RW_BYTES ((size_t)1 << 30)

static const uint8_t io_opcode[IO_KIND_COUNT] = {
	[IO_READ] = IORING_OP_READ,
	[IO_WRITE] = IORING_OP_WRITE,
	[IO_READV] = IORING_OP_READV,
	[IO_WRITEV] = IORING_OP_WRITEV,
	[IO_FSYNC] = IORING_OP_FSYNC,
	[IO_FDATASYNC] = IORING_OP_FSYNC,
	[IO_SYNC_FILE_RANGE] = IORING_OP_SYNC_FILE_RANGE,
	[IO_FALLOCATE] = IORING_OP_FALLOCATE,
	[IO_OPENAT] = IORING_OP_OPENAT,
	[IO_STATX] = IORING_OP_STATX,
	[IO_CLOSE] = IORING_OP_CLOSE,
	[IO_RENAMEAT] = IORING_OP_RENAMEAT,
	[IO_UNLINKAT] = IORING_OP_UNLINKAT,
	[IO_MKDIRAT] = IORING_OP_MKDIRAT,
	[IO_LINKAT] = IORING_OP_LINKAT,
	[IO_EVENTFD] = IORING_OP_READ,
	[IO_READ_FIXED] = IORING_OP_READ_FIXED,
	[IO_FADVISE] = IORING_OP_FADVISE,
};

/*
 * Operations in the kernel, summed over all of this process's reactors: the
 * queue of the device(s) they share, which io_submit_early compares with
 * submit_depth. Each reactor adds the change in its own count after every
 * reap, and before it sleeps in an enter that submits.
 */
static atomic_long io_in_kernel_all;

static void publish_in_kernel(struct tame_reactor *r, unsigned n)
{
	if (n == r->in_kernel_published)
		return;
	atomic_fetch_add_explicit(&io_in_kernel_all, (long)n - (long)r->in_kernel_published,
				  memory_order_relaxed);
	r->in_kernel_published = n;
}

uint64_t io_in_kernel_total(void)
{
	long n = atomic_load_explicit(&io_in_kernel_all, memory_order_relaxed);

	return n > 0 ? (uint64_t)n : 0;
}

/* In flight counts queued SQEs too (and an op waiting to be retried, which
 * is neither; the reactor's eventfd read is not counted). */
static unsigned in_kernel(struct tame_reactor *r, unsigned queued)
{
	return r->inflight > queued ? r->inflight - queued : 0;
}

/* --- setup ---------------------------------------------------------------- */

static void read_sysctl(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	snprintf(buf, len, "n/a");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static void explain_no_uring(const struct tame_reactor *r, int err, bool falling_back)
{
	char disabled[16];

	read_sysctl("/proc/sys/kernel/io_uring_disabled", disabled, sizeof(disabled));
	fprintf(stderr,
		"tamerocks: reactor '%s': io_uring_setup failed: %s "
		"(kernel.io_uring_disabled=%s). tamerocks needs io_uring: Linux >= 5.6, "
		"not disabled by sysctl (set kernel.io_uring_disabled=0), not denied "
		"by a seccomp profile or container runtime, and enough RLIMIT_MEMLOCK "
		"on kernels before 5.12.%s\n",
		r->name, strerror(-err), disabled,
		falling_back ? " Falling back to blocking system calls on the reactor "
			       "thread (TAME_REACTOR_SYNC_FALLBACK): correct, but every "
			       "file operation now blocks the reactor."
			     : " To run anyway with blocking system calls, allow the "
			       "synchronous fallback (TAME_REACTOR_SYNC_FALLBACK).");
}

static int ring_init(struct tame_reactor *r, unsigned *flags_out)
{
	static const unsigned attempts[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = attempts[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = 2 * r->opts.ring_entries;
		ret = io_uring_queue_init_params(r->opts.ring_entries, &r->ring, &p);
		if (ret == 0) {
			*flags_out = attempts[i];
			return 0;
		}
		if (ret != -EINVAL) /* EINVAL: flags unknown to this kernel */
			break;
	}
	return ret;
}

static void probe_ops(struct tame_reactor *r)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(&r->ring);

	for (int k = 0; k < IO_KIND_COUNT; k++)
		r->op_supported[k] = probe && io_uring_opcode_supported(probe, io_opcode[k]);
	if (probe)
		io_uring_free_probe(probe);
}

int io_ring_setup(struct tame_reactor *r)
{
	bool fallback_ok = r->opts.flags & TAME_REACTOR_SYNC_FALLBACK;
	unsigned flags = 0;
	int ret;

	snprintf(r->backend, sizeof(r->backend), "sync");
	r->efd_op.kind = IO_EVENTFD;
	if (r->opts.flags & TAME_REACTOR_NO_IO_URING) {
		if (fallback_ok)
			return 0;
		fprintf(stderr, "tamerocks: reactor '%s': TAME_REACTOR_NO_IO_URING needs "
				"TAME_REACTOR_SYNC_FALLBACK: without io_uring there is no "
				"other way to do I/O\n", r->name);
		return -EINVAL;
	}
	/*
	 * valgrind (3.19, Debian 12) runs one thread at a time and does not
	 * let go of its lock while a thread waits in io_uring_enter: a reactor
	 * waiting for a completion another thread must cause (an eventfd
	 * write, a pipe) then hangs the whole process.
	 */
	if (RUNNING_ON_VALGRIND) {
		fprintf(stderr, "tamerocks: reactor '%s': running under valgrind, which "
				"hangs a thread waiting in io_uring_enter: %s\n", r->name,
			fallback_ok ? "using blocking system calls instead of io_uring"
				    : "refusing to start (allow the synchronous fallback, "
				      "TAME_REACTOR_SYNC_FALLBACK, to run under valgrind)");
		return fallback_ok ? 0 : -EOPNOTSUPP;
	}
	ret = ring_init(r, &flags);
	if (ret == 0) {
		probe_ops(r);
		if (!r->op_supported[IO_READ]) {
			io_uring_queue_exit(&r->ring);
			ret = -EOPNOTSUPP; /* pre-5.6 ring: no IORING_OP_READ */
		}
	}
	if (ret < 0) {
		explain_no_uring(r, ret, fallback_ok);
		return fallback_ok ? 0 : ret;
	}
	r->have_ring = true;
	r->min_wait = r->ring.features & FEAT_MIN_TIMEOUT;
	snprintf(r->backend, sizeof(r->backend), "io_uring%s%s%s%s",
		 flags & IORING_SETUP_SINGLE_ISSUER ? "+single_issuer" : "",
		 flags & IORING_SETUP_DEFER_TASKRUN ? "+defer_taskrun" : "",
		 flags & IORING_SETUP_COOP_TASKRUN ? "+coop_taskrun" : "",
		 r->min_wait ? "+min_wait" : "");
	return 0;
}

void io_ring_teardown(struct tame_reactor *r)
{
	if (!r->have_ring)
		return;
	if (r->efd_armed) {
		/* Complete our own eventfd read so no buffer is left in flight. */
		uint64_t one = 1;

		if (write(r->efd, &one, sizeof(one)) == sizeof(one))
			while (r->efd_armed)
				io_wait(r, 1000000);
	}
	publish_in_kernel(r, 0);
	io_uring_queue_exit(&r->ring);
	r->have_ring = false;
}

/* --- submission and completion -------------------------------------------- */

static void prep(struct io_uring_sqe *sqe, struct io_op *op)
{
	void *p1 = (void *)op->p1;
	void *p2 = (void *)op->p2;

	switch (op->kind) {
	case IO_READ:
	case IO_EVENTFD:
		io_uring_prep_read(sqe, op->fd, p1, (unsigned)op->len, op->off);
		break;
	case IO_WRITE:
		io_uring_prep_write(sqe, op->fd, p1, (unsigned)op->len, op->off);
		break;
	case IO_READ_FIXED: /* the reactor's read buffers: registered buffer 0 */
		io_uring_prep_read_fixed(sqe, op->fd, p1, (unsigned)op->len, op->off, 0);
		break;
	case IO_READV:
		io_uring_prep_readv(sqe, op->fd, p1, (unsigned)op->len, op->off);
		break;
	case IO_WRITEV:
		io_uring_prep_writev(sqe, op->fd, p1, (unsigned)op->len, op->off);
		break;
	case IO_FSYNC:
		io_uring_prep_fsync(sqe, op->fd, 0);
		break;
	case IO_FDATASYNC:
		io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
		break;
	case IO_SYNC_FILE_RANGE:
		io_uring_prep_sync_file_range(sqe, op->fd, (unsigned)op->len, op->off,
					      (int)op->flags);
		break;
	case IO_FADVISE:
		io_uring_prep_fadvise(sqe, op->fd, op->off, (off_t)op->len, (int)op->mode);
		break;
	case IO_FALLOCATE:
		io_uring_prep_fallocate(sqe, op->fd, (int)op->mode, (off_t)op->off,
					(off_t)op->len);
		break;
	case IO_OPENAT:
		io_uring_prep_openat(sqe, op->fd, p1, (int)op->flags, op->mode);
		break;
	case IO_STATX:
		io_uring_prep_statx(sqe, op->fd, p1, (int)op->flags, op->mode, p2);
		break;
	case IO_CLOSE:
		io_uring_prep_close(sqe, op->fd);
		break;
	case IO_RENAMEAT:
		io_uring_prep_renameat(sqe, op->fd, p1, op->fd2, p2, op->flags);
		break;
	case IO_UNLINKAT:
		io_uring_prep_unlinkat(sqe, op->fd, p1, (int)op->flags);
		break;
	case IO_MKDIRAT:
		io_uring_prep_mkdirat(sqe, op->fd, p1, op->mode);
		break;
	case IO_LINKAT:
		io_uring_prep_linkat(sqe, op->fd, p1, op->fd2, p2, (int)op->flags);
		break;
	}
	io_uring_sqe_set_data(sqe, op);
}

static bool timing_io(const struct tame_reactor *r)
{
	return r->opts.flags & TAME_REACTOR_TIME_IO;
}

/* TAME_REACTOR_TIME_IO: the SQEs not yet handed to the kernel are about to
 * be; stamp their operations. */
static void stamp_submitted(struct tame_reactor *r)
{
	uint64_t now = tame_now_ns();

	for (unsigned i = r->ring.sq.sqe_head; i != r->ring.sq.sqe_tail; i++) {
		struct io_uring_sqe *sqe = &r->ring.sq.sqes[i & r->ring.sq.ring_mask];
		struct io_op *op = (struct io_op *)(uintptr_t)sqe->user_data;

		if (op && sqe->user_data != LIBURING_UDATA_TIMEOUT)
			op->t_submitted = now;
	}
}

/* TAME_REACTOR_TIME_IO: the fiber that waited for ops[0..n) runs again. */
static void time_done(struct tame_reactor *r, const struct io_op *ops, size_t n)
{
	uint64_t now = tame_now_ns(), queued = 0, kernel = 0, resume = 0, timed = 0;

	for (size_t i = 0; i < n; i++) {
		if (!ops[i].t_queued) /* never queued: a batch member refused early */
			continue;
		timed++;
		queued += ops[i].t_submitted - ops[i].t_queued;
		kernel += ops[i].t_reaped - ops[i].t_submitted;
		resume += now - ops[i].t_reaped;
	}
	STAT_ADD(r, io_timed, timed);
	STAT_ADD(r, io_queued_ns, queued);
	STAT_ADD(r, io_kernel_ns, kernel);
	STAT_ADD(r, io_resume_ns, resume);
}

bool io_busy(struct tame_reactor *r)
{
	return r->have_ring && (r->inflight || io_uring_sq_ready(&r->ring));
}

void io_submit(struct tame_reactor *r, bool get_events)
{
	unsigned before;

	if (!r->have_ring)
		return;
	before = io_uring_sq_ready(&r->ring);
	if (timing_io(r))
		stamp_submitted(r);
	/* Errors (-EINTR, -EAGAIN, -EBUSY) leave the SQEs queued for the next
	 * turn; nothing is lost. */
	if (get_events)
		io_uring_submit_and_get_events(&r->ring);
	else
		io_uring_submit(&r->ring);
	r->last_enter_ns = tame_now_ns();
	STAT_INC(r, io_enters);
	STAT_ADD(r, sqes_submitted, before - io_uring_sq_ready(&r->ring));
}

/*
 * Called between two fibers of one pass over the run queue. A pass can be
 * long (64 fibers each running microseconds of RocksDB code after their
 * reads completed); holding its SQEs back until it ends would let the
 * device's queue drain and then refill it in one burst. So once the last
 * enter is submit_ns old, queued SQEs go to the kernel now, and the
 * completions that enter posts wake their fibers for the next pass.
 *
 * But only while the device's queue is short: with submit_depth or more
 * operations already in the kernel it has work for the rest of the pass,
 * and an early enter would only cut the pass's reads into more, smaller
 * batches. Each batch costs the kernel a dispatch and the virtual disk a
 * doorbell (a VM exit), and one or two reads are not even plugged; held
 * until the pass ends they go as one. The operations counted are those of
 * every reactor of the process: two reactors reading one disk each see the
 * other's reads keep it busy.
 */
void io_submit_early(struct tame_reactor *r)
{
	if (!r->have_ring || !io_uring_sq_ready(&r->ring))
		return;
	/* Checked before the clock: with a long device queue, every fiber of
	 * a pass ends here, and needs no clock read to be told so. */
	if (io_in_kernel_total() >= r->gate_depth)
		return;
	if (tame_now_ns() - r->last_enter_ns < r->opts.submit_ns)
		return;
	STAT_INC(r, early_enters);
	io_submit(r, true);
	io_reap(r);
}

/* Take an SQE; a full SQ is flushed to the kernel first. */
static struct io_uring_sqe *sqe_get(struct tame_reactor *r)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&r->ring))) {
		io_submit(r, true);
		io_reap(r);
	}
	return sqe;
}

static void wake_io_waiter(struct tame_reactor *r)
{
	struct io_waiter *w = r->io_wait_head;

	if (!w)
		return;
	r->io_wait_head = w->next;
	if (!r->io_wait_head)
		r->io_wait_tail = NULL;
	w->woken = true;
	tame_wake(w->task->fiber);
}

static void complete(struct tame_reactor *r, struct io_op *op, int res, uint64_t now)
{
	if (op->kind == IO_EVENTFD) {
		r->efd_armed = false;
		return;
	}
	if ((res == -EAGAIN || res == -EINTR) && op->retries < IO_RETRY_LIMIT) {
		op->retries++;
		op->retry_next = r->retry_head;
		r->retry_head = op;
		return;
	}
	r->inflight--;
	op->res = res;
	op->t_reaped = now;
	if (--op->batch->pending == 0)
		tame_wake(op->batch->task->fiber);
	wake_io_waiter(r);
}

unsigned io_reap(struct tame_reactor *r)
{
	struct io_uring_cqe *cqes[IO_REAP_BATCH];
	struct io_op *ops[IO_REAP_BATCH];
	int res[IO_REAP_BATCH];
	unsigned total = 0, n;
	uint64_t now;

	if (!r->have_ring)
		return 0;
	while ((n = io_uring_peek_batch_cqe(&r->ring, cqes, IO_REAP_BATCH)) > 0) {
		unsigned k = 0;

		for (unsigned i = 0; i < n; i++) {
			if (cqes[i]->user_data == LIBURING_UDATA_TIMEOUT)
				continue;
			ops[k] = io_uring_cqe_get_data(cqes[i]);
			res[k++] = cqes[i]->res;
		}
		io_uring_cq_advance(&r->ring, n);
		now = timing_io(r) ? tame_now_ns() : 0;
		for (unsigned i = 0; i < k; i++)
			complete(r, ops[i], res[i], now);
		STAT_ADD(r, cqes_reaped, k);
		total += n;
	}
	publish_in_kernel(r, in_kernel(r, io_uring_sq_ready(&r->ring)));
	return total;
}

void io_flush_retries(struct tame_reactor *r)
{
	while (r->retry_head) {
		struct io_op *op = r->retry_head;

		r->retry_head = op->retry_next;
		prep(sqe_get(r), op);
	}
}

void io_arm_eventfd(struct tame_reactor *r)
{
	if (r->efd_armed)
		return;
	r->efd_op.fd = r->efd;
	r->efd_op.p1 = &r->efd_value;
	r->efd_op.len = sizeof(r->efd_value);
	r->efd_op.off = 0;
	prep(sqe_get(r), &r->efd_op);
	r->efd_armed = true;
}

/*
 * How many completions a sleep with n operations in the kernel waits for
 * (wake_batch): half of them at most, so that a few reads in flight are
 * never held back for one another.
 */
static unsigned wake_nr(const struct tame_reactor *r, unsigned n)
{
	unsigned want = n / 2 < r->opts.wake_batch ? n / 2 : r->opts.wake_batch;

	if (!r->min_wait || !r->opts.wake_wait_ns || want < 2)
		return 1;
	return want;
}

/*
 * Submit the SQ and sleep until nr completions, or the first one once
 * wake_wait_ns have passed (the kernel's min_wait: IORING_FEAT_MIN_TIMEOUT,
 * Linux 6.12), or *ts. liburing 2.3 cannot pass min_wait_usec (the pad of
 * its io_uring_getevents_arg), hence the direct system call, with the SQ
 * tail published as liburing's __io_uring_flush_sq does. Without a timer
 * due, an hour stands for no timeout (the loop then sleeps again). Returns
 * the enter's result: -ETIME and -EINTR are ordinary wake-ups.
 */
static int enter_batched(struct tame_reactor *r, unsigned nr, struct __kernel_timespec *ts)
{
	struct io_uring_sq *sq = &r->ring.sq;
	struct __kernel_timespec forever = {.tv_sec = 3600};
	struct io_uring_getevents_arg arg = {
		.pad = (__u32)((r->opts.wake_wait_ns + 999) / 1000),
		.ts = (__u64)(uintptr_t)(ts ? ts : &forever),
	};
	unsigned tail = sq->sqe_tail;
	long ret;

	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		io_uring_smp_store_release(sq->ktail, tail);
	}
	ret = syscall(__NR_io_uring_enter, r->ring.ring_fd, tail - io_uring_smp_load_acquire(sq->khead),
		      nr, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
	return ret < 0 ? -errno : (int)ret;
}

int io_wait(struct tame_reactor *r, uint64_t timeout_ns)
{
	struct __kernel_timespec kts;
	struct timespec ts;
	bool timed = timeout_ns != UINT64_MAX;

	if (timed) {
		kts.tv_sec = (long long)(timeout_ns / 1000000000ull);
		kts.tv_nsec = (long long)(timeout_ns % 1000000000ull);
		ts.tv_sec = (time_t)kts.tv_sec;
		ts.tv_nsec = (long)kts.tv_nsec;
	}
	if (r->have_ring) {
		struct io_uring_cqe *cqe;
		unsigned before, nr;

		io_arm_eventfd(r);
		/* Arming may have flushed a full SQ and reaped completions that
		 * made a fiber runnable: then there is nothing to wait for. */
		if (r->runq.head) {
			io_submit(r, true);
			io_reap(r);
			return 0;
		}
		before = io_uring_sq_ready(&r->ring);
		if (timing_io(r))
			stamp_submitted(r);
		/* Others see this sleeping reactor's reads as in the kernel. */
		publish_in_kernel(r, in_kernel(r, 0));
		nr = wake_nr(r, in_kernel(r, 0));
		if (nr > 1) {
			/* Counted before the sleep: another thread reading the
			 * stats sees the reactor asleep for a batch. */
			STAT_INC(r, batched_sleeps);
			if (enter_batched(r, nr, timed ? &kts : NULL) == -EINVAL) {
				/* Not the min_wait this kernel advertised: wake
				 * at the first completion from now on. */
				r->min_wait = false;
				nr = 1;
			}
		}
		if (nr == 1)
			io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, timed ? &kts : NULL, NULL);
		r->last_enter_ns = tame_now_ns();
		STAT_INC(r, io_enters);
		STAT_ADD(r, sqes_submitted, before - io_uring_sq_ready(&r->ring));
		io_reap(r);
	} else {
		struct pollfd pfd = {.fd = r->efd, .events = POLLIN};

		if (ppoll(&pfd, 1, timed ? &ts : NULL, NULL) > 0 && (pfd.revents & POLLIN)) {
			if (read(r->efd, &r->efd_value, sizeof(r->efd_value)) < 0)
				return -errno;
		}
	}
	return 0;
}

/* --- the fiber-facing calls ----------------------------------------------- */

/* The calling fiber's reactor if this operation can go through its ring. */
static struct tame_reactor *ring_for(enum io_kind kind)
{
	struct tame_task *t = parkable_task();

	if (!t || !t->reactor->have_ring || !t->reactor->op_supported[kind])
		return NULL;
	return t->reactor;
}

/* Queue op as one SQE, waiting for an in-flight slot if all are taken. */
static void io_queue(struct tame_reactor *r, struct io_op *op)
{
	while (r->inflight >= r->opts.max_inflight) {
		struct io_waiter w = {.task = tame_task_tls_};

		if (r->io_wait_tail)
			r->io_wait_tail->next = &w;
		else
			r->io_wait_head = &w;
		r->io_wait_tail = &w;
		while (!w.woken)
			tame_park();
	}
	r->inflight++;
	if (timing_io(r))
		op->t_queued = tame_now_ns();
	prep(sqe_get(r), op);
}

static int io_run(struct tame_reactor *r, struct io_op *op)
{
	struct io_batch b = {.pending = 1, .task = tame_task_tls_};

	op->batch = &b;
	io_queue(r, op);
	while (b.pending)
		tame_park();
	if (timing_io(r))
		time_done(r, op, 1);
	return op->res;
}

static size_t clamp_rw(size_t len)
{
	return len > IO_MAX_RW_BYTES ? IO_MAX_RW_BYTES : len;
}

#define SYS_RETRY(expr)                                   \
	({                                                \
		long _r;                                  \
		do {                                      \
			_r = (long)(expr);                \
		} while (_r < 0 && errno == EINTR);       \
		_r < 0 ? -errno : _r;                     \
	})

ssize_t tame_io_read(int fd, void *buf, size_t len, off_t off)
{
	struct tame_reactor *r = ring_for(IO_READ);
	struct io_op op = {.kind = IO_READ, .fd = fd, .p1 = buf, .len = clamp_rw(len), .off = (uint64_t)off};

	if (!r)
		return SYS_RETRY(pread(fd, buf, len, off));
	return io_run(r, &op);
}

/* --- read buffers (tame_io_read_direct) ----------------------------------- */

static atomic_bool rbuf_warned;

/*
 * On the reactor's first direct read: one populated mapping of all slots,
 * registered as one fixed buffer. IORING_REGISTER_BUFFERS2 (5.13) never
 * waits for in-flight requests to drain, which the reactor's own thread,
 * the only one that can reap them, could not afford. If the kernel
 * refuses, the slots are still used, unregistered.
 */
static void rbuf_setup(struct tame_reactor *r)
{
	size_t bytes = (size_t)r->opts.read_buffers * r->opts.read_buffer_bytes;
	struct iovec iov;
	__u64 tag = 0;
	int ret;

	r->rbuf_tried = true;
	r->rbuf_free = malloc(r->opts.read_buffers * sizeof(*r->rbuf_free));
	if (!r->rbuf_free)
		return;
	r->rbuf_base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (r->rbuf_base == MAP_FAILED) {
		r->rbuf_base = NULL;
		free(r->rbuf_free);
		r->rbuf_free = NULL;
		return;
	}
	r->rbuf_map_bytes = bytes;
	for (unsigned i = 0; i < r->opts.read_buffers; i++)
		r->rbuf_free[i] = r->opts.read_buffers - 1 - i;
	r->rbuf_nfree = r->opts.read_buffers;
	iov = (struct iovec){.iov_base = r->rbuf_base, .iov_len = bytes};
	ret = r->op_supported[IO_READ_FIXED]
		      ? io_uring_register_buffers_tags(&r->ring, &iov, &tag, 1)
		      : -EOPNOTSUPP;
	if (ret == 0) {
		r->rbuf_mode = TAME_READ_BUFFERS_REGISTERED;
		return;
	}
	r->rbuf_mode = TAME_READ_BUFFERS_UNREGISTERED;
	if (!atomic_exchange(&rbuf_warned, true))
		fprintf(stderr,
			"tamerocks: reactor '%s': io_uring did not register its %zu KiB of read "
			"buffers: %s; direct reads use them unregistered (their pages pinned per "
			"read).%s (Said once per process.)\n",
			r->name, bytes >> 10, strerror(-ret),
			ret == -ENOMEM ? " Raise RLIMIT_MEMLOCK (ulimit -l) to hold the read "
					 "buffers of every reactor, or lower read_buffers."
				       : "");
}

void io_read_buffers_free(struct tame_reactor *r)
{
	if (r->rbuf_base)
		munmap(r->rbuf_base, r->rbuf_map_bytes);
	free(r->rbuf_free);
	r->rbuf_base = NULL;
	r->rbuf_free = NULL;
	r->rbuf_nfree = 0;
	r->rbuf_mode = TAME_READ_BUFFERS_NONE;
}

/* A free read buffer for a direct read of len bytes, or -1 (then the read
 * goes to the caller's memory). op reads into it on success. */
static int rbuf_take(struct tame_reactor *r, size_t len, struct io_op *op)
{
	unsigned slot;

	if (r->opts.read_buffers && len <= r->opts.read_buffer_bytes && !r->rbuf_tried)
		rbuf_setup(r);
	if (!r->rbuf_nfree || len > r->opts.read_buffer_bytes) {
		STAT_INC(r, read_buf_bypassed);
		return -1;
	}
	slot = r->rbuf_free[--r->rbuf_nfree];
	op->p1 = r->rbuf_base + (size_t)slot * r->opts.read_buffer_bytes;
	if (r->rbuf_mode == TAME_READ_BUFFERS_REGISTERED) {
		op->kind = IO_READ_FIXED;
		STAT_INC(r, read_buf_fixed);
	}
	STAT_INC(r, read_buf_reads);
	return (int)slot;
}

/* --- unaligned direct reads (tame_io_read_direct_unaligned) --------------- */

/* rbuf_slot of an op that reads into a buffer allocated for it (in p1). */
#define RBUF_BOUNCE (-2)

static bool align_ok(size_t align)
{
	return align && !(align & (align - 1)) && align <= IO_MAX_RW_BYTES / 2;
}

/*
 * Point op at the aligned span around the len bytes at pos, for buf: op->off
 * and op->len the span (at most IO_MAX_RW_BYTES; a longer request is read in
 * parts by the caller), op->skip where the request starts in it, and op->p1
 * a read buffer of r if one is free and large enough, else buf itself when
 * the request is the span and buf is aligned (RocksDB's prefetch buffers
 * are), else a buffer allocated for this read. Returns 0 or -ENOMEM.
 */
static int span_prep(struct tame_reactor *r, struct io_op *op, void *buf, uint64_t pos,
			 size_t len, size_t align)
{
	uint64_t start = pos & ~(uint64_t)(align - 1);
	size_t skip = (size_t)(pos - start);
	size_t want = len < IO_MAX_RW_BYTES - align ? len : IO_MAX_RW_BYTES - align;
	size_t span = (skip + want + align - 1) & ~(align - 1);
	void *bounce;

	op->kind = IO_READ;
	op->off = start;
	op->len = span;
	op->skip = (unsigned)skip;
	op->rbuf_slot = r ? rbuf_take(r, span, op) : -1;
	if (op->rbuf_slot < 0 && !skip && span == want && !((uintptr_t)buf & (align - 1))) {
		op->p1 = buf;
	} else if (op->rbuf_slot < 0) {
		if (posix_memalign(&bounce, align, span))
			return -ENOMEM;
		if (r)
			STAT_INC(r, read_buf_allocated);
		op->p1 = bounce;
		op->rbuf_slot = RBUF_BOUNCE;
	}
	return 0;
}

/* The read of op is done (res: its bytes or -errno): what it read from
 * op->skip on, at most len bytes, to buf unless it read into buf; a read
 * buffer or allocated span given back. Every direct read ends here. Returns
 * the bytes for buf (fewer than asked at EOF) or -errno. */
static ssize_t span_finish(struct tame_reactor *r, struct io_op *op, ssize_t res, void *buf,
			   size_t len)
{
	const char *span = op->rbuf_slot >= 0
				   ? r->rbuf_base + (size_t)op->rbuf_slot * r->opts.read_buffer_bytes
				   : op->p1;
	size_t got = 0;

	if (res > (ssize_t)op->skip) {
		got = (size_t)res - op->skip < len ? (size_t)res - op->skip : len;
		if (span != buf)
			memcpy(buf, span + op->skip, got);
	}
	if (op->rbuf_slot >= 0)
		r->rbuf_free[r->rbuf_nfree++] = (unsigned)op->rbuf_slot;
	else if (op->rbuf_slot == RBUF_BOUNCE)
		free((void *)op->p1);
	op->rbuf_slot = -1;
	return res < 0 ? res : (ssize_t)got;
}

/* One op on the stack, not read_batch's array of them: this is every Get's
 * read, on fiber stacks that may be as small as TAME_FIBER_MIN_STACK_BYTES. */
ssize_t tame_io_read_direct(int fd, void *buf, size_t len, off_t off)
{
	struct tame_reactor *r = ring_for(IO_READ);
	struct io_op op = {.kind = IO_READ, .fd = fd, .p1 = buf, .len = clamp_rw(len), .off = (uint64_t)off};

	if (!r)
		return SYS_RETRY(pread(fd, buf, len, off));
	op.rbuf_slot = rbuf_take(r, len, &op);
	return span_finish(r, &op, io_run(r, &op), buf, len);
}

ssize_t tame_io_read_direct_unaligned(int fd, void *buf, size_t len, off_t off, size_t align)
{
	struct tame_reactor *r = ring_for(IO_READ);
	size_t got = 0;

	if (off < 0 || !align_ok(align))
		return -EINVAL;
	while (got < len) {
		struct io_op op = {.fd = fd};
		int rc = span_prep(r, &op, (char *)buf + got, (uint64_t)off + got, len - got, align);
		ssize_t raw, res;

		if (rc < 0)
			return rc;
		raw = r ? io_run(r, &op) : SYS_RETRY(pread(fd, (void *)op.p1, op.len, (off_t)op.off));
		res = span_finish(r, &op, raw, (char *)buf + got, len - got);
		if (res == -EINTR)
			continue;
		if (res < 0)
			return res;
		got += (size_t)res;
		/* EOF: nothing, or a span cut short off the alignment (only the
		 * file's end does that; a short aligned span reads on). */
		if (res == 0 || ((size_t)raw < op.len && (size_t)raw % align))
			break;
	}
	return (ssize_t)got;
}

enum tame_read_buffers_mode tame_reactor_read_buffers(const struct tame_reactor *r)
{
	return (enum tame_read_buffers_mode)r->rbuf_mode;
}

ssize_t tame_io_write(int fd, const void *buf, size_t len, off_t off)
{
	struct tame_reactor *r = ring_for(IO_WRITE);
	struct io_op op = {.kind = IO_WRITE, .fd = fd, .p1 = buf, .len = clamp_rw(len), .off = (uint64_t)off};

	if (!r)
		return SYS_RETRY(pwrite(fd, buf, len, off));
	return io_run(r, &op);
}

ssize_t tame_io_read_buffered(int fd, void *buf, size_t len, off_t off)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct tame_reactor *r;
	ssize_t ret;

	/* These two may finish without parking (page-cache hit, RWF_NOWAIT):
	 * a preemption point, so a fiber that never waits on I/O cannot keep
	 * its reactor past its slice. */
	tame_maybe_yield();
	r = ring_for(IO_READ);

	if (!r)
		return SYS_RETRY(pread(fd, buf, len, off));
	ret = SYS_RETRY(preadv2(fd, &iov, 1, off, RWF_NOWAIT));
	if (ret != -EAGAIN && ret != -EOPNOTSUPP)
		return ret;
	return tame_io_read(fd, buf, len, off);
}

ssize_t tame_io_write_buffered(int fd, const void *buf, size_t len, off_t off, int *nowait)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct tame_reactor *r;
	ssize_t ret;

	tame_maybe_yield(); /* a preemption point, as in tame_io_read_buffered */
	r = ring_for(IO_WRITE);

	if (!r || *nowait < 0)
		return SYS_RETRY(pwrite(fd, buf, len, off));
	ret = SYS_RETRY(pwritev2(fd, &iov, 1, off, RWF_NOWAIT));
	if (ret >= 0) {
		*nowait = 1;
		return ret;
	}
	if (ret == -EOPNOTSUPP) {
		*nowait = -1;
		return SYS_RETRY(pwrite(fd, buf, len, off));
	}
	if (ret != -EAGAIN)
		return ret;
	return tame_io_write(fd, buf, len, off);
}

ssize_t tame_io_readv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	struct tame_reactor *r = ring_for(IO_READV);
	struct io_op op = {.kind = IO_READV, .fd = fd, .p1 = iov, .len = (uint64_t)iovcnt, .off = (uint64_t)off};

	if (iovcnt < 0)
		return -EINVAL;
	if (!r)
		return SYS_RETRY(preadv(fd, iov, iovcnt, off));
	return io_run(r, &op);
}

ssize_t tame_io_writev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	struct tame_reactor *r = ring_for(IO_WRITEV);
	struct io_op op = {.kind = IO_WRITEV, .fd = fd, .p1 = iov, .len = (uint64_t)iovcnt, .off = (uint64_t)off};

	if (iovcnt < 0)
		return -EINVAL;
	if (!r)
		return SYS_RETRY(pwritev(fd, iov, iovcnt, off));
	return io_run(r, &op);
}

int tame_io_fsync(int fd)
{
	struct tame_reactor *r = ring_for(IO_FSYNC);
	struct io_op op = {.kind = IO_FSYNC, .fd = fd};

	if (!r)
		return (int)SYS_RETRY(fsync(fd));
	return io_run(r, &op);
}

int tame_io_fdatasync(int fd)
{
	struct tame_reactor *r = ring_for(IO_FDATASYNC);
	struct io_op op = {.kind = IO_FDATASYNC, .fd = fd};

	if (!r)
		return (int)SYS_RETRY(fdatasync(fd));
	return io_run(r, &op);
}

int tame_io_sync_file_range(int fd, off_t off, off_t len, unsigned flags)
{
	struct tame_reactor *r = ring_for(IO_SYNC_FILE_RANGE);
	struct io_op op = {.kind = IO_SYNC_FILE_RANGE, .fd = fd, .len = (uint64_t)len,
			   .off = (uint64_t)off, .flags = flags};

	/* The SQE carries a 32-bit length. */
	if (!r || len < 0 || (uint64_t)len > UINT32_MAX)
		return (int)SYS_RETRY(sync_file_range(fd, off, len, flags));
	return io_run(r, &op);
}

int tame_io_fallocate(int fd, int mode, off_t off, off_t len)
{
	struct tame_reactor *r = ring_for(IO_FALLOCATE);
	struct io_op op = {.kind = IO_FALLOCATE, .fd = fd, .mode = (unsigned)mode,
			   .off = (uint64_t)off, .len = (uint64_t)len};

	if (!r)
		return (int)SYS_RETRY(fallocate(fd, mode, off, len));
	return io_run(r, &op);
}

int tame_io_fadvise(int fd, off_t off, off_t len, int advice)
{
	struct tame_reactor *r = ring_for(IO_FADVISE);
	struct io_op op = {.kind = IO_FADVISE, .fd = fd, .off = (uint64_t)off,
			   .len = (uint64_t)len, .mode = (unsigned)advice};

	/* The SQE carries a 32-bit length; posix_fadvise returns the errno. */
	if (!r || off < 0 || len < 0 || (uint64_t)len > UINT32_MAX)
		return -posix_fadvise(fd, off, len, advice);
	return io_run(r, &op);
}

int tame_io_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	struct tame_reactor *r = ring_for(IO_OPENAT);
	struct io_op op = {.kind = IO_OPENAT, .fd = dirfd, .p1 = path, .flags = (unsigned)flags,
			   .mode = mode};

	if (!r)
		return (int)SYS_RETRY(openat(dirfd, path, flags, mode));
	return io_run(r, &op);
}

int tame_io_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out)
{
	struct tame_reactor *r = ring_for(IO_STATX);
	struct io_op op = {.kind = IO_STATX, .fd = dirfd, .p1 = path, .p2 = out,
			   .flags = (unsigned)flags, .mode = mask};

	if (!r)
		return (int)SYS_RETRY(statx(dirfd, path, flags, mask, out));
	return io_run(r, &op);
}

int tame_io_close(int fd)
{
	struct tame_reactor *r = ring_for(IO_CLOSE);
	struct io_op op = {.kind = IO_CLOSE, .fd = fd};

	/* close() is never retried: Linux releases the fd even on EINTR. */
	if (!r)
		return close(fd) < 0 ? -errno : 0;
	return io_run(r, &op);
}

int tame_io_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
		     unsigned flags)
{
	struct tame_reactor *r = ring_for(IO_RENAMEAT);
	struct io_op op = {.kind = IO_RENAMEAT, .fd = olddirfd, .p1 = oldpath, .fd2 = newdirfd,
			   .p2 = newpath, .flags = flags};

	if (!r)
		return (int)SYS_RETRY(renameat2(olddirfd, oldpath, newdirfd, newpath, flags));
	return io_run(r, &op);
}

int tame_io_unlinkat(int dirfd, const char *path, int flags)
{
	struct tame_reactor *r = ring_for(IO_UNLINKAT);
	struct io_op op = {.kind = IO_UNLINKAT, .fd = dirfd, .p1 = path, .flags = (unsigned)flags};

	if (!r)
		return (int)SYS_RETRY(unlinkat(dirfd, path, flags));
	return io_run(r, &op);
}

int tame_io_mkdirat(int dirfd, const char *path, mode_t mode)
{
	struct tame_reactor *r = ring_for(IO_MKDIRAT);
	struct io_op op = {.kind = IO_MKDIRAT, .fd = dirfd, .p1 = path, .mode = mode};

	if (!r)
		return (int)SYS_RETRY(mkdirat(dirfd, path, mode));
	return io_run(r, &op);
}

int tame_io_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
		   int flags)
{
	struct tame_reactor *r = ring_for(IO_LINKAT);
	struct io_op op = {.kind = IO_LINKAT, .fd = olddirfd, .p1 = oldpath, .fd2 = newdirfd,
			   .p2 = newpath, .flags = (unsigned)flags};

	if (!r)
		return (int)SYS_RETRY(linkat(olddirfd, oldpath, newdirfd, newpath, flags));
	return io_run(r, &op);
}

/* Above this many reads, the op array comes from the heap, not the stack. */
#define IO_BATCH_STACK_OPS 64
/* A plain thread's own ring for read batches (MultiGet from OS threads). */
#define THREAD_RING_ENTRIES 64

static pthread_key_t thread_ring_key;
static pthread_once_t thread_ring_once = PTHREAD_ONCE_INIT;
static __thread struct io_uring *thread_ring TAME_TLS_IE;
static __thread bool thread_ring_failed TAME_TLS_IE;

static void thread_ring_release(void *ring)
{
	io_uring_queue_exit(ring);
	free(ring);
}

static void thread_ring_key_init(void)
{
	pthread_key_create(&thread_ring_key, thread_ring_release);
}

/* Created on a thread's first batch; released when the thread exits. NULL
 * when this kernel refuses io_uring: the batch then reads serially. */
static struct io_uring *thread_ring_get(void)
{
	struct io_uring *ring;

	if (thread_ring || thread_ring_failed)
		return thread_ring;
	pthread_once(&thread_ring_once, thread_ring_key_init);
	ring = calloc(1, sizeof(*ring));
	if (!ring || io_uring_queue_init(THREAD_RING_ENTRIES, ring, 0) < 0) {
		free(ring);
		thread_ring_failed = true;
		return NULL;
	}
	pthread_setspecific(thread_ring_key, ring);
	thread_ring = ring;
	return ring;
}

static ssize_t read_one(const struct tame_io_read_req *q)
{
	return SYS_RETRY(pread(q->fd, q->buf, q->len, q->off));
}

/* Up to THREAD_RING_ENTRIES reads at once on the thread's ring, waiting
 * for all of them; a read the ring cannot take is done with pread. */
static void thread_batch(struct io_uring *ring, struct tame_io_read_req *reqs, size_t n)
{
	size_t queued = 0, done = 0;

	for (size_t i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

		if (!sqe) {
			reqs[i].res = read_one(&reqs[i]);
			continue;
		}
		io_uring_prep_read(sqe, reqs[i].fd, reqs[i].buf, (unsigned)clamp_rw(reqs[i].len),
				   (uint64_t)reqs[i].off);
		io_uring_sqe_set_data(sqe, &reqs[i]);
		queued++;
	}
	while (done < queued) {
		struct io_uring_cqe *cqe;
		int ret = io_uring_submit_and_wait(ring, 1);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			break;
		while (io_uring_peek_cqe(ring, &cqe) == 0) {
			struct tame_io_read_req *q = io_uring_cqe_get_data(cqe);

			q->res = cqe->res;
			if (q->res == -EAGAIN || q->res == -EINTR)
				q->res = read_one(q);
			io_uring_cqe_seen(ring, cqe);
			done++;
		}
	}
	/* Only a broken ring leaves reads behind: wait them out, then give up
	 * on the ring for this thread. */
	if (done < queued) {
		io_uring_queue_exit(ring);
		free(ring);
		pthread_setspecific(thread_ring_key, NULL);
		thread_ring = NULL;
		thread_ring_failed = true;
		for (size_t i = 0; i < n; i++)
			reqs[i].res = read_one(&reqs[i]);
	}
}

static void read_batch_off_fiber(struct tame_io_read_req *reqs, size_t n)
{
	struct io_uring *ring = n > 1 ? thread_ring_get() : NULL;

	if (!ring) {
		for (size_t i = 0; i < n; i++)
			reqs[i].res = read_one(&reqs[i]);
		return;
	}
	for (size_t i = 0; i < n; i += THREAD_RING_ENTRIES)
		thread_batch(ring, reqs + i, n - i < THREAD_RING_ENTRIES ? n - i : THREAD_RING_ENTRIES);
}

/* tame_io_read_batch_direct_unaligned without the reactor's ring: each
 * span into a buffer allocated for it, read as tame_io_read_batch would. A
 * member refused before reading keeps its error in its op's res. */
static int read_batch_unaligned_off_ring(struct tame_io_read_req *reqs, size_t n, size_t align)
{
	struct io_op *ops = calloc(n ? n : 1, sizeof(*ops));
	struct tame_io_read_req *spans = calloc(n ? n : 1, sizeof(*spans));
	size_t i;

	if (!ops || !spans) {
		free(ops);
		free(spans);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		ops[i].res = reqs[i].off < 0 ? -EINVAL
					     : span_prep(NULL, &ops[i], reqs[i].buf,
							 (uint64_t)reqs[i].off, reqs[i].len, align);
		/* a refused member reads nothing (and no descriptor) */
		spans[i] = ops[i].res < 0 ? (struct tame_io_read_req){.fd = -1}
					  : (struct tame_io_read_req){.fd = reqs[i].fd,
								      .buf = (void *)ops[i].p1,
								      .len = ops[i].len,
								      .off = (off_t)ops[i].off};
	}
	if (tame_task_tls_)
		for (i = 0; i < n; i++)
			spans[i].res = read_one(&spans[i]);
	else
		read_batch_off_fiber(spans, n);
	for (i = 0; i < n; i++)
		reqs[i].res = ops[i].res < 0 ? ops[i].res
					     : span_finish(NULL, &ops[i], spans[i].res, reqs[i].buf,
							   reqs[i].len);
	free(ops);
	free(spans);
	return (int)n;
}

/*
 * The batch reads. direct: O_DIRECT reads that fit take the reactor's read
 * buffers. align (unaligned direct reads): each member reads its aligned
 * span (span_prep). A member refused before it is queued (negative offset,
 * no memory for its span) has no batch and keeps its error in res.
 */
static int read_batch(struct tame_io_read_req *reqs, size_t n, bool direct, size_t align)
{
	struct tame_reactor *r = ring_for(IO_READ);
	struct io_op stack_ops[IO_BATCH_STACK_OPS], *ops = stack_ops;
	struct io_batch b;

	if ((!reqs && n) || n > INT32_MAX || (align && !align_ok(align)))
		return -EINVAL;
	if (!r && align)
		return read_batch_unaligned_off_ring(reqs, n, align);
	if (!r) {
		if (tame_task_tls_)
			for (size_t i = 0; i < n; i++)
				reqs[i].res = read_one(&reqs[i]);
		else
			read_batch_off_fiber(reqs, n);
		return (int)n;
	}
	if (n > IO_BATCH_STACK_OPS && !(ops = calloc(n, sizeof(*ops))))
		return -ENOMEM;
	b = (struct io_batch){.task = tame_task_tls_};
	for (size_t i = 0; i < n; i++) {
		ops[i] = (struct io_op){.kind = IO_READ, .fd = reqs[i].fd, .p1 = reqs[i].buf,
					.len = clamp_rw(reqs[i].len),
					.off = (uint64_t)reqs[i].off, .rbuf_slot = -1};
		if (align)
			ops[i].res = reqs[i].off < 0 ? -EINVAL
						     : span_prep(r, &ops[i], reqs[i].buf,
								 (uint64_t)reqs[i].off, reqs[i].len,
								 align);
		else if (direct)
			ops[i].rbuf_slot = rbuf_take(r, reqs[i].len, &ops[i]);
		if (ops[i].res < 0)
			continue;
		ops[i].batch = &b;
		b.pending++;
		io_queue(r, &ops[i]);
	}
	while (b.pending)
		tame_park();
	if (timing_io(r))
		time_done(r, ops, n);
	for (size_t i = 0; i < n; i++)
		reqs[i].res = ops[i].batch ? span_finish(r, &ops[i], ops[i].res, reqs[i].buf, reqs[i].len)
					   : ops[i].res;
	if (ops != stack_ops)
		free(ops);
	return (int)n;
}

int tame_io_read_batch(struct tame_io_read_req *reqs, size_t n)
{
	return read_batch(reqs, n, false, 0);
}

int tame_io_read_batch_direct(struct tame_io_read_req *reqs, size_t n)
{
	return read_batch(reqs, n, true, 0);
}

int tame_io_read_batch_direct_unaligned(struct tame_io_read_req *reqs, size_t n, size_t align)
{
	return read_batch(reqs, n, true, align);
}
