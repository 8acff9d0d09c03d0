// SPDX-License-Identifier: Apache-2.0
// Reactor lifecycle, options, scheduling order, preemption and counters.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <valgrind/valgrind.h>

#include "tame_fiber.h"
#include "tame_reactor.h"
#include "test_util.h"

namespace
{

using tame_test::DefaultOpts;
using tame_test::kNsPerMs;
using tame_test::MakeReactor;
using tame_test::ReactorPtr;
using tame_test::RunOnReactor;
using tame_test::SpawnFn;
using tame_test::StatsOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(Reactor, OptsInitFillsTheDocumentedDefaults)
{
	tame_reactor_opts opts;
	memset(&opts, 0xFF, sizeof(opts));
	tame_reactor_opts_init(&opts);
	EXPECT_EQ(opts.ring_entries, TAME_REACTOR_DEFAULT_RING_ENTRIES);
	EXPECT_EQ(opts.inbox_capacity, TAME_REACTOR_DEFAULT_INBOX_CAPACITY);
	EXPECT_EQ(opts.slice_ns, TAME_REACTOR_DEFAULT_SLICE_NS);
	EXPECT_EQ(opts.idle_poll_ns, TAME_REACTOR_DEFAULT_IDLE_POLL_NS);
	EXPECT_TRUE(opts.stack_bytes == 0 || opts.stack_bytes == TAME_FIBER_DEFAULT_STACK_BYTES);
	EXPECT_EQ(opts.flags, 0u);
}

struct BadOption {
	const char *what;
	unsigned ring_entries;
	unsigned inbox_capacity;
};

TEST(Reactor, CreateRejectsOutOfRangeOptionsWithEINVAL)
{
	const unsigned ring = TAME_REACTOR_DEFAULT_RING_ENTRIES;
	const unsigned inbox = TAME_REACTOR_DEFAULT_INBOX_CAPACITY;
	const BadOption cases[] = {
	    {"ring_entries 0", 0, inbox},
	    {"ring_entries 3", 3, inbox},
	    {"ring_entries 100", 100, inbox},
	    {"ring_entries above max", TAME_REACTOR_MAX_RING_ENTRIES * 2, inbox},
	    {"ring_entries max+1", TAME_REACTOR_MAX_RING_ENTRIES + 1, inbox},
	    {"inbox_capacity 0", ring, 0},
	    {"inbox_capacity 3", ring, 3},
	    {"inbox_capacity 100", ring, 100},
	    {"inbox_capacity above max", ring, TAME_REACTOR_MAX_INBOX_CAPACITY * 2},
	};
	for (const BadOption &c : cases) {
		tame_reactor_opts opts = DefaultOpts();
		opts.ring_entries = c.ring_entries;
		opts.inbox_capacity = c.inbox_capacity;
		tame_reactor *r = nullptr;
		EXPECT_EQ(tame_reactor_create(&opts, &r), -EINVAL) << c.what;
		EXPECT_EQ(r, nullptr) << c.what;
		if (r)
			tame_reactor_destroy(r);
	}
}

TEST(Reactor, CreateAcceptsTheBoundaryOptions)
{
	struct {
		unsigned ring_entries, inbox_capacity;
	} cases[] = {
	    {1, 1},
	    {TAME_REACTOR_MAX_RING_ENTRIES, TAME_REACTOR_MAX_INBOX_CAPACITY},
	};
	for (auto c : cases) {
		for (unsigned flags : {0u, TAME_REACTOR_NO_IO_URING | TAME_REACTOR_SYNC_FALLBACK}) {
			tame_reactor_opts opts = DefaultOpts();
			opts.ring_entries = c.ring_entries;
			opts.inbox_capacity = c.inbox_capacity;
			opts.flags = flags | TAME_REACTOR_SYNC_FALLBACK;
			ReactorPtr r = MakeReactor(opts);
			ASSERT_TRUE(r) << c.ring_entries << "/" << c.inbox_capacity;
			int ran = 0;
			ASSERT_EQ(SpawnFn(r.get(), [&] { ++ran; }), 0);
			EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
			EXPECT_EQ(ran, 1);
		}
	}
}

TEST(Reactor, NoIoUringWithoutSyncFallbackFailsCreateAndSaysWhy)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.flags = TAME_REACTOR_NO_IO_URING;
	tame_reactor *r = nullptr;
	testing::internal::CaptureStderr();
	int rc = tame_reactor_create(&opts, &r);
	std::string err = testing::internal::GetCapturedStderr();
	EXPECT_LT(rc, 0);
	EXPECT_EQ(r, nullptr);
	if (r)
		tame_reactor_destroy(r);
	EXPECT_THAT(err, ContainsRegex("[iI][oO]_[uU][rR][iI][nN][gG]"));
}

TEST(Reactor, SyncFallbackReportsTheSyncBackend)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.flags = TAME_REACTOR_NO_IO_URING | TAME_REACTOR_SYNC_FALLBACK;
	ReactorPtr r = MakeReactor(opts);
	ASSERT_TRUE(r);
	EXPECT_FALSE(tame_reactor_uses_io_uring(r.get()));
	EXPECT_STREQ(tame_reactor_backend(r.get()), "sync");
}

TEST(Reactor, DefaultBackendIsIoUring)
{
	tame_reactor_opts opts = DefaultOpts();
	tame_reactor *raw = nullptr;
	int rc = tame_reactor_create(&opts, &raw);
	if (rc == -ENOSYS || rc == -EPERM)
		GTEST_SKIP() << "kernel refuses io_uring: " << strerror(-rc);
	ASSERT_EQ(rc, 0);
	ReactorPtr r(raw);
	EXPECT_TRUE(tame_reactor_uses_io_uring(r.get()));
	EXPECT_THAT(tame_reactor_backend(r.get()), StartsWith("io_uring"));
}

TEST(Reactor, SpawnedFibersStartInSpawnOrder)
{
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	std::vector<int> order;
	for (int i = 0; i < 10; ++i)
		ASSERT_EQ(SpawnFn(r.get(), [&, i] { order.push_back(i); }), 0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(order, std::vector<int>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Reactor, YieldIsFifo)
{
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	std::string trace;
	for (char name : {'A', 'B', 'C'})
		ASSERT_EQ(SpawnFn(r.get(),
		                  [&, name] {
			                  for (int i = 0; i < 4; ++i) {
				                  trace += name;
				                  tame_yield();
			                  }
		                  }),
		          0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(trace, "ABCABCABCABC");
}

TEST(Reactor, FiberSpawnedByAFiberRunsAfterTheAlreadyQueuedOnes)
{
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	std::string trace;
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  trace += "A";
		                  SpawnFn(tame_fiber_reactor(), [&] { trace += "C"; });
		                  tame_yield();
		                  trace += "a";
	                  }),
	          0);
	ASSERT_EQ(SpawnFn(r.get(), [&] { trace += "B"; }), 0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(trace, "ABCa");
}

TEST(Reactor, RunUntilEmptyReturnsWhenTheLastFiberExits)
{
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0); // nothing

	int done = 0;
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  tame_sleep_ns(5 * kNsPerMs);
		                  SpawnFn(tame_fiber_reactor(), [&] {
			                  tame_sleep_ns(5 * kNsPerMs);
			                  ++done;
		                  });
		                  ++done;
	                  }),
	          0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(done, 2);
	tame_reactor_stats s = StatsOf(r.get());
	EXPECT_EQ(s.fibers_spawned, 2u);
	EXPECT_EQ(s.fibers_exited, 2u);
	EXPECT_EQ(s.fibers_live, 0u);

	// The reactor can run again: a later spawn runs on the next run.
	ASSERT_EQ(SpawnFn(r.get(), [&] { ++done; }), 0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(done, 3);
}

void ParkForever(void *arg)
{
	static_cast<std::atomic<bool> *>(arg)->store(true);
	for (;;)
		tame_park();
}

TEST(Reactor, StopFromAnotherThreadEndsRun)
{
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	std::atomic<bool> parked{false};
	ASSERT_EQ(tame_spawn(r.get(), ParkForever, &parked), 0);
	std::thread stopper([&] {
		while (!parked.load())
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		// Give the loop time to go to sleep in the kernel.
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
		tame_reactor_stop(r.get());
	});
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_STOPPED), 0);
	stopper.join();
	tame_reactor_stats s = StatsOf(r.get());
	EXPECT_EQ(s.fibers_live, 1u);
	// The parked fiber is discarded by destroy (checked by ASan/LSan).
}

TEST(Reactor, StopFromOwnFiberEndsRunUntilStopped)
{
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	int after_stop = 0;
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  tame_reactor_stop(tame_fiber_reactor());
		                  ++after_stop; // stop only asks; this fiber goes on
	                  }),
	          0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_STOPPED), 0);
	EXPECT_EQ(after_stop, 1);
}

TEST(Reactor, RunFromANonOwnerThreadIsEPERM)
{
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	int rc = 0;
	std::thread other([&] { rc = tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY); });
	other.join();
	EXPECT_EQ(rc, -EPERM);
	// The owner can still run it.
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
}

TEST(Reactor, RunFromInsideItsOwnLoopIsEBUSY)
{
	int rc = 0;
	RunOnReactor([&] { rc = tame_reactor_run(tame_fiber_reactor(), TAME_RUN_UNTIL_EMPTY); });
	EXPECT_EQ(rc, -EBUSY);
}

TEST(Reactor, CurrentReactorIsSetOnlyOnItsRunningLoop)
{
	EXPECT_EQ(tame_reactor_current(), nullptr);
	EXPECT_EQ(tame_fiber_reactor(), nullptr);
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	EXPECT_EQ(tame_reactor_current(), nullptr); // created, not running
	tame_reactor *current_on_fiber = nullptr, *fiber_reactor = nullptr;
	tame_reactor *current_elsewhere = r.get();
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  current_on_fiber = tame_reactor_current();
		                  fiber_reactor = tame_fiber_reactor();
		                  std::thread other(
		                      [&] { current_elsewhere = tame_reactor_current(); });
		                  other.join();
	                  }),
	          0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(current_on_fiber, r.get());
	EXPECT_EQ(fiber_reactor, r.get());
	EXPECT_EQ(current_elsewhere, nullptr);
	EXPECT_EQ(tame_reactor_current(), nullptr);
}

TEST(Reactor, FibersGetTheConfiguredStackSize)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.stack_bytes = 64 * 1024;
	size_t stack = 0;
	RunOnReactor(opts, [&] { stack = tame_fiber_stack_bytes(tame_fiber_self()); });
	EXPECT_EQ(stack, 64u * 1024);
}

// tame_reactor_opts.name is documented as "copied; for messages and fiber
// names".
TEST(Reactor, FiberNamesIncludeTheCopiedReactorName)
{
	tame_reactor_opts opts = DefaultOpts();
	std::string reactor_name = "shard-42";
	opts.name = reactor_name.c_str();
	ReactorPtr r = MakeReactor(opts);
	reactor_name = "overwritten"; // the reactor copied its name
	ASSERT_TRUE(r);
	std::string fiber_name;
	ASSERT_EQ(SpawnFn(r.get(), [&] { fiber_name = tame_fiber_name(tame_fiber_self()); }), 0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_THAT(fiber_name, HasSubstr("shard-42"));
}

TEST(Reactor, TenThousandFibersAreLiveAtOnce)
{
	constexpr int kFibers = 10000;
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	std::vector<tame_fiber *> fibers(kFibers, nullptr);
	int arrived = 0, finished = 0, max_running_together = 0;
	bool released = false;
	uint64_t live_when_all_arrived = 0;
	for (int i = 0; i < kFibers; ++i) {
		ASSERT_EQ(SpawnFn(r.get(),
		                  [&, i] {
			                  fibers[i] = tame_fiber_self();
			                  ++arrived;
			                  max_running_together =
			                      std::max(max_running_together, arrived - finished);
			                  if (arrived < kFibers) {
				                  while (!released)
					                  tame_park();
			                  } else {
				                  live_when_all_arrived =
				                      StatsOf(tame_fiber_reactor()).fibers_live;
				                  released = true;
				                  for (tame_fiber *f : fibers)
					                  if (f != tame_fiber_self())
						                  tame_wake(f);
			                  }
			                  ++finished;
		                  }),
		          0)
		    << i;
	}
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(arrived, kFibers);
	EXPECT_EQ(finished, kFibers);
	EXPECT_EQ(max_running_together, kFibers);
	EXPECT_EQ(live_when_all_arrived, uint64_t{kFibers});
	tame_reactor_stats s = StatsOf(r.get());
	EXPECT_EQ(s.fibers_spawned, uint64_t{kFibers});
	EXPECT_EQ(s.fibers_exited, uint64_t{kFibers});
	EXPECT_EQ(s.fibers_live, 0u);
	EXPECT_GE(s.parks, uint64_t{kFibers - 1});
}

TEST(Reactor, ShouldYieldTurnsTrueOnlyAfterTheSlice)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.slice_ns = 1 * kNsPerMs;
	uint64_t elapsed = 0;
	bool fresh_slice_says_yield = true;
	RunOnReactor(opts, [&] {
		uint64_t start = tame_now_ns();
		while (!tame_should_yield()) {
		}
		elapsed = tame_now_ns() - start;
		tame_yield();
		fresh_slice_says_yield = tame_should_yield();
	});
	EXPECT_GE(elapsed, opts.slice_ns);
	EXPECT_FALSE(fresh_slice_says_yield);
}

// The check reads the clock at the pace of the checks before: when fast
// checks turn slow, at most TAME_SHOULD_YIELD_SKIP_MAX of them go unread
// before one sees that the slice is over.
TEST(Reactor, ShouldYieldSeesTheSliceEndSoonAfterItsChecksSlowDown)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.slice_ns = 1 * kNsPerMs;
	constexpr uint64_t kSlowGapNs = 200 * 1000;
	int fast_checks = 0, slow_checks = 0;
	RunOnReactor(opts, [&] {
		uint64_t start = tame_now_ns();
		while (tame_now_ns() - start < opts.slice_ns / 4 && fast_checks < 100000) {
			ASSERT_FALSE(tame_should_yield());
			fast_checks++;
		}
		for (;;) {
			uint64_t spin = tame_now_ns();
			while (tame_now_ns() - spin < kSlowGapNs) {
			}
			slow_checks++;
			if (tame_should_yield())
				break;
		}
	});
	EXPECT_GT(fast_checks, TAME_SHOULD_YIELD_SKIP_MAX);
	// Skipped checks, then a reading; if that reading came before the end,
	// the slice's remaining 1 ms at the new pace, then one more.
	EXPECT_LE(slow_checks, TAME_SHOULD_YIELD_SKIP_MAX + 1 + int(opts.slice_ns / kSlowGapNs) + 1);
}

TEST(Reactor, MaybeYieldLetsOtherFibersRunAfterTheSlice)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.slice_ns = 1 * kNsPerMs;
	ReactorPtr r = MakeReactor(opts);
	ASSERT_TRUE(r);
	std::atomic<bool> other_ran{false};
	uint64_t spun_ns = 0;
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  uint64_t start = tame_now_ns();
		                  while (!other_ran.load())
			                  tame_maybe_yield(); // a hang if it never yields
		                  spun_ns = tame_now_ns() - start;
	                  }),
	          0);
	ASSERT_EQ(SpawnFn(r.get(), [&] { other_ran = true; }), 0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_GE(spun_ns, opts.slice_ns); // not before the slice was used up
	EXPECT_GE(StatsOf(r.get()).yields, 1u);
}

TEST(Reactor, StatsCountWhatTheFibersDid)
{
	constexpr int kParkers = 5, kYields = 3;
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	std::vector<tame_fiber *> parkers(kParkers, nullptr);
	std::vector<bool> woken(kParkers, false);
	int ready = 0, park_calls = 0, waker_yields = 0;
	for (int i = 0; i < kParkers; ++i) {
		ASSERT_EQ(SpawnFn(r.get(),
		                  [&, i] {
			                  parkers[i] = tame_fiber_self();
			                  for (int y = 0; y < kYields; ++y)
				                  tame_yield();
			                  ++ready;
			                  while (!woken[i]) {
				                  ++park_calls;
				                  tame_park();
			                  }
		                  }),
		          0);
	}
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  while (ready < kParkers) {
			                  tame_yield();
			                  ++waker_yields;
		                  }
		                  for (int i = 0; i < kParkers; ++i) {
			                  woken[i] = true;
			                  tame_wake(parkers[i]);
		                  }
	                  }),
	          0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(park_calls, kParkers); // each parked once, woken once

	tame_reactor_stats s = StatsOf(r.get());
	EXPECT_EQ(s.fibers_spawned, uint64_t{kParkers + 1});
	EXPECT_EQ(s.fibers_exited, uint64_t{kParkers + 1});
	EXPECT_EQ(s.fibers_live, 0u);
	EXPECT_EQ(s.yields, uint64_t(kParkers * kYields + waker_yields));
	EXPECT_EQ(s.parks, uint64_t(park_calls));
	EXPECT_EQ(s.wakes_remote, 0u);
	EXPECT_EQ(s.inbox_msgs, 0u); // owner spawns bypass the inbox
	EXPECT_EQ(s.inbox_full, 0u);
	EXPECT_EQ(s.timers_fired, 0u);
	// Every fiber is resumed once to start, once per yield and once per park.
	EXPECT_GE(s.switches, uint64_t(kParkers * (1 + kYields + 1) + 1 + waker_yields));
	EXPECT_GE(s.loop_turns, 1u);
}

TEST(Reactor, SleepYieldAndClockWorkOffAFiber)
{
	struct timespec ts;
	uint64_t before = tame_now_ns();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t mono = uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
	uint64_t after = tame_now_ns();
	EXPECT_LE(before, mono);
	EXPECT_LE(mono, after);

	uint64_t start = tame_now_ns();
	EXPECT_EQ(tame_sleep_ns(2 * kNsPerMs), 0);
	EXPECT_GE(tame_now_ns() - start, 2 * kNsPerMs);
	tame_yield(); // sched_yield off a fiber
	EXPECT_EQ(tame_fiber_self(), nullptr);
}

// valgrind runs one thread at a time and keeps its lock while a thread waits
// in io_uring_enter, so a reactor sleeping there until another thread wakes
// it would hang the process. Under valgrind the reactor uses the synchronous
// fallback instead (ctest also runs this under valgrind:
// reactor_under_valgrind); outside it, the same wake-up goes through io_uring.
TEST(ReactorUnderValgrind, ASleepingReactorIsWokenByAnotherThread)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.idle_poll_ns = 0; /* sleep in the kernel at once */
	opts.flags = TAME_REACTOR_SYNC_FALLBACK;
	ReactorPtr r = MakeReactor(opts);
	ASSERT_TRUE(r);
	if (RUNNING_ON_VALGRIND) {
		EXPECT_FALSE(tame_reactor_uses_io_uring(r.get()));
	}
	std::atomic<tame_fiber *> parked{nullptr};
	std::atomic<bool> released{false};
	bool woke = false;
	ASSERT_EQ(0, SpawnFn(r.get(), [&] {
		parked = tame_fiber_self();
		while (!released.load())
			tame_park();
		woke = true;
	}));
	std::thread waker([&] {
		while (!parked.load())
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		// Long enough for the reactor to be asleep in the kernel.
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
		released = true;
		tame_wake(parked.load());
	});
	EXPECT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
	waker.join();
	EXPECT_TRUE(woke);
}

} // namespace
