/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TAME_CALL_H
#define TAME_CALL_H

/*
 * tamerocks call pools: run calls on warm worker fibers of one reactor.
 *
 * A pool belongs to one reactor. tame_call hands fn(arg) to one of the
 * pool's worker fibers; when fn returns, the same worker calls
 * on_done(ctx, 0). A worker that has nothing left to run parks, idle,
 * instead of exiting, and the next call goes to the worker that went idle
 * last. So the fiber-local state of a worker survives from one call to the
 * next: RocksDB's per-thread SuperVersion cache, which tamerocks keeps per
 * fiber, stays warm, as it would on a long-lived OS thread.
 *
 * Bounds. At most max_workers worker fibers exist at once. A call is
 * accepted while fewer than max_workers + max_queued accepted calls have
 * not yet returned from fn; beyond that tame_call answers -EAGAIN and runs
 * nothing (back-pressure). Requests from other threads that meet a
 * saturated pool wait in a backlog of at most max_backlog requests, then
 * are refused. Nothing grows without a bound.
 *
 * Threads. A pool lives on its reactor's owner thread: tame_call_pool_create,
 * tame_call, tame_call_pool_destroy and tame_call_pool_get_stats are called
 * there, on a fiber or off one, with the loop running or not (a call made
 * while the loop is not running starts when it runs). Only tame_call_remote
 * may be called from any thread. fn and on_done always run on fibers of the
 * pool's reactor, on its owner thread; the pool's state is touched only
 * there, so it needs no lock.
 *
 * Built on the public reactor API (tame_spawn, tame_park, tame_wake) only.
 * Commands return >= 0 on success and -errno on failure.
 */

#include <stdint.h>

#include "tame_reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tame_call_pool; /* opaque */

/* The call: runs on a worker fiber; may park (I/O, locks, sleeps), yield,
 * and call tame_call on its own pool. */
typedef void (*tame_call_fn)(void *arg);

/*
 * Completion, called exactly once for every request the pool took. status 0:
 * fn(arg) ran and returned; on_done runs on the worker fiber right after
 * fn, before that worker takes another call (so on_done may park, but
 * holds the worker while it does). A negative status comes only to
 * tame_call_remote requests, whose fn then did not run: -EAGAIN (pool and
 * backlog full), -ESHUTDOWN (pool being destroyed), -ENOMEM (no fiber could
 * be made for it). Always on a fiber of the pool's reactor.
 */
typedef void (*tame_call_done_fn)(void *ctx, int status);

/* Defaults and limits, unit last. */
#define TAME_CALL_DEFAULT_MAX_WORKERS 64u
#define TAME_CALL_MAX_WORKERS 65536u
#define TAME_CALL_DEFAULT_MAX_QUEUED 256u
#define TAME_CALL_MAX_QUEUED (1u << 20)
#define TAME_CALL_DEFAULT_MAX_BACKLOG 1024u
#define TAME_CALL_MAX_BACKLOG (1u << 20)

struct tame_call_pool_opts {
	unsigned max_workers;	   /* worker fibers alive at once, 1..MAX */
	unsigned max_idle_workers; /* workers kept parked for the next call
				    * once they run out of work; a worker
				    * beyond this exits. Values above
				    * max_workers mean max_workers; 0 ends
				    * every worker when it runs dry. */
	unsigned max_queued;	   /* accepted calls that may wait for a
				    * worker on top of max_workers running
				    * ones, 0..MAX */
	unsigned max_backlog;	   /* tame_call_remote requests held while the
				    * pool is saturated, 0..MAX */
};

/* Fill opts with the defaults above (max_idle_workers = max_workers). */
void tame_call_pool_opts_init(struct tame_call_pool_opts *opts);

/*
 * Create a pool of worker fibers on r. Must be called on r's owner thread
 * (which the reactor API cannot check); the pool is bound to it. opts may be
 * NULL for the defaults. No fiber is made until the first call. Returns 0
 * and sets *out, -EINVAL for a NULL argument or an option out of range,
 * -ENOMEM, or, with port/ linked in (libtamerocks.so), -ENOTSUP when the
 * program contains a RocksDB whose thread-locals cannot be made per fiber
 * (linked statically into a stripped program: see
 * tame_port_check_rocksdb_tls; a message on stderr says what to do).
 */
int tame_call_pool_create(struct tame_reactor *r, const struct tame_call_pool_opts *opts,
			  struct tame_call_pool **out);

/*
 * Run fn(arg) on a worker fiber of p, then on_done(ctx, 0) (on_done may be
 * NULL). Owner thread only. The call goes to the idle worker that went idle
 * last, else to a new worker while fewer than max_workers exist, else it
 * waits in FIFO order for the next worker that finishes. Nothing runs
 * before tame_call returns: fn starts when the loop next runs the worker.
 *
 * Returns 0 when the call was accepted (on_done will be called exactly
 * once), or, with nothing run and on_done never called: -EAGAIN when
 * max_workers + max_queued accepted calls have not finished (retry after a
 * completion), -ESHUTDOWN once tame_call_pool_destroy began, -EINVAL for a
 * NULL p or fn, -EPERM off the owner thread, -ENOMEM or the tame_spawn
 * error when no worker exists and none could be made.
 */
int tame_call(struct tame_call_pool *p, tame_call_fn fn, void *arg, tame_call_done_fn on_done,
	      void *ctx);

/*
 * tame_call from any thread. The request travels through the reactor's
 * inbox (tame_spawn) to a short-lived fiber that hands it to the pool; if
 * the pool is saturated it waits in the pool's backlog (FIFO, no fiber
 * held) and is accepted before any later call as completions free room.
 *
 * Returns 0 when the request was sent: on_done(ctx, status) will then be
 * called exactly once, on the reactor thread, with 0 after fn ran or with a
 * negative status (see tame_call_done_fn) if the pool refused it. Returns,
 * with on_done never called: -EAGAIN when the reactor's inbox is full
 * (retry later), -ESHUTDOWN once destroy began (or the reactor is being
 * destroyed), -EINVAL, -ENOMEM. p must stay valid until this function
 * returns: stop remote callers before destroying the pool.
 */
int tame_call_remote(struct tame_call_pool *p, tame_call_fn fn, void *arg,
		     tame_call_done_fn on_done, void *ctx);

/*
 * Destroy p; owner thread only. New calls are refused with -ESHUTDOWN from
 * the moment it begins. Backlogged remote requests complete with
 * -ESHUTDOWN; accepted calls still run to completion.
 *
 * On a fiber of p's reactor it parks until every accepted call has finished
 * and every remote request has left the inbox, releases the idle workers
 * (they exit the next time the loop runs them) and frees p.
 *
 * Off the loop (the owner thread outside tame_reactor_run, or a fiber of
 * another reactor) nothing can be waited for. If no call is accepted,
 * backlogged or on its way through the inbox, it releases the idle workers
 * (they exit when the reactor next runs, or are discarded by
 * tame_reactor_destroy) and frees p; otherwise it returns -EBUSY and p stays
 * usable (a tame_call_remote racing with it may have been refused with
 * -ESHUTDOWN meanwhile).
 *
 * Returns 0 (p is freed), -EBUSY (as above), -EDEADLK from fn or on_done of
 * one of p's own calls (it would wait for itself), -EALREADY while another
 * destroy of p is waiting, -EPERM off the owner thread, -EINVAL for NULL.
 */
int tame_call_pool_destroy(struct tame_call_pool *p);

struct tame_call_pool_stats {
	uint64_t calls_accepted;    /* by tame_call, or remote requests admitted */
	uint64_t calls_run;	    /* fn returned; on_done(ctx, 0) follows */
	uint64_t calls_refused;	    /* -EAGAIN answers of tame_call, plus remote
				     * requests completed with -EAGAIN */
	uint64_t calls_queued;	    /* accepted calls that found no free worker */
	uint64_t remote_requests;   /* tame_call_remote requests that reached p */
	uint64_t remote_backlogged; /* ... of which waited in the backlog */
	uint64_t workers_spawned;
	uint64_t workers_reused;    /* calls handed to an idle, warm worker */
	unsigned workers_live;	    /* spawned and not exited or released */
	unsigned workers_idle;
	unsigned calls_running;	    /* inside fn (running or parked) */
	unsigned calls_waiting;	    /* accepted, not yet started */
	unsigned backlog;	    /* remote requests in the backlog */
};

/* Snapshot the counters; owner thread only. */
void tame_call_pool_get_stats(const struct tame_call_pool *p, struct tame_call_pool_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* TAME_CALL_H */
