// SPDX-License-Identifier: Apache-2.0
// tame_spawn from the owner, from plain threads through the bounded inbox,
// and from fibers of other reactors.
#include <sched.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tame_fiber.h"
#include "tame_reactor.h"
#include "test_util.h"

namespace
{

using tame_test::LoopTest;
using tame_test::MakeReactor;
using tame_test::ReactorPtr;
using tame_test::ReactorThread;
using tame_test::SpawnFn;
using tame_test::SpawnFnRetrying;
using tame_test::StatsOf;

class Spawn : public LoopTest
{
};

TEST_P(Spawn, ForeignSpawnsBeforeRunFillTheInboxToItsCapacity)
{
	constexpr unsigned kCapacity = 64;
	tame_reactor_opts opts = Opts();
	opts.inbox_capacity = kCapacity;
	ReactorPtr r = MakeReactor(opts);
	ASSERT_TRUE(r);

	std::vector<int> runs(kCapacity + 1, 0);
	int ran = 0, expected = 0;
	auto body = [&](unsigned i) {
		return [&, i] {
			++runs[i];
			if (++ran == expected)
				tame_reactor_stop(tame_fiber_reactor());
		};
	};
	// Nothing drains the inbox before run: exactly kCapacity fit.
	std::vector<int> rcs;
	std::thread foreign([&] {
		for (unsigned i = 0; i <= kCapacity; ++i)
			rcs.push_back(SpawnFn(r.get(), body(i)));
	});
	foreign.join();
	ASSERT_EQ(rcs.size(), size_t{kCapacity + 1});
	for (unsigned i = 0; i < kCapacity; ++i)
		EXPECT_EQ(rcs[i], 0) << "spawn " << i;
	EXPECT_EQ(rcs[kCapacity], -EAGAIN);
	EXPECT_EQ(StatsOf(r.get()).inbox_full, 1u);

	expected = kCapacity;
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_STOPPED), 0);
	for (unsigned i = 0; i < kCapacity; ++i)
		EXPECT_EQ(runs[i], 1) << "fiber " << i;
	EXPECT_EQ(runs[kCapacity], 0); // refused spawns never run

	// Drained: the refused spawn now fits.
	std::thread retry([&] { EXPECT_EQ(SpawnFn(r.get(), body(kCapacity)), 0); });
	retry.join();
	expected = kCapacity + 1;
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_STOPPED), 0);
	EXPECT_EQ(runs[kCapacity], 1);
	tame_reactor_stats s = StatsOf(r.get());
	EXPECT_EQ(s.fibers_spawned, uint64_t{kCapacity + 1});
	EXPECT_EQ(s.fibers_exited, uint64_t{kCapacity + 1});
	EXPECT_EQ(s.inbox_full, 1u);
}

TEST_P(Spawn, OwnerSpawnsBypassTheInbox)
{
	tame_reactor_opts opts = Opts();
	opts.inbox_capacity = 1;
	ReactorPtr r = MakeReactor(opts);
	ASSERT_TRUE(r);
	int ran = 0, refused = 0;
	for (int i = 0; i < 500; ++i)
		if (SpawnFn(r.get(), [&] { ++ran; }) != 0)
			++refused;
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  for (int i = 0; i < 500; ++i)
			                  if (SpawnFn(tame_fiber_reactor(), [&] { ++ran; }) != 0)
				                  ++refused;
	                  }),
	          0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	EXPECT_EQ(refused, 0);
	EXPECT_EQ(ran, 1000);
	EXPECT_EQ(StatsOf(r.get()).inbox_full, 0u);
}

TEST_P(Spawn, ForeignThreadsRetryOnEAGAINAndEverySpawnRunsOnce)
{
	constexpr int kThreads = 4, kPerThread = 2000;
	constexpr int kTotal = kThreads * kPerThread;
	tame_reactor_opts opts = Opts();
	opts.inbox_capacity = 64;

	std::atomic<bool> gate_open{false};
	std::atomic<int> saw_eagain{0}, finished_without_eagain{0};
	std::vector<int> runs(kTotal, 0); // touched only on the reactor thread
	int ran = 0;
	// The gate fiber blocks the reactor thread (without yielding to the
	// loop) until every spawner has met a full inbox, so the inbox fills
	// however the threads are scheduled.
	ReactorThread owner(opts, [&](tame_reactor *r) {
		SpawnFn(r, [&] {
			gate_open = true;
			while (saw_eagain.load() + finished_without_eagain.load() < kThreads)
				sched_yield();
		});
	});
	ASSERT_EQ(owner.create_rc(), 0);
	tame_reactor *r = owner.reactor();

	std::vector<uint64_t> eagain(kThreads, 0);
	std::vector<std::thread> spawners;
	for (int t = 0; t < kThreads; ++t) {
		spawners.emplace_back([&, t] {
			while (!gate_open.load())
				sched_yield();
			for (int k = 0; k < kPerThread; ++k) {
				int slot = t * kPerThread + k;
				tame_test::Fn fn = [&, slot] {
					++runs[slot];
					if (++ran == kTotal)
						tame_reactor_stop(tame_fiber_reactor());
				};
				int rc;
				while ((rc = SpawnFn(r, fn)) == -EAGAIN) {
					if (eagain[t]++ == 0)
						++saw_eagain; // may open the gate
					sched_yield();
				}
				ASSERT_EQ(rc, 0);
			}
			if (eagain[t] == 0)
				++finished_without_eagain;
		});
	}
	for (auto &th : spawners)
		th.join();
	EXPECT_EQ(owner.WaitRunReturned(), 0);
	tame_reactor_stats s = owner.StatsAfterRun();
	owner.Finish();

	int wrong = 0;
	for (int slot = 0; slot < kTotal; ++slot)
		wrong += runs[slot] != 1;
	EXPECT_EQ(wrong, 0);
	EXPECT_EQ(ran, kTotal);
	uint64_t total_eagain = 0;
	for (uint64_t e : eagain)
		total_eagain += e;
	EXPECT_GT(total_eagain, 0u);
	EXPECT_EQ(saw_eagain.load(), kThreads);
	EXPECT_EQ(s.inbox_full, total_eagain);
	EXPECT_EQ(s.inbox_msgs, uint64_t{kTotal});
	EXPECT_EQ(s.fibers_spawned, uint64_t{kTotal + 1});
	EXPECT_EQ(s.fibers_exited, uint64_t{kTotal + 1});
}

TEST_P(Spawn, FiberOfAnotherReactorSpawnsOntoTheTargetThread)
{
	constexpr int kSpawns = 500;
	tame_reactor_opts opts = Opts();
	opts.inbox_capacity = 16; // the spawning fiber meets a full inbox
	int ran = 0, on_wrong_thread = 0, on_wrong_reactor = 0;
	std::thread::id target_thread;
	ReactorThread target(opts,
	                     [&](tame_reactor *) { target_thread = std::this_thread::get_id(); });
	ASSERT_EQ(target.create_rc(), 0);
	tame_reactor *a = target.reactor();

	uint64_t refused = 0;
	ReactorThread source(
	    Opts(),
	    [&](tame_reactor *b) {
		    SpawnFn(b, [&] {
			    for (int i = 0; i < kSpawns; ++i)
				    refused += SpawnFnRetrying(a, [&] {
					    on_wrong_thread +=
					        std::this_thread::get_id() != target_thread;
					    on_wrong_reactor += tame_fiber_reactor() != a;
					    if (++ran == kSpawns)
						    tame_reactor_stop(a);
				    });
		    });
	    },
	    TAME_RUN_UNTIL_EMPTY);
	ASSERT_EQ(source.create_rc(), 0);

	EXPECT_EQ(source.WaitRunReturned(), 0);
	EXPECT_EQ(target.WaitRunReturned(), 0);
	source.Finish();
	tame_reactor_stats s = target.StatsAfterRun();
	target.Finish();
	EXPECT_EQ(ran, kSpawns);
	EXPECT_EQ(on_wrong_thread, 0);
	EXPECT_EQ(on_wrong_reactor, 0);
	EXPECT_EQ(s.fibers_spawned, uint64_t{kSpawns});
	EXPECT_EQ(s.inbox_full, refused);
}

INSTANTIATE_TEST_SUITE_P(Loops, Spawn, tame_test::kAllLoops, tame_test::LoopParamName);

} // namespace
