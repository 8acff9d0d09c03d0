/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TAME_REACTOR_INTERNAL_H
#define TAME_REACTOR_INTERNAL_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>

#include "submit_tune.h"
#include "tame_reactor.h"

#define TAME_TLS_IE __attribute__((tls_model("initial-exec")))

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Wake token states of a task (see tame_park / tame_wake). */
enum { WAKE_EMPTY = 0, WAKE_NOTIFIED = 1, WAKE_PARKED = 2 };

/* Per-fiber scheduler state, kept in the fiber's owner area. */
struct tame_task {
	struct tame_reactor *reactor;
	struct tame_fiber *fiber;
	struct tame_task *next;		/* run queue or wait queue link */
	struct tame_task *remote_next;	/* remote wake stack link */
	struct tame_task *live_prev;
	struct tame_task *live_next;
	atomic_int wake_state;
	bool timed_out;
	tame_fiber_fn fn;
	void *arg;
	/* The preemption check (tame_should_yield): when this slice started
	 * (0: at the next check), the last clock reading, the checks since
	 * it, and how many more checks go without reading the clock. */
	uint64_t slice_start_ns;
	uint64_t slice_read_ns;
	uint32_t slice_checks;
	uint32_t slice_skip;
};

struct tame_taskq {
	struct tame_task *head;
	struct tame_task *tail;
};

static inline void taskq_push(struct tame_taskq *q, struct tame_task *t)
{
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
}

static inline struct tame_task *taskq_pop(struct tame_taskq *q)
{
	struct tame_task *t = q->head;

	if (t) {
		q->head = t->next;
		if (!q->head)
			q->tail = NULL;
	}
	return t;
}

/* timer.c: a binary min-heap of deadlines. */
struct tame_timer {
	uint64_t deadline_ns;
	size_t index; /* position in the heap, TIMER_NONE when not queued */
	struct tame_task *task;
};
#define TIMER_NONE ((size_t)-1)

struct tame_timer_heap {
	struct tame_timer **v;
	size_t len;
	size_t cap;
};

int timer_heap_push(struct tame_timer_heap *h, struct tame_timer *t);
void timer_heap_remove(struct tame_timer_heap *h, struct tame_timer *t);
struct tame_timer *timer_heap_top(const struct tame_timer_heap *h);
void timer_heap_free(struct tame_timer_heap *h);

/* inbox.c: bounded lock-free MPSC queue of spawn requests (Vyukov). */
struct inbox_cell {
	atomic_size_t seq;
	tame_fiber_fn fn;
	void *arg;
};

struct tame_inbox {
	struct inbox_cell *cells;
	size_t mask;
	_Alignas(64) atomic_size_t tail; /* producers */
	_Alignas(64) size_t head;	  /* the owner thread only */
};

int inbox_init(struct tame_inbox *q, size_t capacity);
void inbox_free(struct tame_inbox *q);
bool inbox_push(struct tame_inbox *q, tame_fiber_fn fn, void *arg);
bool inbox_pop(struct tame_inbox *q, tame_fiber_fn *fn, void **arg);
bool inbox_empty(const struct tame_inbox *q);

/* io.c */
enum io_kind {
	IO_READ, IO_WRITE, IO_READV, IO_WRITEV, IO_FSYNC, IO_FDATASYNC,
	IO_SYNC_FILE_RANGE, IO_FALLOCATE, IO_OPENAT, IO_STATX, IO_CLOSE,
	IO_RENAMEAT, IO_UNLINKAT, IO_MKDIRAT, IO_LINKAT, IO_EVENTFD,
	IO_READ_FIXED, IO_FADVISE, IO_KIND_COUNT
};

struct io_batch {
	unsigned pending;
	struct tame_task *task;
};

struct io_waiter {
	struct tame_task *task;
	struct io_waiter *next;
	bool woken;
};

/* One operation in flight: user_data of its SQE points here. */
struct io_op {
	uint8_t kind;
	uint16_t retries;
	int res;
	int rbuf_slot; /* read buffer of a direct read, RBUF_BOUNCE, or -1 */
	unsigned skip; /* unaligned direct read: where the request starts in the span */
	struct io_batch *batch;
	struct io_op *retry_next;
	int fd;
	int fd2;
	const void *p1; /* buffer, iovec or path */
	const void *p2; /* second path or statx buffer */
	uint64_t len;
	uint64_t off;
	unsigned flags;
	unsigned mode;
	/* TAME_REACTOR_TIME_IO only: when queued, handed over, reaped. */
	uint64_t t_queued, t_submitted, t_reaped;
};

#define STAT_INC(r, field)                                                       \
	atomic_store_explicit(&(r)->stats.field,                                  \
			      atomic_load_explicit(&(r)->stats.field,              \
						   memory_order_relaxed) + 1,     \
			      memory_order_relaxed)
#define STAT_SET(r, field, v)                                                    \
	atomic_store_explicit(&(r)->stats.field, (v), memory_order_relaxed)
#define STAT_ADD(r, field, n)                                                    \
	atomic_store_explicit(&(r)->stats.field,                                  \
			      atomic_load_explicit(&(r)->stats.field,              \
						   memory_order_relaxed) + (n),   \
			      memory_order_relaxed)

struct reactor_stats {
	atomic_uint_least64_t fibers_spawned, fibers_exited, fibers_live,
		switches, parks, wakes_remote, yields, sqes_submitted,
		cqes_reaped, io_enters, inbox_msgs, inbox_full, timers_fired,
		sleeps, loop_turns, early_enters, batched_sleeps, io_timed, io_queued_ns,
		io_kernel_ns, io_resume_ns, read_buf_reads, read_buf_fixed,
		read_buf_bypassed, read_buf_allocated, submit_tune_windows,
		submit_tune_open_windows, submit_tune_trials, submit_tune_changes;
};

struct tame_reactor {
	char name[32];
	struct tame_reactor_opts opts;
	pthread_t owner;
	bool running;
	atomic_bool stop_requested;
	atomic_bool destroying;
	atomic_int sleeping;
	int efd;

	bool have_ring;
	struct io_uring ring;
	bool op_supported[IO_KIND_COUNT];
	bool min_wait; /* the kernel takes min_wait_usec (wake_batch) */
	char backend[96];
	unsigned inflight;
	unsigned in_kernel_published; /* this reactor's part of io_in_kernel_all */
	uint64_t last_enter_ns; /* io_submit_early: when the kernel last saw the SQ */
	unsigned gate_depth;	/* io_submit_early's depth in force: opts.submit_depth,
				 * or UINT_MAX while submit_tune has the gate open */
	/* submit_tune (opts.submit_tune): the window being measured began at
	 * these completions (stats.cqes_reaped), clock and thread CPU time. */
	struct submit_tune tune;
	uint64_t tune_ops0, tune_ns0, tune_cpu_ns0;
	struct io_op efd_op;
	uint64_t efd_value;
	bool efd_armed;
	struct io_op *retry_head;
	struct io_waiter *io_wait_head; /* fibers waiting for an in-flight slot */
	struct io_waiter *io_wait_tail;
	/* Read buffers (tame_io_read_direct): one mapping of read_buffers
	 * slots of read_buffer_bytes, set up on the first direct read; a
	 * stack of free slot numbers. */
	int rbuf_mode;		/* enum tame_read_buffers_mode */
	bool rbuf_tried;
	char *rbuf_base;
	size_t rbuf_map_bytes;
	unsigned *rbuf_free;
	unsigned rbuf_nfree;

	struct tame_taskq runq;
	_Alignas(64) _Atomic(struct tame_task *) remote_wakes;
	struct tame_inbox inbox;
	struct tame_timer_heap timers;
	struct tame_task *live;
	uint64_t nlive;
	struct reactor_stats stats;
	/* The thread's own fiber-local values while run_ready's batch runs. */
	unsigned char fls_save[TAME_FLS_MAX_BYTES];
};

/* The reactor whose loop runs on this thread and the task it is running. */
extern __thread struct tame_reactor *tame_reactor_tls_ TAME_TLS_IE;
extern __thread struct tame_task *tame_task_tls_ TAME_TLS_IE;
extern __thread int tame_noyield_depth_ TAME_TLS_IE;

/* The calling fiber's task if it may park now (see tame_can_park). */
static inline struct tame_task *parkable_task(void)
{
	return tame_noyield_depth_ ? NULL : tame_task_tls_;
}

/* reactor.c internals used by io.c */
void reactor_enqueue(struct tame_reactor *r, struct tame_task *t);

/* io.c internals used by reactor.c */
int io_ring_setup(struct tame_reactor *r);
void io_ring_teardown(struct tame_reactor *r);
void io_read_buffers_free(struct tame_reactor *r);
void io_arm_eventfd(struct tame_reactor *r);
void io_flush_retries(struct tame_reactor *r);
unsigned io_reap(struct tame_reactor *r);
void io_submit(struct tame_reactor *r, bool get_events);
void io_submit_early(struct tame_reactor *r);
bool io_busy(struct tame_reactor *r);
uint64_t io_in_kernel_total(void);
int io_wait(struct tame_reactor *r, uint64_t timeout_ns);

#endif /* TAME_REACTOR_INTERNAL_H */
