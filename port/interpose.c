/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sleeps, yields, joins and one-time initialization, interposed (see
 * tame_port.h). On a fiber that may park they park; anywhere else they are
 * glibc's. Compiled with -fexceptions: a C++ initializer that throws unwinds
 * through pthread_once and the no-yield section still ends.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "port_internal.h"
#include "tame_port.h"

#define NS_PER_S 1000000000ull
#define JOIN_POLL_MIN_NS 20000ull
#define JOIN_POLL_MAX_NS 1000000ull

int sched_yield(void)
{
	if (tame_can_park()) {
		tame_yield();
		return 0;
	}
	return (int)syscall(SYS_sched_yield);
}

static bool valid_timespec(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < (long)NS_PER_S;
}

static uint64_t timespec_ns(const struct timespec *ts)
{
	if ((uint64_t)ts->tv_sec >= UINT64_MAX / NS_PER_S - 1)
		return UINT64_MAX / 2;
	return (uint64_t)ts->tv_sec * NS_PER_S + (uint64_t)ts->tv_nsec;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!tame_can_park())
		return REAL(nanosleep, "GLIBC_2.2.5", req, rem);
	if (!valid_timespec(req)) {
		errno = EINVAL;
		return -1;
	}
	tame_sleep_ns(timespec_ns(req));
	if (rem)
		*rem = (struct timespec){0, 0};
	return 0;
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
	struct timespec now;

	if (!tame_can_park())
		return REAL(clock_nanosleep, "GLIBC_2.17", clock, flags, req, rem);
	if (!valid_timespec(req))
		return EINVAL;
	if (clock_gettime(clock, &now) < 0 || clock == CLOCK_THREAD_CPUTIME_ID)
		return EINVAL;
	if (flags & TIMER_ABSTIME) {
		uint64_t at = timespec_ns(req), cur = timespec_ns(&now);

		if (at > cur)
			tame_sleep_ns(at - cur);
		return 0;
	}
	tame_sleep_ns(timespec_ns(req));
	if (rem)
		*rem = (struct timespec){0, 0};
	return 0;
}

int usleep(useconds_t usec)
{
	if (!tame_can_park())
		return REAL(usleep, "GLIBC_2.2.5", usec);
	tame_sleep_ns((uint64_t)usec * 1000u);
	return 0;
}

unsigned int sleep(unsigned int seconds)
{
	if (!tame_can_park())
		return REAL(sleep, "GLIBC_2.2.5", seconds);
	tame_sleep_ns((uint64_t)seconds * NS_PER_S);
	return 0;
}

/* A fiber joining a thread polls instead of blocking its reactor: the
 * thread it waits for may need a lock another fiber of this reactor holds. */
int pthread_join(pthread_t thread, void **retval)
{
	uint64_t poll_ns = JOIN_POLL_MIN_NS;
	int r;

	if (!tame_can_park())
		return REAL(pthread_join, "GLIBC_2.34", thread, retval);
	while ((r = pthread_tryjoin_np(thread, retval)) == EBUSY) {
		tame_sleep_ns(poll_ns);
		if (poll_ns < JOIN_POLL_MAX_NS)
			poll_ns *= 2;
	}
	return r;
}

/* ---- one-time initialization: no-yield sections ---------------------------- */

static void noyield_cleanup(int *unused)
{
	(void)unused;
	tame_noyield_exit();
}

int pthread_once(pthread_once_t *once, void (*init)(void))
{
	if (!tame_fiber_self())
		return REAL(pthread_once, "GLIBC_2.34", once, init);
	tame_noyield_enter();
	int section __attribute__((cleanup(noyield_cleanup))) = 0;
	(void)section;
	return REAL(pthread_once, "GLIBC_2.34", once, init);
}

/* The Itanium C++ ABI's guard object: the compiler checks its first byte
 * inline and calls acquire only while the static may be uninitialized. */
typedef uint64_t tame_cxa_guard;
int __cxa_guard_acquire(tame_cxa_guard *g);
void __cxa_guard_release(tame_cxa_guard *g);
void __cxa_guard_abort(tame_cxa_guard *g);

/* acquire returns 1 when the caller must run the initializer, which then
 * ends with release (or abort, if it threw). */
int __cxa_guard_acquire(tame_cxa_guard *g)
{
	int r = REAL(__cxa_guard_acquire, "CXXABI_1.3", g);

	if (r)
		tame_noyield_enter();
	return r;
}

void __cxa_guard_release(tame_cxa_guard *g)
{
	REAL(__cxa_guard_release, "CXXABI_1.3", g);
	tame_noyield_exit();
}

void __cxa_guard_abort(tame_cxa_guard *g)
{
	REAL(__cxa_guard_abort, "CXXABI_1.3", g);
	tame_noyield_exit();
}

/* ---- status ------------------------------------------------------------------ */

extern __typeof(sched_yield) tame_port_own_sched_yield
	__attribute__((alias("sched_yield"), visibility("hidden"), copy(sched_yield)));

bool tame_port_interposed(void)
{
	/* The first definition in the global lookup order. An unversioned
	 * definition also binds versioned references (librocksdb asks for
	 * pthread_cond_wait@GLIBC_2.3.2), so this is what they find; dlvsym
	 * would not do: it asks for the exact version only. */
	void *lock = dlsym(RTLD_DEFAULT, "pthread_mutex_lock");
	void *wait = dlsym(RTLD_DEFAULT, "pthread_cond_wait");
	void *yield = dlsym(RTLD_DEFAULT, "sched_yield");

	return lock == (void *)tame_port_own_mutex_lock && wait == (void *)tame_port_own_cond_wait &&
	       yield == (void *)tame_port_own_sched_yield;
}

/* Make RocksDB's thread-locals fiber-local before anyone creates a fiber:
 * a fiber created earlier would share its thread's SuperVersion cache. */
__attribute__((constructor)) static void port_init(void)
{
	tame_port_register_rocksdb_tls();
}
