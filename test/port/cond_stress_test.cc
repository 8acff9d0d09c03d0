// SPDX-License-Identifier: Apache-2.0
// Condition-variable stress between fibers (on one or two reactors) and
// plain threads: a ping-pong that loses no wake-up, broadcasts that reach
// every waiter, and a bounded queue that hands each of 100,000 items to
// exactly one consumer. Lost wake-ups show as a bounded wait failing with
// the round it happened in, or as the watchdog's message. Run alone
// (RUN_SERIAL).
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "port_test_util.h"

namespace
{

using namespace tame_port_test;
using tame_test::Loop;

// ---- ping-pong ------------------------------------------------------------------

enum class WaitStyle { kUntimed, kTimed };

struct PingPong {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t to_fiber = PTHREAD_COND_INITIALIZER;
	pthread_cond_t to_thread = PTHREAD_COND_INITIALIZER;
	uint32_t turn = 0; // under m: even = the fiber's turn, odd = the thread's
	WaitStyle style = WaitStyle::kUntimed;
	std::atomic<uint64_t> timeouts{0};
	std::atomic<uint64_t> errors{0};
};

// Plays rounds: waits for its parity, advances turn, signals the other.
void Play(PingPong *p, uint32_t parity, pthread_cond_t *mine, pthread_cond_t *theirs,
          uint32_t rounds)
{
	for (uint32_t i = 0; i < rounds; ++i) {
		pthread_mutex_lock(&p->m);
		while (p->turn % 2 != parity) {
			int rc;
			if (p->style == WaitStyle::kTimed) {
				// Deadlines short enough to race the signals.
				timespec abs = AbsAfter(CLOCK_MONOTONIC, 50 * kNsPerUs);
				rc = pthread_cond_clockwait(mine, &p->m, CLOCK_MONOTONIC, &abs);
				if (rc == ETIMEDOUT) {
					p->timeouts.fetch_add(1, std::memory_order_relaxed);
					rc = 0;
				}
			} else {
				rc = pthread_cond_wait(mine, &p->m);
			}
			if (rc != 0)
				p->errors.fetch_add(1, std::memory_order_relaxed);
		}
		++p->turn;
		pthread_cond_signal(theirs);
		pthread_mutex_unlock(&p->m);
	}
}

void PrintTo(WaitStyle w, std::ostream *os)
{
	*os << (w == WaitStyle::kTimed ? "Timed" : "Untimed");
}

class CondPingPong : public testing::TestWithParam<std::tuple<Loop, WaitStyle>>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
		tame_reactor_opts opts = tame_test::OptsFor(std::get<0>(GetParam()));
		tame_reactor *probe = nullptr;
		int rc = tame_reactor_create(&opts, &probe);
		if (rc == -ENOSYS || rc == -EPERM)
			GTEST_SKIP() << "kernel refuses io_uring: " << strerror(-rc);
		ASSERT_EQ(rc, 0) << strerror(-rc);
		tame_reactor_destroy(probe);
	}
};

TEST_P(CondPingPong, FiberAndThreadLoseNoWakeUpIn10000Rounds)
{
	constexpr uint32_t kRounds = 10000;
	Watchdog wd(100, "10,000 rounds of condvar ping-pong between a fiber and a thread (a "
	                 "lost wake-up stops the game)");
	PingPong p;
	p.style = std::get<1>(GetParam());
	std::thread player(Play, &p, 1u, &p.to_thread, &p.to_fiber, kRounds);
	uint64_t start = MonoNs();
	RunFibers({[&] { Play(&p, 0u, &p.to_fiber, &p.to_thread, kRounds); }},
	          tame_test::OptsFor(std::get<0>(GetParam())));
	player.join();
	EXPECT_EQ(p.turn, 2 * kRounds);
	EXPECT_EQ(p.errors.load(), 0u);
	RecordProperty("elapsed_ms", std::to_string((MonoNs() - start) / kNsPerMs));
	RecordProperty("timeouts", std::to_string(p.timeouts.load()));
}

std::string PingPongName(const testing::TestParamInfo<std::tuple<Loop, WaitStyle>> &info)
{
	return std::string(tame_test::LoopName(std::get<0>(info.param))) +
	       (std::get<1>(info.param) == WaitStyle::kTimed ? "_Timed" : "_Untimed");
}

// The loop that sleeps in the kernel at once exercises the cross-thread
// kick for every wake the thread sends.
INSTANTIATE_TEST_SUITE_P(Loops, CondPingPong,
                         testing::Combine(testing::Values(Loop::kIoUring, Loop::kIoUringSleepAtOnce,
                                                          Loop::kSyncSleepAtOnce),
                                          testing::Values(WaitStyle::kUntimed, WaitStyle::kTimed)),
                         PingPongName);

// ---- broadcast ------------------------------------------------------------------

// Waiters on one condvar: fibers on two reactors and plain threads. Each
// round the test waits until all of them are inside pthread_cond_wait,
// advances the generation and broadcasts once; every waiter must then
// come back within a bounded time. The first round that fails is reported
// and every waiter released, so that the test ends.
struct Crowd {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	uint32_t generation = 0; // under m
	uint32_t waiting = 0;    // under m: waiters inside the wait for this generation
	bool stop = false;       // under m: leave now
	std::atomic<uint32_t> woken{0};
	std::atomic<uint32_t> left{0};
	uint32_t rounds = 0;
};

void CrowdRounds(Crowd *c)
{
	for (uint32_t r = 0; r < c->rounds; ++r) {
		pthread_mutex_lock(&c->m);
		uint32_t gen = c->generation;
		++c->waiting;
		while (c->generation == gen && !c->stop)
			pthread_cond_wait(&c->c, &c->m);
		bool stop = c->stop;
		pthread_mutex_unlock(&c->m);
		if (stop)
			return;
		c->woken.fetch_add(1);
	}
}

void CrowdMember(Crowd *c)
{
	CrowdRounds(c);
	c->left.fetch_add(1);
}

bool AllWaiting(Crowd *c, uint32_t n)
{
	return WaitUntil(
	    [&] {
		    pthread_mutex_lock(&c->m);
		    bool all = c->waiting == n;
		    pthread_mutex_unlock(&c->m);
		    return all;
	    },
	    kPatienceNs);
}

TEST(CondBroadcast, WakesEveryWaiterOnTwoReactorsAndThreads)
{
	ExpectInterposed();
	constexpr uint32_t kRounds = 300;
	constexpr int kFibersPerReactor = 3;
	constexpr int kThreads = 3;
	constexpr uint32_t kWaiters = 2 * kFibersPerReactor + kThreads;
	Watchdog wd(100, "broadcast rounds to 9 waiters (fibers on two reactors and threads)");
	Crowd c;
	c.rounds = kRounds;
	std::vector<std::unique_ptr<FiberThread>> reactors;
	for (int r = 0; r < 2; ++r) {
		std::vector<Fn> fns;
		for (int f = 0; f < kFibersPerReactor; ++f)
			fns.push_back([&c] { CrowdMember(&c); });
		reactors.push_back(std::make_unique<FiberThread>(std::move(fns)));
	}
	std::vector<std::thread> threads;
	for (int t = 0; t < kThreads; ++t)
		threads.emplace_back(CrowdMember, &c);

	uint32_t failed_round = 0, woken_in_failed_round = 0;
	uint32_t r = 1;
	for (; r <= kRounds; ++r) {
		if (!AllWaiting(&c, kWaiters)) {
			ADD_FAILURE() << "round " << r << ": not every waiter came back to wait";
			break;
		}
		pthread_mutex_lock(&c.m);
		c.waiting = 0;
		++c.generation;
		pthread_cond_broadcast(&c.c);
		pthread_mutex_unlock(&c.m);
		if (WaitUntil([&] { return c.woken.load() == r * kWaiters; }, kPatienceNs))
			continue;
		failed_round = r;
		woken_in_failed_round = c.woken.load() - (r - 1) * kWaiters;
		break;
	}
	if (r <= kRounds) { // stopped early: release everyone
		pthread_mutex_lock(&c.m);
		c.stop = true;
		pthread_mutex_unlock(&c.m);
		while (c.left.load() != kWaiters) {
			pthread_cond_broadcast(&c.c);
			tame_sleep_ns(kNsPerMs);
		}
	}
	for (auto &t : threads)
		t.join();
	for (auto &rt : reactors)
		rt->Join();
	EXPECT_EQ(failed_round, 0u) << "in round " << failed_round << " one broadcast woke "
	                            << woken_in_failed_round << " of " << kWaiters << " waiters";
	EXPECT_EQ(c.woken.load(), kRounds * kWaiters);
}

// ---- bounded queue ----------------------------------------------------------------

// 100,000 items through a queue of 8 slots: producers wait while it is full,
// consumers while it is empty, each side signalling the other's condvar
// once per item (no broadcasts but the last). Half the waits are timed with
// deadlines that race the signals; every wait sits in a predicate loop, so a
// spurious or timed-out return only re-checks.
constexpr uint32_t kItems = 100000;
constexpr size_t kQueueSlots = 8;

struct Queue {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
	pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
	std::deque<uint32_t> items; // under m
	uint32_t consumed = 0;      // under m
	std::vector<std::atomic<uint8_t>> seen = std::vector<std::atomic<uint8_t>>(kItems);
	std::atomic<uint64_t> errors{0};
};

int QueueWait(Queue *q, pthread_cond_t *c, uint32_t n)
{
	if (n % 2 == 0)
		return pthread_cond_wait(c, &q->m);
	timespec abs = AbsAfter(CLOCK_REALTIME, 100 * kNsPerUs);
	int rc = pthread_cond_timedwait(c, &q->m, &abs);
	return rc == ETIMEDOUT ? 0 : rc;
}

void Produce(Queue *q, uint32_t first, uint32_t count)
{
	for (uint32_t id = first; id < first + count; ++id) {
		pthread_mutex_lock(&q->m);
		for (uint32_t n = 0; q->items.size() == kQueueSlots; ++n)
			if (QueueWait(q, &q->not_full, n + id) != 0)
				q->errors.fetch_add(1);
		q->items.push_back(id);
		pthread_cond_signal(&q->not_empty);
		pthread_mutex_unlock(&q->m);
	}
}

void Consume(Queue *q)
{
	for (uint32_t k = 0;; ++k) {
		pthread_mutex_lock(&q->m);
		for (uint32_t n = 0; q->items.empty() && q->consumed < kItems; ++n)
			if (QueueWait(q, &q->not_empty, n + k) != 0)
				q->errors.fetch_add(1);
		if (q->items.empty()) {
			pthread_mutex_unlock(&q->m);
			return;
		}
		uint32_t id = q->items.front();
		q->items.pop_front();
		if (++q->consumed == kItems)
			pthread_cond_broadcast(&q->not_empty); // the other consumers may stop
		pthread_cond_signal(&q->not_full);
		pthread_mutex_unlock(&q->m);
		if (id >= kItems || q->seen[id].fetch_add(1) != 0)
			q->errors.fetch_add(1);
	}
}

TEST(CondQueue, EveryItemIsConsumedExactlyOnce)
{
	ExpectInterposed();
	Watchdog wd(110, "100,000 items through a bounded queue (a lost wake-up strands a "
	                 "producer or a consumer)");
	Queue q;
	// Producers and consumers: 2 fibers each on two reactors, 2 threads each.
	constexpr int kProducers = 6;
	constexpr uint32_t kShare = kItems / kProducers;
	auto share = [](int p) {
		uint32_t first = uint32_t(p) * kShare;
		uint32_t count = p == kProducers - 1 ? kItems - first : kShare;
		return std::make_pair(first, count);
	};
	std::vector<std::unique_ptr<FiberThread>> reactors;
	for (int r = 0; r < 2; ++r) {
		std::vector<Fn> fns;
		for (int i = 0; i < 2; ++i) {
			auto s = share(r * 2 + i);
			fns.push_back([&q, s] { Produce(&q, s.first, s.second); });
			fns.push_back([&q] { Consume(&q); });
		}
		reactors.push_back(std::make_unique<FiberThread>(std::move(fns)));
	}
	std::vector<std::thread> threads;
	for (int i = 0; i < 2; ++i) {
		auto s = share(4 + i);
		threads.emplace_back(Produce, &q, s.first, s.second);
		threads.emplace_back(Consume, &q);
	}
	for (auto &t : threads)
		t.join();
	for (auto &rt : reactors)
		rt->Join();
	EXPECT_EQ(q.errors.load(), 0u) << "a wait failed, or an item was consumed twice";
	EXPECT_EQ(q.consumed, kItems);
	uint32_t missing = 0, twice = 0;
	for (auto &s : q.seen) {
		missing += s.load() == 0;
		twice += s.load() > 1;
	}
	EXPECT_EQ(missing, 0u);
	EXPECT_EQ(twice, 0u);
	EXPECT_TRUE(q.items.empty());
}

} // namespace
