// SPDX-License-Identifier: Apache-2.0
// pthread mutexes, interposed: the interposition is live in this program, a
// contended lock parks a fiber instead of blocking its reactor, and the
// error semantics of glibc's mutex types hold with one owner per fiber.
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "port_test_util.h"

namespace
{

using namespace tame_port_test;
using tame_test::StatsOf;

// ---- the interposition itself ---------------------------------------------

class Interposition : public testing::Test
{
};

TEST_F(Interposition, IsActiveInThisProgram)
{
	EXPECT_TRUE(tame_port_interposed())
	    << "pthread_mutex_lock@GLIBC_2.2.5, pthread_cond_wait@GLIBC_2.3.2 or "
	       "sched_yield@GLIBC_2.2.5 does not resolve to tamerocks' definition";
}

// Fiber A holds the mutex and parks in tame_sleep_ns; fiber B asks for it.
// If B blocked the OS thread, A could never run again to unlock: fiber C,
// queued after B, proves the reactor went on running fibers.
class ContendedMutex : public testing::TestWithParam<MutexKind>
{
};

TEST_P(ContendedMutex, ParksTheFiberAndOtherFibersOfItsReactorRun)
{
	ExpectInterposed();
	Watchdog wd(30, "fiber B blocked its reactor thread on a contended mutex, so fiber A "
	                "(the holder) never ran again to unlock it");
	TestMutex m(GetParam());
	std::atomic<bool> b_trying{false}, b_locked{false};
	std::atomic<int> c_runs{0};
	bool a_saw_c = false, a_saw_b_trying = false, b_locked_before_unlock = true;
	int c_runs_seen_by_b = -1;

	RunFibers({
	    [&] { // A
		    ASSERT_EQ(m.Lock(), 0);
		    a_saw_c = WaitUntil([&] { return c_runs.load() > 0; }, kPatienceNs);
		    a_saw_b_trying = b_trying.load();
		    b_locked_before_unlock = b_locked.load();
		    EXPECT_EQ(m.Unlock(), 0);
	    },
	    [&] { // B
		    b_trying = true;
		    ASSERT_EQ(m.Lock(), 0);
		    b_locked = true;
		    c_runs_seen_by_b = c_runs.load();
		    EXPECT_EQ(m.Unlock(), 0);
	    },
	    [&] { ++c_runs; }, // C
	});
	EXPECT_TRUE(a_saw_b_trying) << "B did not run before A unlocked";
	EXPECT_TRUE(a_saw_c) << "fiber C never ran while A held the mutex and B waited";
	EXPECT_FALSE(b_locked_before_unlock) << "B got a mutex A still held";
	EXPECT_EQ(c_runs_seen_by_b, 1) << "B got the mutex before fiber C ran";
	EXPECT_TRUE(b_locked.load());
}

INSTANTIATE_TEST_SUITE_P(Kinds, ContendedMutex, kAllMutexKinds,
                         [](const testing::TestParamInfo<MutexKind> &info) {
	                         return std::string(MutexKindName(info.param));
                         });

// ---- recursive and error-checking mutexes: one owner per fiber -------------

enum class Init { kStatic, kAttr };

std::string InitName(const testing::TestParamInfo<Init> &info)
{
	return info.param == Init::kStatic ? "StaticInitializer" : "Attr";
}

void PrintTo(Init i, std::ostream *os)
{
	*os << (i == Init::kStatic ? "StaticInitializer" : "Attr");
}

class OwnedMutex : public testing::TestWithParam<Init>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
	void Make(int type)
	{
		if (GetParam() == Init::kStatic) {
			m_ = type == PTHREAD_MUTEX_RECURSIVE
			         ? pthread_mutex_t(PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP)
			         : pthread_mutex_t(PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP);
			return;
		}
		pthread_mutexattr_t a;
		pthread_mutexattr_init(&a);
		ASSERT_EQ(pthread_mutexattr_settype(&a, type), 0);
		ASSERT_EQ(pthread_mutex_init(&m_, &a), 0);
		pthread_mutexattr_destroy(&a);
	}
	pthread_mutex_t m_;
};

using RecursiveMutex = OwnedMutex;
using ErrorcheckMutex = OwnedMutex;

TEST_P(RecursiveMutex, TwoFibersOfOneThreadAreDistinctOwners)
{
	Watchdog wd(30, "recursive mutex handover between two fibers of one thread");
	Make(PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_t *m = &m_;
	std::atomic<bool> b_waiting{false}, b_locked{false};
	int b_try = -1, b_unlock = -1, b_relock = -1;
	bool b_locked_after_first_unlock = true, b_in_time = false;

	RunFibers({
	    [&] { // A: holds it twice
		    ASSERT_EQ(pthread_mutex_lock(m), 0);
		    ASSERT_EQ(pthread_mutex_lock(m), 0);
		    ASSERT_EQ(pthread_mutex_trylock(m), 0); // a third level
		    ASSERT_EQ(pthread_mutex_unlock(m), 0);
		    ASSERT_TRUE(WaitUntil([&] { return b_waiting.load(); }, kPatienceNs));
		    for (int i = 0; i < 10; ++i)
			    tame_yield();
		    EXPECT_EQ(pthread_mutex_unlock(m), 0);
		    for (int i = 0; i < 10; ++i)
			    tame_yield();
		    b_locked_after_first_unlock = b_locked.load();
		    EXPECT_EQ(pthread_mutex_unlock(m), 0);
		    b_in_time = WaitUntil([&] { return b_locked.load(); }, kPatienceNs);
	    },
	    [&] { // B: same thread, another owner
		    b_try = pthread_mutex_trylock(m);
		    b_unlock = pthread_mutex_unlock(m);
		    b_waiting = true;
		    ASSERT_EQ(pthread_mutex_lock(m), 0);
		    b_locked = true;
		    b_relock = pthread_mutex_lock(m);
		    EXPECT_EQ(pthread_mutex_unlock(m), 0);
		    EXPECT_EQ(pthread_mutex_unlock(m), 0);
	    },
	});
	EXPECT_EQ(b_try, EBUSY) << "fiber B's trylock of a recursive mutex held by fiber A of the "
	                           "same thread must fail: fibers are distinct owners";
	EXPECT_EQ(b_unlock, EPERM) << "fiber B unlocked a recursive mutex fiber A owns";
	EXPECT_FALSE(b_locked_after_first_unlock)
	    << "B got the mutex while A still held one of its two levels";
	EXPECT_TRUE(b_in_time) << "B never got the mutex after A released both levels";
	EXPECT_EQ(b_relock, 0);
	EXPECT_EQ(pthread_mutex_trylock(m), 0) << "left locked";
	EXPECT_EQ(pthread_mutex_unlock(m), 0);
	EXPECT_EQ(pthread_mutex_destroy(m), 0);
}

TEST_P(RecursiveMutex, AFiberIsNotItsThread)
{
	Make(PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_t *m = &m_;
	int fiber_try = -1, fiber_unlock = -1;

	// The reactor's own thread holds it while its fiber runs.
	ASSERT_EQ(pthread_mutex_lock(m), 0);
	RunFibers({[&] {
		fiber_try = pthread_mutex_trylock(m);
		fiber_unlock = pthread_mutex_unlock(m);
	}});
	EXPECT_EQ(fiber_try, EBUSY) << "a fiber re-entered a recursive mutex its thread holds";
	EXPECT_EQ(fiber_unlock, EPERM);
	EXPECT_EQ(pthread_mutex_lock(m), 0) << "the thread itself re-enters";
	EXPECT_EQ(pthread_mutex_unlock(m), 0);
	EXPECT_EQ(pthread_mutex_unlock(m), 0);
	EXPECT_EQ(pthread_mutex_unlock(m), EPERM) << "unlocked more often than locked";
}

TEST_P(RecursiveMutex, ThreadsAreDistinctOwners)
{
	Watchdog wd(30, "recursive mutex handover between two threads");
	Make(PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_t *m = &m_;
	ASSERT_EQ(pthread_mutex_lock(m), 0);
	ASSERT_EQ(pthread_mutex_lock(m), 0);
	int other_try = -1, other_unlock = -1, other_lock = -1;
	std::thread([&] {
		other_try = pthread_mutex_trylock(m);
		other_unlock = pthread_mutex_unlock(m);
	}).join();
	EXPECT_EQ(other_try, EBUSY);
	EXPECT_EQ(other_unlock, EPERM);
	EXPECT_EQ(pthread_mutex_unlock(m), 0);
	EXPECT_EQ(pthread_mutex_unlock(m), 0);
	std::thread([&] {
		other_lock = pthread_mutex_lock(m);
		pthread_mutex_unlock(m);
	}).join();
	EXPECT_EQ(other_lock, 0);
}

TEST_P(ErrorcheckMutex, OwnershipIsPerFiber)
{
	Watchdog wd(30, "error-checking mutex handover between two fibers of one thread");
	Make(PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_t *m = &m_;
	std::atomic<bool> b_waiting{false}, b_locked{false};
	int a_relock = -1, a_try = -1, a_unlock_again = -1;
	int b_unlock = -1, b_try = -1, b_lock = -1, b_relock = -1;

	RunFibers({
	    [&] { // A
		    ASSERT_EQ(pthread_mutex_lock(m), 0);
		    a_relock = pthread_mutex_lock(m);
		    a_try = pthread_mutex_trylock(m);
		    ASSERT_TRUE(WaitUntil([&] { return b_waiting.load(); }, kPatienceNs));
		    tame_yield();
		    EXPECT_FALSE(b_locked.load());
		    EXPECT_EQ(pthread_mutex_unlock(m), 0);
		    a_unlock_again = pthread_mutex_unlock(m);
	    },
	    [&] { // B
		    b_unlock = pthread_mutex_unlock(m);
		    b_try = pthread_mutex_trylock(m);
		    b_waiting = true;
		    b_lock = pthread_mutex_lock(m); // parks: not a deadlock
		    b_locked = true;
		    b_relock = pthread_mutex_lock(m);
		    EXPECT_EQ(pthread_mutex_unlock(m), 0);
	    },
	});
	EXPECT_EQ(a_relock, EDEADLK) << "relock by the owning fiber";
	EXPECT_EQ(a_try, EBUSY) << "trylock by the owning fiber";
	EXPECT_EQ(b_unlock, EPERM) << "unlock by another fiber of the owner's thread";
	EXPECT_EQ(b_try, EBUSY);
	EXPECT_EQ(b_lock, 0) << "a second fiber of the owner's thread waits, it does not deadlock";
	EXPECT_EQ(b_relock, EDEADLK);
	EXPECT_EQ(a_unlock_again, EPERM) << "unlock of a mutex the fiber no longer holds";
	EXPECT_TRUE(b_locked.load());
	EXPECT_EQ(pthread_mutex_destroy(m), 0);
}

TEST_P(ErrorcheckMutex, OwnershipIsPerThread)
{
	Watchdog wd(30, "an error-checking mutex relocked by its owner (EDEADLK, not a deadlock)");
	Make(PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_t *m = &m_;
	ASSERT_EQ(pthread_mutex_lock(m), 0);
	EXPECT_EQ(pthread_mutex_lock(m), EDEADLK);
	int other_unlock = -1;
	std::thread([&] { other_unlock = pthread_mutex_unlock(m); }).join();
	EXPECT_EQ(other_unlock, EPERM);
	EXPECT_EQ(pthread_mutex_unlock(m), 0);
	EXPECT_EQ(pthread_mutex_unlock(m), EPERM);
}

INSTANTIATE_TEST_SUITE_P(Init, RecursiveMutex, testing::Values(Init::kStatic, Init::kAttr),
                         InitName);
INSTANTIATE_TEST_SUITE_P(Init, ErrorcheckMutex, testing::Values(Init::kStatic, Init::kAttr),
                         InitName);

// ---- trylock, timed locks, destroy ------------------------------------------

class MutexOn : public PortCtxTest
{
};

TEST_P(MutexOn, TrylockOfAHeldMutexIsBusy)
{
	for (MutexKind kind : {MutexKind::kDefault, MutexKind::kAdaptive, MutexKind::kRecursive,
	                       MutexKind::kErrorcheck}) {
		SCOPED_TRACE(MutexKindName(kind));
		TestMutex m(kind);
		int held = -1, free = -1;
		ASSERT_EQ(m.Lock(), 0); // held by this (the test's) thread
		RunIn(ctx(), [&] { held = pthread_mutex_trylock(m.native()); });
		ASSERT_EQ(m.Unlock(), 0);
		RunIn(ctx(), [&] {
			free = pthread_mutex_trylock(m.native());
			if (free == 0)
				pthread_mutex_unlock(m.native());
		});
		EXPECT_EQ(held, EBUSY);
		EXPECT_EQ(free, 0);
	}
}

TEST_F(PortTest, TrylockByAnotherFiberOfTheHoldersThreadIsBusy)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	int b_try = -1;
	RunFibers({
	    [&] {
		    ASSERT_EQ(pthread_mutex_lock(&m), 0);
		    tame_yield(); // B runs
		    EXPECT_EQ(pthread_mutex_unlock(&m), 0);
	    },
	    [&] { b_try = pthread_mutex_trylock(&m); },
	});
	EXPECT_EQ(b_try, EBUSY);
}

enum class TimedKind { kTimedlock, kClocklockMonotonic, kClocklockRealtime };

struct TimedLock {
	TimedKind kind;
	clockid_t clock;
	const char *name;
};

const TimedLock kTimedLocks[] = {
    {TimedKind::kTimedlock, CLOCK_REALTIME, "pthread_mutex_timedlock"},
    {TimedKind::kClocklockMonotonic, CLOCK_MONOTONIC, "pthread_mutex_clocklock(MONOTONIC)"},
    {TimedKind::kClocklockRealtime, CLOCK_REALTIME, "pthread_mutex_clocklock(REALTIME)"},
};

int TimedLockCall(const TimedLock &t, pthread_mutex_t *m, const timespec &abs)
{
	if (t.kind == TimedKind::kTimedlock)
		return pthread_mutex_timedlock(m, &abs);
	return pthread_mutex_clocklock(m, t.clock, &abs);
}

constexpr uint64_t kTimeoutNs = 30 * kNsPerMs;

TEST_P(MutexOn, TimedLockExpiresNotEarly)
{
	Watchdog wd(60, "a timed mutex lock that should have expired after 30 ms");
	for (MutexKind kind : {MutexKind::kDefault, MutexKind::kAdaptive, MutexKind::kRecursive,
	                       MutexKind::kErrorcheck}) {
		for (const TimedLock &t : kTimedLocks) {
			SCOPED_TRACE(std::string(MutexKindName(kind)) + " " + t.name);
			TestMutex m(kind);
			ASSERT_EQ(m.Lock(), 0); // held by the test's thread throughout
			int rc = -1;
			bool reached = false;
			uint64_t elapsed = 0, ticks = 0;
			auto wait = [&] {
				uint64_t start = MonoNs();
				timespec abs = AbsAfter(t.clock, kTimeoutNs);
				rc = TimedLockCall(t, m.native(), abs);
				reached = Reached(t.clock, abs);
				elapsed = MonoNs() - start;
			};
			if (ctx() == Ctx::kFiber) {
				Ticker ticker;
				RunFibers({[&] {
					           uint64_t before = ticker.Now();
					           wait();
					           ticks = ticker.Now() - before;
					           ticker.Stop();
				           },
				           [&] { ticker.Run(); }});
			} else {
				RunIn(ctx(), wait);
			}
			EXPECT_EQ(rc, ETIMEDOUT);
			EXPECT_TRUE(reached)
			    << "returned before its deadline on " << ClockName(t.clock);
			EXPECT_GE(elapsed, kTimeoutNs) << "returned early";
			if (ctx() == Ctx::kFiber) {
				EXPECT_GT(ticks, 0u) << "the timed lock blocked the reactor thread";
			}
			ASSERT_EQ(m.Unlock(), 0);
			// The waiter that gave up left nothing behind.
			int after = -1;
			RunIn(ctx(), [&] {
				after = pthread_mutex_trylock(m.native());
				if (after == 0)
					pthread_mutex_unlock(m.native());
			});
			EXPECT_EQ(after, 0);
		}
	}
}

TEST_P(MutexOn, TimedLockSucceedsWhenReleasedBeforeTheDeadline)
{
	Watchdog wd(60, "a timed mutex lock whose holder released it after 20 ms");
	for (const TimedLock &t : kTimedLocks) {
		SCOPED_TRACE(t.name);
		pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
		std::atomic<bool> held{false}, waiting{false};
		bool saw_waiter = false;
		std::thread holder([&] {
			pthread_mutex_lock(&m);
			held = true;
			saw_waiter = WaitUntil([&] { return waiting.load(); }, kPatienceNs);
			tame_sleep_ns(20 * kNsPerMs);
			pthread_mutex_unlock(&m);
		});
		int rc = -1;
		uint64_t elapsed = 0;
		RunIn(ctx(), [&] {
			ASSERT_TRUE(WaitUntil([&] { return held.load(); }, kPatienceNs));
			timespec abs = AbsAfter(t.clock, 20 * kNsPerS);
			uint64_t start = MonoNs();
			waiting = true;
			rc = TimedLockCall(t, &m, abs);
			elapsed = MonoNs() - start;
			if (rc == 0)
				pthread_mutex_unlock(&m);
		});
		holder.join();
		EXPECT_TRUE(saw_waiter);
		EXPECT_EQ(rc, 0);
		EXPECT_LT(elapsed, 10 * kNsPerS) << "woken by the deadline, not by the unlock";
	}
}

TEST_P(MutexOn, TimedLockWithAnInvalidDeadlineIsEinval)
{
	Watchdog wd(30,
	            "a timed mutex lock with an invalid deadline (it must fail at once, not wait)");
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	ASSERT_EQ(pthread_mutex_lock(&m), 0); // contended: the deadline is looked at
	int bad_nsec = -1, negative_nsec = -1, bad_clock = -1;
	RunIn(ctx(), [&] {
		timespec abs = AbsAfter(CLOCK_REALTIME, kNsPerS);
		abs.tv_nsec = 2000000000L;
		bad_nsec = pthread_mutex_timedlock(&m, &abs);
		abs.tv_nsec = -1;
		negative_nsec = pthread_mutex_timedlock(&m, &abs);
		abs = AbsAfter(CLOCK_MONOTONIC, kNsPerS);
		bad_clock = pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &abs);
	});
	EXPECT_EQ(bad_nsec, EINVAL);
	EXPECT_EQ(negative_nsec, EINVAL);
	EXPECT_EQ(bad_clock, EINVAL);
	EXPECT_EQ(pthread_mutex_unlock(&m), 0);
}

TEST_P(MutexOn, DestroyOfALockedMutexIsBusy)
{
	for (MutexKind kind : {MutexKind::kDefault, MutexKind::kAdaptive, MutexKind::kRecursive,
	                       MutexKind::kErrorcheck}) {
		SCOPED_TRACE(MutexKindName(kind));
		TestMutex m(kind);
		int locked = -1, unlocked = -1;
		RunIn(ctx(), [&] {
			ASSERT_EQ(pthread_mutex_lock(m.native()), 0);
			locked = pthread_mutex_destroy(m.native());
			ASSERT_EQ(pthread_mutex_unlock(m.native()), 0);
			unlocked = pthread_mutex_destroy(m.native());
		});
		EXPECT_EQ(locked, EBUSY);
		EXPECT_EQ(unlocked, 0);
	}
}

INSTANTIATE_TEST_SUITE_P(Ctx, MutexOn, kBothCtx, CtxParamName);

// ---- process-shared mutexes are glibc's --------------------------------------

// Shared anonymous memory for a pthread_mutex_t and a flag.
struct SharedPage {
	pthread_mutex_t mutex;
	std::atomic<int> child_locked;
};

TEST_F(PortTest, ProcessSharedMutexCountsExactlyFromThreads)
{
	Watchdog wd(60, "threads incrementing under a process-shared mutex");
	AttrMutex m(PTHREAD_MUTEX_NORMAL, PTHREAD_PROCESS_SHARED);
	constexpr int kThreads = 4;
	constexpr int kIters = 20000;
	uint64_t counter = 0;
	std::vector<std::thread> threads;
	for (int t = 0; t < kThreads; ++t)
		threads.emplace_back([&] {
			for (int i = 0; i < kIters; ++i) {
				ASSERT_EQ(pthread_mutex_lock(m.get()), 0);
				uint64_t v = counter;
				if (i % 64 == 0)
					sched_yield();
				counter = v + 1;
				ASSERT_EQ(pthread_mutex_unlock(m.get()), 0);
			}
		});
	for (auto &t : threads)
		t.join();
	EXPECT_EQ(counter, uint64_t{kThreads} * kIters);
	ASSERT_EQ(pthread_mutex_lock(m.get()), 0);
	int busy = -1;
	std::thread([&] { busy = pthread_mutex_trylock(m.get()); }).join();
	EXPECT_EQ(busy, EBUSY);
	ASSERT_EQ(pthread_mutex_unlock(m.get()), 0);
}

// Only glibc's futex mutex works across processes: tamerocks' parking lot is
// per process, so a waiter in the child would never hear the parent's
// unlock.
TEST_F(PortTest, ProcessSharedMutexWorksAcrossProcesses)
{
	void *mem = mmap(nullptr, sizeof(SharedPage), PROT_READ | PROT_WRITE,
	                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(mem, MAP_FAILED);
	auto *page = new (mem) SharedPage();
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	ASSERT_EQ(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
	ASSERT_EQ(pthread_mutex_init(&page->mutex, &a), 0);
	pthread_mutexattr_destroy(&a);

	ASSERT_EQ(pthread_mutex_lock(&page->mutex), 0);
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		pthread_mutex_lock(&page->mutex);
		page->child_locked = 1;
		pthread_mutex_unlock(&page->mutex);
		_exit(0);
	}
	tame_sleep_ns(50 * kNsPerMs);
	EXPECT_EQ(page->child_locked.load(), 0) << "the child got a mutex the parent holds";
	ASSERT_EQ(pthread_mutex_unlock(&page->mutex), 0);
	int status = 0;
	bool exited =
	    WaitUntil([&] { return waitpid(child, &status, WNOHANG) == child; }, kPatienceNs);
	if (!exited) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
	}
	EXPECT_TRUE(exited) << "the child never woke from pthread_mutex_lock: the parent's unlock "
	                       "did not reach a waiter in another process";
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(page->child_locked.load(), 1);
	pthread_mutex_destroy(&page->mutex);
	munmap(mem, sizeof(SharedPage));
}

} // namespace
