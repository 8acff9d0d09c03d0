// SPDX-License-Identifier: Apache-2.0
// Park/wake tokens, deadlines, timers, and wakes that cross threads.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tame_fiber.h"
#include "tame_reactor.h"
#include "test_util.h"

namespace
{

using tame_test::FiberSleepUntil;
using tame_test::kNsPerMs;
using tame_test::LoopTest;
using tame_test::MakeReactor;
using tame_test::ReactorPtr;
using tame_test::ReactorThread;
using tame_test::RunOnReactor;
using tame_test::SpawnFn;
using tame_test::StatsOf;

class ParkWake : public LoopTest
{
};
class Timer : public LoopTest
{
};

constexpr uint64_t kLongNs = 10ull * 1000 * kNsPerMs; // "never" in a test

TEST_P(ParkWake, ManyWakesBeforeAParkLeaveOneToken)
{
	int first = 1, second = 1;
	uint64_t second_deadline = 0, second_returned = 0;
	RunOnReactor(Opts(), [&] {
		tame_fiber *self = tame_fiber_self();
		for (int i = 0; i < 5; ++i)
			tame_wake(self);
		first = tame_park_until(tame_now_ns() + kLongNs);
		second_deadline = tame_now_ns() + 30 * kNsPerMs;
		second = tame_park_until(second_deadline);
		second_returned = tame_now_ns();
	});
	EXPECT_EQ(first, 0);
	EXPECT_EQ(second, -ETIMEDOUT);
	EXPECT_GE(second_returned, second_deadline);
}

TEST_P(ParkWake, ManyForeignWakesBeforeAParkLeaveOneToken)
{
	std::atomic<tame_fiber *> fiber{nullptr};
	std::atomic<bool> wakes_done{false}, waiting_for_last{false}, last_wake_done{false};
	int first = 1, second = 1, third = 1;
	uint64_t second_deadline = 0, second_returned = 0;
	std::thread waker([&] {
		while (!fiber.load())
			std::this_thread::yield();
		for (int i = 0; i < 1000; ++i)
			tame_wake(fiber.load());
		wakes_done = true;
		while (!waiting_for_last.load())
			std::this_thread::yield();
		tame_wake(fiber.load());
		last_wake_done = true;
	});
	RunOnReactor(Opts(), [&] {
		fiber = tame_fiber_self();
		while (!wakes_done.load()) // running, not parked, meanwhile
			tame_yield();
		first = tame_park_until(tame_now_ns() + kLongNs);
		second_deadline = tame_now_ns() + 30 * kNsPerMs;
		second = tame_park_until(second_deadline);
		second_returned = tame_now_ns();
		waiting_for_last = true;
		third = tame_park_until(tame_now_ns() + kLongNs); // next wake
		FiberSleepUntil([&] { return last_wake_done.load(); });
	});
	waker.join();
	EXPECT_EQ(first, 0);
	EXPECT_EQ(second, -ETIMEDOUT);
	EXPECT_GE(second_returned, second_deadline);
	EXPECT_EQ(third, 0);
}

TEST_P(ParkWake, ParkUntilTimesOutNotBeforeTheDeadline)
{
	int rc = 0, past_rc = 0;
	uint64_t deadline = 0, returned = 0;
	tame_reactor_stats s = RunOnReactor(Opts(), [&] {
		deadline = tame_now_ns() + 20 * kNsPerMs;
		rc = tame_park_until(deadline);
		returned = tame_now_ns();
		past_rc = tame_park_until(tame_now_ns() - 1);
	});
	EXPECT_EQ(rc, -ETIMEDOUT);
	EXPECT_GE(returned, deadline);
	EXPECT_EQ(past_rc, -ETIMEDOUT);
	EXPECT_GE(s.timers_fired, 1u);
}

TEST_P(ParkWake, ParkUntilReturnsZeroWhenWokenBeforeTheDeadline)
{
	ReactorPtr r = MakeReactor(Opts());
	ASSERT_TRUE(r);
	tame_fiber *sleeper = nullptr;
	bool parking = false;
	int rc = 1;
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  sleeper = tame_fiber_self();
		                  parking = true;
		                  rc = tame_park_until(tame_now_ns() + kLongNs);
	                  }),
	          0);
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  while (!parking)
			                  tame_yield();
		                  tame_wake(sleeper);
	                  }),
	          0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(rc, 0);
}

TEST_P(ParkWake, EarlyWokenParkUntilLeavesNoStaleTimer)
{
	ReactorPtr r = MakeReactor(Opts());
	ASSERT_TRUE(r);
	const uint64_t stale_deadline = tame_now_ns() + 20 * kNsPerMs;
	tame_fiber *exits_early = nullptr, *parks_again = nullptr;
	int parked = 0, rc_exits = 1, rc_first = 1, rc_again = 0;
	uint64_t again_deadline = 0, again_returned = 0;
	// Woken early, then exits long before its deadline would have passed.
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  exits_early = tame_fiber_self();
		                  ++parked;
		                  rc_exits = tame_park_until(stale_deadline);
	                  }),
	          0);
	// Woken early, then parks again past the first deadline.
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  parks_again = tame_fiber_self();
		                  ++parked;
		                  rc_first = tame_park_until(stale_deadline);
		                  again_deadline = tame_now_ns() + 60 * kNsPerMs;
		                  rc_again = tame_park_until(again_deadline);
		                  again_returned = tame_now_ns();
	                  }),
	          0);
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  while (parked < 2)
			                  tame_yield();
		                  tame_wake(exits_early);
		                  tame_wake(parks_again);
	                  }),
	          0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(rc_exits, 0);
	EXPECT_EQ(rc_first, 0);
	EXPECT_EQ(rc_again, -ETIMEDOUT); // not woken by the stale timer
	EXPECT_GE(again_returned, again_deadline);
}

TEST_P(ParkWake, FiberOnOneReactorWakesAFiberOnAnotherThread)
{
	std::atomic<tame_fiber *> parked_fiber{nullptr};
	std::atomic<bool> flag{false}, wake_returned{false};
	std::atomic<bool> woke_on_own_thread{false};
	std::thread::id a_thread;
	int parks = 0;

	ReactorThread a(
	    Opts(),
	    [&](tame_reactor *r) {
		    a_thread = std::this_thread::get_id();
		    SpawnFn(r, [&] {
			    parked_fiber = tame_fiber_self();
			    while (!flag.load()) {
				    ++parks;
				    tame_park();
			    }
			    woke_on_own_thread = std::this_thread::get_id() == a_thread;
			    FiberSleepUntil([&] { return wake_returned.load(); });
		    });
	    },
	    TAME_RUN_UNTIL_EMPTY);
	ASSERT_EQ(a.create_rc(), 0);

	ReactorThread b(
	    Opts(),
	    [&](tame_reactor *r) {
		    SpawnFn(r, [&] {
			    FiberSleepUntil([&] { return parked_fiber.load() != nullptr; });
			    flag = true;
			    tame_wake(parked_fiber.load());
			    wake_returned = true;
		    });
	    },
	    TAME_RUN_UNTIL_EMPTY);
	ASSERT_EQ(b.create_rc(), 0);

	EXPECT_EQ(b.WaitRunReturned(), 0);
	EXPECT_EQ(a.WaitRunReturned(), 0);
	EXPECT_TRUE(woke_on_own_thread.load());
	EXPECT_GE(parks, 1);
	EXPECT_EQ(a.StatsAfterRun().wakes_remote, 1u);
	EXPECT_EQ(b.StatsAfterRun().wakes_remote, 0u);
	b.Finish();
	a.Finish();
}

struct Wakeup {
	int index;
	uint64_t deadline;
	uint64_t woke;
};

TEST_P(Timer, SleepersWakeInDeadlineOrderAndNotEarly)
{
	constexpr int kSleepers = 12;
	std::vector<int> spawn_order(kSleepers);
	for (int i = 0; i < kSleepers; ++i)
		spawn_order[i] = i;
	std::shuffle(spawn_order.begin(), spawn_order.end(), std::mt19937(42));

	ReactorPtr r = MakeReactor(Opts());
	ASSERT_TRUE(r);
	std::vector<Wakeup> wakeups;
	int zero_rc = 1;
	for (int i : spawn_order) {
		ASSERT_EQ(SpawnFn(r.get(),
		                  [&, i] {
			                  uint64_t d = uint64_t(i + 1) * 3 * kNsPerMs;
			                  uint64_t start = tame_now_ns();
			                  EXPECT_EQ(tame_sleep_ns(d), 0);
			                  wakeups.push_back({i, start + d, tame_now_ns()});
		                  }),
		          0);
	}
	ASSERT_EQ(SpawnFn(r.get(), [&] { zero_rc = tame_sleep_ns(0); }), 0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(zero_rc, 0);
	ASSERT_EQ(wakeups.size(), size_t{kSleepers});
	for (size_t k = 0; k < wakeups.size(); ++k) {
		EXPECT_GE(wakeups[k].woke, wakeups[k].deadline)
		    << "sleeper " << wakeups[k].index << " woke early";
		if (k > 0) {
			EXPECT_LE(wakeups[k - 1].deadline, wakeups[k].deadline)
			    << "sleeper " << wakeups[k].index << " woke before "
			    << wakeups[k - 1].index;
		}
	}
	EXPECT_GE(StatsOf(r.get()).timers_fired, uint64_t{kSleepers});
}

TEST_P(Timer, ParkUntilDeadlinesFireInDeadlineOrder)
{
	constexpr int kParkers = 16;
	std::vector<int> spawn_order(kParkers);
	for (int i = 0; i < kParkers; ++i)
		spawn_order[i] = i;
	std::shuffle(spawn_order.begin(), spawn_order.end(), std::mt19937(7));

	ReactorPtr r = MakeReactor(Opts());
	ASSERT_TRUE(r);
	const uint64_t base = tame_now_ns() + 20 * kNsPerMs;
	std::vector<int> order;
	int early = 0, not_timed_out = 0;
	for (int i : spawn_order) {
		ASSERT_EQ(SpawnFn(r.get(),
		                  [&, i] {
			                  uint64_t deadline = base + uint64_t(i) * kNsPerMs;
			                  if (tame_park_until(deadline) != -ETIMEDOUT)
				                  ++not_timed_out;
			                  if (tame_now_ns() < deadline)
				                  ++early;
			                  order.push_back(i);
		                  }),
		          0);
	}
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	std::vector<int> want(kParkers);
	for (int i = 0; i < kParkers; ++i)
		want[i] = i;
	EXPECT_EQ(order, want);
	EXPECT_EQ(early, 0);
	EXPECT_EQ(not_timed_out, 0);
}

INSTANTIATE_TEST_SUITE_P(Loops, ParkWake, tame_test::kAllLoops, tame_test::LoopParamName);
INSTANTIATE_TEST_SUITE_P(Loops, Timer, tame_test::kAllLoops, tame_test::LoopParamName);

} // namespace
