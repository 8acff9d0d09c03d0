/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parking lot (see parking_lot.h). Buckets are static and zeroed, so
 * the lot works before any constructor has run.
 */
#include "parking_lot.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tame_reactor.h"

#define PL_BUCKETS 1024u /* power of two */
#define PL_SPINS_BEFORE_YIELD 64

struct pl_bucket {
	_Atomic uint32_t lock;
	struct pl_waiter *head;
	struct pl_waiter *tail;
} __attribute__((aligned(64)));

static struct pl_bucket buckets[PL_BUCKETS];

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static struct pl_bucket *bucket_of(const void *addr)
{
	uint64_t h = (uint64_t)(uintptr_t)addr * 0x9e3779b97f4a7c15ull;

	return &buckets[h >> (64 - 10)];
}

struct pl_bucket *pl_lock(const void *addr)
{
	struct pl_bucket *b = bucket_of(addr);
	int spins = 0;

	for (;;) {
		if (!atomic_exchange_explicit(&b->lock, 1, memory_order_acquire))
			return b;
		/* Holders never park or switch fibers inside, so only another
		 * thread can hold it: spin, then give that thread the CPU (the
		 * raw syscall: sched_yield is interposed). */
		while (atomic_load_explicit(&b->lock, memory_order_relaxed)) {
			if (++spins < PL_SPINS_BEFORE_YIELD) {
				cpu_relax();
			} else {
				syscall(SYS_sched_yield);
				spins = 0;
			}
		}
	}
}

void pl_unlock(struct pl_bucket *b)
{
	atomic_store_explicit(&b->lock, 0, memory_order_release);
}

void pl_waiter_init(struct pl_waiter *w, const void *addr)
{
	w->next = w->prev = NULL;
	w->addr = addr;
	w->fiber = tame_can_park() ? tame_fiber_self() : NULL;
	atomic_init(&w->state, PL_WAITING);
	w->flags = 0;
	w->token = 0;
}

void pl_enqueue(struct pl_bucket *b, struct pl_waiter *w, bool at_head)
{
	atomic_store_explicit(&w->state, PL_WAITING, memory_order_relaxed);
	if (at_head) {
		w->prev = NULL;
		w->next = b->head;
		if (b->head)
			b->head->prev = w;
		else
			b->tail = w;
		b->head = w;
		return;
	}
	w->next = NULL;
	w->prev = b->tail;
	if (b->tail)
		b->tail->next = w;
	else
		b->head = w;
	b->tail = w;
}

struct pl_waiter *pl_next(struct pl_bucket *b, const void *addr, struct pl_waiter *w)
{
	for (w = w ? w->next : b->head; w; w = w->next)
		if (w->addr == addr)
			return w;
	return NULL;
}

void pl_remove(struct pl_bucket *b, struct pl_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	w->next = w->prev = NULL;
	atomic_store_explicit(&w->state, PL_DEQUEUED, memory_order_release);
}

bool pl_has_waiters(struct pl_bucket *b, const void *addr)
{
	return pl_next(b, addr, NULL) != NULL;
}

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts,
		  uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, val3);
}

void pl_wake(struct pl_waiter *w)
{
	struct tame_fiber *f = w->fiber;

	if (f) {
		/* The fiber returns only after consuming this wake, so w (on its
		 * stack) and the fiber outlive the call. */
		tame_wake(f);
		return;
	}
	/* The thread may return as soon as it sees WOKEN; a wake landing on its
	 * dead frame is a spurious futex wake, which every futex user
	 * tolerates. */
	atomic_store_explicit(&w->state, PL_WOKEN, memory_order_release);
	futex(&w->state, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, 0);
}

int pl_deadline_check(const struct pl_deadline *d)
{
	if (!d || !d->timed)
		return 0;
	if (d->clock != CLOCK_REALTIME && d->clock != CLOCK_MONOTONIC)
		return EINVAL;
	if (d->abs.tv_nsec < 0 || d->abs.tv_nsec >= 1000000000L)
		return EINVAL;
	return 0;
}

/* The deadline on the reactor's clock (CLOCK_MONOTONIC nanoseconds), never
 * 0. The caller's clock is read first: a preemption between the two reads
 * then makes the deadline late, never early (and pl_wait re-checks the
 * caller's clock before it reports a timeout). */
static uint64_t deadline_mono_ns(const struct pl_deadline *d)
{
	struct timespec now;
	int64_t left_ns;
	uint64_t mono;

	if (d->clock == CLOCK_MONOTONIC) {
		if (d->abs.tv_sec < 0)
			return 1;
		mono = (uint64_t)d->abs.tv_sec * 1000000000ull + (uint64_t)d->abs.tv_nsec;
		return mono ? mono : 1;
	}
	clock_gettime(d->clock, &now);
	mono = tame_now_ns();
	if (d->abs.tv_sec - now.tv_sec > (INT64_MAX / 1000000000) - 2)
		return UINT64_MAX;
	left_ns = (int64_t)(d->abs.tv_sec - now.tv_sec) * 1000000000 +
		  (d->abs.tv_nsec - now.tv_nsec);
	return left_ns <= 0 ? mono : mono + (uint64_t)left_ns;
}

/* Has the caller's clock reached the deadline? */
static bool deadline_passed(const struct pl_deadline *d)
{
	struct timespec now;

	clock_gettime(d->clock, &now);
	return now.tv_sec > d->abs.tv_sec ||
	       (now.tv_sec == d->abs.tv_sec && now.tv_nsec >= d->abs.tv_nsec);
}

/* Timed out while possibly still queued: dequeue under the lock, or learn a
 * wake is already on its way. */
static bool timeout_dequeue(struct pl_waiter *w, struct pl_bucket **locked)
{
	struct pl_bucket *b = pl_lock(w->addr);

	if (atomic_load_explicit(&w->state, memory_order_acquire) == PL_WAITING) {
		pl_remove(b, w);
		*locked = b;
		return true;
	}
	pl_unlock(b);
	return false;
}

static int wait_fiber(struct pl_waiter *w, const struct pl_deadline *d, struct pl_bucket **locked)
{
	bool timed = d && d->timed;
	uint64_t deadline = timed ? deadline_mono_ns(d) : 0;

	for (;;) {
		int r = 0;

		if (timed)
			r = tame_park_until(deadline);
		else
			tame_park();
		if (r == -ENOMEM) {
			/* No room for a timer: poll the deadline instead. */
			tame_yield();
			if (tame_now_ns() < deadline)
				continue;
			r = -ETIMEDOUT;
		}
		if (r == 0) {
			/* Anything but our own wake leaves us queued. */
			if (atomic_load_explicit(&w->state, memory_order_acquire) != PL_WAITING)
				return 0;
			continue;
		}
		if (!deadline_passed(d)) {
			/* The caller's clock is behind ours (realtime was set
			 * back, or the conversion raced a preemption). */
			deadline = deadline_mono_ns(d);
			continue;
		}
		if (timeout_dequeue(w, locked))
			return -ETIMEDOUT;
		/* Removed by a waker whose wake is on its way: take it. */
		tame_park();
		return 0;
	}
}

static int wait_thread(struct pl_waiter *w, const struct pl_deadline *d, struct pl_bucket **locked)
{
	bool timed = d && d->timed;
	int saved_errno = errno; /* pthread functions leave errno alone */

	for (;;) {
		uint32_t s = atomic_load_explicit(&w->state, memory_order_acquire);
		int op = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG;
		long r;

		if (s == PL_WOKEN) {
			errno = saved_errno;
			return 0;
		}
		if (timed && d->clock == CLOCK_REALTIME)
			op |= FUTEX_CLOCK_REALTIME;
		r = futex(&w->state, op, s, timed ? &d->abs : NULL, FUTEX_BITSET_MATCH_ANY);
		/* EINVAL: a deadline before the epoch, long past. */
		if (r < 0 && (errno == ETIMEDOUT || (timed && errno == EINVAL))) {
			if (timeout_dequeue(w, locked)) {
				errno = saved_errno;
				return -ETIMEDOUT;
			}
			timed = false; /* removed: the wake is imminent */
		}
	}
}

int pl_wait(struct pl_waiter *w, const struct pl_deadline *d, struct pl_bucket **locked)
{
	if (pl_deadline_check(d))
		return -EINVAL;
	if (w->fiber)
		return wait_fiber(w, d, locked);
	return wait_thread(w, d, locked);
}
