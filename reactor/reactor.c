/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reactor loop. Each turn: take remote wakes, take inbox spawns, fire
 * due timers, run the fibers that were runnable at the start of the turn,
 * then one io_uring_enter that submits this turn's SQEs and reaps what
 * completed. With nothing runnable it polls briefly, then sleeps in the
 * kernel until a completion, a timer or a message from another thread.
 *
 * Cross-thread wake-ups set `sleeping` before the last look at the queues
 * and producers read it after publishing (a Dekker pair, fenced on both
 * sides), so a sleeping reactor is woken by one eventfd write per sleep.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "reactor_internal.h"

__thread struct tame_reactor *tame_reactor_tls_ TAME_TLS_IE;
__thread struct tame_task *tame_task_tls_ TAME_TLS_IE;
__thread int tame_noyield_depth_ TAME_TLS_IE;

uint64_t tame_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tame_reactor_opts_init(struct tame_reactor_opts *o)
{
	*o = (struct tame_reactor_opts){
		.name = "reactor",
		.ring_entries = TAME_REACTOR_DEFAULT_RING_ENTRIES,
		.max_inflight = 0,
		.inbox_capacity = TAME_REACTOR_DEFAULT_INBOX_CAPACITY,
		.stack_bytes = TAME_FIBER_DEFAULT_STACK_BYTES,
		.slice_ns = TAME_REACTOR_DEFAULT_SLICE_NS,
		.idle_poll_ns = TAME_REACTOR_DEFAULT_IDLE_POLL_NS,
		.flags = 0,
		.submit_ns = TAME_REACTOR_DEFAULT_SUBMIT_NS,
		.submit_depth = TAME_REACTOR_DEFAULT_SUBMIT_DEPTH,
		.submit_tune = true,
		.read_buffers = TAME_REACTOR_DEFAULT_READ_BUFFERS,
		.read_buffer_bytes = TAME_REACTOR_DEFAULT_READ_BUFFER_BYTES,
		.wake_batch = TAME_REACTOR_DEFAULT_WAKE_BATCH,
		.wake_wait_ns = TAME_REACTOR_DEFAULT_WAKE_WAIT_NS,
	};
}

static bool is_pow2(unsigned v)
{
	return v && !(v & (v - 1));
}

static int check_opts(struct tame_reactor_opts *o)
{
	if (!is_pow2(o->ring_entries) || o->ring_entries > TAME_REACTOR_MAX_RING_ENTRIES)
		return -EINVAL;
	if (!o->max_inflight)
		o->max_inflight = 2 * o->ring_entries - 1;
	/* One CQ slot stays free for the eventfd read. */
	if (o->max_inflight > 2 * o->ring_entries - 1)
		return -EINVAL;
	if (!is_pow2(o->inbox_capacity) || o->inbox_capacity > TAME_REACTOR_MAX_INBOX_CAPACITY)
		return -EINVAL;
	if (!o->stack_bytes)
		o->stack_bytes = TAME_FIBER_DEFAULT_STACK_BYTES;
	if (o->stack_bytes < TAME_FIBER_MIN_STACK_BYTES || o->stack_bytes > ((size_t)1 << 30))
		return -EINVAL;
	if (!o->slice_ns)
		return -EINVAL;
	if (o->flags & ~(TAME_REACTOR_SYNC_FALLBACK | TAME_REACTOR_NO_IO_URING | TAME_REACTOR_TIME_IO))
		return -EINVAL;
	if (o->read_buffers > TAME_REACTOR_MAX_READ_BUFFERS)
		return -EINVAL;
	if (o->read_buffers &&
	    (!o->read_buffer_bytes || o->read_buffer_bytes % 4096 ||
	     o->read_buffer_bytes > TAME_REACTOR_MAX_READ_BUFFER_BYTES ||
	     o->read_buffer_bytes * o->read_buffers > TAME_REACTOR_MAX_READ_BUFFER_POOL_BYTES))
		return -EINVAL;
	if (!o->wake_batch || o->wake_batch > TAME_REACTOR_MAX_WAKE_BATCH ||
	    o->wake_wait_ns > TAME_REACTOR_MAX_WAKE_WAIT_NS)
		return -EINVAL;
	return 0;
}

int tame_reactor_create(const struct tame_reactor_opts *opts, struct tame_reactor **out)
{
	struct tame_reactor *r;
	int ret;

	if (!out)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (opts)
		r->opts = *opts;
	else
		tame_reactor_opts_init(&r->opts);
	ret = check_opts(&r->opts);
	if (ret < 0)
		goto err_free;
	snprintf(r->name, sizeof(r->name), "%s", r->opts.name ? r->opts.name : "reactor");
	r->opts.name = r->name;
	r->owner = pthread_self();
	r->gate_depth = r->opts.submit_depth;
	submit_tune_init(&r->tune);
	r->efd = eventfd(0, EFD_CLOEXEC);
	if (r->efd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = inbox_init(&r->inbox, r->opts.inbox_capacity);
	if (ret < 0)
		goto err_efd;
	ret = io_ring_setup(r);
	if (ret < 0)
		goto err_inbox;
	*out = r;
	return 0;

err_inbox:
	inbox_free(&r->inbox);
err_efd:
	close(r->efd);
err_free:
	free(r);
	return ret;
}

/* --- tasks ------------------------------------------------------------ */

static void task_main(void *unused)
{
	struct tame_task *t = tame_fiber_local(tame_fiber_self());

	(void)unused;
	t->fn(t->arg);
}

static int task_create(struct tame_reactor *r, tame_fiber_fn fn, void *arg)
{
	struct tame_fiber_attr attr = {
		.stack_bytes = r->opts.stack_bytes,
		.local_bytes = sizeof(struct tame_task),
	};
	char name[TAME_FIBER_NAME_BYTES];
	struct tame_fiber *f;
	struct tame_task *t;
	int ret;

	/* "<reactor>/<n>": an overflow report then says which reactor. */
	snprintf(name, sizeof(name), "%.18s/%llu", r->name,
		 (unsigned long long)atomic_load_explicit(&r->stats.fibers_spawned,
							  memory_order_relaxed) + 1);
	attr.name = name;

	ret = tame_fiber_create(&attr, task_main, NULL, &f);
	if (ret < 0)
		return ret;
	t = tame_fiber_local(f);
	t->reactor = r;
	t->fiber = f;
	t->fn = fn;
	t->arg = arg;
	atomic_init(&t->wake_state, WAKE_EMPTY);
	t->live_next = r->live;
	if (r->live)
		r->live->live_prev = t;
	r->live = t;
	r->nlive++;
	STAT_INC(r, fibers_spawned);
	STAT_INC(r, fibers_live);
	taskq_push(&r->runq, t);
	return 0;
}

static void task_release(struct tame_reactor *r, struct tame_task *t)
{
	if (t->live_prev)
		t->live_prev->live_next = t->live_next;
	else
		r->live = t->live_next;
	if (t->live_next)
		t->live_next->live_prev = t->live_prev;
	r->nlive--;
	atomic_store_explicit(&r->stats.fibers_live, r->nlive, memory_order_relaxed);
	tame_fiber_destroy(t->fiber);
}

static bool on_owner_thread(const struct tame_reactor *r)
{
	return pthread_equal(pthread_self(), r->owner);
}

/* Wake a sleeping reactor: at most one eventfd write per sleep. */
static void kick(struct tame_reactor *r)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->sleeping, memory_order_relaxed) &&
	    atomic_exchange_explicit(&r->sleeping, 0, memory_order_relaxed)) {
		uint64_t one = 1;

		if (write(r->efd, &one, sizeof(one)) < 0)
			abort(); /* an eventfd write fails only on misuse */
	}
}

int tame_spawn(struct tame_reactor *r, tame_fiber_fn fn, void *arg)
{
	if (!r || !fn)
		return -EINVAL;
	if (atomic_load_explicit(&r->destroying, memory_order_acquire))
		return -ESHUTDOWN;
	if (on_owner_thread(r))
		return task_create(r, fn, arg);
	if (!inbox_push(&r->inbox, fn, arg)) {
		atomic_fetch_add_explicit(&r->stats.inbox_full, 1, memory_order_relaxed);
		return -EAGAIN;
	}
	kick(r);
	return 0;
}

void reactor_enqueue(struct tame_reactor *r, struct tame_task *t)
{
	struct tame_task *head;

	if (tame_reactor_tls_ == r) {
		taskq_push(&r->runq, t);
		return;
	}
	head = atomic_load_explicit(&r->remote_wakes, memory_order_relaxed);
	do {
		t->remote_next = head;
	} while (!atomic_compare_exchange_weak_explicit(&r->remote_wakes, &head, t,
							memory_order_release,
							memory_order_relaxed));
	atomic_fetch_add_explicit(&r->stats.wakes_remote, 1, memory_order_relaxed);
	kick(r);
}

/* --- park / wake -------------------------------------------------------- */

static struct tame_task *self_task(void)
{
	struct tame_task *t = tame_task_tls_;

	assert(t != NULL); /* park/yield need a fiber of a reactor */
	return t;
}

void tame_park(void)
{
	struct tame_task *t = self_task();
	int expected = WAKE_EMPTY;

	if (!atomic_compare_exchange_strong_explicit(&t->wake_state, &expected, WAKE_PARKED,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		/* A token arrived first: consume it and keep running. An
		 * exchange, not a store, so the consume reads the last waker's
		 * write and sees everything that waker did before its wake. */
		atomic_exchange_explicit(&t->wake_state, WAKE_EMPTY, memory_order_acquire);
		return;
	}
	STAT_INC(t->reactor, parks);
	tame_fiber_suspend();
}

/* PARKED -> EMPTY hands the task to its reactor; the winner of that
 * transition is the only one that queues it. */
static bool take_parked(struct tame_task *t)
{
	int expected = WAKE_PARKED;

	return atomic_compare_exchange_strong_explicit(&t->wake_state, &expected, WAKE_EMPTY,
						       memory_order_acq_rel,
						       memory_order_acquire);
}

void tame_wake(struct tame_fiber *f)
{
	struct tame_task *t = tame_fiber_local(f);
	int s = atomic_load_explicit(&t->wake_state, memory_order_acquire);

	for (;;) {
		/* Even a wake that finds a token already there writes it again
		 * (with release): a plain load would return without publishing
		 * this waker's stores, and a park consuming the older token
		 * could miss them and sleep for good. */
		if (s == WAKE_NOTIFIED) {
			if (atomic_compare_exchange_weak_explicit(&t->wake_state, &s, WAKE_NOTIFIED,
								  memory_order_acq_rel,
								  memory_order_acquire))
				return;
			continue;
		}
		if (s == WAKE_EMPTY) {
			if (atomic_compare_exchange_weak_explicit(&t->wake_state, &s, WAKE_NOTIFIED,
								  memory_order_acq_rel,
								  memory_order_acquire))
				return;
			continue;
		}
		if (take_parked(t)) {
			reactor_enqueue(t->reactor, t);
			return;
		}
		s = atomic_load_explicit(&t->wake_state, memory_order_acquire);
	}
}

int tame_park_until(uint64_t deadline_ns)
{
	struct tame_task *t = self_task();
	struct tame_timer timer = {.deadline_ns = deadline_ns, .index = TIMER_NONE, .task = t};

	if (tame_now_ns() >= deadline_ns)
		return -ETIMEDOUT;
	if (timer_heap_push(&t->reactor->timers, &timer) < 0)
		return -ENOMEM;
	t->timed_out = false;
	tame_park();
	timer_heap_remove(&t->reactor->timers, &timer);
	return t->timed_out ? -ETIMEDOUT : 0;
}

void tame_noyield_enter(void)
{
	tame_noyield_depth_++;
}

void tame_noyield_exit(void)
{
	if (tame_noyield_depth_ > 0)
		tame_noyield_depth_--;
}

bool tame_can_park(void)
{
	return parkable_task() != NULL;
}

void tame_yield(void)
{
	struct tame_task *t = parkable_task();

	if (!t) {
		sched_yield();
		return;
	}
	STAT_INC(t->reactor, yields);
	taskq_push(&t->reactor->runq, t);
	tame_fiber_suspend();
}

int tame_sleep_ns(uint64_t ns)
{
	uint64_t deadline = tame_now_ns() + ns;

	if (!parkable_task()) {
		struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		return 0;
	}
	while (tame_now_ns() < deadline)
		tame_park_until(deadline);
	return 0;
}

/*
 * A page-cache read checks once per read, and a clock read costs about 1 %
 * of such a read; so the clock is read on the first check of a slice, then
 * only as often as the checks' pace needs to notice the slice's end within
 * an eighth of it: after each reading, the checks since the last give the
 * time per check, and that many checks are skipped (at most
 * TAME_SHOULD_YIELD_SKIP_MAX, which bounds the overshoot of a fiber whose
 * checks slow down).
 */
bool tame_should_yield(void)
{
	struct tame_task *t = parkable_task();
	uint64_t now, used, slice, gap, per_check, skip;

	if (!t)
		return false;
	t->slice_checks++;
	if (t->slice_skip) {
		t->slice_skip--;
		return false;
	}
	now = tame_now_ns();
	if (!t->slice_start_ns) {
		t->slice_start_ns = t->slice_read_ns = now;
		t->slice_checks = 0;
		return false;
	}
	used = now - t->slice_start_ns;
	slice = t->reactor->opts.slice_ns;
	if (used > slice)
		return true;
	gap = slice - used < slice / 8 ? slice - used : slice / 8;
	per_check = (now - t->slice_read_ns) / t->slice_checks;
	/* The next reading comes gap / per_check checks on. */
	skip = per_check ? gap / per_check : UINT64_MAX;
	if (skip > TAME_SHOULD_YIELD_SKIP_MAX)
		t->slice_skip = TAME_SHOULD_YIELD_SKIP_MAX;
	else
		t->slice_skip = skip ? (uint32_t)skip - 1 : 0;
	t->slice_read_ns = now;
	t->slice_checks = 0;
	return false;
}

void tame_maybe_yield(void)
{
	if (tame_should_yield())
		tame_yield();
}

struct tame_reactor *tame_fiber_reactor(void)
{
	return tame_task_tls_ ? tame_task_tls_->reactor : NULL;
}

struct tame_reactor *tame_reactor_current(void)
{
	return tame_reactor_tls_;
}

/* --- the loop ----------------------------------------------------------- */

static void take_remote_wakes(struct tame_reactor *r)
{
	struct tame_task *t, *fifo = NULL;

	if (!atomic_load_explicit(&r->remote_wakes, memory_order_relaxed))
		return;
	t = atomic_exchange_explicit(&r->remote_wakes, NULL, memory_order_acquire);
	/* The stack is LIFO; reverse it so wakes run in arrival order. */
	while (t) {
		struct tame_task *next = t->remote_next;

		t->remote_next = fifo;
		fifo = t;
		t = next;
	}
	for (t = fifo; t; t = t->remote_next)
		taskq_push(&r->runq, t);
}

static void take_inbox(struct tame_reactor *r)
{
	tame_fiber_fn fn;
	void *arg;
	unsigned n = 0;

	while (n < r->opts.inbox_capacity && inbox_pop(&r->inbox, &fn, &arg)) {
		n++;
		STAT_INC(r, inbox_msgs);
		if (task_create(r, fn, arg) < 0)
			fprintf(stderr, "tamerocks: reactor '%s': out of memory for a fiber; "
					"a spawned call was dropped\n", r->name);
	}
}

static void fire_timers(struct tame_reactor *r)
{
	struct tame_timer *tm = timer_heap_top(&r->timers);
	uint64_t now;

	if (!tm)
		return;
	now = tame_now_ns();
	while ((tm = timer_heap_top(&r->timers)) && tm->deadline_ns <= now) {
		struct tame_task *t = tm->task;

		timer_heap_remove(&r->timers, tm);
		STAT_INC(r, timers_fired);
		/* Only a still-parked fiber times out; one already woken keeps
		 * its wake and no stray token is left behind. */
		if (take_parked(t)) {
			t->timed_out = true;
			taskq_push(&r->runq, t);
		}
	}
}

static void run_one(struct tame_reactor *r, struct tame_task *t)
{
	t->slice_start_ns = 0;
	t->slice_skip = 0;
	tame_task_tls_ = t;
	STAT_INC(r, switches);
	if (!tame_fiber_resume(t->fiber)) {
		STAT_INC(r, fibers_exited);
		task_release(r, t);
	}
	tame_task_tls_ = NULL;
}

/* Run what was runnable when the pass began; fibers queued meanwhile wait
 * for the next turn so I/O is submitted and reaped between passes. */
static void run_ready(struct tame_reactor *r)
{
	struct tame_task *last = r->runq.tail, *t;
	bool batch;

	if (!last)
		return;
	/* Between fibers this loop runs only tamerocks' own code, so the
	 * fibers' fiber-local values (RocksDB's thread-locals) need not be
	 * put back after each one: see tame_fiber_batch_begin. */
	batch = tame_fiber_batch_begin(r->fls_save);
	do {
		t = taskq_pop(&r->runq);
		run_one(r, t);
		/* After the pass's last fiber the loop enters the kernel at
		 * once (to wait or to submit): an early enter here would be a
		 * second system call for the same SQEs. */
		if (t != last)
			io_submit_early(r);
	} while (t != last);
	if (batch)
		tame_fiber_batch_end();
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Once a turn: has the submit_tune window ended (reactor/submit_tune.h)?
 * One load and one compare until it has SUBMIT_TUNE_WINDOW_OPS completions;
 * then a clock read a turn until it is SUBMIT_TUNE_WINDOW_NS long.
 */
static void submit_tune_check(struct tame_reactor *r)
{
	uint64_t ops = atomic_load_explicit(&r->stats.cqes_reaped, memory_order_relaxed);
	uint64_t now, cpu;
	bool open;

	if (ops - r->tune_ops0 < SUBMIT_TUNE_WINDOW_OPS)
		return;
	now = tame_now_ns();
	if (now - r->tune_ns0 < SUBMIT_TUNE_WINDOW_NS)
		return;
	cpu = thread_cpu_ns();
	if (r->tune_ns0) {
		open = submit_tune_window(&r->tune, ops - r->tune_ops0, now - r->tune_ns0,
					  cpu - r->tune_cpu_ns0);
		r->gate_depth = open ? UINT_MAX : r->opts.submit_depth;
		STAT_SET(r, submit_tune_windows, r->tune.windows);
		STAT_SET(r, submit_tune_open_windows, r->tune.open_windows);
		STAT_SET(r, submit_tune_trials, r->tune.trials);
		STAT_SET(r, submit_tune_changes, r->tune.changes);
	}
	r->tune_ops0 = ops;
	r->tune_ns0 = now;
	r->tune_cpu_ns0 = cpu;
}

static bool has_external_work(struct tame_reactor *r)
{
	return atomic_load_explicit(&r->remote_wakes, memory_order_relaxed) ||
	       !inbox_empty(&r->inbox) ||
	       atomic_load_explicit(&r->stop_requested, memory_order_relaxed);
}

static bool timer_due(struct tame_reactor *r, uint64_t now)
{
	struct tame_timer *tm = timer_heap_top(&r->timers);

	return tm && tm->deadline_ns <= now;
}

static uint64_t sleep_budget_ns(struct tame_reactor *r)
{
	struct tame_timer *tm = timer_heap_top(&r->timers);
	uint64_t now;

	if (!tm)
		return UINT64_MAX;
	now = tame_now_ns();
	return tm->deadline_ns > now ? tm->deadline_ns - now : 0;
}

/*
 * Nothing runnable. With I/O in flight, wait in io_uring_enter at once, in
 * the same call that submits this turn's SQEs (one enter per wait):
 * under DEFER_TASKRUN completions are only posted inside the kernel, so
 * polling them would be one system call per look. Otherwise poll the
 * user-space sources (inbox, remote wakes, timers) for idle_poll_ns, then
 * sleep until a completion, the next timer or an eventfd write.
 */
static void idle(struct tame_reactor *r)
{
	uint64_t start = tame_now_ns(), now = start;

	while (!r->inflight && now - start < r->opts.idle_poll_ns) {
		if (has_external_work(r) || timer_due(r, now))
			return;
		cpu_relax();
		now = tame_now_ns();
	}
	atomic_store_explicit(&r->sleeping, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (!has_external_work(r) && !timer_due(r, tame_now_ns())) {
		STAT_INC(r, sleeps);
		io_wait(r, sleep_budget_ns(r));
	} else if (io_busy(r)) {
		io_submit(r, true);
		io_reap(r);
	}
	atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
}

static bool loop_done(struct tame_reactor *r, enum tame_run_mode mode)
{
	if (atomic_load_explicit(&r->stop_requested, memory_order_acquire))
		return true;
	return mode == TAME_RUN_UNTIL_EMPTY && r->nlive == 0 && inbox_empty(&r->inbox) &&
	       !atomic_load_explicit(&r->remote_wakes, memory_order_relaxed);
}

int tame_reactor_run(struct tame_reactor *r, enum tame_run_mode mode)
{
	struct tame_reactor *outer = tame_reactor_tls_;

	if (!on_owner_thread(r))
		return -EPERM;
	if (r->running || outer)
		return -EBUSY;
	r->running = true;
	tame_reactor_tls_ = r;
	for (;;) {
		STAT_INC(r, loop_turns);
		take_remote_wakes(r);
		take_inbox(r);
		fire_timers(r);
		run_ready(r);
		if (loop_done(r, mode))
			break;
		io_flush_retries(r);
		if (r->opts.submit_tune && r->have_ring)
			submit_tune_check(r);
		if (!r->runq.head)
			idle(r); /* submits this turn's SQEs in the enter that waits */
		else if (io_busy(r)) {
			io_submit(r, true);
			io_reap(r);
		}
	}
	atomic_store_explicit(&r->stop_requested, false, memory_order_relaxed);
	tame_reactor_tls_ = NULL;
	r->running = false;
	return 0;
}

void tame_reactor_stop(struct tame_reactor *r)
{
	atomic_store_explicit(&r->stop_requested, true, memory_order_release);
	kick(r);
}

void tame_reactor_destroy(struct tame_reactor *r)
{
	struct tame_task *t;

	if (!r)
		return;
	assert(!r->running);
	atomic_store_explicit(&r->destroying, true, memory_order_release);
	/* In-flight I/O targets fiber stacks: let it land before unmapping. */
	tame_reactor_tls_ = r;
	while (r->inflight) {
		io_submit(r, true);
		if (!io_reap(r))
			io_wait(r, 1000000);
	}
	tame_reactor_tls_ = NULL;
	while ((t = r->live) != NULL)
		task_release(r, t);
	io_ring_teardown(r);
	io_read_buffers_free(r); /* after the ring: no read can still target them */
	timer_heap_free(&r->timers);
	inbox_free(&r->inbox);
	close(r->efd);
	free(r);
}

const char *tame_reactor_backend(const struct tame_reactor *r)
{
	return r->backend;
}

bool tame_reactor_uses_io_uring(const struct tame_reactor *r)
{
	return r->have_ring;
}

void tame_reactor_get_stats(const struct tame_reactor *r, struct tame_reactor_stats *out)
{
	const struct reactor_stats *s = &r->stats;

#define LOAD(f) out->f = atomic_load_explicit(&s->f, memory_order_relaxed)
	LOAD(fibers_spawned);
	LOAD(fibers_exited);
	LOAD(fibers_live);
	LOAD(switches);
	LOAD(parks);
	LOAD(wakes_remote);
	LOAD(yields);
	LOAD(sqes_submitted);
	LOAD(cqes_reaped);
	LOAD(io_enters);
	LOAD(inbox_msgs);
	LOAD(inbox_full);
	LOAD(timers_fired);
	LOAD(sleeps);
	LOAD(loop_turns);
	LOAD(early_enters);
	LOAD(submit_tune_windows);
	LOAD(submit_tune_open_windows);
	LOAD(submit_tune_trials);
	LOAD(submit_tune_changes);
	LOAD(batched_sleeps);
	LOAD(io_timed);
	LOAD(io_queued_ns);
	LOAD(io_kernel_ns);
	LOAD(io_resume_ns);
	LOAD(read_buf_reads);
	LOAD(read_buf_fixed);
	LOAD(read_buf_bypassed);
	LOAD(read_buf_allocated);
#undef LOAD
	out->io_in_kernel_all = io_in_kernel_total();
}
