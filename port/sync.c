/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pthread mutexes, condition variables and rwlocks for fibers and threads.
 *
 * These definitions interpose glibc's. Each object keeps a small state in
 * the user's pthread_*_t; waiters live in the parking lot. Every field glibc's
 * static initializers set (PTHREAD_*_INITIALIZER*) keeps its offset and
 * meaning, so zeroed and statically initialized objects need no init call.
 * Objects glibc must own (process-shared, robust, priority protocols) are
 * initialized by glibc and every call on them is forwarded to glibc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "parking_lot.h"
#include "port_internal.h"
#include "tame_reactor.h"

/* ---- owners --------------------------------------------------------------- */

static __thread uint64_t thread_token;

/* Lock owner: the fiber on a fiber, else the OS thread (high bit set). */
uint64_t tame_port_self_token(void)
{
	struct tame_fiber *f = tame_fiber_self();

	if (f)
		return tame_fiber_id(f);
	if (!thread_token)
		thread_token = (1ull << 63) | (uint64_t)syscall(SYS_gettid);
	return thread_token;
}

/* ---- glibc's own, for the objects it must own ----------------------------- */

void *tame_port_real(const char *name, const char *version)
{
	void *p = version ? dlvsym(RTLD_NEXT, name, version) : NULL;

	if (!p)
		p = dlsym(RTLD_NEXT, name);
	if (!p) {
		fprintf(stderr, "tamerocks: port: glibc's %s not found: %s\n", name, dlerror());
		abort();
	}
	return p;
}

/* ---- mutex ----------------------------------------------------------------- */

enum { M_LOCKED = 1u, M_PARKED = 2u };

/* glibc's __kind bits that make a mutex glibc's to run. */
#define KIND_TYPE_MASK 3
#define KIND_GLIBC_OWNED (16 | 32 | 64 | 128) /* robust, PI, PP, pshared */
#define MUTEX_ADAPTIVE_SPINS 100

struct tmutex {
	_Atomic uint32_t state; /* M_LOCKED | M_PARKED */
	uint32_t count;		/* recursive re-locks beyond the first */
	_Atomic uint64_t owner;	/* recursive and error-checking types only */
	int32_t kind;		/* glibc's __kind: type and flags */
};
_Static_assert(sizeof(struct tmutex) <= sizeof(pthread_mutex_t), "fits pthread_mutex_t");
_Static_assert(offsetof(struct tmutex, kind) == offsetof(pthread_mutex_t, __data.__kind),
	       "__kind keeps its offset for PTHREAD_*_MUTEX_INITIALIZER_NP");

static inline struct tmutex *tm(pthread_mutex_t *m)
{
	return (struct tmutex *)m;
}

static bool mutex_try_raw(struct tmutex *m)
{
	uint32_t s = atomic_load_explicit(&m->state, memory_order_relaxed);

	while (!(s & M_LOCKED))
		if (atomic_compare_exchange_weak_explicit(&m->state, &s, s | M_LOCKED,
							  memory_order_acquire,
							  memory_order_relaxed))
			return true;
	return false;
}

/* Queue behind the holder unless the state changed; 1: try again. */
static int mutex_park(struct tmutex *m, const struct pl_deadline *d, bool requeued)
{
	struct pl_waiter w;
	struct pl_bucket *b = pl_lock(m);
	uint32_t s = atomic_load_explicit(&m->state, memory_order_relaxed);

	if (!(s & M_LOCKED) ||
	    (!(s & M_PARKED) &&
	     !atomic_compare_exchange_strong_explicit(&m->state, &s, s | M_PARKED,
						      memory_order_relaxed, memory_order_relaxed))) {
		pl_unlock(b);
		return 1;
	}
	pl_waiter_init(&w, m);
	pl_enqueue(b, &w, requeued);
	pl_unlock(b);
	if (pl_wait(&w, d, &b) == -ETIMEDOUT) {
		if (!pl_has_waiters(b, m))
			atomic_fetch_and_explicit(&m->state, ~M_PARKED, memory_order_relaxed);
		pl_unlock(b);
		return ETIMEDOUT;
	}
	return 1;
}

static int mutex_lock_slow(struct tmutex *m, const struct pl_deadline *d)
{
	bool requeued = false;
	int r;

	if ((m->kind & KIND_TYPE_MASK) == PTHREAD_MUTEX_ADAPTIVE_NP && !tame_can_park()) {
		for (int i = 0; i < MUTEX_ADAPTIVE_SPINS; i++) {
			if (mutex_try_raw(m))
				return 0;
			__builtin_ia32_pause();
		}
	}
	if ((r = pl_deadline_check(d)))
		return mutex_try_raw(m) ? 0 : r;
	for (;;) {
		if (mutex_try_raw(m))
			return 0;
		r = mutex_park(m, d, requeued);
		if (r != 1)
			return r;
		/* Woken, but a barging locker may win: retry at the front. */
		requeued = true;
	}
}

static void mutex_unlock_raw(struct tmutex *m)
{
	uint32_t s = M_LOCKED;
	struct pl_waiter *w;
	struct pl_bucket *b;

	if (atomic_compare_exchange_strong_explicit(&m->state, &s, 0, memory_order_release,
						    memory_order_relaxed))
		return;
	b = pl_lock(m);
	w = pl_next(b, m, NULL);
	if (w)
		pl_remove(b, w);
	/* Nobody else changes the state while it is LOCKED|PARKED and this
	 * bucket is locked. */
	atomic_store_explicit(&m->state, pl_has_waiters(b, m) ? M_PARKED : 0,
			      memory_order_release);
	pl_unlock(b);
	if (w)
		pl_wake(w);
}

/* Lock m for the caller; recursion and error checks per type. */
static int mutex_lock(struct tmutex *m, const struct pl_deadline *d, bool try)
{
	int type = m->kind & KIND_TYPE_MASK;
	uint64_t me;
	int r;

	if (type == PTHREAD_MUTEX_NORMAL || type == PTHREAD_MUTEX_ADAPTIVE_NP) {
		if (mutex_try_raw(m))
			return 0;
		return try ? EBUSY : mutex_lock_slow(m, d);
	}
	me = tame_port_self_token();
	if (atomic_load_explicit(&m->owner, memory_order_relaxed) == me) {
		if (type == PTHREAD_MUTEX_ERRORCHECK)
			return try ? EBUSY : EDEADLK;
		if (m->count == UINT32_MAX)
			return EAGAIN;
		m->count++;
		return 0;
	}
	if (!mutex_try_raw(m)) {
		if (try)
			return EBUSY;
		if ((r = mutex_lock_slow(m, d)))
			return r;
	}
	atomic_store_explicit(&m->owner, me, memory_order_relaxed);
	m->count = 0;
	return 0;
}

static int mutex_unlock(struct tmutex *m)
{
	int type = m->kind & KIND_TYPE_MASK;

	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
		if (atomic_load_explicit(&m->owner, memory_order_relaxed) !=
		    tame_port_self_token())
			return EPERM;
		if (m->count) {
			m->count--;
			return 0;
		}
		atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
	}
	mutex_unlock_raw(m);
	return 0;
}

int pthread_mutex_init(pthread_mutex_t *pm, const pthread_mutexattr_t *attr)
{
	int type = PTHREAD_MUTEX_NORMAL, pshared = PTHREAD_PROCESS_PRIVATE;
	int robust = PTHREAD_MUTEX_STALLED, protocol = PTHREAD_PRIO_NONE;

	if (attr) {
		pthread_mutexattr_gettype(attr, &type);
		pthread_mutexattr_getpshared(attr, &pshared);
		pthread_mutexattr_getrobust(attr, &robust);
		pthread_mutexattr_getprotocol(attr, &protocol);
	}
	if (pshared != PTHREAD_PROCESS_PRIVATE || robust != PTHREAD_MUTEX_STALLED ||
	    protocol != PTHREAD_PRIO_NONE)
		return REAL(pthread_mutex_init, "GLIBC_2.2.5", pm, attr);
	memset(pm, 0, sizeof(*pm));
	tm(pm)->kind = type & KIND_TYPE_MASK;
	return 0;
}

int pthread_mutex_destroy(pthread_mutex_t *pm)
{
	if (tm(pm)->kind & KIND_GLIBC_OWNED)
		return REAL(pthread_mutex_destroy, "GLIBC_2.2.5", pm);
	if (atomic_load_explicit(&tm(pm)->state, memory_order_relaxed) & M_LOCKED)
		return EBUSY;
	return 0;
}

int pthread_mutex_lock(pthread_mutex_t *pm)
{
	struct tmutex *m = tm(pm);

	if (__builtin_expect(m->kind == 0, 1)) {
		uint32_t s = 0;

		if (atomic_compare_exchange_strong_explicit(&m->state, &s, M_LOCKED,
							    memory_order_acquire,
							    memory_order_relaxed))
			return 0;
		return mutex_lock_slow(m, NULL);
	}
	if (m->kind & KIND_GLIBC_OWNED)
		return REAL(pthread_mutex_lock, "GLIBC_2.2.5", pm);
	return mutex_lock(m, NULL, false);
}

int pthread_mutex_trylock(pthread_mutex_t *pm)
{
	if (tm(pm)->kind & KIND_GLIBC_OWNED)
		return REAL(pthread_mutex_trylock, "GLIBC_2.2.5", pm);
	return mutex_lock(tm(pm), NULL, true);
}

int pthread_mutex_clocklock(pthread_mutex_t *pm, clockid_t clock, const struct timespec *abs)
{
	struct pl_deadline d = {.timed = true, .clock = clock, .abs = *abs};

	if (tm(pm)->kind & KIND_GLIBC_OWNED)
		return REAL(pthread_mutex_clocklock, "GLIBC_2.34", pm, clock, abs);
	return mutex_lock(tm(pm), &d, false);
}

int pthread_mutex_timedlock(pthread_mutex_t *pm, const struct timespec *abs)
{
	struct pl_deadline d = {.timed = true, .clock = CLOCK_REALTIME, .abs = *abs};

	if (tm(pm)->kind & KIND_GLIBC_OWNED)
		return REAL(pthread_mutex_timedlock, "GLIBC_2.2.5", pm, abs);
	return mutex_lock(tm(pm), &d, false);
}

int pthread_mutex_unlock(pthread_mutex_t *pm)
{
	struct tmutex *m = tm(pm);

	if (__builtin_expect(m->kind == 0, 1)) {
		mutex_unlock_raw(m);
		return 0;
	}
	if (m->kind & KIND_GLIBC_OWNED)
		return REAL(pthread_mutex_unlock, "GLIBC_2.2.5", pm);
	return mutex_unlock(m);
}

/* ---- condition variable ------------------------------------------------------ */

#define COND_MONOTONIC 1u
/* glibc's __wrefs (offset 36) bit 0 marks its process-shared condvars. */
#define COND_GLIBC_WREFS_WORD 9
#define COND_GLIBC_SHARED 1u

struct tcond {
	_Atomic uint32_t waiters;
	uint32_t flags;
};
_Static_assert(sizeof(struct tcond) <= sizeof(pthread_cond_t), "fits pthread_cond_t");

static inline struct tcond *tc(pthread_cond_t *c)
{
	return (struct tcond *)c;
}

static bool cond_glibc_owned(pthread_cond_t *c)
{
	return ((uint32_t *)c)[COND_GLIBC_WREFS_WORD] & COND_GLIBC_SHARED;
}

/* Release m fully for a wait; *saved keeps what to restore. */
static int cond_release_mutex(pthread_mutex_t *pm, uint32_t *saved)
{
	struct tmutex *m = tm(pm);
	int type = m->kind & KIND_TYPE_MASK;

	if (m->kind & KIND_GLIBC_OWNED)
		return REAL(pthread_mutex_unlock, "GLIBC_2.2.5", pm);
	*saved = 0;
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
		if (atomic_load_explicit(&m->owner, memory_order_relaxed) !=
		    tame_port_self_token())
			return EPERM;
		*saved = m->count;
		m->count = 0;
		atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
	}
	mutex_unlock_raw(m);
	return 0;
}

static int cond_reacquire_mutex(pthread_mutex_t *pm, uint32_t saved)
{
	struct tmutex *m = tm(pm);
	int type = m->kind & KIND_TYPE_MASK;

	if (m->kind & KIND_GLIBC_OWNED)
		return REAL(pthread_mutex_lock, "GLIBC_2.2.5", pm);
	if (!mutex_try_raw(m))
		mutex_lock_slow(m, NULL);
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
		atomic_store_explicit(&m->owner, tame_port_self_token(), memory_order_relaxed);
		m->count = saved;
	}
	return 0;
}

/* The waiter count signals read before taking the bucket lock, or NULL for
 * a condvar in glibc's layout (process-shared), whose words are glibc's. */
static _Atomic uint32_t *cond_count(pthread_cond_t *pc)
{
	return cond_glibc_owned(pc) ? NULL : &tc(pc)->waiters;
}

static void count_add(_Atomic uint32_t *count, uint32_t n)
{
	if (count)
		atomic_fetch_add_explicit(count, n, memory_order_seq_cst);
}

static void count_sub(_Atomic uint32_t *count, uint32_t n)
{
	if (count)
		atomic_fetch_sub_explicit(count, n, memory_order_relaxed);
}

static int cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm, const struct pl_deadline *d)
{
	_Atomic uint32_t *count = cond_count(pc);
	struct pl_waiter w;
	struct pl_bucket *b;
	uint32_t saved;
	int r, timed_out = 0;

	if ((r = pl_deadline_check(d)))
		return r;
	pl_waiter_init(&w, pc);
	/* Queued before the mutex is released: a signal sent by anyone who
	 * takes the mutex after us finds this waiter. */
	b = pl_lock(pc);
	count_add(count, 1);
	pl_enqueue(b, &w, false);
	pl_unlock(b);
	if ((r = cond_release_mutex(pm, &saved))) {
		b = pl_lock(pc);
		if (atomic_load_explicit(&w.state, memory_order_relaxed) == PL_WAITING) {
			pl_remove(b, &w);
			count_sub(count, 1);
			pl_unlock(b);
			return r;
		}
		pl_unlock(b);
		pl_wait(&w, NULL, &b); /* a signal took us: absorb its wake */
		return r;
	}
	if (pl_wait(&w, d, &b) == -ETIMEDOUT) {
		count_sub(count, 1);
		pl_unlock(b);
		timed_out = ETIMEDOUT;
	}
	r = cond_reacquire_mutex(pm, saved);
	return r ? r : timed_out;
}

/* Take up to max waiters off pc; returns the list (linked by next). */
static struct pl_waiter *cond_take(pthread_cond_t *pc, unsigned max)
{
	_Atomic uint32_t *count = cond_count(pc);
	struct pl_waiter *list = NULL, **tail = &list, *w;
	struct pl_bucket *b;
	unsigned n = 0;

	if (count && !atomic_load_explicit(count, memory_order_seq_cst))
		return NULL;
	b = pl_lock(pc);
	while (n < max && (w = pl_next(b, pc, NULL))) {
		pl_remove(b, w);
		*tail = w;
		tail = &w->next;
		n++;
	}
	count_sub(count, n);
	pl_unlock(b);
	return list;
}

static void wake_list(struct pl_waiter *w)
{
	while (w) {
		struct pl_waiter *next = w->next; /* w may vanish once woken */

		pl_wake(w);
		w = next;
	}
}

/* glibc's own wait only on a process-shared condvar with a mutex glibc owns
 * too: glibc's wait releases and retakes the mutex inside libc. With a
 * private (tamerocks) mutex the wait stays in the parking lot, and signals
 * go to both. */
static bool cond_wait_is_glibcs(pthread_cond_t *pc, pthread_mutex_t *pm)
{
	return cond_glibc_owned(pc) && (tm(pm)->kind & KIND_GLIBC_OWNED);
}

/* glibc keeps a condvar's clock in __wrefs bit 1. */
static clockid_t cond_clock(pthread_cond_t *pc)
{
	if (cond_glibc_owned(pc))
		return ((uint32_t *)pc)[COND_GLIBC_WREFS_WORD] & 2u ? CLOCK_MONOTONIC
								      : CLOCK_REALTIME;
	return tc(pc)->flags & COND_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_REALTIME;
}

int pthread_cond_init(pthread_cond_t *pc, const pthread_condattr_t *attr)
{
	int pshared = PTHREAD_PROCESS_PRIVATE;
	clockid_t clock = CLOCK_REALTIME;

	if (attr) {
		pthread_condattr_getpshared(attr, &pshared);
		pthread_condattr_getclock(attr, &clock);
	}
	if (pshared != PTHREAD_PROCESS_PRIVATE)
		return REAL(pthread_cond_init, "GLIBC_2.3.2", pc, attr);
	memset(pc, 0, sizeof(*pc));
	tc(pc)->flags = clock == CLOCK_MONOTONIC ? COND_MONOTONIC : 0;
	return 0;
}

int pthread_cond_destroy(pthread_cond_t *pc)
{
	if (cond_glibc_owned(pc))
		return REAL(pthread_cond_destroy, "GLIBC_2.3.2", pc);
	return 0;
}

int pthread_cond_signal(pthread_cond_t *pc)
{
	if (cond_glibc_owned(pc))
		REAL(pthread_cond_signal, "GLIBC_2.3.2", pc);
	wake_list(cond_take(pc, 1));
	return 0;
}

int pthread_cond_broadcast(pthread_cond_t *pc)
{
	if (cond_glibc_owned(pc))
		REAL(pthread_cond_broadcast, "GLIBC_2.3.2", pc);
	wake_list(cond_take(pc, UINT32_MAX));
	return 0;
}

int pthread_cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm)
{
	if (cond_wait_is_glibcs(pc, pm))
		return REAL(pthread_cond_wait, "GLIBC_2.3.2", pc, pm);
	return cond_wait(pc, pm, NULL);
}

int pthread_cond_timedwait(pthread_cond_t *pc, pthread_mutex_t *pm, const struct timespec *abs)
{
	struct pl_deadline d = {.timed = true, .clock = cond_clock(pc), .abs = *abs};

	if (cond_wait_is_glibcs(pc, pm))
		return REAL(pthread_cond_timedwait, "GLIBC_2.3.2", pc, pm, abs);
	return cond_wait(pc, pm, &d);
}

int pthread_cond_clockwait(pthread_cond_t *pc, pthread_mutex_t *pm, clockid_t clock,
			   const struct timespec *abs)
{
	struct pl_deadline d = {.timed = true, .clock = clock, .abs = *abs};

	if (cond_wait_is_glibcs(pc, pm))
		return REAL(pthread_cond_clockwait, "GLIBC_2.34", pc, pm, clock, abs);
	return cond_wait(pc, pm, &d);
}

/* ---- rwlock ------------------------------------------------------------------ */

#define RW_WRITER 1u
/* Marks an rwlock glibc initialized (process-shared) in glibc's unused
 * __pad4; our own layout keeps that word zero. */
#define RW_GLIBC_MAGIC 0x7a3e5eadu

/* Every field is read and written under the parking-lot bucket lock of the
 * rwlock's address. */
struct trwlock {
	uint32_t readers;
	uint32_t writers_waiting;
	uint64_t writer;	/* owner token, 0 if not write-locked */
	uint32_t readers_waiting;
	uint32_t glibc_magic;	/* glibc's __pad4 */
	uint32_t unused[6];	/* 28: glibc's __shared, left alone */
	uint32_t kind;		/* glibc's __flags: PTHREAD_RWLOCK_PREFER_* */
};
_Static_assert(sizeof(struct trwlock) <= sizeof(pthread_rwlock_t), "fits pthread_rwlock_t");
_Static_assert(offsetof(struct trwlock, kind) == offsetof(pthread_rwlock_t, __data.__flags),
	       "__flags keeps its offset for PTHREAD_RWLOCK_*_INITIALIZER_NP");
_Static_assert(offsetof(struct trwlock, glibc_magic) == offsetof(pthread_rwlock_t, __data.__pad4),
	       "the marker sits in glibc's unused __pad4");

static inline struct trwlock *trw(pthread_rwlock_t *rw)
{
	return (struct trwlock *)rw;
}

static bool rw_glibc_owned(pthread_rwlock_t *rw)
{
	return trw(rw)->glibc_magic == RW_GLIBC_MAGIC;
}

static bool rw_prefers_writers(const struct trwlock *rw)
{
	/* glibc treats PREFER_WRITER_NP like PREFER_READER_NP. */
	return rw->kind == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
}

/* Hand the lock to the waiters that may have it now, in queue order;
 * returns them (linked by next) for waking after the bucket is unlocked. */
static struct pl_waiter *rw_grant(struct pl_bucket *b, struct trwlock *rw)
{
	struct pl_waiter *list = NULL, **tail = &list, *w, *next;

	for (w = pl_next(b, rw, NULL); w && !rw->writer; w = next) {
		next = pl_next(b, rw, w);
		if (w->flags & RW_WRITER) {
			if (rw->readers == 0) {
				rw->writer = w->token;
				rw->writers_waiting--;
			} else if (rw_prefers_writers(rw)) {
				break;
			} else {
				continue;
			}
		} else {
			rw->readers++;
			rw->readers_waiting--;
		}
		pl_remove(b, w);
		*tail = w;
		tail = &w->next;
	}
	return list;
}

static int rw_wait(struct trwlock *rw, struct pl_bucket *b, bool writer, uint64_t me,
		   const struct pl_deadline *d)
{
	struct pl_waiter w;
	struct pl_waiter *granted;

	pl_waiter_init(&w, rw);
	w.flags = writer ? RW_WRITER : 0;
	w.token = me;
	if (writer)
		rw->writers_waiting++;
	else
		rw->readers_waiting++;
	pl_enqueue(b, &w, false);
	pl_unlock(b);
	if (pl_wait(&w, d, &b) != -ETIMEDOUT)
		return 0; /* granted by whoever woke us */
	if (writer)
		rw->writers_waiting--;
	else
		rw->readers_waiting--;
	/* A writer that gives up may unblock the readers queued behind it. */
	granted = rw_grant(b, rw);
	pl_unlock(b);
	wake_list(granted);
	return ETIMEDOUT;
}

static int rw_rdlock(struct trwlock *rw, const struct pl_deadline *d, bool try)
{
	uint64_t me = tame_port_self_token();
	struct pl_bucket *b = pl_lock(rw);
	int r;

	if (!rw->writer && (!rw_prefers_writers(rw) || rw->writers_waiting == 0)) {
		r = rw->readers == UINT32_MAX ? EAGAIN : 0;
		if (!r)
			rw->readers++;
	} else if (rw->writer == me) {
		r = EDEADLK;
	} else if (try) {
		r = EBUSY;
	} else if ((r = pl_deadline_check(d)) == 0) {
		return rw_wait(rw, b, false, me, d);
	}
	pl_unlock(b);
	return r;
}

static int rw_wrlock(struct trwlock *rw, const struct pl_deadline *d, bool try)
{
	uint64_t me = tame_port_self_token();
	struct pl_bucket *b = pl_lock(rw);
	int r;

	if (!rw->writer && rw->readers == 0) {
		rw->writer = me;
		r = 0;
	} else if (rw->writer == me) {
		r = EDEADLK;
	} else if (try) {
		r = EBUSY;
	} else if ((r = pl_deadline_check(d)) == 0) {
		return rw_wait(rw, b, true, me, d);
	}
	pl_unlock(b);
	return r;
}

int pthread_rwlock_init(pthread_rwlock_t *prw, const pthread_rwlockattr_t *attr)
{
	int pshared = PTHREAD_PROCESS_PRIVATE, kind = PTHREAD_RWLOCK_PREFER_READER_NP;
	int r;

	if (attr) {
		pthread_rwlockattr_getpshared(attr, &pshared);
		pthread_rwlockattr_getkind_np(attr, &kind);
	}
	if (pshared != PTHREAD_PROCESS_PRIVATE) {
		r = REAL(pthread_rwlock_init, "GLIBC_2.2.5", prw, attr);
		if (!r)
			trw(prw)->glibc_magic = RW_GLIBC_MAGIC;
		return r;
	}
	memset(prw, 0, sizeof(*prw));
	trw(prw)->kind = (uint32_t)kind;
	return 0;
}

int pthread_rwlock_destroy(pthread_rwlock_t *prw)
{
	if (rw_glibc_owned(prw))
		return REAL(pthread_rwlock_destroy, "GLIBC_2.2.5", prw);
	return 0;
}

int pthread_rwlock_rdlock(pthread_rwlock_t *prw)
{
	if (rw_glibc_owned(prw))
		return REAL(pthread_rwlock_rdlock, "GLIBC_2.2.5", prw);
	return rw_rdlock(trw(prw), NULL, false);
}

int pthread_rwlock_tryrdlock(pthread_rwlock_t *prw)
{
	if (rw_glibc_owned(prw))
		return REAL(pthread_rwlock_tryrdlock, "GLIBC_2.2.5", prw);
	return rw_rdlock(trw(prw), NULL, true);
}

int pthread_rwlock_timedrdlock(pthread_rwlock_t *prw, const struct timespec *abs)
{
	struct pl_deadline d = {.timed = true, .clock = CLOCK_REALTIME, .abs = *abs};

	if (rw_glibc_owned(prw))
		return REAL(pthread_rwlock_timedrdlock, "GLIBC_2.2.5", prw, abs);
	return rw_rdlock(trw(prw), &d, false);
}

int pthread_rwlock_clockrdlock(pthread_rwlock_t *prw, clockid_t clock, const struct timespec *abs)
{
	struct pl_deadline d = {.timed = true, .clock = clock, .abs = *abs};

	if (rw_glibc_owned(prw))
		return REAL(pthread_rwlock_clockrdlock, "GLIBC_2.34", prw, clock, abs);
	return rw_rdlock(trw(prw), &d, false);
}

int pthread_rwlock_wrlock(pthread_rwlock_t *prw)
{
	if (rw_glibc_owned(prw))
		return REAL(pthread_rwlock_wrlock, "GLIBC_2.2.5", prw);
	return rw_wrlock(trw(prw), NULL, false);
}

int pthread_rwlock_trywrlock(pthread_rwlock_t *prw)
{
	if (rw_glibc_owned(prw))
		return REAL(pthread_rwlock_trywrlock, "GLIBC_2.2.5", prw);
	return rw_wrlock(trw(prw), NULL, true);
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t *prw, const struct timespec *abs)
{
	struct pl_deadline d = {.timed = true, .clock = CLOCK_REALTIME, .abs = *abs};

	if (rw_glibc_owned(prw))
		return REAL(pthread_rwlock_timedwrlock, "GLIBC_2.2.5", prw, abs);
	return rw_wrlock(trw(prw), &d, false);
}

int pthread_rwlock_clockwrlock(pthread_rwlock_t *prw, clockid_t clock, const struct timespec *abs)
{
	struct pl_deadline d = {.timed = true, .clock = clock, .abs = *abs};

	if (rw_glibc_owned(prw))
		return REAL(pthread_rwlock_clockwrlock, "GLIBC_2.34", prw, clock, abs);
	return rw_wrlock(trw(prw), &d, false);
}

int pthread_rwlock_unlock(pthread_rwlock_t *prw)
{
	struct trwlock *rw = trw(prw);
	struct pl_waiter *granted;
	struct pl_bucket *b;

	if (rw_glibc_owned(prw))
		return REAL(pthread_rwlock_unlock, "GLIBC_2.2.5", prw);
	b = pl_lock(rw);
	if (rw->writer)
		rw->writer = 0;
	else if (rw->readers)
		rw->readers--;
	granted = rw_grant(b, rw);
	pl_unlock(b);
	wake_list(granted);
	return 0;
}

extern __typeof(pthread_mutex_lock) tame_port_own_mutex_lock
	__attribute__((alias("pthread_mutex_lock"), visibility("hidden"), copy(pthread_mutex_lock)));
extern __typeof(pthread_cond_wait) tame_port_own_cond_wait
	__attribute__((alias("pthread_cond_wait"), visibility("hidden"), copy(pthread_cond_wait)));
