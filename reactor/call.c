/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Call pools (tame_call.h), on the public reactor API only.
 *
 * Accepted calls wait in a ring until a worker takes them, oldest first.
 * The ring never overflows: it holds max_workers + max_queued entries, and
 * admission keeps the calls that have not returned from fn (waiting plus
 * running) below that.
 *
 * A worker keeps its own record on its own stack. It drains the ring, then
 * pushes itself on the idle stack and parks; tame_call pops the top (the
 * warmest worker), marks it handed and wakes it. Every worker drains the
 * ring before it goes idle or exits, and nothing switches fibers between
 * that last look and the push, so a call left in the ring always has a
 * worker that will come back for it.
 *
 * Destroy cannot free a parked worker's stack, so it releases each idle
 * worker instead: it sets a flag in the worker's own record, wakes it and
 * forgets it. The worker returns as soon as it runs, without touching the
 * pool, and a reactor destroyed first simply discards it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tame_call.h"

/* How often a waiting destroy re-checks remote requests that another
 * thread abandoned (their decrement cannot wake it). */
#define CALL_DESTROY_POLL_NS 1000000ull

struct call_req {
	tame_call_fn fn;
	void *arg;
	tame_call_done_fn on_done;
	void *ctx;
};

/* A fiber running the pool's callbacks: a worker, or a remote request's
 * fiber while it calls on_done. Destroy refuses to wait for itself. */
struct call_fiber {
	struct tame_fiber *fiber;
	struct call_fiber *prev;
	struct call_fiber *next;
};

/* On the worker's own stack. */
struct call_worker {
	struct call_fiber link;
	struct call_worker *idle_next;
	bool handed;   /* taken off the idle stack: there is work */
	bool released; /* the pool is gone: return without touching it */
};

/* Heap; one per tame_call_remote request, freed on the reactor thread. */
struct call_remote {
	struct tame_call_pool *pool;
	struct call_req req;
	struct call_remote *next;
};

struct tame_call_pool {
	struct tame_reactor *reactor;
	pthread_t owner;
	struct tame_call_pool_opts opts;
	unsigned capacity; /* max_workers + max_queued */

	struct call_req *ring;
	unsigned ring_head;
	unsigned nwaiting;  /* in the ring */
	unsigned naccepted; /* waiting + running */
	unsigned nrunning;

	unsigned nworkers; /* spawned, neither exited nor released */
	unsigned nidle;
	struct call_worker *idle; /* stack: last idled on top */
	struct call_fiber *fibers;

	struct call_remote *backlog_head;
	struct call_remote *backlog_tail;
	unsigned nbacklog;

	struct tame_fiber *destroyer;
	atomic_bool stopping;
	atomic_uint remote_inflight; /* sent by tame_call_remote, not done */

	struct tame_call_pool_stats stats; /* counters; gauges filled on read */
};

void tame_call_pool_opts_init(struct tame_call_pool_opts *o)
{
	*o = (struct tame_call_pool_opts){
		.max_workers = TAME_CALL_DEFAULT_MAX_WORKERS,
		.max_idle_workers = TAME_CALL_DEFAULT_MAX_WORKERS,
		.max_queued = TAME_CALL_DEFAULT_MAX_QUEUED,
		.max_backlog = TAME_CALL_DEFAULT_MAX_BACKLOG,
	};
}

static int check_opts(struct tame_call_pool_opts *o)
{
	if (o->max_workers == 0 || o->max_workers > TAME_CALL_MAX_WORKERS)
		return -EINVAL;
	if (o->max_queued > TAME_CALL_MAX_QUEUED)
		return -EINVAL;
	if (o->max_backlog > TAME_CALL_MAX_BACKLOG)
		return -EINVAL;
	if (o->max_idle_workers > o->max_workers)
		o->max_idle_workers = o->max_workers;
	return 0;
}

/* port/, where it is linked in (libtamerocks.so, tamerocks_port): refuses
 * a pool when the program holds a RocksDB whose thread-locals cannot be
 * made fiber-local. The core alone runs no RocksDB and has no such check. */
extern int tame_port_check_rocksdb_tls(void) __attribute__((weak));

int tame_call_pool_create(struct tame_reactor *r, const struct tame_call_pool_opts *opts,
			  struct tame_call_pool **out)
{
	struct tame_call_pool *p;
	int ret;

	if (!r || !out)
		return -EINVAL;
	if (tame_port_check_rocksdb_tls) {
		ret = tame_port_check_rocksdb_tls();
		if (ret < 0)
			return ret;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (opts)
		p->opts = *opts;
	else
		tame_call_pool_opts_init(&p->opts);
	ret = check_opts(&p->opts);
	if (ret < 0)
		goto err_free;
	p->capacity = p->opts.max_workers + p->opts.max_queued;
	p->ring = calloc(p->capacity, sizeof(*p->ring));
	if (!p->ring) {
		ret = -ENOMEM;
		goto err_free;
	}
	p->reactor = r;
	p->owner = pthread_self();
	atomic_init(&p->stopping, false);
	atomic_init(&p->remote_inflight, 0);
	*out = p;
	return 0;

err_free:
	free(p);
	return ret;
}

static bool stopping(const struct tame_call_pool *p)
{
	return atomic_load_explicit(&p->stopping, memory_order_relaxed);
}

static bool on_owner_thread(const struct tame_call_pool *p)
{
	return pthread_equal(pthread_self(), p->owner);
}

/* --- the ring of accepted calls ----------------------------------------- */

static void ring_push(struct tame_call_pool *p, const struct call_req *c)
{
	p->ring[(p->ring_head + p->nwaiting) % p->capacity] = *c;
	p->nwaiting++;
}

static bool ring_pop(struct tame_call_pool *p, struct call_req *c)
{
	if (!p->nwaiting)
		return false;
	*c = p->ring[p->ring_head];
	p->ring_head = (p->ring_head + 1) % p->capacity;
	p->nwaiting--;
	return true;
}

/* --- the pool's fibers -------------------------------------------------- */

static void fiber_link(struct tame_call_pool *p, struct call_fiber *f)
{
	f->fiber = tame_fiber_self();
	f->prev = NULL;
	f->next = p->fibers;
	if (p->fibers)
		p->fibers->prev = f;
	p->fibers = f;
}

static void fiber_unlink(struct tame_call_pool *p, struct call_fiber *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		p->fibers = f->next;
	if (f->next)
		f->next->prev = f->prev;
}

static bool is_pool_fiber(const struct tame_call_pool *p, const struct tame_fiber *self)
{
	for (const struct call_fiber *f = p->fibers; f; f = f->next)
		if (f->fiber == self)
			return true;
	return false;
}

static void worker_main(void *arg);

/* A call was just pushed: make sure a worker will come for it. */
static int dispatch(struct tame_call_pool *p)
{
	struct call_worker *w = p->idle;
	int ret;

	if (w) {
		p->idle = w->idle_next;
		p->nidle--;
		w->handed = true;
		p->stats.workers_reused++;
		tame_wake(w->link.fiber);
		return 0;
	}
	if (p->nworkers < p->opts.max_workers) {
		ret = tame_spawn(p->reactor, worker_main, p);
		if (ret == 0) {
			p->nworkers++;
			p->stats.workers_spawned++;
			return 0;
		}
		/* No idle worker, so every live one is busy and drains the
		 * ring before it stops: the call can wait for one of them. */
		if (p->nworkers == 0)
			return ret;
	}
	p->stats.calls_queued++;
	return 0;
}

static int accept_call(struct tame_call_pool *p, const struct call_req *c)
{
	int ret;

	if (p->naccepted >= p->capacity)
		return -EAGAIN;
	ring_push(p, c);
	ret = dispatch(p);
	if (ret < 0) {
		p->nwaiting--; /* nothing switched fibers: the tail is ours */
		return ret;
	}
	p->naccepted++;
	p->stats.calls_accepted++;
	return 0;
}

static void complete(struct tame_call_pool *p, struct call_remote *rq, int status)
{
	struct call_fiber self;

	if (status == -EAGAIN)
		p->stats.calls_refused++;
	if (rq->req.on_done) {
		fiber_link(p, &self);
		rq->req.on_done(rq->req.ctx, status);
		fiber_unlink(p, &self);
	}
	free(rq);
}

static struct call_remote *backlog_pop(struct tame_call_pool *p)
{
	struct call_remote *rq = p->backlog_head;

	p->backlog_head = rq->next;
	if (!p->backlog_head)
		p->backlog_tail = NULL;
	p->nbacklog--;
	return rq;
}

/* Room was made: admit backlogged remote requests, oldest first. */
static void backlog_admit(struct tame_call_pool *p)
{
	while (p->backlog_head && p->naccepted < p->capacity && !stopping(p)) {
		int ret = accept_call(p, &p->backlog_head->req);
		struct call_remote *rq = backlog_pop(p);

		if (ret == 0)
			free(rq);
		else
			complete(p, rq, ret); /* may park: the loop re-checks */
	}
}

static void backlog_flush(struct tame_call_pool *p, int status)
{
	while (p->backlog_head)
		complete(p, backlog_pop(p), status);
}

/* --- workers -------------------------------------------------------------- */

static void worker_drain(struct tame_call_pool *p)
{
	struct call_req c;

	while (ring_pop(p, &c)) {
		p->nrunning++;
		c.fn(c.arg);
		p->nrunning--;
		p->naccepted--;
		p->stats.calls_run++;
		backlog_admit(p);
		if (c.on_done)
			c.on_done(c.ctx, 0);
		tame_maybe_yield(); /* a busy pool must not starve the loop */
	}
}

static void worker_main(void *arg)
{
	struct tame_call_pool *p = arg;
	struct call_worker w = {.handed = false, .released = false};

	fiber_link(p, &w.link);
	for (;;) {
		worker_drain(p);
		if (stopping(p) || p->nidle >= p->opts.max_idle_workers)
			break;
		w.idle_next = p->idle;
		p->idle = &w;
		p->nidle++;
		/* A park may return early (a stray token): re-check. */
		while (!w.handed && !w.released)
			tame_park();
		if (w.released)
			return; /* p may be freed already */
		w.handed = false;
	}
	fiber_unlink(p, &w.link);
	p->nworkers--;
	if (p->destroyer)
		tame_wake(p->destroyer);
}

/* Idle workers exit on their own once they run; the pool forgets them. */
static void release_idle(struct tame_call_pool *p)
{
	struct call_worker *w;

	while ((w = p->idle) != NULL) {
		p->idle = w->idle_next;
		p->nidle--;
		p->nworkers--;
		fiber_unlink(p, &w->link);
		w->released = true;
		tame_wake(w->link.fiber);
	}
}

/* --- the API ------------------------------------------------------------ */

int tame_call(struct tame_call_pool *p, tame_call_fn fn, void *arg, tame_call_done_fn on_done,
	      void *ctx)
{
	struct call_req c = {.fn = fn, .arg = arg, .on_done = on_done, .ctx = ctx};
	int ret;

	if (!p || !fn)
		return -EINVAL;
	if (!on_owner_thread(p))
		return -EPERM;
	if (stopping(p))
		return -ESHUTDOWN;
	ret = accept_call(p, &c);
	if (ret == -EAGAIN)
		p->stats.calls_refused++;
	return ret;
}

/* 0: accepted; 1: kept in the backlog; < 0: refused with that status. */
static int remote_take(struct tame_call_pool *p, struct call_remote *rq)
{
	int ret;

	if (stopping(p))
		return -ESHUTDOWN;
	p->stats.remote_requests++;
	if (!p->backlog_head) {
		ret = accept_call(p, &rq->req);
		if (ret != -EAGAIN)
			return ret;
	}
	if (p->nbacklog >= p->opts.max_backlog)
		return -EAGAIN;
	rq->next = NULL;
	if (p->backlog_tail)
		p->backlog_tail->next = rq;
	else
		p->backlog_head = rq;
	p->backlog_tail = rq;
	p->nbacklog++;
	p->stats.remote_backlogged++;
	backlog_admit(p); /* only admits if a failed spawn left room */
	return 1;
}

static void remote_main(void *arg)
{
	struct call_remote *rq = arg;
	struct tame_call_pool *p = rq->pool;
	int ret = remote_take(p, rq);

	if (ret == 0)
		free(rq);
	else if (ret < 0)
		complete(p, rq, ret);
	atomic_fetch_sub_explicit(&p->remote_inflight, 1, memory_order_release);
	if (p->destroyer)
		tame_wake(p->destroyer);
}

int tame_call_remote(struct tame_call_pool *p, tame_call_fn fn, void *arg,
		     tame_call_done_fn on_done, void *ctx)
{
	struct call_remote *rq;
	int ret;

	if (!p || !fn)
		return -EINVAL;
	/* Paired with destroy's store to stopping and load of
	 * remote_inflight: one of the two sees the other. */
	atomic_fetch_add_explicit(&p->remote_inflight, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&p->stopping, memory_order_seq_cst)) {
		ret = -ESHUTDOWN;
		goto err_inflight;
	}
	rq = malloc(sizeof(*rq));
	if (!rq) {
		ret = -ENOMEM;
		goto err_inflight;
	}
	*rq = (struct call_remote){
		.pool = p,
		.req = {.fn = fn, .arg = arg, .on_done = on_done, .ctx = ctx},
	};
	ret = tame_spawn(p->reactor, remote_main, rq);
	if (ret < 0)
		goto err_free;
	return 0;

err_free:
	free(rq);
err_inflight:
	atomic_fetch_sub_explicit(&p->remote_inflight, 1, memory_order_release);
	return ret;
}

static unsigned remote_inflight(struct tame_call_pool *p)
{
	return atomic_load_explicit(&p->remote_inflight, memory_order_seq_cst);
}

static void pool_free(struct tame_call_pool *p)
{
	free(p->ring);
	free(p);
}

static int destroy_on_fiber(struct tame_call_pool *p)
{
	if (is_pool_fiber(p, tame_fiber_self()))
		return -EDEADLK;
	atomic_store_explicit(&p->stopping, true, memory_order_seq_cst);
	p->destroyer = tame_fiber_self();
	backlog_flush(p, -ESHUTDOWN);
	/* Busy workers see stopping and exit instead of going idle. */
	release_idle(p);
	while (p->nworkers || remote_inflight(p)) {
		if (remote_inflight(p))
			tame_park_until(tame_now_ns() + CALL_DESTROY_POLL_NS);
		else
			tame_park(); /* the last worker to exit wakes us */
	}
	pool_free(p);
	return 0;
}

static int destroy_off_loop(struct tame_call_pool *p)
{
	if (p->nworkers != p->nidle || p->nbacklog || remote_inflight(p))
		return -EBUSY;
	atomic_store_explicit(&p->stopping, true, memory_order_seq_cst);
	if (remote_inflight(p)) {
		atomic_store_explicit(&p->stopping, false, memory_order_relaxed);
		return -EBUSY;
	}
	release_idle(p);
	pool_free(p);
	return 0;
}

int tame_call_pool_destroy(struct tame_call_pool *p)
{
	if (!p)
		return -EINVAL;
	if (!on_owner_thread(p))
		return -EPERM;
	if (stopping(p))
		return -EALREADY;
	if (tame_fiber_reactor() == p->reactor)
		return destroy_on_fiber(p);
	return destroy_off_loop(p);
}

void tame_call_pool_get_stats(const struct tame_call_pool *p, struct tame_call_pool_stats *out)
{
	*out = p->stats;
	out->workers_live = p->nworkers;
	out->workers_idle = p->nidle;
	out->calls_running = p->nrunning;
	out->calls_waiting = p->nwaiting;
	out->backlog = p->nbacklog;
}
