// SPDX-License-Identifier: Apache-2.0
// Wake/park stress: foreign threads wake fibers hundreds of thousands of
// times, racing the fibers' parks. A lost wake shows as a hang (the ctest
// timeout) or as a counted 10-second park timeout. These run alone
// (RUN_SERIAL): they measure correctness under races, and sharing two cores
// with other tests only makes them slow.
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

using tame_test::FiberSleepUntil;
using tame_test::FutexWakeAll;
using tame_test::LoopTest;
using tame_test::MakeReactor;
using tame_test::ReactorPtr;
using tame_test::SpawnFn;
using tame_test::StatsOf;
using tame_test::ThreadWaitAtLeast;

class ParkWake : public LoopTest
{
};
class ParkWakeRace : public LoopTest
{
};

constexpr uint64_t kLongNs = 10ull * 1000 * 1000 * 1000; // "never" here

// One fiber and one plain thread doing wake handshakes. Per sequence
// number the fiber publishes seq, the thread stores ack = seq and then
// calls tame_wake. The fiber varies what it does between publishing and
// parking so the wake lands before the park, during it and after it.
struct WakePair {
	std::atomic<tame_fiber *> fiber{nullptr};
	std::atomic<uint32_t> published{0};
	std::atomic<uint32_t> acked{0};
	std::atomic<uint32_t> wakes_returned{0};
	uint32_t iterations = 0;
	uint32_t lost_tokens = 0;
};

void WakePairFiber(WakePair *p, uint32_t n)
{
	p->fiber.store(tame_fiber_self(), std::memory_order_release);
	for (uint32_t seq = 1; seq <= n; ++seq) {
		p->published.store(seq, std::memory_order_release);
		FutexWakeAll(&p->published);
		switch (seq % 3) {
		case 0: // park right away: the wake races the park
			break;
		case 1: // be runnable, not parked, when the wake may land
			tame_yield();
			break;
		case 2: // the wake has certainly happened: the park must
			// consume its token and return at once. Waiting blocks
			// the whole reactor thread on a futex on purpose: yielding
			// would burn a core the waker threads need, and any
			// reactor-level wait could consume the token.
			ThreadWaitAtLeast(&p->wakes_returned, seq);
			if (tame_park_until(tame_now_ns() + kLongNs) != 0)
				++p->lost_tokens;
			break;
		}
		while (p->acked.load(std::memory_order_acquire) < seq)
			tame_park();
		++p->iterations;
	}
	// Stay alive until the thread's last tame_wake has returned.
	FiberSleepUntil([&] { return p->wakes_returned.load() == n; });
}

void WakePairThread(WakePair *p, uint32_t n)
{
	for (uint32_t seq = 1; seq <= n; ++seq) {
		ThreadWaitAtLeast(&p->published, seq);
		p->acked.store(seq, std::memory_order_release);
		tame_wake(p->fiber.load(std::memory_order_acquire));
		p->wakes_returned.store(seq, std::memory_order_release);
		FutexWakeAll(&p->wakes_returned);
	}
}

TEST_P(ParkWake, WakeBeforeParkIsNotLost)
{
	constexpr int kThreads = 4;
	constexpr uint32_t kWakes = 100000;
	ReactorPtr r = MakeReactor(Opts());
	ASSERT_TRUE(r);
	std::vector<WakePair> pairs(kThreads);
	for (auto &p : pairs)
		ASSERT_EQ(SpawnFn(r.get(), [&p] { WakePairFiber(&p, kWakes); }), 0);
	std::vector<std::thread> wakers;
	for (auto &p : pairs)
		wakers.emplace_back(WakePairThread, &p, kWakes);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	for (auto &t : wakers)
		t.join();
	for (int i = 0; i < kThreads; ++i) {
		EXPECT_EQ(pairs[i].iterations, kWakes) << "pair " << i;
		EXPECT_EQ(pairs[i].wakes_returned.load(), kWakes) << "pair " << i;
		EXPECT_EQ(pairs[i].lost_tokens, 0u) << "pair " << i;
	}
	tame_reactor_stats s = StatsOf(r.get());
	// A foreign wake that finds the fiber running only leaves a token; one
	// that finds it parked hands it to the reactor and is counted.
	EXPECT_GT(s.wakes_remote, 0u);
	EXPECT_LE(s.wakes_remote, uint64_t{kThreads} * kWakes);
	EXPECT_EQ(s.fibers_exited, uint64_t{kThreads});
}

// Every round leaves the previous round's token pending, so the waker's
// tame_wake finds a token already there at the moment the fiber consumes it
// and re-checks its condition. A wake that returns early because "a token
// is pending" must still make the waker's earlier stores visible to the
// fiber once that token is consumed; otherwise the fiber parks again on a
// stale view of the condition and the wake is lost.
struct StaleTokenPair {
	std::atomic<tame_fiber *> fiber{nullptr};
	std::atomic<uint32_t> published{0};
	std::atomic<uint32_t> acked{0};
	std::atomic<uint32_t> wakes_returned{0};
	std::atomic<bool> waker_sleeping{false};
	uint32_t rounds = 0;
	uint32_t timed_out_parks = 0;
};

void StaleTokenFiber(StaleTokenPair *p, uint32_t n)
{
	p->fiber.store(tame_fiber_self(), std::memory_order_release);
	for (uint32_t seq = 1; seq <= n; ++seq) {
		p->published.store(seq);
		if (p->waker_sleeping.load())
			FutexWakeAll(&p->published);
		// A varying delay lines the consumption of the stale token up
		// with the waker's wake in some rounds.
		for (uint32_t d = (seq * 7) % 61; d > 0; --d)
			tame_test::CpuRelax();
		// The first park consumes the previous round's token at once.
		while (p->acked.load(std::memory_order_acquire) < seq)
			if (tame_park_until(tame_now_ns() + kLongNs) == -ETIMEDOUT)
				++p->timed_out_parks; // no wake for 10 s: lost
		// Wait until this round's wake has returned: unless it found
		// the fiber parked, it left a token that the next round's
		// first park consumes.
		ThreadWaitAtLeast(&p->wakes_returned, seq);
		++p->rounds;
	}
}

void StaleTokenWaker(StaleTokenPair *p, uint32_t n)
{
	for (uint32_t seq = 1; seq <= n; ++seq) {
		// Spin hard so the wake lands right while the fiber consumes the
		// stale token; sleep on the futex only when the fiber is slow.
		for (int spin = 0; p->published.load() < seq; ++spin) {
			if (spin < 2000) {
				tame_test::CpuRelax();
				continue;
			}
			p->waker_sleeping.store(true);
			uint32_t seen = p->published.load();
			if (seen < seq)
				tame_test::FutexWait(&p->published, seen);
			p->waker_sleeping.store(false);
		}
		p->acked.store(seq, std::memory_order_release);
		tame_wake(p->fiber.load(std::memory_order_acquire));
		p->wakes_returned.store(seq, std::memory_order_release);
		FutexWakeAll(&p->wakes_returned);
	}
}

TEST_P(ParkWakeRace, WakeRacingAStaleTokenIsNotLost)
{
	constexpr uint32_t kRounds = 50000;
	ReactorPtr r = MakeReactor(Opts());
	ASSERT_TRUE(r);
	StaleTokenPair pair;
	ASSERT_EQ(SpawnFn(r.get(), [&] { StaleTokenFiber(&pair, kRounds); }), 0);
	std::thread waker(StaleTokenWaker, &pair, kRounds);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	waker.join();
	EXPECT_EQ(pair.rounds, kRounds);
	EXPECT_EQ(pair.timed_out_parks, 0u);
}

INSTANTIATE_TEST_SUITE_P(Loops, ParkWake, tame_test::kAllLoops, tame_test::LoopParamName);
// The token logic does not depend on the backend; one loop of each kind.
INSTANTIATE_TEST_SUITE_P(Loops, ParkWakeRace,
                         testing::Values(tame_test::Loop::kIoUring, tame_test::Loop::kSync),
                         tame_test::LoopParamName);

} // namespace
