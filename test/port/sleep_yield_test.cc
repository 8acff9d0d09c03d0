// SPDX-License-Identifier: Apache-2.0
// Sleeps, yields and joins, interposed: on a fiber a sleep parks (another
// fiber of the reactor runs meanwhile) and lasts at least what was asked, a
// yield lets the reactor's other fibers run first, and a join polls so that
// the thread joined can take a lock a fiber of the joiner's reactor holds.
// On a plain thread the same calls sleep and yield as glibc's.
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "port_test_util.h"

namespace
{

using namespace tame_port_test;

constexpr uint64_t kSleepNs = 20 * kNsPerMs;

// ---- sleeps ---------------------------------------------------------------------

enum class Sleep {
	kUsleep,
	kNanosleep,
	kSleepFor,              // std::this_thread::sleep_for
	kSleepUntilSteady,      // std::this_thread::sleep_until(steady_clock)
	kClockNanosleepRel,     // clock_nanosleep(CLOCK_MONOTONIC, 0)
	kClockNanosleepAbsMono, // clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)
	kClockNanosleepAbsReal, // clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME)
	kSleep,                 // sleep(1): a whole second
};

const char *SleepName(Sleep s)
{
	switch (s) {
	case Sleep::kUsleep:
		return "Usleep";
	case Sleep::kNanosleep:
		return "Nanosleep";
	case Sleep::kSleepFor:
		return "StdSleepFor";
	case Sleep::kSleepUntilSteady:
		return "StdSleepUntilSteady";
	case Sleep::kClockNanosleepRel:
		return "ClockNanosleepRelative";
	case Sleep::kClockNanosleepAbsMono:
		return "ClockNanosleepAbstimeMonotonic";
	case Sleep::kClockNanosleepAbsReal:
		return "ClockNanosleepAbstimeRealtime";
	case Sleep::kSleep:
		return "Sleep";
	}
	return "?";
}

void PrintTo(Sleep s, std::ostream *os)
{
	*os << SleepName(s);
}

struct SleepResult {
	int rc = -1;
	uint64_t asked_ns = 0;
	uint64_t elapsed_ns = 0;
	bool reached = true; // absolute sleeps: the clock passed the target
	uint64_t ticks = 0;
};

SleepResult DoSleep(Sleep s)
{
	SleepResult res;
	res.asked_ns = s == Sleep::kSleep ? kNsPerS : kSleepNs;
	const timespec rel = TimespecOf(res.asked_ns);
	uint64_t start = MonoNs();
	switch (s) {
	case Sleep::kUsleep:
		res.rc = usleep(useconds_t(res.asked_ns / kNsPerUs));
		break;
	case Sleep::kNanosleep: {
		timespec rem;
		res.rc = nanosleep(&rel, &rem);
		break;
	}
	case Sleep::kSleepFor:
		std::this_thread::sleep_for(std::chrono::nanoseconds(res.asked_ns));
		res.rc = 0;
		break;
	case Sleep::kSleepUntilSteady:
		std::this_thread::sleep_until(std::chrono::steady_clock::now() +
		                              std::chrono::nanoseconds(res.asked_ns));
		res.rc = 0;
		break;
	case Sleep::kClockNanosleepRel:
		res.rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, nullptr);
		break;
	case Sleep::kClockNanosleepAbsMono:
	case Sleep::kClockNanosleepAbsReal: {
		clockid_t clock =
		    s == Sleep::kClockNanosleepAbsMono ? CLOCK_MONOTONIC : CLOCK_REALTIME;
		timespec abs = AbsAfter(clock, res.asked_ns);
		res.rc = clock_nanosleep(clock, TIMER_ABSTIME, &abs, nullptr);
		res.reached = Reached(clock, abs);
		break;
	}
	case Sleep::kSleep:
		res.rc = int(sleep(1));
		break;
	}
	res.elapsed_ns = MonoNs() - start;
	return res;
}

class Sleeps : public testing::TestWithParam<std::tuple<Ctx, Sleep>>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
};

TEST_P(Sleeps, LastAtLeastTheTimeAskedAndParkAFiber)
{
	const Ctx ctx = std::get<0>(GetParam());
	const Sleep s = std::get<1>(GetParam());
	Watchdog wd(30, std::string(SleepName(s)) + " of at most 1 s");
	SleepResult res;
	if (ctx == Ctx::kFiber) {
		Ticker ticker;
		RunFibers({[&] {
			           uint64_t before = ticker.Now();
			           res = DoSleep(s);
			           res.ticks = ticker.Now() - before;
			           ticker.Stop();
		           },
		           [&] { ticker.Run(); }});
	} else {
		RunIn(ctx, [&] { res = DoSleep(s); });
	}
	EXPECT_EQ(res.rc, 0);
	EXPECT_GE(res.elapsed_ns, res.asked_ns) << "woke early";
	EXPECT_LT(res.elapsed_ns, res.asked_ns + 10 * kNsPerS) << "overslept by far";
	EXPECT_TRUE(res.reached) << "an absolute sleep returned before its target time";
	if (ctx == Ctx::kFiber) {
		EXPECT_GT(res.ticks, 0u) << SleepName(s)
		                         << " blocked the reactor thread instead of "
		                            "parking the fiber";
	}
}

std::string SleepParamName(const testing::TestParamInfo<std::tuple<Ctx, Sleep>> &info)
{
	return std::string(CtxName(std::get<0>(info.param))) + "_" +
	       SleepName(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(
    Calls, Sleeps,
    testing::Combine(kBothCtx, testing::Values(Sleep::kUsleep, Sleep::kNanosleep, Sleep::kSleepFor,
                                               Sleep::kSleepUntilSteady, Sleep::kClockNanosleepRel,
                                               Sleep::kClockNanosleepAbsMono,
                                               Sleep::kClockNanosleepAbsReal, Sleep::kSleep)),
    SleepParamName);

class SleepOn : public PortCtxTest
{
};

TEST_P(SleepOn, InvalidDurationsAreEinval)
{
	Watchdog wd(30, "sleeps with invalid durations (they must fail at once)");
	int ns_big = 0, ns_big_errno = 0, ns_negative = 0, ns_negative_errno = 0;
	int sec_negative = 0, sec_negative_errno = 0;
	int cns_big = -1, cns_abs_big = -1, cns_thread_clock = -1;
	RunIn(ctx(), [&] {
		timespec bad = {0, 2000000000L};
		errno = 0;
		ns_big = nanosleep(&bad, nullptr);
		ns_big_errno = errno;
		bad = {0, -1};
		errno = 0;
		ns_negative = nanosleep(&bad, nullptr);
		ns_negative_errno = errno;
		bad = {-1, 0};
		errno = 0;
		sec_negative = nanosleep(&bad, nullptr);
		sec_negative_errno = errno;
		bad = {0, 2000000000L};
		cns_big = clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, nullptr);
		cns_abs_big = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &bad, nullptr);
		timespec ok = {0, 1000};
		cns_thread_clock = clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ok, nullptr);
	});
	EXPECT_EQ(ns_big, -1);
	EXPECT_EQ(ns_big_errno, EINVAL) << "nanosleep(tv_nsec = 2e9)";
	EXPECT_EQ(ns_negative, -1);
	EXPECT_EQ(ns_negative_errno, EINVAL) << "nanosleep(tv_nsec = -1)";
	EXPECT_EQ(sec_negative, -1);
	EXPECT_EQ(sec_negative_errno, EINVAL) << "nanosleep(tv_sec = -1)";
	EXPECT_EQ(cns_big, EINVAL) << "clock_nanosleep returns the error, tv_nsec = 2e9";
	EXPECT_EQ(cns_abs_big, EINVAL) << "clock_nanosleep(TIMER_ABSTIME), tv_nsec = 2e9";
	EXPECT_EQ(cns_thread_clock, EINVAL) << "clock_nanosleep(CLOCK_THREAD_CPUTIME_ID)";
}

TEST_P(SleepOn, AnAbsoluteTimeInThePastReturnsAtOnce)
{
	Watchdog wd(30, "clock_nanosleep(TIMER_ABSTIME) to a time already past");
	int rc_mono = -1, rc_real = -1;
	uint64_t elapsed = 0;
	RunIn(ctx(), [&] {
		uint64_t start = MonoNs();
		timespec past = TimespecOf(MonoNs() - kNsPerS);
		rc_mono = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, nullptr);
		past = TimespecOf(ClockNs(CLOCK_REALTIME) - kNsPerS);
		rc_real = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &past, nullptr);
		elapsed = MonoNs() - start;
	});
	EXPECT_EQ(rc_mono, 0);
	EXPECT_EQ(rc_real, 0);
	EXPECT_LT(elapsed, kNsPerS);
}

TEST_P(SleepOn, ZeroSleepsReturnAtOnce)
{
	Watchdog wd(30, "sleeps of zero");
	int rc_usleep = -1, rc_nanosleep = -1;
	RunIn(ctx(), [&] {
		timespec zero = {0, 0};
		rc_usleep = usleep(0);
		rc_nanosleep = nanosleep(&zero, nullptr);
		std::this_thread::sleep_for(std::chrono::nanoseconds(0));
	});
	EXPECT_EQ(rc_usleep, 0);
	EXPECT_EQ(rc_nanosleep, 0);
}

INSTANTIATE_TEST_SUITE_P(Ctx, SleepOn, kBothCtx, CtxParamName);

// ---- yields ---------------------------------------------------------------------

enum class Yield { kSchedYield, kStdYield };

void PrintTo(Yield y, std::ostream *os)
{
	*os << (y == Yield::kSchedYield ? "SchedYield" : "StdYield");
}

class Yields : public testing::TestWithParam<Yield>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
	int DoYield() const
	{
		if (GetParam() == Yield::kSchedYield)
			return sched_yield();
		std::this_thread::yield();
		return 0;
	}
};

// Two fibers that yield between two steps interleave: A1 B1 A2 B2. A yield
// that only asked the kernel would let A run on: A1 A2 B1 B2.
TEST_P(Yields, OnAFiberLetTheOtherFibersOfItsReactorRunFirst)
{
	std::string order; // fibers of one thread: no race
	int rc_a = -1, rc_b = -1;
	RunFibers({[&] {
		           order += "A1 ";
		           rc_a = DoYield();
		           order += "A2 ";
	           },
	           [&] {
		           order += "B1 ";
		           rc_b = DoYield();
		           order += "B2 ";
	           },
	           [&] { order += "C "; }});
	EXPECT_EQ(order, "A1 B1 C A2 B2 ");
	EXPECT_EQ(rc_a, 0);
	EXPECT_EQ(rc_b, 0);
}

// On a plain thread the yield is the kernel's; it returns 0 and leaves errno
// alone. The thread's fiber-less context must not be disturbed by a reactor
// elsewhere in the process.
TEST_P(Yields, OnAThreadReturnZero)
{
	int rc = -1, err = -1;
	std::thread([&] {
		errno = 1234;
		for (int i = 0; i < 100; ++i)
			rc = DoYield();
		err = errno;
	}).join();
	EXPECT_EQ(rc, 0);
	EXPECT_EQ(err, 1234);
}

INSTANTIATE_TEST_SUITE_P(Calls, Yields, testing::Values(Yield::kSchedYield, Yield::kStdYield),
                         [](const testing::TestParamInfo<Yield> &info) {
	                         return std::string(info.param == Yield::kSchedYield ? "SchedYield"
	                                                                             : "StdYield");
                         });

// ---- joins ---------------------------------------------------------------------

enum class Join { kPthreadJoin, kStdThreadJoin };

void PrintTo(Join j, std::ostream *os)
{
	*os << (j == Join::kPthreadJoin ? "PthreadJoin" : "StdThreadJoin");
}

class Joins : public testing::TestWithParam<Join>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
};

void *LockAndReturn(void *arg)
{
	auto *m = static_cast<pthread_mutex_t *>(arg);
	pthread_mutex_lock(m);
	pthread_mutex_unlock(m);
	return reinterpret_cast<void *>(uintptr_t{0x5eed});
}

// Fiber H holds a mutex; fiber J of the same reactor starts thread T, which
// needs that mutex, and joins it. Were J's join to block the reactor
// thread, H could never unlock and T never finish.
TEST_P(Joins, AFiberJoiningAThreadThatNeedsALockOfItsReactorCompletes)
{
	Watchdog wd(30, "a fiber joining a thread that waits for a mutex held by another fiber of "
	                "the joiner's reactor (the join blocked the reactor)");
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	std::atomic<bool> joining{false}, joined{false};
	bool joined_before_unlock = true;
	int join_rc = -1;
	void *ret = nullptr;
	RunFibers({[&] { // H
		           ASSERT_EQ(pthread_mutex_lock(&m), 0);
		           ASSERT_TRUE(WaitUntil([&] { return joining.load(); }, kPatienceNs));
		           tame_sleep_ns(20 * kNsPerMs); // T is now waiting for m
		           joined_before_unlock = joined.load();
		           EXPECT_EQ(pthread_mutex_unlock(&m), 0);
	           },
	           [&] { // J
		           if (GetParam() == Join::kPthreadJoin) {
			           pthread_t t;
			           ASSERT_EQ(pthread_create(&t, nullptr, LockAndReturn, &m), 0);
			           joining = true;
			           join_rc = pthread_join(t, &ret);
		           } else {
			           std::thread t([&] { ret = LockAndReturn(&m); });
			           joining = true;
			           t.join();
			           join_rc = 0;
		           }
		           joined = true;
	           }});
	EXPECT_EQ(join_rc, 0);
	EXPECT_EQ(ret, reinterpret_cast<void *>(uintptr_t{0x5eed}));
	EXPECT_FALSE(joined_before_unlock) << "the thread finished without the mutex";
	EXPECT_TRUE(joined.load());
}

TEST_F(PortTest, AFiberJoiningAFinishedThreadGetsItsResult)
{
	int join_rc = -1;
	void *ret = nullptr;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, nullptr, LockAndReturn, &m), 0);
	tame_sleep_ns(10 * kNsPerMs);
	RunFibers({[&] { join_rc = pthread_join(t, &ret); }});
	EXPECT_EQ(join_rc, 0);
	EXPECT_EQ(ret, reinterpret_cast<void *>(uintptr_t{0x5eed}));
}

INSTANTIATE_TEST_SUITE_P(Calls, Joins, testing::Values(Join::kPthreadJoin, Join::kStdThreadJoin),
                         [](const testing::TestParamInfo<Join> &info) {
	                         return std::string(info.param == Join::kPthreadJoin
	                                                ? "PthreadJoin"
	                                                : "StdThreadJoin");
                         });

} // namespace
