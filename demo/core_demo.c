/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tamerocks core demo: one reactor thread, many fibers, real file I/O.
 *
 * 256 fibers each read random 4 KiB blocks of a 64 MiB file (O_DIRECT
 * where the file system allows it, so reads reach the device) on one OS
 * thread, parking on io_uring while the reactor runs the others; a second
 * OS thread feeds the reactor extra fibers through its inbox; a few fibers
 * sleep on timers. The same workload then runs on a reactor that uses the
 * synchronous fallback (a blocking pread per read), for comparison.
 *
 * usage: tame_core_demo [dir]   (default: $TMPDIR or /var/tmp)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tame_reactor.h"

#define FILE_BYTES ((off_t)64 << 20)
#define BLOCK_BYTES 4096
#define FIBERS 256
#define READS_PER_FIBER 100
#define FOREIGN_SPAWNS 1000

struct demo {
	struct tame_reactor *r;
	int fd;
	atomic_ulong reads;
	atomic_ulong bad;
	atomic_ulong foreign_ran;
	atomic_ulong sleeps_done;
};

static uint64_t block_seed(off_t block)
{
	return (uint64_t)block * 0x9E3779B97F4A7C15ull;
}

static void reader(void *arg)
{
	struct demo *d = arg;
	unsigned seed = (unsigned)(uintptr_t)tame_fiber_id(tame_fiber_self());
	_Alignas(BLOCK_BYTES) char buf[BLOCK_BYTES]; /* O_DIRECT alignment */

	for (int i = 0; i < READS_PER_FIBER; i++) {
		off_t block = rand_r(&seed) % (FILE_BYTES / BLOCK_BYTES);
		ssize_t n = tame_io_read(d->fd, buf, sizeof(buf), block * BLOCK_BYTES);
		uint64_t first;

		memcpy(&first, buf, sizeof(first));
		if (n != BLOCK_BYTES || first != block_seed(block))
			atomic_fetch_add(&d->bad, 1);
		atomic_fetch_add(&d->reads, 1);
	}
}

static void foreign_job(void *arg)
{
	struct demo *d = arg;

	atomic_fetch_add(&d->foreign_ran, 1);
}

static void sleeper(void *arg)
{
	struct demo *d = arg;
	uint64_t start = tame_now_ns();

	tame_sleep_ns(2000000);
	if (tame_now_ns() - start >= 2000000)
		atomic_fetch_add(&d->sleeps_done, 1);
}

static void *feeder(void *arg)
{
	struct demo *d = arg;

	for (int i = 0; i < FOREIGN_SPAWNS;) {
		int ret = tame_spawn(d->r, foreign_job, d);

		if (ret == 0)
			i++;
		else if (ret == -EAGAIN)
			sched_yield(); /* inbox full: back off and retry */
		else
			return NULL;
	}
	return NULL;
}

static int make_file(const char *dir, char *path, size_t len)
{
	char buf[BLOCK_BYTES];
	int fd;

	snprintf(path, len, "%s/tame_core_demo.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	memset(buf, 0xab, sizeof(buf));
	for (off_t b = 0; b < FILE_BYTES / BLOCK_BYTES; b++) {
		uint64_t v = block_seed(b);

		memcpy(buf, &v, sizeof(v));
		if (pwrite(fd, buf, sizeof(buf), b * BLOCK_BYTES) != sizeof(buf))
			return -errno;
	}
	return fd;
}

static int run_once(int fd, unsigned flags, double *reads_per_sec)
{
	struct tame_reactor_opts o;
	struct tame_reactor_stats st;
	struct demo d = {.fd = fd};
	pthread_t thr;
	uint64_t start;
	int ret;

	tame_reactor_opts_init(&o);
	o.name = flags ? "demo-sync" : "demo-uring";
	o.flags = flags;
	ret = tame_reactor_create(&o, &d.r);
	if (ret < 0) {
		fprintf(stderr, "tame_reactor_create: %s\n", strerror(-ret));
		return ret;
	}
	for (int i = 0; i < FIBERS; i++)
		tame_spawn(d.r, reader, &d);
	for (int i = 0; i < 8; i++)
		tame_spawn(d.r, sleeper, &d);
	pthread_create(&thr, NULL, feeder, &d);
	start = tame_now_ns();
	tame_reactor_run(d.r, TAME_RUN_UNTIL_EMPTY);
	pthread_join(thr, NULL);
	tame_reactor_run(d.r, TAME_RUN_UNTIL_EMPTY); /* spawns that landed late */
	*reads_per_sec = (double)atomic_load(&d.reads) * 1e9 / (double)(tame_now_ns() - start);
	tame_reactor_get_stats(d.r, &st);
	printf("%-10s backend=%-40s reads=%lu bad=%lu foreign_fibers=%lu/%d "
	       "timed_sleeps=%lu/8\n",
	       o.name, tame_reactor_backend(d.r), atomic_load(&d.reads), atomic_load(&d.bad),
	       atomic_load(&d.foreign_ran), FOREIGN_SPAWNS, atomic_load(&d.sleeps_done));
	printf("%-10s fibers=%llu switches=%llu parks=%llu sqes=%llu cqes=%llu "
	       "enters=%llu inbox=%llu inbox_full=%llu sleeps=%llu\n", "",
	       (unsigned long long)st.fibers_spawned, (unsigned long long)st.switches,
	       (unsigned long long)st.parks, (unsigned long long)st.sqes_submitted,
	       (unsigned long long)st.cqes_reaped, (unsigned long long)st.io_enters,
	       (unsigned long long)st.inbox_msgs, (unsigned long long)st.inbox_full,
	       (unsigned long long)st.sleeps);
	tame_reactor_destroy(d.r);
	return atomic_load(&d.bad) || atomic_load(&d.foreign_ran) != FOREIGN_SPAWNS ? -EIO : 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp");
	double uring_rps = 0, sync_rps = 0;
	char path[4096];
	int fd, ret;

	const char *mode = "O_DIRECT";
	int wfd;

	wfd = make_file(dir, path, sizeof(path));
	if (wfd < 0) {
		fprintf(stderr, "cannot create the demo file in %s: %s\n", dir, strerror(-wfd));
		return 1;
	}
	fsync(wfd);
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		mode = "buffered: this file system refuses O_DIRECT";
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	close(wfd);
	printf("tamerocks core demo: %d fibers x %d random 4 KiB reads (%s) of a %lld MiB "
	       "file in %s, on one reactor thread\n",
	       FIBERS, READS_PER_FIBER, mode, (long long)(FILE_BYTES >> 20), dir);
	ret = run_once(fd, 0, &uring_rps);
	if (ret == 0)
		ret = run_once(fd, TAME_REACTOR_NO_IO_URING | TAME_REACTOR_SYNC_FALLBACK, &sync_rps);
	unlink(path);
	close(fd);
	if (ret < 0) {
		printf("demo FAILED: %s\n", strerror(-ret));
		return 1;
	}
	printf("reads/s: io_uring reactor %.0f, sync fallback %.0f, ratio %.2fx\n", uring_rps,
	       sync_rps, uring_rps / sync_rps);
	return 0;
}
