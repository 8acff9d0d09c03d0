// SPDX-License-Identifier: Apache-2.0
// pthread condition variables, interposed: wake-ups cross between fibers and
// plain threads both ways, a waiting fiber parks, timed waits expire on the
// clock asked for (not early) and come back holding the mutex, and the
// corner cases (no waiters, bad deadlines, foreign mutexes) answer as
// glibc's do.
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "port_test_util.h"

namespace
{

using namespace tame_port_test;

constexpr uint64_t kTimeoutNs = 30 * kNsPerMs;

// ---- wake-ups between fibers and threads --------------------------------------

struct Handshake {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	bool waiting = false; // under m: the waiter is inside pthread_cond_wait
	bool ready = false;   // under m: the predicate
	int wait_rc = -1;
};

// Locks h->m and returns once the waiter is inside pthread_cond_wait (it
// set waiting under m and released m only by waiting). Returns with m held.
bool LockWhenWaiterWaits(Handshake *h)
{
	bool in_wait = WaitUntil(
	    [h] {
		    pthread_mutex_lock(&h->m);
		    if (h->waiting)
			    return true;
		    pthread_mutex_unlock(&h->m);
		    return false;
	    },
	    kPatienceNs);
	return in_wait;
}

void WaitForReady(Handshake *h)
{
	pthread_mutex_lock(&h->m);
	h->waiting = true;
	while (!h->ready) {
		h->wait_rc = pthread_cond_wait(&h->c, &h->m);
		if (h->wait_rc != 0)
			break;
	}
	pthread_mutex_unlock(&h->m);
}

TEST_F(PortTest, ThreadWaitIsSignalledByAFiber)
{
	Watchdog wd(30, "a thread in pthread_cond_wait signalled by a fiber (lost wake-up)");
	Handshake h;
	bool in_wait = false;
	std::thread waiter(WaitForReady, &h);
	RunFibers({[&] {
		in_wait = LockWhenWaiterWaits(&h);
		h.ready = true;
		// The signal is sent after the unlock: the waiter must still get it.
		pthread_mutex_unlock(&h.m);
		EXPECT_EQ(pthread_cond_signal(&h.c), 0);
	}});
	waiter.join();
	EXPECT_TRUE(in_wait) << "the thread never entered pthread_cond_wait";
	EXPECT_EQ(h.wait_rc, 0);
}

TEST_F(PortTest, FiberWaitParksAndIsSignalledByAThread)
{
	Watchdog wd(30, "a fiber in pthread_cond_wait signalled by a thread (lost wake-up)");
	Handshake h;
	Ticker ticker;
	bool in_wait = false, others_ran = false;
	std::thread signaller([&] {
		in_wait = LockWhenWaiterWaits(&h);
		pthread_mutex_unlock(&h.m);
		// The waiter's reactor goes on running its other fiber.
		uint64_t t0 = ticker.Now();
		others_ran = WaitUntil([&] { return ticker.Now() > t0 + 3; }, kPatienceNs);
		pthread_mutex_lock(&h.m);
		h.ready = true;
		EXPECT_EQ(pthread_cond_signal(&h.c), 0); // under the mutex this time
		pthread_mutex_unlock(&h.m);
	});
	RunFibers({[&] {
		           WaitForReady(&h);
		           ticker.Stop();
	           },
	           [&] { ticker.Run(); }});
	signaller.join();
	EXPECT_TRUE(in_wait) << "the fiber never entered pthread_cond_wait";
	EXPECT_TRUE(others_ran) << "the fiber waiting on the condvar blocked its reactor thread";
	EXPECT_EQ(h.wait_rc, 0);
}

TEST_F(PortTest, FiberWaitIsSignalledByAFiberOfTheSameReactor)
{
	Watchdog wd(30, "two fibers of one reactor handing over through a condvar");
	Handshake h;
	bool in_wait = false;
	RunFibers({[&] { WaitForReady(&h); },
	           [&] {
		           in_wait = LockWhenWaiterWaits(&h);
		           h.ready = true;
		           EXPECT_EQ(pthread_cond_broadcast(&h.c), 0);
		           pthread_mutex_unlock(&h.m);
	           }});
	EXPECT_TRUE(in_wait);
	EXPECT_EQ(h.wait_rc, 0);
}

// ---- timed waits ---------------------------------------------------------------

enum class TimedWait {
	kTimedwaitRealtime,      // pthread_cond_timedwait, default condvar
	kTimedwaitMonotonicAttr, // pthread_cond_timedwait, condattr CLOCK_MONOTONIC
	kClockwaitMonotonic,     // pthread_cond_clockwait(CLOCK_MONOTONIC)
	kClockwaitRealtime,      // pthread_cond_clockwait(CLOCK_REALTIME)
	kStdWaitFor,             // std::condition_variable::wait_for
	kStdWaitUntilSystem,     // std::condition_variable::wait_until(system_clock)
};

const char *TimedWaitName(TimedWait w)
{
	switch (w) {
	case TimedWait::kTimedwaitRealtime:
		return "TimedwaitRealtime";
	case TimedWait::kTimedwaitMonotonicAttr:
		return "TimedwaitMonotonicAttr";
	case TimedWait::kClockwaitMonotonic:
		return "ClockwaitMonotonic";
	case TimedWait::kClockwaitRealtime:
		return "ClockwaitRealtime";
	case TimedWait::kStdWaitFor:
		return "StdWaitFor";
	case TimedWait::kStdWaitUntilSystem:
		return "StdWaitUntilSystem";
	}
	return "?";
}

void PrintTo(TimedWait w, std::ostream *os)
{
	*os << TimedWaitName(w);
}

clockid_t ClockOf(TimedWait w)
{
	switch (w) {
	case TimedWait::kTimedwaitRealtime:
	case TimedWait::kClockwaitRealtime:
	case TimedWait::kStdWaitUntilSystem:
		return CLOCK_REALTIME;
	default:
		return CLOCK_MONOTONIC;
	}
}

bool IsStd(TimedWait w)
{
	return w == TimedWait::kStdWaitFor || w == TimedWait::kStdWaitUntilSystem;
}

// One timed wait that nobody signals, with what it returned.
struct TimedWaitResult {
	int rc = -1;          // pthread result, or ETIMEDOUT/0 for std's cv_status
	bool reached = false; // the clock had passed the deadline at return
	uint64_t elapsed_ns = 0;
	bool holds_mutex = false; // came back owning the mutex
	uint64_t ticks = 0;       // another fiber's progress during the wait
};

// pthread variants wait with an error-checking mutex: a relock that answers
// EDEADLK proves the caller owns it again (and unlock proves it is the
// recorded owner).
TimedWaitResult DoTimedWait(TimedWait w, uint64_t timeout_ns)
{
	TimedWaitResult res;
	const clockid_t clock = ClockOf(w);
	if (IsStd(w)) {
		std::mutex m;
		std::condition_variable cv;
		std::unique_lock<std::mutex> lock(m);
		uint64_t start = MonoNs(); // first: elapsed may only come out long
		timespec abs = AbsAfter(clock, timeout_ns);
		std::cv_status st;
		if (w == TimedWait::kStdWaitFor)
			st = cv.wait_for(lock, std::chrono::nanoseconds(timeout_ns));
		else
			st = cv.wait_until(
			    lock,
			    std::chrono::system_clock::time_point(
			        std::chrono::duration_cast<std::chrono::system_clock::duration>(
			            std::chrono::nanoseconds(NsOf(abs)))));
		res.elapsed_ns = MonoNs() - start;
		res.reached = Reached(clock, abs);
		res.rc = st == std::cv_status::timeout ? ETIMEDOUT : 0;
		res.holds_mutex = pthread_mutex_trylock(m.native_handle()) == EBUSY;
		return res;
	}
	AttrMutex m(PTHREAD_MUTEX_ERRORCHECK);
	pthread_cond_t c;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	if (w == TimedWait::kTimedwaitMonotonicAttr) {
		EXPECT_EQ(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
	}
	EXPECT_EQ(pthread_cond_init(&c, &ca), 0);
	pthread_condattr_destroy(&ca);
	EXPECT_EQ(pthread_mutex_lock(m.get()), 0);
	uint64_t start = MonoNs(); // first: elapsed may only come out long
	timespec abs = AbsAfter(clock, timeout_ns);
	switch (w) {
	case TimedWait::kTimedwaitRealtime:
	case TimedWait::kTimedwaitMonotonicAttr:
		res.rc = pthread_cond_timedwait(&c, m.get(), &abs);
		break;
	default:
		res.rc = pthread_cond_clockwait(&c, m.get(), clock, &abs);
		break;
	}
	res.elapsed_ns = MonoNs() - start;
	res.reached = Reached(clock, abs);
	res.holds_mutex =
	    pthread_mutex_lock(m.get()) == EDEADLK && pthread_mutex_unlock(m.get()) == 0;
	pthread_cond_destroy(&c);
	return res;
}

// Runs DoTimedWait on ctx; on a fiber, next to a ticking fiber.
TimedWaitResult TimedWaitOn(Ctx ctx, TimedWait w, uint64_t timeout_ns)
{
	TimedWaitResult res;
	if (ctx == Ctx::kThread) {
		RunIn(ctx, [&] { res = DoTimedWait(w, timeout_ns); });
		return res;
	}
	Ticker ticker;
	RunFibers({[&] {
		           uint64_t before = ticker.Now();
		           res = DoTimedWait(w, timeout_ns);
		           res.ticks = ticker.Now() - before;
		           ticker.Stop();
	           },
	           [&] { ticker.Run(); }});
	return res;
}

class CondTimedWait : public testing::TestWithParam<std::tuple<Ctx, TimedWait>>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
};

TEST_P(CondTimedWait, ExpiresNotEarlyAndReacquiresTheMutex)
{
	const Ctx ctx = std::get<0>(GetParam());
	const TimedWait w = std::get<1>(GetParam());
	Watchdog wd(30, std::string("a 30 ms ") + TimedWaitName(w) + " that nobody signals");
	TimedWaitResult res = TimedWaitOn(ctx, w, kTimeoutNs);
	EXPECT_EQ(res.rc, ETIMEDOUT);
	EXPECT_TRUE(res.reached) << "returned before its deadline on " << ClockName(ClockOf(w));
	EXPECT_GE(res.elapsed_ns, kTimeoutNs) << "returned early";
	EXPECT_LT(res.elapsed_ns, 10 * kNsPerS) << "overslept by far";
	EXPECT_TRUE(res.holds_mutex) << "returned without owning the mutex again";
	if (ctx == Ctx::kFiber) {
		EXPECT_GT(res.ticks, 0u) << "the waiting fiber blocked its reactor thread";
	}
}

std::string TimedWaitParamName(const testing::TestParamInfo<std::tuple<Ctx, TimedWait>> &info)
{
	return std::string(CtxName(std::get<0>(info.param))) + "_" +
	       TimedWaitName(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(
    Waits, CondTimedWait,
    testing::Combine(kBothCtx,
                     testing::Values(TimedWait::kTimedwaitRealtime,
                                     TimedWait::kTimedwaitMonotonicAttr,
                                     TimedWait::kClockwaitMonotonic, TimedWait::kClockwaitRealtime,
                                     TimedWait::kStdWaitFor, TimedWait::kStdWaitUntilSystem)),
    TimedWaitParamName);

// std:: turns a past deadline into no wait at all: pthread calls only.
class CondPastDeadline : public CondTimedWait
{
};

TEST_P(CondPastDeadline, ADeadlineInThePastExpiresAtOnce)
{
	const Ctx ctx = std::get<0>(GetParam());
	const TimedWait w = std::get<1>(GetParam());
	Watchdog wd(30, "a condvar wait whose deadline had passed");
	TimedWaitResult res = TimedWaitOn(ctx, w, 0);
	EXPECT_EQ(res.rc, ETIMEDOUT);
	EXPECT_TRUE(res.holds_mutex);
	EXPECT_LT(res.elapsed_ns, 5 * kNsPerS);
}

INSTANTIATE_TEST_SUITE_P(Waits, CondPastDeadline,
                         testing::Combine(kBothCtx,
                                          testing::Values(TimedWait::kTimedwaitRealtime,
                                                          TimedWait::kTimedwaitMonotonicAttr,
                                                          TimedWait::kClockwaitMonotonic,
                                                          TimedWait::kClockwaitRealtime)),
                         TimedWaitParamName);

// ---- corner cases ---------------------------------------------------------------

class CondOn : public PortCtxTest
{
};

TEST_P(CondOn, SignalWithNoWaitersIsANoOp)
{
	Watchdog wd(30, "a timed wait after signals sent to nobody");
	int rc_signal = -1, rc_broadcast = -1, rc_wait = -1;
	RunIn(ctx(), [&] {
		pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
		pthread_cond_t c = PTHREAD_COND_INITIALIZER;
		rc_signal = pthread_cond_signal(&c);
		rc_broadcast = pthread_cond_broadcast(&c);
		// Not remembered: a later waiter is not woken by them.
		pthread_mutex_lock(&m);
		timespec abs = AbsAfter(CLOCK_REALTIME, 20 * kNsPerMs);
		rc_wait = pthread_cond_timedwait(&c, &m, &abs);
		pthread_mutex_unlock(&m);
		EXPECT_EQ(pthread_cond_destroy(&c), 0);
	});
	EXPECT_EQ(rc_signal, 0);
	EXPECT_EQ(rc_broadcast, 0);
	EXPECT_EQ(rc_wait, ETIMEDOUT) << "a signal sent before the wait woke it";
}

TEST_P(CondOn, InvalidDeadlineIsEinvalAndKeepsTheMutex)
{
	Watchdog wd(30, "condvar waits with invalid deadlines (they must fail at once, not wait)");
	int too_big = -1, negative = -1, clockwait_big = -1, bad_clock = -1, relock = -1;
	RunIn(ctx(), [&] {
		AttrMutex m(PTHREAD_MUTEX_ERRORCHECK);
		pthread_cond_t c = PTHREAD_COND_INITIALIZER;
		ASSERT_EQ(pthread_mutex_lock(m.get()), 0);
		timespec abs = AbsAfter(CLOCK_REALTIME, kNsPerS);
		abs.tv_nsec = 2000000000L;
		too_big = pthread_cond_timedwait(&c, m.get(), &abs);
		abs.tv_nsec = -1;
		negative = pthread_cond_timedwait(&c, m.get(), &abs);
		abs = AbsAfter(CLOCK_MONOTONIC, kNsPerS);
		abs.tv_nsec = 2000000000L;
		clockwait_big = pthread_cond_clockwait(&c, m.get(), CLOCK_MONOTONIC, &abs);
		abs = AbsAfter(CLOCK_MONOTONIC, kNsPerS);
		bad_clock = pthread_cond_clockwait(&c, m.get(), CLOCK_PROCESS_CPUTIME_ID, &abs);
		relock = pthread_mutex_lock(m.get());
		EXPECT_EQ(pthread_mutex_unlock(m.get()), 0);
	});
	EXPECT_EQ(too_big, EINVAL) << "tv_nsec = 2e9";
	EXPECT_EQ(negative, EINVAL) << "tv_nsec = -1";
	EXPECT_EQ(clockwait_big, EINVAL) << "pthread_cond_clockwait, tv_nsec = 2e9";
	EXPECT_EQ(bad_clock, EINVAL) << "pthread_cond_clockwait(CLOCK_PROCESS_CPUTIME_ID)";
	EXPECT_EQ(relock, EDEADLK) << "an invalid wait must leave the mutex held";
}

TEST_P(CondOn, WaitOnAnErrorcheckMutexNotHeldIsEperm)
{
	Watchdog wd(30, "pthread_cond_wait with an error-checking mutex the caller does not hold");
	int rc = -1, relock = -1;
	RunIn(ctx(), [&] {
		AttrMutex m(PTHREAD_MUTEX_ERRORCHECK);
		pthread_cond_t c = PTHREAD_COND_INITIALIZER;
		rc = pthread_cond_wait(&c, m.get());
		relock = pthread_mutex_trylock(m.get());
		if (relock == 0)
			pthread_mutex_unlock(m.get());
		// The waiter did not stay queued: a signal finds nobody to take.
		EXPECT_EQ(pthread_cond_signal(&c), 0);
	});
	EXPECT_EQ(rc, EPERM);
	EXPECT_EQ(relock, 0) << "the failed wait left the mutex locked";
}

INSTANTIATE_TEST_SUITE_P(Ctx, CondOn, kBothCtx, CtxParamName);

// A wait releases every level of a recursive mutex and restores them: fiber
// B gets the mutex while fiber A waits, and A can then unlock exactly twice.
TEST_F(PortTest, WaitReleasesAllLevelsOfARecursiveMutex)
{
	Watchdog wd(30, "a condvar wait with a recursive mutex locked twice");
	AttrMutex m(PTHREAD_MUTEX_RECURSIVE);
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	int wait_rc = -1, b_try = -1, a_unlock1 = -1, a_unlock2 = -1, a_unlock3 = -1;
	RunFibers({[&] {
		           ASSERT_EQ(pthread_mutex_lock(m.get()), 0);
		           ASSERT_EQ(pthread_mutex_lock(m.get()), 0);
		           timespec abs = AbsAfter(CLOCK_MONOTONIC, kTimeoutNs);
		           wait_rc = pthread_cond_clockwait(&c, m.get(), CLOCK_MONOTONIC, &abs);
		           a_unlock1 = pthread_mutex_unlock(m.get());
		           a_unlock2 = pthread_mutex_unlock(m.get());
		           a_unlock3 = pthread_mutex_unlock(m.get());
	           },
	           [&] {
		           b_try = pthread_mutex_trylock(m.get());
		           if (b_try == 0)
			           pthread_mutex_unlock(m.get());
	           }});
	EXPECT_EQ(wait_rc, ETIMEDOUT);
	EXPECT_EQ(b_try, 0) << "the waiting fiber kept a level of the recursive mutex";
	EXPECT_EQ(a_unlock1, 0);
	EXPECT_EQ(a_unlock2, 0) << "the wait did not restore the recursion count";
	EXPECT_EQ(a_unlock3, EPERM);
}

// A signal wakes one waiter; the others stay asleep until the broadcast.
// (POSIX would allow spurious returns; tamerocks' condvar has none, and a
// signal that woke every waiter would be a thundering herd.) All fibers of
// one reactor: no data races on the plain counters.
TEST_F(PortTest, SignalWakesOneWaiterAndBroadcastTheRest)
{
	Watchdog wd(30, "three fibers waiting on one condvar");
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	int tokens = 0, waiting = 0, returns = 0, done = 0;
	int returns_after_signal = -1;
	bool all_done = false;
	auto waiter = [&] {
		pthread_mutex_lock(&m);
		++waiting;
		while (tokens == 0) {
			pthread_cond_wait(&c, &m);
			++returns;
		}
		--tokens;
		++done;
		pthread_mutex_unlock(&m);
	};
	RunFibers({waiter, waiter, waiter, [&] {
		           ASSERT_TRUE(WaitUntil([&] { return waiting == 3; }, kPatienceNs));
		           pthread_mutex_lock(&m);
		           tokens = 1;
		           pthread_cond_signal(&c);
		           pthread_mutex_unlock(&m);
		           WaitUntil([&] { return done > 0; }, kPatienceNs);
		           for (int i = 0; i < 20; ++i)
			           tame_yield();
		           returns_after_signal = returns;
		           pthread_mutex_lock(&m);
		           tokens = 2;
		           pthread_cond_broadcast(&c);
		           pthread_mutex_unlock(&m);
		           all_done = WaitUntil([&] { return done == 3; }, kPatienceNs);
	           }});
	EXPECT_EQ(returns_after_signal, 1) << "one signal made several waits return";
	EXPECT_TRUE(all_done) << "the broadcast did not wake the two remaining waiters";
	EXPECT_EQ(returns, 3);
}

// A process-shared condvar is glibc's; the mutex it is used with may be a
// private one, which is tamerocks'. glibc's wait releases and retakes that
// mutex inside libc, where no interposer sees it, so tamerocks' unlock must
// still wake a waiter glibc left on the mutex word. If the waiter is still
// stuck after 2 s, the test wakes the mutex word itself so that it ends.
TEST_F(PortTest, AProcessSharedCondvarWithAPrivateMutexWakesItsWaiter)
{
	Watchdog wd(30, "a thread waiting on a process-shared condvar with a private mutex");
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	ASSERT_EQ(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED), 0);
	ASSERT_EQ(pthread_cond_init(&c, &ca), 0);
	pthread_condattr_destroy(&ca);
	bool waiting = false, ready = false; // under m
	std::atomic<bool> done{false};
	std::thread waiter([&] {
		pthread_mutex_lock(&m);
		waiting = true;
		while (!ready)
			pthread_cond_wait(&c, &m);
		pthread_mutex_unlock(&m);
		done = true;
	});
	ASSERT_TRUE(WaitUntil(
	    [&] {
		    pthread_mutex_lock(&m);
		    bool w = waiting;
		    pthread_mutex_unlock(&m);
		    return w;
	    },
	    kPatienceNs));
	pthread_mutex_lock(&m);
	ready = true;
	pthread_cond_signal(&c);
	tame_sleep_ns(20 * kNsPerMs); // the woken waiter now wants the mutex
	pthread_mutex_unlock(&m);
	bool in_time = WaitUntil([&] { return done.load(); }, 2 * kNsPerS);
	while (!done.load()) {
		for (int op : {FUTEX_WAKE_PRIVATE, FUTEX_WAKE})
			syscall(SYS_futex, reinterpret_cast<uint32_t *>(&m), op, INT32_MAX, nullptr,
			        nullptr, 0);
		tame_sleep_ns(kNsPerMs);
	}
	waiter.join();
	EXPECT_TRUE(in_time) << "the waiter never got the mutex back: glibc's condvar retook it "
	                        "inside libc and sleeps on the mutex word, which tamerocks' unlock "
	                        "does not wake";
	EXPECT_EQ(pthread_cond_destroy(&c), 0);
}

} // namespace
