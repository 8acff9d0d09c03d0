/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TAME_PARKING_LOT_H
#define TAME_PARKING_LOT_H

/*
 * The parking lot: where fibers and threads wait on an address.
 *
 * Locks, condvars and rwlocks keep only their state words in the user's
 * object; their waiters live in a process-wide hash table of buckets keyed
 * by the object's address, each a spin lock and a FIFO list. A waiter is a
 * node on the waiting fiber's or thread's own stack:
 *
 *   WAITING  --(remover, bucket locked)-->  DEQUEUED  --(pl_wake)-->  WOKEN
 *
 * A fiber waiter parks (tame_park); a thread waiter, or a fiber inside a
 * no-yield section, sleeps on a futex in the node. A remover takes the node
 * off the list under the bucket lock and delivers the wake after unlocking,
 * so no syscall runs under a spin lock. A waiter never returns before its
 * wake is delivered: a fiber consumes exactly the one wake aimed at it, a
 * thread sees WOKEN.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "tame_fiber.h"

enum { PL_WAITING = 0, PL_DEQUEUED = 1, PL_WOKEN = 2 };

struct pl_waiter {
	struct pl_waiter *next;
	struct pl_waiter *prev;
	const void *addr;
	struct tame_fiber *fiber; /* NULL: sleeps on the futex */
	_Atomic uint32_t state;
	uint32_t flags;		  /* owner's use (rwlock: reader/writer) */
	uint64_t token;		  /* owner's use (rwlock: owner id) */
};

struct pl_bucket;

/*
 * An absolute deadline on clock (CLOCK_REALTIME or CLOCK_MONOTONIC), or none.
 */
struct pl_deadline {
	bool timed;
	clockid_t clock;
	struct timespec abs;
};

/* Lock the bucket of addr; returns it for the calls below. */
struct pl_bucket *pl_lock(const void *addr);
void pl_unlock(struct pl_bucket *b);

/* Prepare w for the caller (fiber or thread, honouring no-yield). */
void pl_waiter_init(struct pl_waiter *w, const void *addr);

/* Under the bucket lock: queue w at the tail (or the head, for a waiter
 * retrying after a wake it lost to a barging locker). */
void pl_enqueue(struct pl_bucket *b, struct pl_waiter *w, bool at_head);

/* Under the bucket lock: first waiter on addr after w (NULL: from the
 * start), or NULL. */
struct pl_waiter *pl_next(struct pl_bucket *b, const void *addr, struct pl_waiter *w);

/* Under the bucket lock: take w off the list, mark it DEQUEUED. */
void pl_remove(struct pl_bucket *b, struct pl_waiter *w);

/* Under the bucket lock: does anyone wait on addr? */
bool pl_has_waiters(struct pl_bucket *b, const void *addr);

/* After unlocking the bucket: deliver the wake of a removed waiter. */
void pl_wake(struct pl_waiter *w);

/*
 * Wait until removed and woken (returns 0), or until the deadline passes
 * while still queued: then returns -ETIMEDOUT with w taken off the list and
 * the bucket LOCKED, so the caller can fix its state word before
 * pl_unlock(). -EINVAL for a deadline with tv_nsec out of range or an
 * unsupported clock (nothing was waited; w is still queued: the caller must
 * not pass such a deadline — check with pl_deadline_valid first).
 */
int pl_wait(struct pl_waiter *w, const struct pl_deadline *d, struct pl_bucket **locked);

/* 0, or EINVAL for a deadline pthread functions must reject. */
int pl_deadline_check(const struct pl_deadline *d);

#endif /* TAME_PARKING_LOT_H */
