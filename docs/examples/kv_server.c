/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_server: a key-value service on ONE reactor thread, with RocksDB's C API.
 *
 * A driver fiber generates a stream of Get, Put, MultiGet and range-scan
 * requests and hands each to a call pool (tame_call). Worker fibers run the
 * RocksDB call; the completion (on_done) checks the answer against a model
 * of what the database may hold and frees the request. The driver keeps
 * more requests in flight than the pool accepts, so it meets -EAGAIN and
 * parks until a completion makes room: back-pressure, not an unbounded
 * queue. At the end it destroys the pool, prints ops/s and exits 0 if every
 * answer was possible.
 *
 * The model. Puts to one key are never in flight together, so each key's
 * versions rise. A read submitted after the Put of version c completed must
 * see a version >= c, and cannot see one that was not yet issued when it
 * completed: committed[key] <= seen <= issued[key].
 *
 * The database uses the tamerocks Env (tame_rocksdb_create_env, the C API's
 * way to a tamerocks:// URI), so a Get that misses the block cache reads
 * through this reactor's io_uring: the worker fiber parks and the reactor
 * serves other requests meanwhile; flushes and compactions run as fibers on
 * the Env's background reactors. Linked with libtamerocks.so, RocksDB's
 * thread-locals are per fiber (which the warm workers keep) and its lock
 * waits and sleeps park the worker fiber too. ENV "default" uses
 * rocksdb_create_default_env() instead: then every file read blocks the
 * reactor thread in pread; the answers must be the same. The report gives
 * the reactor's SQEs, which show where the reads went.
 *
 * usage: tame_kv_server DB_DIR [REQUESTS [ENV]]   (DB_DIR is wiped first;
 *        ENV: a tamerocks:// URI, default "tamerocks://", or "default")
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "tame_call.h"
#include "tame_reactor.h"
#include "tame_rocksdb_c.h"

#define KEYS 10000u
#define DEFAULT_REQUESTS 100000u
#define SPAN_KEYS 16u	     /* keys per MultiGet, and per scan range */
#define VALUE_BYTES 100u
#define KEY_BYTES 16u
#define WINDOW_REQUESTS 128u /* the driver's requests in flight ... */
#define POOL_WORKERS 16u     /* ... against 16 + 32 the pool accepts */
#define POOL_QUEUED 32u
#define WRITE_BUFFER_BYTES ((size_t)1 << 20) /* small: flushes during the run */
#define BLOCK_CACHE_BYTES ((size_t)256 << 10) /* smaller than the data */

enum op { OP_GET, OP_PUT, OP_MULTIGET, OP_SCAN, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"get", "put", "multiget", "scan"};

struct server;

struct request {
	struct server *s;
	enum op op;
	unsigned nkeys;		       /* keys asked (get 1, multiget/scan SPAN) */
	unsigned keys[SPAN_KEYS];      /* get/multiget: the keys; scan: keys[0] */
	uint32_t floor[SPAN_KEYS];     /* committed versions when submitted */
	uint32_t version;	       /* put: the version written */
	unsigned nfound;	       /* answer: keys found ... */
	unsigned found_keys[SPAN_KEYS]; /* ... which (in scan order) ... */
	uint32_t found[SPAN_KEYS];     /* ... and their versions (0: absent) */
	char *err;		       /* RocksDB's error, if any */
	struct request *next_free;
};

struct server {
	rocksdb_t *db;
	rocksdb_readoptions_t *ropts;
	rocksdb_writeoptions_t *wopts;
	struct tame_call_pool *pool;
	unsigned requests;
	/* The model; touched on the reactor thread only, like everything here. */
	uint32_t committed[KEYS];
	uint32_t issued[KEYS];
	bool put_inflight[KEYS];
	struct request reqs[WINDOW_REQUESTS];
	struct request *free_reqs;
	unsigned inflight;
	struct tame_fiber *driver;
	bool driver_waiting;
	uint64_t rng;
	/* Results. */
	uint64_t done[OP_COUNT];
	uint64_t eagain;
	uint64_t wrong;
	uint64_t errors;
	uint64_t start_ns;
	uint64_t end_ns;
	struct tame_call_pool_stats pool_stats;
	int destroy_rc;
};

static void key_of(unsigned k, char out[KEY_BYTES])
{
	snprintf(out, KEY_BYTES, "key%06u", k);
}

/* "key000042:v0000000007:" followed by filler, VALUE_BYTES in all. */
static void value_of(unsigned k, uint32_t version, char out[VALUE_BYTES])
{
	int n = snprintf(out, VALUE_BYTES, "key%06u:v%010" PRIu32 ":", k, version);

	memset(out + n, 'a' + (int)(version % 26), VALUE_BYTES - (size_t)n);
}

/* The version a value holds, or UINT32_MAX if it is not k's value at all. */
static uint32_t version_in(unsigned k, const char *v, size_t len)
{
	char want[VALUE_BYTES], text[VALUE_BYTES + 1];
	uint32_t version;

	if (len != VALUE_BYTES)
		return UINT32_MAX;
	memcpy(text, v, len); /* RocksDB's bytes are not NUL-terminated */
	text[len] = '\0';
	if (sscanf(text, "key%*6u:v%10" SCNu32 ":", &version) != 1)
		return UINT32_MAX;
	value_of(k, version, want);
	return memcmp(want, v, VALUE_BYTES) == 0 ? version : UINT32_MAX;
}

/* --- on a worker fiber: the RocksDB calls ------------------------------ */

static void serve_get(struct server *s, struct request *rq)
{
	char key[KEY_BYTES];
	size_t len = 0;
	char *v;

	key_of(rq->keys[0], key);
	v = rocksdb_get(s->db, s->ropts, key, strlen(key), &len, &rq->err);
	rq->found_keys[0] = rq->keys[0];
	rq->found[0] = v ? version_in(rq->keys[0], v, len) : 0;
	rq->nfound = 1;
	rocksdb_free(v);
}

static void serve_put(struct server *s, struct request *rq)
{
	char key[KEY_BYTES], value[VALUE_BYTES];

	key_of(rq->keys[0], key);
	value_of(rq->keys[0], rq->version, value);
	rocksdb_put(s->db, s->wopts, key, strlen(key), value, VALUE_BYTES, &rq->err);
}

static void serve_multiget(struct server *s, struct request *rq)
{
	char keys[SPAN_KEYS][KEY_BYTES], *values[SPAN_KEYS], *errs[SPAN_KEYS];
	const char *key_ptrs[SPAN_KEYS];
	size_t key_lens[SPAN_KEYS], value_lens[SPAN_KEYS];

	for (unsigned i = 0; i < rq->nkeys; i++) {
		key_of(rq->keys[i], keys[i]);
		key_ptrs[i] = keys[i];
		key_lens[i] = strlen(keys[i]);
	}
	rocksdb_multi_get(s->db, s->ropts, rq->nkeys, key_ptrs, key_lens, values, value_lens,
			  errs);
	for (unsigned i = 0; i < rq->nkeys; i++) {
		rq->found_keys[i] = rq->keys[i];
		rq->found[i] = values[i] ? version_in(rq->keys[i], values[i], value_lens[i]) : 0;
		rocksdb_free(values[i]);
		if (errs[i] && !rq->err)
			rq->err = errs[i];
		else
			rocksdb_free(errs[i]);
	}
	rq->nfound = rq->nkeys;
}

/* Every key in [keys[0], keys[0] + nkeys), in order. */
static void serve_scan(struct server *s, struct request *rq)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
	char first[KEY_BYTES], end[KEY_BYTES];

	key_of(rq->keys[0], first);
	key_of(rq->keys[0] + rq->nkeys, end); /* "key010000" sorts last: fine */
	rq->nfound = 0;
	for (rocksdb_iter_seek(it, first, strlen(first)); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		char text[KEY_BYTES];
		unsigned idx;

		if (klen != strlen(end) || memcmp(k, end, klen) >= 0 || rq->nfound == SPAN_KEYS)
			break;
		memcpy(text, k, klen);
		text[klen] = '\0';
		if (sscanf(text, "key%6u", &idx) != 1)
			idx = KEYS; /* not one of ours: the check rejects it */
		rq->found_keys[rq->nfound] = idx;
		rq->found[rq->nfound++] = idx < KEYS ? version_in(idx, v, vlen) : UINT32_MAX;
	}
	rocksdb_iter_get_error(it, &rq->err);
	rocksdb_iter_destroy(it);
}

static void serve(void *arg)
{
	struct request *rq = arg;

	switch (rq->op) {
	case OP_GET:
		serve_get(rq->s, rq);
		break;
	case OP_PUT:
		serve_put(rq->s, rq);
		break;
	case OP_MULTIGET:
		serve_multiget(rq->s, rq);
		break;
	default:
		serve_scan(rq->s, rq);
		break;
	}
}

/* --- completion: check the answer against the model --------------------- */

static bool possible(const struct server *s, unsigned k, uint32_t floor, uint32_t seen)
{
	return seen != UINT32_MAX && seen >= floor && seen <= s->issued[k];
}

static bool answer_ok(const struct server *s, const struct request *rq)
{
	unsigned next = 0; /* scan: the next found key to match */

	if (rq->op == OP_PUT)
		return true;
	if (rq->op != OP_SCAN) {
		for (unsigned i = 0; i < rq->nkeys; i++)
			if (!possible(s, rq->keys[i], rq->floor[i], rq->found[i]))
				return false;
		return true;
	}
	/* A scan returns exactly the keys of its range that exist, in order:
	 * a key committed before it was sent must be there. */
	for (unsigned i = 0; i < rq->nkeys; i++) {
		unsigned k = rq->keys[0] + i;
		bool present = next < rq->nfound && rq->found_keys[next] == k;

		if (present && !possible(s, k, rq->floor[i], rq->found[next]))
			return false;
		if (!present && rq->floor[i] > 0)
			return false;
		next += present;
	}
	return next == rq->nfound; /* nothing out of range or out of order */
}

static void served(void *ctx, int status)
{
	struct request *rq = ctx;
	struct server *s = rq->s;

	if (status != 0 || rq->err) {
		fprintf(stderr, "kv_server: %s failed: %s\n", op_names[rq->op],
			rq->err ? rq->err : strerror(-status));
		s->errors++;
	} else if (!answer_ok(s, rq)) {
		fprintf(stderr, "kv_server: impossible answer to %s of key %u\n", op_names[rq->op],
			rq->keys[0]);
		s->wrong++;
	}
	if (rq->op == OP_PUT) {
		s->committed[rq->keys[0]] = rq->version;
		s->put_inflight[rq->keys[0]] = false;
	}
	rocksdb_free(rq->err);
	rq->err = NULL;
	s->done[rq->op]++;
	s->end_ns = tame_now_ns();
	rq->next_free = s->free_reqs;
	s->free_reqs = rq;
	s->inflight--;
	if (s->driver_waiting) {
		s->driver_waiting = false;
		tame_wake(s->driver);
	}
}

/* --- the driver fiber ---------------------------------------------------- */

static uint64_t next_random(struct server *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

/* Park until a completion; a park can return early, so loop on the flag. */
static void wait_for_completion(struct server *s)
{
	s->driver_waiting = true;
	while (s->driver_waiting)
		tame_park();
}

static void build_request(struct server *s, struct request *rq)
{
	unsigned pick = next_random(s) % 100;

	rq->op = pick < 40 ? OP_GET : pick < 70 ? OP_PUT : pick < 85 ? OP_MULTIGET : OP_SCAN;
	rq->nkeys = rq->op == OP_MULTIGET || rq->op == OP_SCAN ? SPAN_KEYS : 1;
	if (rq->op == OP_SCAN)
		rq->keys[0] = next_random(s) % (KEYS - SPAN_KEYS + 1);
	else
		for (unsigned i = 0; i < rq->nkeys; i++)
			rq->keys[i] = next_random(s) % KEYS;
	if (rq->op == OP_PUT) {
		/* One Put per key in flight keeps each key's versions rising. */
		while (s->put_inflight[rq->keys[0]])
			rq->keys[0] = next_random(s) % KEYS;
		s->put_inflight[rq->keys[0]] = true;
		rq->version = ++s->issued[rq->keys[0]];
	}
	for (unsigned i = 0; i < rq->nkeys; i++)
		rq->floor[i] = s->committed[rq->op == OP_SCAN ? rq->keys[0] + i : rq->keys[i]];
}

static int submit(struct server *s, struct request *rq)
{
	for (;;) {
		int ret = tame_call(s->pool, serve, rq, served, rq);

		if (ret != -EAGAIN)
			return ret;
		s->eagain++; /* the pool is full: wait for a completion */
		wait_for_completion(s);
	}
}

static void driver_main(void *arg)
{
	struct server *s = arg;

	s->driver = tame_fiber_self();
	s->start_ns = tame_now_ns();
	for (unsigned i = 0; i < s->requests; i++) {
		struct request *rq;
		int ret;

		while (!s->free_reqs)
			wait_for_completion(s);
		rq = s->free_reqs;
		s->free_reqs = rq->next_free;
		build_request(s, rq);
		ret = submit(s, rq);
		if (ret < 0) {
			fprintf(stderr, "kv_server: tame_call: %s\n", strerror(-ret));
			s->errors++;
			break; /* a Put left marked in flight no longer matters */
		}
		s->inflight++;
	}
	while (s->inflight)
		wait_for_completion(s);
	tame_call_pool_get_stats(s->pool, &s->pool_stats);
	/* On a fiber: waits for the calls, releases the idle workers. */
	s->destroy_rc = tame_call_pool_destroy(s->pool);
}

/* --- setup and report ---------------------------------------------------- */

static rocksdb_t *open_db(const char *dir, rocksdb_env_t *env, rocksdb_options_t **opts)
{
	char *err = NULL;
	rocksdb_t *db;
	rocksdb_block_based_table_options_t *bbto;
	rocksdb_cache_t *cache;

	*opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(*opts, 1);
	rocksdb_options_set_env(*opts, env);
	rocksdb_options_set_write_buffer_size(*opts, WRITE_BUFFER_BYTES);
	/* As a storage server would: direct reads and a block cache smaller
	 * than the data, so Gets go to the device. */
	rocksdb_options_set_use_direct_reads(*opts, 1);
	bbto = rocksdb_block_based_options_create();
	cache = rocksdb_cache_create_lru(BLOCK_CACHE_BYTES);
	rocksdb_block_based_options_set_block_cache(bbto, cache);
	rocksdb_options_set_block_based_table_factory(*opts, bbto);
	rocksdb_block_based_options_destroy(bbto);
	rocksdb_cache_destroy(cache); /* the options keep their own reference */
	rocksdb_destroy_db(*opts, dir, &err); /* start from an empty database */
	rocksdb_free(err);
	err = NULL;
	db = rocksdb_open(*opts, dir, &err);
	if (!db) {
		fprintf(stderr, "kv_server: rocksdb_open %s: %s\n", dir, err);
		rocksdb_free(err);
	}
	return db;
}

static int report(const struct server *s)
{
	double secs = (double)(s->end_ns - s->start_ns) / 1e9;
	uint64_t total = 0;

	for (int op = 0; op < OP_COUNT; op++) {
		printf("  %-8s %8" PRIu64 "\n", op_names[op], s->done[op]);
		total += s->done[op];
	}
	printf("kv_server: %" PRIu64 " requests in %.3f s: %.0f ops/s on one reactor thread\n",
	       total, secs, secs > 0 ? (double)total / secs : 0.0);
	printf("  pool: %" PRIu64 " workers spawned, %" PRIu64 " calls on warm workers, "
	       "%" PRIu64 " waited for a worker; driver met -EAGAIN %" PRIu64 " times\n",
	       s->pool_stats.workers_spawned, s->pool_stats.workers_reused,
	       s->pool_stats.calls_queued, s->eagain);
	printf("  impossible answers %" PRIu64 ", errors %" PRIu64 ", pool destroy %d\n", s->wrong,
	       s->errors, s->destroy_rc);
	if (total != s->requests || s->wrong || s->errors || s->destroy_rc) {
		printf("kv_server: FAIL\n");
		return 1;
	}
	printf("kv_server: PASS\n");
	return 0;
}

/* Runs the driver on reactor r until the pool is destroyed and every
 * fiber has exited. */
static int serve_requests(struct server *s, struct tame_reactor *r)
{
	struct tame_call_pool_opts popts;
	int ret;

	tame_call_pool_opts_init(&popts);
	popts.max_workers = POOL_WORKERS;
	popts.max_idle_workers = POOL_WORKERS;
	popts.max_queued = POOL_QUEUED;
	ret = tame_call_pool_create(r, &popts, &s->pool);
	if (ret < 0)
		return ret;
	ret = tame_spawn(r, driver_main, s);
	if (ret < 0) {
		tame_call_pool_destroy(s->pool); /* off the loop, nothing accepted */
		return ret;
	}
	return tame_reactor_run(r, TAME_RUN_UNTIL_EMPTY);
}

int main(int argc, char **argv)
{
	struct tame_reactor_opts ropts;
	struct tame_reactor *r = NULL;
	rocksdb_options_t *opts = NULL;
	rocksdb_env_t *env;
	struct server *s;
	int ret, status = 1;

	const char *env_uri = argc >= 4 ? argv[3] : "tamerocks://";
	char *err = NULL;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s DB_DIR [REQUESTS [ENV]]   (DB_DIR is wiped first;\n"
				"       ENV: a tamerocks:// URI, default \"tamerocks://\", or \"default\")\n",
			argv[0]);
		return 2;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	s->requests = argc >= 3 ? (unsigned)strtoul(argv[2], NULL, 10) : DEFAULT_REQUESTS;
	s->rng = 0x9E3779B97F4A7C15ull;
	for (unsigned i = 0; i < WINDOW_REQUESTS; i++) {
		s->reqs[i].s = s;
		s->reqs[i].next_free = s->free_reqs;
		s->free_reqs = &s->reqs[i];
	}
	tame_reactor_opts_init(&ropts);
	ropts.name = "kv";
	ropts.flags = TAME_REACTOR_SYNC_FALLBACK; /* run even where io_uring is refused */
	ret = tame_reactor_create(&ropts, &r);
	if (ret < 0) {
		fprintf(stderr, "kv_server: tame_reactor_create: %s\n", strerror(-ret));
		goto out_free;
	}
	if (strcmp(env_uri, "default") == 0) {
		env = rocksdb_create_default_env();
	} else if (!(env = tame_rocksdb_create_env(env_uri, &err))) {
		fprintf(stderr, "kv_server: %s\n", err);
		free(err);
		goto out_reactor;
	}
	printf("kv_server: Env %s, reactor backend %s\n", env_uri, tame_reactor_backend(r));
	s->db = open_db(argv[1], env, &opts);
	if (!s->db)
		goto out_env;
	s->ropts = rocksdb_readoptions_create();
	s->wopts = rocksdb_writeoptions_create();
	ret = serve_requests(s, r);
	if (ret < 0) {
		fprintf(stderr, "kv_server: %s\n", strerror(-ret));
	} else {
		struct tame_reactor_stats rs;

		tame_reactor_get_stats(r, &rs);
		printf("  reactor: %" PRIu64 " SQEs submitted (file I/O through its ring), "
		       "%" PRIu64 " fiber parks\n", rs.sqes_submitted, rs.parks);
		status = report(s);
	}
	rocksdb_readoptions_destroy(s->ropts);
	rocksdb_writeoptions_destroy(s->wopts);
	rocksdb_close(s->db);
out_env:
	rocksdb_options_destroy(opts);
	rocksdb_env_destroy(env);
out_reactor:
	tame_reactor_destroy(r);
out_free:
	free(s);
	return status;
}
