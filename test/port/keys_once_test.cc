// SPDX-License-Identifier: Apache-2.0
// pthread keys, one-time initialization and no-yield sections, interposed.
//
// Keys are per fiber on a fiber, with destructors at fiber exit; plain
// threads keep glibc's. One-time initializers (pthread_once, std::call_once,
// C++ function-local statics) run as no-yield sections: a fiber that would
// park inside one blocks its thread instead, because another fiber of that
// thread waiting for the same initializer would otherwise wait forever for a
// fiber that cannot run.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "port_test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace
{

using namespace tame_port_test;

// ---- pthread keys ---------------------------------------------------------------

// What destructors saw, recorded from whichever fiber or thread ran them.
struct DtorLog {
	std::mutex mu;
	std::vector<std::pair<intptr_t, bool>> calls; // value, ran on a fiber

	static void Record(void *v);
	std::vector<std::pair<intptr_t, bool>> Calls()
	{
		std::lock_guard<std::mutex> l(mu);
		return calls;
	}
};

DtorLog *g_dtor_log;

void DtorLog::Record(void *v)
{
	std::lock_guard<std::mutex> l(g_dtor_log->mu);
	g_dtor_log->calls.emplace_back(reinterpret_cast<intptr_t>(v), tame_fiber_self() != nullptr);
}

class Keys : public PortTest
{
      protected:
	void SetUp() override
	{
		PortTest::SetUp();
		g_dtor_log = &log_;
	}
	void TearDown() override
	{
		g_dtor_log = nullptr;
	}
	DtorLog log_;
};

void *Val(intptr_t v)
{
	return reinterpret_cast<void *>(v);
}

TEST_F(Keys, TwoFibersOfOneThreadEachSeeTheirOwnValue)
{
	pthread_key_t k;
	ASSERT_EQ(pthread_key_create(&k, nullptr), 0);
	ASSERT_EQ(pthread_setspecific(k, Val(100)), 0); // the reactor thread's own
	void *a_first = Val(-1), *a_seen = nullptr, *b_seen = nullptr, *c_first = Val(-1);
	RunFibers({[&] {
		           a_first = pthread_getspecific(k);
		           EXPECT_EQ(pthread_setspecific(k, Val(1)), 0);
		           tame_yield(); // B sets its value meanwhile
		           a_seen = pthread_getspecific(k);
	           },
	           [&] {
		           EXPECT_EQ(pthread_setspecific(k, Val(2)), 0);
		           tame_yield();
		           b_seen = pthread_getspecific(k);
	           },
	           [&] { c_first = pthread_getspecific(k); }});
	EXPECT_EQ(a_first, nullptr) << "a new fiber must not see its thread's value";
	EXPECT_EQ(a_seen, Val(1));
	EXPECT_EQ(b_seen, Val(2));
	EXPECT_EQ(c_first, nullptr) << "a new fiber saw another fiber's value";
	EXPECT_EQ(pthread_getspecific(k), Val(100)) << "the fibers changed their thread's value";
	EXPECT_EQ(pthread_key_delete(k), 0);
}

TEST_F(Keys, TheDestructorRunsOnceWhenTheFiberFinishesWithItsValue)
{
	pthread_key_t k;
	ASSERT_EQ(pthread_key_create(&k, DtorLog::Record), 0);
	ASSERT_EQ(pthread_setspecific(k, Val(100)), 0);
	size_t calls_when_b_ran = 99;
	RunFibers({[&] { EXPECT_EQ(pthread_setspecific(k, Val(1)), 0); },
	           [&] {
		           calls_when_b_ran = log_.Calls().size();
		           EXPECT_EQ(pthread_setspecific(k, Val(2)), 0);
		           EXPECT_EQ(pthread_setspecific(k, Val(3)), 0); // replaces 2
	           },
	           [&] {
		           EXPECT_EQ(pthread_setspecific(k, Val(4)), 0);
		           EXPECT_EQ(pthread_setspecific(k, nullptr), 0); // nothing to destroy
	           }});
	auto calls = log_.Calls();
	ASSERT_EQ(calls.size(), 2u);
	EXPECT_EQ(calls_when_b_ran, 1u) << "A's destructor did not run when A finished";
	EXPECT_EQ(calls[0].first, 1);
	EXPECT_EQ(calls[1].first, 3);
	EXPECT_TRUE(calls[0].second && calls[1].second) << "destructors run on the fiber";
	EXPECT_EQ(pthread_getspecific(k), Val(100)) << "the thread's value was destroyed or lost";
	ASSERT_EQ(pthread_setspecific(k, nullptr), 0);
	EXPECT_EQ(pthread_key_delete(k), 0);
}

// As at thread exit: a destructor that stores a new value gets called again
// for it, up to PTHREAD_DESTRUCTOR_ITERATIONS rounds.
pthread_key_t g_resetting_key;
std::atomic<int> g_resetting_calls{0};

void ResettingDtor(void *v)
{
	g_resetting_calls++;
	if (v == Val(1))
		pthread_setspecific(g_resetting_key, Val(2));
}

TEST_F(Keys, ADestructorThatStoresAValueRunsAgain)
{
	ASSERT_EQ(pthread_key_create(&g_resetting_key, ResettingDtor), 0);
	RunFibers({[&] { EXPECT_EQ(pthread_setspecific(g_resetting_key, Val(1)), 0); }});
	EXPECT_EQ(g_resetting_calls.load(), 2);
	EXPECT_EQ(pthread_key_delete(g_resetting_key), 0);
}

TEST_F(Keys, AKeyDeletedAndCreatedAgainReadsNullInAFiberThatSetTheOldOne)
{
	void *after = Val(-1), *after_set = nullptr;
	bool recreated = false;
	RunFibers({[&] {
		pthread_key_t old_key, new_key;
		ASSERT_EQ(pthread_key_create(&old_key, DtorLog::Record), 0);
		ASSERT_EQ(pthread_setspecific(old_key, Val(7)), 0);
		ASSERT_EQ(pthread_key_delete(old_key), 0);
		ASSERT_EQ(pthread_key_create(&new_key, DtorLog::Record), 0);
		recreated = new_key == old_key; // glibc hands out the freed slot
		after = pthread_getspecific(new_key);
		ASSERT_EQ(pthread_setspecific(new_key, Val(8)), 0);
		after_set = pthread_getspecific(new_key);
	}});
	EXPECT_TRUE(recreated) << "(the test wants the same key number back to mean anything)";
	EXPECT_EQ(after, nullptr) << "a re-created key showed the deleted key's value";
	EXPECT_EQ(after_set, Val(8));
	auto calls = log_.Calls();
	ASSERT_EQ(calls.size(), 1u) << "only the live key's value is destroyed";
	EXPECT_EQ(calls[0].first, 8);
}

TEST_F(Keys, ManyFibersOnTwoReactorsKeepTheirValuesAcrossParks)
{
	Watchdog wd(60, "fibers parking with per-fiber key values");
	constexpr int kFibers = 50;
	pthread_key_t k;
	ASSERT_EQ(pthread_key_create(&k, DtorLog::Record), 0);
	std::atomic<int> wrong{0};
	auto body = [&](intptr_t id) {
		for (int i = 0; i < 20; ++i) {
			if (pthread_setspecific(k, Val(id * 1000 + i)) != 0)
				++wrong;
			tame_sleep_ns((id % 3) * 10 * kNsPerUs);
			if (pthread_getspecific(k) != Val(id * 1000 + i))
				++wrong;
		}
	};
	{
		std::vector<Fn> r1, r2;
		for (intptr_t id = 1; id <= kFibers; ++id)
			(id % 2 ? r1 : r2).push_back([&body, id] { body(id); });
		FiberThread a(std::move(r1)), b(std::move(r2));
	}
	EXPECT_EQ(wrong.load(), 0);
	auto calls = log_.Calls();
	EXPECT_EQ(calls.size(), size_t(kFibers)) << "one destructor call per fiber";
	int64_t sum = 0;
	for (auto &c : calls)
		sum += c.first;
	EXPECT_EQ(sum, int64_t(kFibers) * (kFibers + 1) / 2 * 1000 + kFibers * 19);
	EXPECT_EQ(pthread_key_delete(k), 0);
}

TEST_F(Keys, PlainThreadsKeepGlibcsValuesAndDestructors)
{
	pthread_key_t k;
	ASSERT_EQ(pthread_key_create(&k, DtorLog::Record), 0);
	void *seen1 = nullptr, *seen2 = nullptr, *initial = Val(-1);
	std::thread t1([&] {
		initial = pthread_getspecific(k);
		pthread_setspecific(k, Val(11));
		tame_sleep_ns(5 * kNsPerMs);
		seen1 = pthread_getspecific(k);
	});
	std::thread t2([&] {
		pthread_setspecific(k, Val(22));
		tame_sleep_ns(5 * kNsPerMs);
		seen2 = pthread_getspecific(k);
	});
	t1.join();
	t2.join();
	EXPECT_EQ(initial, nullptr);
	EXPECT_EQ(seen1, Val(11));
	EXPECT_EQ(seen2, Val(22));
	auto calls = log_.Calls();
	ASSERT_EQ(calls.size(), 2u) << "each thread's destructor, once, at thread exit";
	EXPECT_EQ(calls[0].first + calls[1].first, 33);
	EXPECT_FALSE(calls[0].second || calls[1].second) << "ran on a fiber?";
	EXPECT_EQ(pthread_key_delete(k), 0);
}

// Libraries keep their own per-thread state under pthread keys. The
// sanitizer runtimes do (libasan's GetCurrentThread reads its AsanThread
// with pthread_getspecific): if a fiber read such a key as a fresh, empty
// per-fiber value, ASan would lose its current thread on every fiber (its
// fiber-switch annotations then do nothing), and the stack poison of the
// frames an exception unwinds would never be cleared, which later shows as
// false stack-buffer-overflow reports. In other builds the test only checks
// that exceptions on fibers are caught.
[[gnu::noinline]] void ThrowThrough(int depth)
{
	volatile char pad[64];
	pad[0] = char(depth);
	if (depth == 0)
		throw std::runtime_error("deep");
	ThrowThrough(depth - 1);
	pad[1] = pad[0];
}

[[gnu::noinline]] int ThrowDeepAndCatch()
{
	try {
		ThrowThrough(8);
	} catch (const std::runtime_error &) {
		return 1;
	}
	return 0;
}

// The address of a local of a frame one call below the caller's.
[[gnu::noinline]] uintptr_t StackBelowCaller()
{
	volatile char here = 0;
	return reinterpret_cast<uintptr_t>(&here);
}

TEST_F(Keys, AnExceptionUnwoundOnAFiberLeavesNoStalePoison)
{
	int caught = 0;
	const void *stale = nullptr;
	RunFibers({[&] {
		caught += ThrowDeepAndCatch();
#if defined(__SANITIZE_ADDRESS__)
		// Where ThrowThrough's frames were: ASan clears it when the
		// exception is thrown, if it knows the stack it runs on.
		uintptr_t below = StackBelowCaller();
		stale = __asan_region_is_poisoned(reinterpret_cast<void *>(below - 1024), 768);
#else
		(void)StackBelowCaller();
#endif
		caught += ThrowDeepAndCatch();
	}});
	EXPECT_EQ(caught, 2);
	EXPECT_EQ(stale, nullptr) << "the frames an exception unwound on a fiber are still "
	                             "poisoned: ASan does not know which stack the fiber runs on "
	                             "(its pthread key reads as a per-fiber value)";
}

// ---- no-yield sections ------------------------------------------------------------

// Inside a no-yield section a contended lock blocks the OS thread: the
// reactor's other fibers do not run until the holder, a plain thread,
// releases it.
TEST_F(PortTest, InANoYieldSectionAContendedMutexBlocksTheThread)
{
	Watchdog wd(30, "a fiber in a no-yield section locking a mutex a thread holds");
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	std::atomic<bool> held{false}, asking{false};
	Ticker ticker;
	uint64_t ticks_during = 99, waited_ns = 0;
	bool could_park_inside = true, can_park_after = false;
	std::thread holder([&] {
		pthread_mutex_lock(&m);
		held = true;
		WaitUntil([&] { return asking.load(); }, kPatienceNs);
		tame_sleep_ns(50 * kNsPerMs);
		pthread_mutex_unlock(&m);
	});
	RunFibers({[&] {
		           ASSERT_TRUE(WaitUntil([&] { return held.load(); }, kPatienceNs));
		           tame_noyield_enter();
		           could_park_inside = tame_can_park();
		           uint64_t before = ticker.Now(), start = MonoNs();
		           asking = true;
		           EXPECT_EQ(pthread_mutex_lock(&m), 0);
		           waited_ns = MonoNs() - start;
		           ticks_during = ticker.Now() - before;
		           EXPECT_EQ(pthread_mutex_unlock(&m), 0);
		           tame_noyield_exit();
		           can_park_after = tame_can_park();
		           ticker.Stop();
	           },
	           [&] { ticker.Run(); }});
	holder.join();
	EXPECT_FALSE(could_park_inside);
	EXPECT_TRUE(can_park_after);
	EXPECT_GE(waited_ns, 40 * kNsPerMs) << "the lock did not wait for the holder";
	EXPECT_EQ(ticks_during, 0u) << "another fiber ran while a no-yield section waited";
}

TEST_F(PortTest, InANoYieldSectionSleepsAndYieldsBlockTheThread)
{
	Ticker ticker;
	uint64_t ticks_during = 99, elapsed = 0;
	RunFibers({[&] {
		           tame_noyield_enter();
		           uint64_t before = ticker.Now(), start = MonoNs();
		           usleep(10000);
		           timespec ts = TimespecOf(10 * kNsPerMs);
		           nanosleep(&ts, nullptr);
		           sched_yield();
		           std::this_thread::yield();
		           elapsed = MonoNs() - start;
		           ticks_during = ticker.Now() - before;
		           tame_noyield_exit();
		           ticker.Stop();
	           },
	           [&] { ticker.Run(); }});
	EXPECT_GE(elapsed, 20 * kNsPerMs);
	EXPECT_EQ(ticks_during, 0u) << "a sleep or a yield in a no-yield section switched fibers";
}

// ---- C++ function-local statics (__cxa_guard_*) ---------------------------------

// Each test gets its own statics: the process may run several tests.
template <int N> struct Static {
	static inline std::atomic<int> runs{0};
	static inline bool could_park_inside = true;
	static int Init()
	{
		runs++;
		could_park_inside = tame_can_park();
		usleep(20000); // would park a fiber outside a no-yield section
		return 42;
	}
	static int Get()
	{
		static int value = Init();
		return value;
	}
};

// Fiber A enters the initializer, which sleeps; fiber B of the same thread
// reaches the same static. Had A parked, B would wait for the guard on a
// futex and A could never run again to finish it.
TEST_F(PortTest, AFunctionStaticInitializerThatSleepsRunsOnceWithoutDeadlock)
{
	Watchdog wd(30, "two fibers of one reactor entering a function-local static whose "
	                "initializer sleeps (__cxa_guard deadlock)");
	using S = Static<1>;
	int a = 0, b = 0;
	bool a_can_park_after = false;
	Ticker ticker;
	uint64_t ticks_during = 99;
	RunFibers({[&] {
		           uint64_t before = ticker.Now();
		           a = S::Get();
		           ticks_during = ticker.Now() - before;
		           a_can_park_after = tame_can_park();
	           },
	           [&] { b = S::Get(); },
	           [&] {
		           ticker.Run(); // stopped below
	           },
	           [&] {
		           WaitUntil([&] { return a == 42 && b == 42; }, kPatienceNs);
		           ticker.Stop();
	           }});
	EXPECT_EQ(a, 42);
	EXPECT_EQ(b, 42);
	EXPECT_EQ(S::runs.load(), 1) << "the initializer ran more than once";
	EXPECT_FALSE(S::could_park_inside) << "the initializer ran outside a no-yield section";
	EXPECT_TRUE(a_can_park_after) << "the no-yield section did not end with the initializer";
	EXPECT_EQ(ticks_during, 0u) << "the initializer's sleep let other fibers run";
}

template <int N> struct ThrowingStatic {
	static inline int attempts = 0;
	static int Init()
	{
		if (++attempts == 1) {
			usleep(1000);
			throw std::runtime_error("first initialization fails");
		}
		return 7;
	}
	static int Get()
	{
		static int value = Init();
		return value;
	}
};

TEST_F(PortTest, AFunctionStaticInitializerThatThrowsEndsTheNoYieldSection)
{
	using S = ThrowingStatic<1>;
	bool threw = false, can_park_after_throw = false;
	int second = 0;
	std::string order;
	RunFibers({[&] {
		           try {
			           S::Get();
		           } catch (const std::runtime_error &) {
			           threw = true;
		           }
		           can_park_after_throw = tame_can_park();
		           order += "A ";
		           tame_yield(); // B must get to run: the section is over
		           order += "A2 ";
		           second = S::Get();
	           },
	           [&] { order += "B "; }});
	EXPECT_TRUE(threw);
	EXPECT_TRUE(can_park_after_throw) << "__cxa_guard_abort left the no-yield section open";
	EXPECT_EQ(order, "A B A2 ");
	EXPECT_EQ(second, 7) << "a later initialization did not succeed";
	EXPECT_EQ(S::attempts, 2);
}

// ---- pthread_once and std::call_once -----------------------------------------------

std::atomic<int> g_once_runs{0};
bool g_once_could_park = true;

void SleepingOnceInit()
{
	g_once_runs++;
	g_once_could_park = tame_can_park();
	usleep(20000);
}

TEST_F(PortTest, PthreadOnceWhoseInitSleepsRunsOnceForTwoFibersOfOneThread)
{
	Watchdog wd(30, "two fibers of one reactor in pthread_once whose init sleeps");
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int rc_a = -1, rc_b = -1;
	bool can_park_after = false;
	RunFibers({[&] {
		           rc_a = pthread_once(&once, SleepingOnceInit);
		           can_park_after = tame_can_park();
	           },
	           [&] { rc_b = pthread_once(&once, SleepingOnceInit); }});
	EXPECT_EQ(rc_a, 0);
	EXPECT_EQ(rc_b, 0);
	EXPECT_EQ(g_once_runs.load(), 1);
	EXPECT_FALSE(g_once_could_park) << "pthread_once's init ran outside a no-yield section";
	EXPECT_TRUE(can_park_after);
}

TEST_F(PortTest, StdCallOnceWhoseFunctionSleepsRunsOnceForFibersAndThreads)
{
	Watchdog wd(30, "fibers of one reactor and a thread in std::call_once whose function "
	                "sleeps");
	std::once_flag flag;
	std::atomic<int> runs{0}, done{0};
	bool could_park_inside = true, can_park_after = false;
	auto call = [&] {
		std::call_once(flag, [&] {
			runs++;
			could_park_inside = tame_can_park();
			usleep(20000);
		});
		done++;
	};
	std::thread t([&] {
		tame_sleep_ns(5 * kNsPerMs);
		call();
	});
	RunFibers({[&] {
		           call();
		           can_park_after = tame_can_park();
	           },
	           call, call});
	t.join();
	EXPECT_EQ(runs.load(), 1);
	EXPECT_EQ(done.load(), 4);
	EXPECT_TRUE(can_park_after);
	if (runs.load() == 1 && could_park_inside) {
		ADD_FAILURE() << "std::call_once ran its function on a fiber outside a no-yield "
		                 "section";
	}
}

TEST_F(PortTest, StdCallOnceThatThrowsEndsTheNoYieldSectionAndALaterCallSucceeds)
{
	Watchdog wd(30, "std::call_once whose first function throws");
	std::once_flag flag;
	bool threw = false, can_park_after_throw = false, second_ran = false;
	std::string order;
	RunFibers({[&] {
		           try {
			           std::call_once(flag, [] {
				           usleep(1000);
				           throw std::runtime_error("first call fails");
			           });
		           } catch (const std::runtime_error &) {
			           threw = true;
		           }
		           can_park_after_throw = tame_can_park();
		           order += "A ";
		           tame_yield();
		           order += "A2 ";
		           std::call_once(flag, [&] { second_ran = true; });
	           },
	           [&] { order += "B "; }});
	EXPECT_TRUE(threw);
	EXPECT_TRUE(can_park_after_throw) << "the throw left the no-yield section open";
	EXPECT_EQ(order, "A B A2 ");
	EXPECT_TRUE(second_ran) << "call_once after a throwing call did not run its function";
}

} // namespace
