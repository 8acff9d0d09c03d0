// SPDX-License-Identifier: Apache-2.0
// Absolute deadlines at their edges. A fiber's timed wait turns the caller's
// absolute time into a deadline on the reactor's monotonic clock; that turn
// must never make the wait end early, even when the thread loses the CPU in
// the middle of it, and a deadline at or before the clock's epoch has passed
// like any other.
//
// This program defines clock_gettime itself (forwarding to the system call)
// so that one test can make a CLOCK_REALTIME read on a fiber slow, as a
// preemption between two clock reads would. Nothing else here depends on it.
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "port_test_util.h"

namespace
{

std::atomic<uint64_t> g_slow_realtime_read_ns{0};

uint64_t RawMonoNs()
{
	timespec ts;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

} // namespace

// On a fiber, with a delay set, a CLOCK_REALTIME read first spins for that
// long and then reads: the value is as fresh as any, only late.
extern "C" int clock_gettime(clockid_t clock, struct timespec *ts)
{
	uint64_t delay = g_slow_realtime_read_ns.load(std::memory_order_relaxed);
	if (delay && clock == CLOCK_REALTIME && tame_fiber_self()) {
		uint64_t until = RawMonoNs() + delay;
		while (RawMonoNs() < until)
			;
	}
	return int(syscall(SYS_clock_gettime, clock, ts));
}

namespace
{

using namespace tame_port_test;

constexpr uint64_t kTimeoutNs = 30 * kNsPerMs;
constexpr uint64_t kSlowReadNs = 3 * kNsPerMs;

enum class Timed {
	kCondTimedwait,
	kMutexTimedlock,
	kRwlockTimedrdlock,
	kRwlockTimedwrlock,
	kClockNanosleepAbstime
};

const char *TimedName(Timed t)
{
	switch (t) {
	case Timed::kCondTimedwait:
		return "CondTimedwait";
	case Timed::kMutexTimedlock:
		return "MutexTimedlock";
	case Timed::kRwlockTimedrdlock:
		return "RwlockTimedrdlock";
	case Timed::kRwlockTimedwrlock:
		return "RwlockTimedwrlock";
	case Timed::kClockNanosleepAbstime:
		return "ClockNanosleepAbstime";
	}
	return "?";
}

void PrintTo(Timed t, std::ostream *os)
{
	*os << TimedName(t);
}

// The objects a timed call waits on, each held (or never signalled) by the
// test's thread for the whole wait.
struct Held {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;  // held by the test's thread
	pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER; // the condvar's mutex
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER; // write-held by the test's thread
};

// One timed call with deadline abs on clock; returns its result.
int TimedCall(Timed t, Held *h, clockid_t clock, const timespec &abs)
{
	int rc = -1;
	switch (t) {
	case Timed::kCondTimedwait:
		pthread_mutex_lock(&h->cm);
		rc = clock == CLOCK_REALTIME ? pthread_cond_timedwait(&h->c, &h->cm, &abs)
		                             : pthread_cond_clockwait(&h->c, &h->cm, clock, &abs);
		pthread_mutex_unlock(&h->cm);
		break;
	case Timed::kMutexTimedlock:
		rc = clock == CLOCK_REALTIME ? pthread_mutex_timedlock(&h->m, &abs)
		                             : pthread_mutex_clocklock(&h->m, clock, &abs);
		break;
	case Timed::kRwlockTimedrdlock:
		rc = clock == CLOCK_REALTIME ? pthread_rwlock_timedrdlock(&h->rw, &abs)
		                             : pthread_rwlock_clockrdlock(&h->rw, clock, &abs);
		break;
	case Timed::kRwlockTimedwrlock:
		rc = clock == CLOCK_REALTIME ? pthread_rwlock_timedwrlock(&h->rw, &abs)
		                             : pthread_rwlock_clockwrlock(&h->rw, clock, &abs);
		break;
	case Timed::kClockNanosleepAbstime:
		rc = clock_nanosleep(clock, TIMER_ABSTIME, &abs, nullptr);
		break;
	}
	return rc;
}

int ExpectedExpiry(Timed t)
{
	return t == Timed::kClockNanosleepAbstime ? 0 : ETIMEDOUT;
}

class Deadlines : public testing::TestWithParam<Timed>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
		ASSERT_EQ(pthread_mutex_lock(&held_.m), 0);
		ASSERT_EQ(pthread_rwlock_wrlock(&held_.rw), 0);
	}
	void TearDown() override
	{
		pthread_mutex_unlock(&held_.m);
		pthread_rwlock_unlock(&held_.rw);
	}
	Held held_;
};

// The thread may lose the CPU between reading the monotonic clock and the
// realtime one: the conversion must come out late, never early.
TEST_P(Deadlines, ARealtimeDeadlineIsNotEarlyWhenTheClockReadIsSlow)
{
	const Timed t = GetParam();
	Watchdog wd(30, std::string("a 30 ms ") + TimedName(t) + " on CLOCK_REALTIME");
	int rc = -1;
	bool reached = false;
	uint64_t elapsed = 0;
	RunFibers({[&] {
		uint64_t start = MonoNs(); // first: elapsed may only come out long
		timespec abs = AbsAfter(CLOCK_REALTIME, kTimeoutNs);
		g_slow_realtime_read_ns = kSlowReadNs;
		rc = TimedCall(t, &held_, CLOCK_REALTIME, abs);
		g_slow_realtime_read_ns = 0;
		elapsed = MonoNs() - start;
		reached = Reached(CLOCK_REALTIME, abs);
	}});
	EXPECT_EQ(rc, ExpectedExpiry(t));
	EXPECT_TRUE(reached) << "returned before CLOCK_REALTIME reached the deadline";
	EXPECT_GE(elapsed, kTimeoutNs) << "returned early by " << (kTimeoutNs - elapsed) / 1000
	                               << " us: the realtime deadline was converted against a "
	                                  "monotonic time read before the realtime one";
}

// A deadline at the epoch of CLOCK_MONOTONIC (or before it) has passed: the
// call expires at once, as glibc's does, instead of waiting without a
// deadline. If it waits, the thread holding the object releases it after
// 2 s, so the call returns 0 and the test fails with a message.
class EpochDeadlines : public testing::TestWithParam<std::tuple<Ctx, Timed>>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
};

TEST_P(EpochDeadlines, ExpireAtOnce)
{
	const Ctx ctx = std::get<0>(GetParam());
	const Timed t = std::get<1>(GetParam());
	Watchdog wd(60, std::string(TimedName(t)) + " with a deadline at CLOCK_MONOTONIC's epoch");
	for (timespec abs : {timespec{0, 0}, timespec{-1, 0}}) {
		SCOPED_TRACE("deadline {" + std::to_string(abs.tv_sec) + ", 0}");
		Held held;
		std::atomic<bool> holding{false}, returned{false};
		int rc = -1;
		uint64_t elapsed = 0;
		std::thread holder([&] {
			pthread_mutex_lock(&held.m);
			pthread_rwlock_wrlock(&held.rw);
			holding = true;
			bool in_time = WaitUntil([&] { return returned.load(); }, 2 * kNsPerS);
			pthread_mutex_unlock(&held.m);
			pthread_rwlock_unlock(&held.rw);
			while (!in_time && !returned.load()) { // still waiting: wake it
				pthread_cond_broadcast(&held.c);
				tame_sleep_ns(kNsPerMs);
			}
		});
		ASSERT_TRUE(WaitUntil([&] { return holding.load(); }, kPatienceNs));
		RunIn(ctx, [&] {
			uint64_t start = MonoNs();
			rc = TimedCall(t, &held, CLOCK_MONOTONIC, abs);
			elapsed = MonoNs() - start;
			returned = true;
			if (rc == 0 && t == Timed::kMutexTimedlock)
				pthread_mutex_unlock(&held.m);
			if (rc == 0 &&
			    (t == Timed::kRwlockTimedrdlock || t == Timed::kRwlockTimedwrlock))
				pthread_rwlock_unlock(&held.rw);
		});
		holder.join();
		if (t == Timed::kClockNanosleepAbstime) {
			EXPECT_TRUE(rc == 0 || rc == EINVAL) << rc;
		} else {
			EXPECT_EQ(rc, ETIMEDOUT);
		}
		EXPECT_LT(elapsed, kNsPerS) << "waited for a deadline that had passed long ago";
	}
}

std::string CtxTimedName(const testing::TestParamInfo<std::tuple<Ctx, Timed>> &info)
{
	return std::string(CtxName(std::get<0>(info.param))) + "_" +
	       TimedName(std::get<1>(info.param));
}

const auto kAllTimed =
    testing::Values(Timed::kCondTimedwait, Timed::kMutexTimedlock, Timed::kRwlockTimedrdlock,
                    Timed::kRwlockTimedwrlock, Timed::kClockNanosleepAbstime);

INSTANTIATE_TEST_SUITE_P(Calls, Deadlines, kAllTimed,
                         [](const testing::TestParamInfo<Timed> &info) {
	                         return std::string(TimedName(info.param));
                         });
INSTANTIATE_TEST_SUITE_P(Calls, EpochDeadlines, testing::Combine(kBothCtx, kAllTimed),
                         CtxTimedName);

} // namespace
