// SPDX-License-Identifier: Apache-2.0
// Call pools: calls on warm worker fibers, back-pressure, remote submission
// through the inbox, and destroy.
//
// Every scenario runs on a reactor whose body ends by waiting for the
// reactor to hold no fiber but itself, so a worker a destroy failed to end
// fails the test instead of hanging it. Run under ASan (TAME_SANITIZE) the
// same tests show that destroy frees what the pool allocated.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tame_call.h"
#include "tame_fiber.h"
#include "tame_reactor.h"
#include "test_util.h"

namespace
{

using tame_test::kNsPerMs;
using tame_test::LoopTest;
using tame_test::MakeReactor;
using tame_test::ReactorPtr;
using tame_test::ReactorThread;
using tame_test::SpawnFn;
using tame_test::StatsOf;

constexpr uint64_t kTimeoutNs = 10ull * 1000 * kNsPerMs; // "never" in a test

class Call : public LoopTest
{
};

// Waits on a fiber until pred() holds or timeout_ns passed; false on timeout.
template <typename Pred> bool FiberWaitFor(Pred pred, uint64_t timeout_ns = kTimeoutNs)
{
	uint64_t deadline = tame_now_ns() + timeout_ns;
	while (!pred()) {
		if (tame_now_ns() > deadline)
			return false;
		tame_sleep_ns(100 * 1000);
	}
	return true;
}

// Waits on a plain thread until *word >= target or timeout_ns passed; false
// on timeout. A lost completion then fails the test instead of hanging it.
bool ThreadWaitAtLeastFor(std::atomic<uint32_t> *word, uint32_t target,
                          uint64_t timeout_ns = kTimeoutNs)
{
	uint64_t deadline = tame_now_ns() + timeout_ns;
	for (;;) {
		uint32_t seen = word->load(std::memory_order_acquire);
		if (seen >= target)
			return true;
		uint64_t now = tame_now_ns();
		if (now >= deadline)
			return false;
		uint64_t left = std::min<uint64_t>(deadline - now, 100 * kNsPerMs);
		struct timespec ts = {0, static_cast<long>(left)};
		syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAIT_PRIVATE, seen,
		        &ts, nullptr, 0);
	}
}

// Runs body on a fiber of a new reactor, then waits (bounded) until that
// fiber is the reactor's last one and stops it. Returns the reactor's stats.
tame_reactor_stats RunPoolTest(const tame_reactor_opts &opts, const std::function<void()> &body)
{
	tame_reactor_stats stats{};
	ReactorPtr r = MakeReactor(opts);
	if (!r)
		return stats;
	tame_reactor *rp = r.get();
	EXPECT_EQ(SpawnFn(rp,
	                  [&] {
		                  body();
		                  bool alone =
		                      FiberWaitFor([&] { return StatsOf(rp).fibers_live == 1; });
		                  EXPECT_TRUE(alone) << StatsOf(rp).fibers_live - 1
		                                     << " fibers outlived the test body";
		                  tame_reactor_stop(rp);
	                  }),
	          0);
	EXPECT_EQ(tame_reactor_run(rp, TAME_RUN_UNTIL_STOPPED), 0);
	return StatsOf(rp);
}

tame_call_pool_opts PoolOpts(unsigned max_workers, unsigned max_queued,
                             unsigned max_backlog = TAME_CALL_DEFAULT_MAX_BACKLOG)
{
	tame_call_pool_opts o;
	tame_call_pool_opts_init(&o);
	o.max_workers = max_workers;
	o.max_idle_workers = max_workers;
	o.max_queued = max_queued;
	o.max_backlog = max_backlog;
	return o;
}

tame_call_pool *MakePool(tame_reactor *r, const tame_call_pool_opts &o)
{
	tame_call_pool *p = nullptr;
	int rc = tame_call_pool_create(r, &o, &p);
	EXPECT_EQ(rc, 0) << strerror(-rc);
	return p;
}

tame_call_pool_stats PoolStats(const tame_call_pool *p)
{
	tame_call_pool_stats s;
	tame_call_pool_get_stats(p, &s);
	return s;
}

// A call made of lambdas; the heap Job is freed by its on_done.
struct Job {
	std::function<void()> fn;
	std::function<void(int)> done;
};

void JobRun(void *arg)
{
	auto *job = static_cast<Job *>(arg);
	if (job->fn)
		job->fn();
}

void JobDone(void *ctx, int status)
{
	std::unique_ptr<Job> job(static_cast<Job *>(ctx));
	if (job->done)
		job->done(status);
}

int CallFn(tame_call_pool *p, std::function<void()> fn, std::function<void(int)> done = {})
{
	auto *job = new Job{std::move(fn), std::move(done)};
	int rc = tame_call(p, JobRun, job, JobDone, job);
	if (rc != 0)
		delete job;
	return rc;
}

int CallRemoteFn(tame_call_pool *p, std::function<void()> fn, std::function<void(int)> done)
{
	auto *job = new Job{std::move(fn), std::move(done)};
	int rc = tame_call_remote(p, JobRun, job, JobDone, job);
	if (rc != 0)
		delete job;
	return rc;
}

// Fibers of one reactor wait here until Open(); reactor thread only.
class Gate
{
      public:
	void Wait()
	{
		if (open_)
			return;
		waiters_.push_back(tame_fiber_self()); // once: Open wakes each once
		while (!open_)
			tame_park();
	}
	void Open()
	{
		open_ = true;
		for (tame_fiber *f : waiters_)
			tame_wake(f);
		waiters_.clear();
	}
	size_t waiting() const
	{
		return waiters_.size();
	}

      private:
	bool open_ = false;
	std::vector<tame_fiber *> waiters_;
};

TEST_P(Call, CallRunsOnAWorkerFiberAndCompletesOnTheReactorThread)
{
	std::thread::id test_thread = std::this_thread::get_id();
	tame_fiber *caller = nullptr, *fn_fiber = nullptr, *done_fiber = nullptr;
	tame_reactor *fn_reactor = nullptr, *r = nullptr;
	std::thread::id fn_thread, done_thread;
	bool ran_before_return = true, fn_before_done = false;
	int status = 1, done_calls = 0, destroy_rc = 1;

	RunPoolTest(Opts(), [&] {
		r = tame_fiber_reactor();
		caller = tame_fiber_self();
		tame_call_pool *p = MakePool(r, PoolOpts(4, 4));
		ASSERT_TRUE(p);
		bool fn_ran = false;
		ASSERT_EQ(CallFn(
		              p,
		              [&] {
			              fn_ran = true;
			              fn_fiber = tame_fiber_self();
			              fn_reactor = tame_fiber_reactor();
			              fn_thread = std::this_thread::get_id();
		              },
		              [&](int s) {
			              fn_before_done = fn_ran;
			              status = s;
			              done_fiber = tame_fiber_self();
			              done_thread = std::this_thread::get_id();
			              ++done_calls;
		              }),
		          0);
		ran_before_return = fn_ran;
		EXPECT_TRUE(FiberWaitFor([&] { return done_calls == 1; }));
		destroy_rc = tame_call_pool_destroy(p);
	});
	EXPECT_FALSE(ran_before_return); // fn starts when the loop runs the worker
	EXPECT_NE(fn_fiber, nullptr);
	EXPECT_NE(fn_fiber, caller);
	EXPECT_EQ(fn_reactor, r);
	EXPECT_EQ(fn_thread, test_thread);
	EXPECT_TRUE(fn_before_done);
	EXPECT_EQ(status, 0);
	EXPECT_EQ(done_fiber, fn_fiber); // on_done runs on the worker, right after fn
	EXPECT_EQ(done_thread, test_thread);
	EXPECT_EQ(done_calls, 1);
	EXPECT_EQ(destroy_rc, 0);
}

// Plain C callbacks, so nothing in a helper can hide a second on_done.
struct Counted {
	int ran = 0;
	int done = 0;
	int status = 1;
	unsigned i = 0;
};
struct CountedRun {
	std::vector<Counted> slots;
	int done_total = 0;
	tame_fiber *waiting = nullptr; // the submitter, parked on -EAGAIN
};
CountedRun *g_counted;

void CountedFn(void *arg)
{
	Counted *c = static_cast<Counted *>(arg);
	++c->ran;
	if (c->i % 7 == 0)
		tame_yield();
	if (c->i % 13 == 0)
		tame_sleep_ns(10 * 1000);
}

void CountedDone(void *ctx, int status)
{
	Counted *c = static_cast<Counted *>(ctx);
	++c->done;
	c->status = status;
	++g_counted->done_total;
	if (tame_fiber *f = g_counted->waiting) {
		g_counted->waiting = nullptr;
		tame_wake(f);
	}
}

TEST_P(Call, EveryAcceptedCallRunsAndCompletesExactlyOnce)
{
	constexpr unsigned kCalls = 5000;
	CountedRun run;
	run.slots.resize(kCalls);
	g_counted = &run;
	uint64_t eagain = 0;
	tame_call_pool_stats stats{};

	RunPoolTest(Opts(), [&] {
		tame_call_pool *p = MakePool(tame_fiber_reactor(), PoolOpts(8, 32));
		ASSERT_TRUE(p);
		for (unsigned i = 0; i < kCalls; ++i) {
			Counted *c = &run.slots[i];
			c->i = i;
			int rc;
			while ((rc = tame_call(p, CountedFn, c, CountedDone, c)) == -EAGAIN) {
				++eagain; // park until a completion frees room
				run.waiting = tame_fiber_self();
				while (run.waiting)
					tame_park();
			}
			ASSERT_EQ(rc, 0);
		}
		EXPECT_TRUE(FiberWaitFor([&] { return run.done_total == int{kCalls}; }));
		stats = PoolStats(p);
		EXPECT_EQ(tame_call_pool_destroy(p), 0);
	});
	int wrong = 0;
	for (const Counted &c : run.slots)
		wrong += c.ran != 1 || c.done != 1 || c.status != 0;
	EXPECT_EQ(wrong, 0);
	EXPECT_GT(eagain, 0u); // 5000 calls against 40 places: back-pressure was met
	EXPECT_EQ(stats.calls_accepted, uint64_t{kCalls});
	EXPECT_EQ(stats.calls_run, uint64_t{kCalls});
	EXPECT_EQ(stats.calls_refused, eagain);
	EXPECT_LE(stats.workers_spawned, 8u);
	EXPECT_EQ(stats.calls_running + stats.calls_waiting, 0u);
}

TEST_P(Call, SaturatedPoolRefusesWithEAGAINAndAcceptedCallsStillComplete)
{
	constexpr unsigned kWorkers = 2, kQueued = 3;
	int ran[kWorkers + kQueued + 2] = {}, done[kWorkers + kQueued + 2] = {};
	int rcs[kWorkers + kQueued + 2];
	int late_rc = 1, late_done = 0;
	tame_call_pool_stats saturated{}, after{};

	RunPoolTest(Opts(), [&] {
		tame_call_pool *p = MakePool(tame_fiber_reactor(), PoolOpts(kWorkers, kQueued));
		ASSERT_TRUE(p);
		Gate gate;
		for (unsigned i = 0; i < kWorkers + kQueued + 2; ++i)
			rcs[i] = CallFn(
			    p,
			    [&, i] {
				    ++ran[i];
				    gate.Wait();
			    },
			    [&, i](int) { ++done[i]; });
		EXPECT_TRUE(FiberWaitFor([&] { return gate.waiting() == kWorkers; }));
		tame_sleep_ns(kNsPerMs); // a third worker, if any, would start now
		saturated = PoolStats(p);
		EXPECT_EQ(CallFn(p, [] {}), -EAGAIN); // still full while parked
		gate.Open();
		EXPECT_TRUE(
		    FiberWaitFor([&] { return PoolStats(p).calls_run == kWorkers + kQueued; }));
		late_rc = CallFn(
		    p, [] {}, [&](int) { ++late_done; });
		EXPECT_TRUE(FiberWaitFor([&] { return late_done == 1; }));
		after = PoolStats(p);
		EXPECT_EQ(tame_call_pool_destroy(p), 0);
	});
	for (unsigned i = 0; i < kWorkers + kQueued; ++i) {
		EXPECT_EQ(rcs[i], 0) << "call " << i;
		EXPECT_EQ(ran[i], 1) << "call " << i;
		EXPECT_EQ(done[i], 1) << "call " << i;
	}
	for (unsigned i = kWorkers + kQueued; i < kWorkers + kQueued + 2; ++i) {
		EXPECT_EQ(rcs[i], -EAGAIN) << "call " << i;
		EXPECT_EQ(ran[i], 0) << "refused call " << i << " ran";
		EXPECT_EQ(done[i], 0) << "refused call " << i << " completed";
	}
	EXPECT_EQ(saturated.workers_live, kWorkers);
	EXPECT_EQ(saturated.calls_running, kWorkers);
	EXPECT_EQ(saturated.calls_waiting, kQueued);
	EXPECT_EQ(saturated.calls_queued, uint64_t{kQueued});
	EXPECT_EQ(late_rc, 0);
	EXPECT_EQ(after.calls_refused, 3u);
	EXPECT_EQ(after.calls_run, uint64_t{kWorkers + kQueued + 1});
	EXPECT_EQ(after.workers_spawned, uint64_t{kWorkers});
}

TEST_P(Call, WaitingCallsStartInSubmissionOrder)
{
	constexpr int kCalls = 10;
	std::vector<int> order;
	RunPoolTest(Opts(), [&] {
		tame_call_pool *p = MakePool(tame_fiber_reactor(), PoolOpts(1, kCalls));
		ASSERT_TRUE(p);
		for (int i = 0; i < kCalls; ++i)
			ASSERT_EQ(CallFn(p, [&, i] { order.push_back(i); }), 0);
		EXPECT_TRUE(FiberWaitFor([&] { return order.size() == size_t{kCalls}; }));
		EXPECT_EQ(tame_call_pool_destroy(p), 0);
	});
	ASSERT_EQ(order.size(), size_t{kCalls});
	for (int i = 0; i < kCalls; ++i)
		EXPECT_EQ(order[i], i);
}

// A fiber-local slot stands in for RocksDB's thread-local SuperVersion cache:
// a fresh fiber starts it at 0, a warm one keeps what earlier calls left.
thread_local uint64_t tls_warmth;

void *ResolveWarmth(void *)
{
	return &tls_warmth;
}

int WarmthSlot()
{
	static const int slot =
	    tame_fls_register(ResolveWarmth, nullptr, sizeof(tls_warmth), nullptr);
	return slot;
}

TEST_P(Call, SequentialCallsReuseOneWarmWorkerFiber)
{
	constexpr int kCalls = 50;
	ASSERT_GE(WarmthSlot(), 0);
	std::vector<uint64_t> ids, warmth;
	tame_call_pool_stats stats{};
	uint64_t caller_warmth = 1;

	RunPoolTest(Opts(), [&] {
		tame_call_pool *p = MakePool(tame_fiber_reactor(), PoolOpts(8, 0));
		ASSERT_TRUE(p);
		for (int i = 0; i < kCalls; ++i) {
			bool done = false;
			ASSERT_EQ(CallFn(
			              p,
			              [&] {
				              ids.push_back(tame_fiber_id(tame_fiber_self()));
				              warmth.push_back(++tls_warmth);
			              },
			              [&](int) { done = true; }),
			          0);
			ASSERT_TRUE(FiberWaitFor([&] { return done; }));
		}
		caller_warmth = tls_warmth;
		stats = PoolStats(p);
		EXPECT_EQ(tame_call_pool_destroy(p), 0);
	});
	ASSERT_EQ(ids.size(), size_t{kCalls});
	for (int i = 0; i < kCalls; ++i) {
		EXPECT_EQ(ids[i], ids[0]) << "call " << i << " ran on another fiber";
		EXPECT_EQ(warmth[i], uint64_t(i + 1)) << "call " << i << " found cold state";
	}
	EXPECT_EQ(caller_warmth, 0u); // the slot is the worker's, not the thread's
	EXPECT_EQ(stats.workers_spawned, 1u);
	EXPECT_EQ(stats.workers_reused, uint64_t{kCalls - 1});
	EXPECT_EQ(stats.workers_idle, 1u);
}

TEST_P(Call, ACallThatParksLetsOtherCallsRun)
{
	bool b_ran = false, a_saw_b = false;
	std::vector<char> completions;
	uint64_t a_elapsed_ns = 0;

	RunPoolTest(Opts(), [&] {
		tame_call_pool *p = MakePool(tame_fiber_reactor(), PoolOpts(2, 0));
		ASSERT_TRUE(p);
		ASSERT_EQ(CallFn(
		              p,
		              [&] {
			              uint64_t start = tame_now_ns();
			              while (!b_ran && tame_now_ns() - start < 2 * 1000 * kNsPerMs)
				              tame_sleep_ns(kNsPerMs);
			              a_saw_b = b_ran;
			              a_elapsed_ns = tame_now_ns() - start;
		              },
		              [&](int) { completions.push_back('A'); }),
		          0);
		ASSERT_EQ(CallFn(
		              p, [&] { b_ran = true; }, [&](int) { completions.push_back('B'); }),
		          0);
		EXPECT_TRUE(FiberWaitFor([&] { return completions.size() == 2; }));
		EXPECT_EQ(tame_call_pool_destroy(p), 0);
	});
	EXPECT_TRUE(a_saw_b);
	EXPECT_LT(a_elapsed_ns, 1000 * kNsPerMs);
	EXPECT_EQ(completions, (std::vector<char>{'B', 'A'}));
}

TEST_P(Call, DestroyOnAFiberEndsEveryIdleWorker)
{
	constexpr unsigned kWorkers = 8;
	tame_call_pool_stats before{};
	int destroy_rc = 1;
	tame_reactor_stats rs = RunPoolTest(Opts(), [&] {
		tame_call_pool *p = MakePool(tame_fiber_reactor(), PoolOpts(kWorkers, 0));
		ASSERT_TRUE(p);
		Gate gate;
		int done = 0;
		for (unsigned i = 0; i < kWorkers; ++i)
			ASSERT_EQ(CallFn(
			              p, [&] { gate.Wait(); }, [&](int) { ++done; }),
			          0);
		EXPECT_TRUE(FiberWaitFor([&] { return gate.waiting() == kWorkers; }));
		gate.Open();
		EXPECT_TRUE(FiberWaitFor([&] { return done == int{kWorkers}; }));
		before = PoolStats(p);
		// Destroy on a fiber of its own, so a destroy that never returns
		// fails the test instead of hanging it.
		bool destroyed = false;
		ASSERT_EQ(SpawnFn(tame_fiber_reactor(),
		                  [&] {
			                  destroy_rc = tame_call_pool_destroy(p);
			                  destroyed = true;
		                  }),
		          0);
		EXPECT_TRUE(FiberWaitFor([&] { return destroyed; }));
		// RunPoolTest now checks that the released workers exit.
	});
	EXPECT_EQ(before.workers_spawned, uint64_t{kWorkers});
	EXPECT_EQ(before.workers_idle, kWorkers);
	EXPECT_EQ(destroy_rc, 0);
	EXPECT_EQ(rs.fibers_live, 0u);
	EXPECT_EQ(rs.fibers_exited, rs.fibers_spawned);
}

TEST_P(Call, DestroyWaitsForAcceptedCallsAndRefusesNewOnes)
{
	constexpr unsigned kWorkers = 2, kQueued = 2;
	int ran = 0, done_ok = 0, destroy_rc = 1, second_destroy_rc = 1;
	int during_rc = 1, remote_rc = 1, from_on_done_rc = 1;
	bool destroy_returned_early = true, destroy_returned = false;

	RunPoolTest(Opts(), [&] {
		tame_call_pool *p = MakePool(tame_fiber_reactor(), PoolOpts(kWorkers, kQueued));
		ASSERT_TRUE(p);
		Gate gate;
		for (unsigned i = 0; i < kWorkers + kQueued; ++i)
			ASSERT_EQ(CallFn(
			              p,
			              [&] {
				              ++ran;
				              gate.Wait();
			              },
			              [&, p](int s) {
				              done_ok += s == 0;
				              if (from_on_done_rc == 1)
					              from_on_done_rc = CallFn(p, [] {});
			              }),
			          0);
		EXPECT_TRUE(FiberWaitFor([&] { return gate.waiting() == kWorkers; }));
		ASSERT_EQ(SpawnFn(tame_fiber_reactor(),
		                  [&] {
			                  destroy_rc = tame_call_pool_destroy(p);
			                  destroy_returned = true;
		                  }),
		          0);
		tame_sleep_ns(2 * kNsPerMs);
		destroy_returned_early = destroy_returned;
		during_rc = CallFn(p, [&] { ++ran; });
		second_destroy_rc = tame_call_pool_destroy(p);
		std::thread([&] { remote_rc = CallRemoteFn(p, [&] { ++ran; }, {}); }).join();
		gate.Open();
		EXPECT_TRUE(FiberWaitFor([&] { return destroy_returned; }));
		// p is freed now.
	});
	EXPECT_FALSE(destroy_returned_early);
	EXPECT_EQ(destroy_rc, 0);
	EXPECT_EQ(during_rc, -ESHUTDOWN);
	EXPECT_EQ(second_destroy_rc, -EALREADY);
	EXPECT_EQ(remote_rc, -ESHUTDOWN);
	EXPECT_EQ(from_on_done_rc, -ESHUTDOWN);
	EXPECT_EQ(ran, int{kWorkers + kQueued}); // queued calls ran too, refused ones never
	EXPECT_EQ(done_ok, int{kWorkers + kQueued});
}

TEST_P(Call, DestroyFromInsideItsOwnCallIsRefusedWithEDEADLK)
{
	int in_fn = 1, in_done = 1, outside = 1;
	RunPoolTest(Opts(), [&] {
		tame_call_pool *p = MakePool(tame_fiber_reactor(), PoolOpts(2, 0));
		ASSERT_TRUE(p);
		bool done = false;
		ASSERT_EQ(CallFn(
		              p, [&] { in_fn = tame_call_pool_destroy(p); },
		              [&](int) {
			              in_done = tame_call_pool_destroy(p);
			              done = true;
		              }),
		          0);
		EXPECT_TRUE(FiberWaitFor([&] { return done; }));
		outside = tame_call_pool_destroy(p);
	});
	EXPECT_EQ(in_fn, -EDEADLK);
	EXPECT_EQ(in_done, -EDEADLK);
	EXPECT_EQ(outside, 0);
}

TEST_P(Call, DestroyOffTheLoopReleasesIdleWorkersThatExitOnTheNextRun)
{
	ReactorPtr r = MakeReactor(Opts());
	ASSERT_TRUE(r);
	tame_call_pool *p = MakePool(r.get(), PoolOpts(4, 0));
	ASSERT_TRUE(p);
	int done = 0;
	// Off the loop, before it runs: each call makes a worker.
	for (int i = 0; i < 3; ++i)
		ASSERT_EQ(CallFn(
		              p, [] { tame_yield(); }, [&](int) { ++done; }),
		          0);
	EXPECT_EQ(tame_call_pool_destroy(p), -EBUSY); // calls accepted, loop not running
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  EXPECT_TRUE(FiberWaitFor([&] { return done == 3; }));
		                  tame_reactor_stop(tame_fiber_reactor());
	                  }),
	          0);
	ASSERT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_STOPPED), 0);
	EXPECT_EQ(done, 3);
	EXPECT_EQ(PoolStats(p).workers_idle, 3u);
	EXPECT_EQ(tame_call_pool_destroy(p), 0);
	EXPECT_EQ(StatsOf(r.get()).fibers_live, 3u); // released, not yet run
	// Run again until this fiber is the last one (bounded, not UNTIL_EMPTY,
	// so workers that never exit fail the test instead of hanging it).
	bool alone = false;
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  alone = FiberWaitFor(
		                      [&] { return StatsOf(r.get()).fibers_live == 1; });
		                  tame_reactor_stop(tame_fiber_reactor());
	                  }),
	          0);
	ASSERT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_STOPPED), 0);
	EXPECT_TRUE(alone);
	EXPECT_EQ(StatsOf(r.get()).fibers_live, 0u);
}

TEST_P(Call, ReactorDestroyedAfterPoolDestroyDiscardsReleasedWorkersWithoutLeaks)
{
	// Under ASan this proves nothing of the pool stays allocated when the
	// released workers never run again.
	ReactorPtr r = MakeReactor(Opts());
	ASSERT_TRUE(r);
	tame_call_pool *p = MakePool(r.get(), PoolOpts(4, 0));
	ASSERT_TRUE(p);
	int done = 0;
	for (int i = 0; i < 2; ++i)
		ASSERT_EQ(CallFn(
		              p, [] { tame_yield(); }, [&](int) { ++done; }),
		          0);
	ASSERT_EQ(SpawnFn(r.get(),
	                  [&] {
		                  EXPECT_TRUE(FiberWaitFor([&] { return done == 2; }));
		                  tame_reactor_stop(tame_fiber_reactor());
	                  }),
	          0);
	ASSERT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_STOPPED), 0);
	EXPECT_EQ(PoolStats(p).workers_idle, 2u);
	EXPECT_EQ(tame_call_pool_destroy(p), 0);
	EXPECT_EQ(StatsOf(r.get()).fibers_live, 2u);
	r.reset(); // discards the two parked workers
}

TEST_P(Call, IdleWorkersBeyondMaxIdleExit)
{
	constexpr unsigned kWorkers = 4;
	tame_call_pool_stats after{};
	uint64_t reactor_live = 0;
	RunPoolTest(Opts(), [&] {
		tame_call_pool_opts o = PoolOpts(kWorkers, 0);
		o.max_idle_workers = 1;
		tame_call_pool *p = MakePool(tame_fiber_reactor(), o);
		ASSERT_TRUE(p);
		Gate gate;
		int done = 0;
		for (unsigned i = 0; i < kWorkers; ++i)
			ASSERT_EQ(CallFn(
			              p, [&] { gate.Wait(); }, [&](int) { ++done; }),
			          0);
		EXPECT_TRUE(FiberWaitFor([&] { return gate.waiting() == kWorkers; }));
		gate.Open();
		EXPECT_TRUE(FiberWaitFor([&] { return done == int{kWorkers}; }));
		EXPECT_TRUE(
		    FiberWaitFor([&] { return StatsOf(tame_fiber_reactor()).fibers_live == 2; }));
		reactor_live = StatsOf(tame_fiber_reactor()).fibers_live; // this fiber + 1 idle
		after = PoolStats(p);
		EXPECT_EQ(tame_call_pool_destroy(p), 0);
	});
	EXPECT_EQ(after.workers_spawned, uint64_t{kWorkers});
	EXPECT_EQ(after.workers_live, 1u);
	EXPECT_EQ(after.workers_idle, 1u);
	EXPECT_EQ(reactor_live, 2u);
}

TEST_P(Call, BadArgumentsAndWrongThreadsAreRefused)
{
	ReactorPtr r = MakeReactor(Opts());
	ASSERT_TRUE(r);
	tame_call_pool *p = nullptr;
	tame_call_pool_opts o = PoolOpts(4, 4);
	EXPECT_EQ(tame_call_pool_create(nullptr, &o, &p), -EINVAL);
	EXPECT_EQ(tame_call_pool_create(r.get(), &o, nullptr), -EINVAL);
	o.max_workers = 0;
	EXPECT_EQ(tame_call_pool_create(r.get(), &o, &p), -EINVAL);
	o.max_workers = TAME_CALL_MAX_WORKERS + 1;
	EXPECT_EQ(tame_call_pool_create(r.get(), &o, &p), -EINVAL);
	o = PoolOpts(4, TAME_CALL_MAX_QUEUED + 1);
	EXPECT_EQ(tame_call_pool_create(r.get(), &o, &p), -EINVAL);
	o = PoolOpts(4, 4, TAME_CALL_MAX_BACKLOG + 1);
	EXPECT_EQ(tame_call_pool_create(r.get(), &o, &p), -EINVAL);
	EXPECT_EQ(p, nullptr);

	o = PoolOpts(4, 4);
	o.max_idle_workers = 1000; // clamped to max_workers
	ASSERT_EQ(tame_call_pool_create(r.get(), &o, &p), 0);
	EXPECT_EQ(tame_call(nullptr, JobRun, nullptr, nullptr, nullptr), -EINVAL);
	EXPECT_EQ(tame_call(p, nullptr, nullptr, nullptr, nullptr), -EINVAL);
	EXPECT_EQ(tame_call_remote(nullptr, JobRun, nullptr, nullptr, nullptr), -EINVAL);
	EXPECT_EQ(tame_call_remote(p, nullptr, nullptr, nullptr, nullptr), -EINVAL);
	EXPECT_EQ(tame_call_pool_destroy(nullptr), -EINVAL);
	int other_call = 1, other_destroy = 1;
	std::thread([&] {
		other_call = tame_call(p, JobRun, nullptr, nullptr, nullptr);
		other_destroy = tame_call_pool_destroy(p);
	}).join();
	EXPECT_EQ(other_call, -EPERM);
	EXPECT_EQ(other_destroy, -EPERM);
	tame_call_pool_stats s = PoolStats(p);
	EXPECT_EQ(s.calls_accepted, 0u);
	EXPECT_EQ(s.workers_spawned, 0u);
	EXPECT_EQ(tame_call_pool_destroy(p), 0);
	EXPECT_EQ(StatsOf(r.get()).fibers_spawned, 0u);
}

TEST_P(Call, RemoteRequestsMeetingASaturatedPoolWaitInTheBacklogThenAreRefused)
{
	std::vector<int> order, status(3, 1);
	int local_rc = 1, sends[3] = {1, 1, 1};
	tame_call_pool_stats full{}, after{};

	RunPoolTest(Opts(), [&] {
		tame_call_pool *p = MakePool(tame_fiber_reactor(), PoolOpts(1, 0, 2));
		ASSERT_TRUE(p);
		Gate gate;
		bool first_done = false;
		ASSERT_EQ(CallFn(
		              p, [&] { gate.Wait(); }, [&](int) { first_done = true; }),
		          0);
		std::thread([&] {
			for (int i = 0; i < 3; ++i)
				sends[i] = CallRemoteFn(
				    p, [&, i] { order.push_back(i); },
				    [&, i](int s) { status[i] = s; });
		}).join();
		EXPECT_TRUE(FiberWaitFor([&] { return status[2] != 1; }));
		full = PoolStats(p);
		local_rc = CallFn(p, [] {}); // the backlog goes first
		gate.Open();
		EXPECT_TRUE(FiberWaitFor([&] { return status[0] != 1 && status[1] != 1; }));
		EXPECT_TRUE(first_done);
		after = PoolStats(p);
		EXPECT_EQ(tame_call_pool_destroy(p), 0);
	});
	for (int i = 0; i < 3; ++i)
		EXPECT_EQ(sends[i], 0);
	EXPECT_EQ(full.backlog, 2u);
	EXPECT_EQ(full.remote_backlogged, 2u);
	EXPECT_EQ(local_rc, -EAGAIN);
	EXPECT_EQ(status[0], 0);
	EXPECT_EQ(status[1], 0);
	EXPECT_EQ(status[2], -EAGAIN);
	EXPECT_EQ(order, (std::vector<int>{0, 1})); // FIFO; the refused one never ran
	EXPECT_EQ(after.remote_requests, 3u);
	EXPECT_EQ(after.calls_refused, 2u); // the local -EAGAIN and the remote one
	EXPECT_EQ(after.calls_run, 3u);
	EXPECT_EQ(after.backlog, 0u);
}

TEST_P(Call, BackloggedRemoteRequestsCompleteWithESHUTDOWNWhenDestroyBegins)
{
	std::vector<int> status(2, 1);
	int ran_remote = 0, first_status = 1, destroy_rc = 1;
	bool refused_before_gate_opened = false;

	RunPoolTest(Opts(), [&] {
		tame_call_pool *p = MakePool(tame_fiber_reactor(), PoolOpts(1, 0, 4));
		ASSERT_TRUE(p);
		Gate gate;
		bool destroyed = false;
		ASSERT_EQ(CallFn(
		              p, [&] { gate.Wait(); }, [&](int s) { first_status = s; }),
		          0);
		std::thread([&] {
			for (int i = 0; i < 2; ++i)
				EXPECT_EQ(
				    CallRemoteFn(
				        p, [&] { ++ran_remote; }, [&, i](int s) { status[i] = s; }),
				    0);
		}).join();
		EXPECT_TRUE(FiberWaitFor([&] { return PoolStats(p).backlog == 2; }));
		ASSERT_EQ(SpawnFn(tame_fiber_reactor(),
		                  [&] {
			                  destroy_rc = tame_call_pool_destroy(p);
			                  destroyed = true;
		                  }),
		          0);
		EXPECT_TRUE(FiberWaitFor([&] { return status[0] != 1 && status[1] != 1; }));
		refused_before_gate_opened = !destroyed;
		gate.Open();
		EXPECT_TRUE(FiberWaitFor([&] { return destroyed; }));
	});
	EXPECT_TRUE(refused_before_gate_opened);
	EXPECT_EQ(status[0], -ESHUTDOWN);
	EXPECT_EQ(status[1], -ESHUTDOWN);
	EXPECT_EQ(ran_remote, 0);
	EXPECT_EQ(first_status, 0);
	EXPECT_EQ(destroy_rc, 0);
}

// Remote calls: C callbacks and per-slot counters, touched on the reactor
// thread only; each producer thread bounds its own requests in flight.
struct RemoteRun {
	static constexpr int kThreads = 4, kPerThread = 10000, kWindow = 128;
	static constexpr int kTotal = kThreads * kPerThread;
	tame_call_pool *pool = nullptr;
	tame_reactor *reactor = nullptr;
	std::thread::id reactor_thread;
	std::vector<int> ran = std::vector<int>(kTotal, 0);
	std::vector<int> done = std::vector<int>(kTotal, 0);
	int wrong_thread = 0, refused = 0, done_total = 0;
	std::atomic<uint32_t> thread_done[kThreads] = {};
	std::atomic<uint32_t> finished{0};
	tame_call_pool_stats stats{};
	int destroy_rc = 1;
};
RemoteRun *g_remote;

void RemoteFn(void *arg)
{
	int slot = static_cast<int>(reinterpret_cast<intptr_t>(arg));
	RemoteRun *run = g_remote;
	++run->ran[slot];
	run->wrong_thread += std::this_thread::get_id() != run->reactor_thread;
	if (slot % 16 == 0)
		tame_yield(); // keep workers busy so requests meet a full pool
}

void RemoteFinish(void *)
{
	RemoteRun *run = g_remote;
	run->stats = PoolStats(run->pool);
	run->destroy_rc = tame_call_pool_destroy(run->pool);
	run->finished.store(1, std::memory_order_release);
	tame_test::FutexWakeAll(&run->finished);
	tame_reactor_stop(run->reactor);
}

void RemoteDone(void *ctx, int status)
{
	int slot = static_cast<int>(reinterpret_cast<intptr_t>(ctx));
	RemoteRun *run = g_remote;
	++run->done[slot];
	run->wrong_thread += std::this_thread::get_id() != run->reactor_thread;
	run->refused += status != 0;
	std::atomic<uint32_t> &mine = run->thread_done[slot / RemoteRun::kPerThread];
	mine.fetch_add(1, std::memory_order_release);
	tame_test::FutexWakeAll(&mine);
	if (++run->done_total == RemoteRun::kTotal) {
		EXPECT_EQ(tame_spawn(run->reactor, RemoteFinish, nullptr), 0);
	}
}

TEST_P(Call, RemoteCallsFromFourThreadsEachCompleteExactlyOnce)
{
	auto run = std::make_unique<RemoteRun>();
	g_remote = run.get();
	ReactorThread owner(Opts(), [&](tame_reactor *r) {
		run->reactor = r;
		run->reactor_thread = std::this_thread::get_id();
		// 24 places against 512 requests in flight: the backlog is used.
		run->pool = MakePool(r, PoolOpts(8, 16, RemoteRun::kThreads * RemoteRun::kWindow));
	});
	ASSERT_EQ(owner.create_rc(), 0);
	ASSERT_TRUE(run->pool);

	std::vector<uint64_t> inbox_full(RemoteRun::kThreads, 0);
	std::vector<std::thread> producers;
	for (int t = 0; t < RemoteRun::kThreads; ++t) {
		producers.emplace_back([&, t] {
			std::atomic<uint32_t> &done = run->thread_done[t];
			for (int k = 0; k < RemoteRun::kPerThread; ++k) {
				if (k >= RemoteRun::kWindow) {
					ASSERT_TRUE(
					    ThreadWaitAtLeastFor(&done, k - RemoteRun::kWindow + 1))
					    << "thread " << t << ": completions stopped";
				}
				void *slot = reinterpret_cast<void *>(
				    intptr_t{t * RemoteRun::kPerThread + k});
				int rc;
				while ((rc = tame_call_remote(run->pool, RemoteFn, slot, RemoteDone,
				                              slot)) == -EAGAIN) {
					++inbox_full[t];
					sched_yield();
				}
				ASSERT_EQ(rc, 0);
			}
		});
	}
	for (auto &th : producers)
		th.join();
	bool finished = ThreadWaitAtLeastFor(&run->finished, 1);
	uint32_t completed = 0;
	for (auto &d : run->thread_done)
		completed += d.load();
	EXPECT_TRUE(finished) << completed << " of " << RemoteRun::kTotal << " completed";
	if (!finished)
		owner.Stop(); // the pool is leaked; the reactor discards its fibers
	EXPECT_EQ(owner.WaitRunReturned(), 0);
	owner.Finish();

	int wrong = 0;
	for (int slot = 0; slot < RemoteRun::kTotal; ++slot)
		wrong += run->ran[slot] != 1 || run->done[slot] != 1;
	EXPECT_EQ(wrong, 0);
	EXPECT_EQ(run->done_total, RemoteRun::kTotal);
	EXPECT_EQ(run->refused, 0);
	EXPECT_EQ(run->wrong_thread, 0);
	EXPECT_EQ(run->destroy_rc, 0);
	EXPECT_EQ(run->stats.remote_requests, uint64_t{RemoteRun::kTotal});
	EXPECT_EQ(run->stats.calls_run, uint64_t{RemoteRun::kTotal});
	EXPECT_EQ(run->stats.calls_accepted, uint64_t{RemoteRun::kTotal});
	EXPECT_LE(run->stats.workers_spawned, 8u);
	EXPECT_GT(run->stats.remote_backlogged, 0u);
	EXPECT_EQ(run->stats.workers_live, run->stats.workers_idle);
}

INSTANTIATE_TEST_SUITE_P(Loops, Call, tame_test::kAllLoops, tame_test::LoopParamName);

} // namespace
