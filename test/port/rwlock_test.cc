// SPDX-License-Identifier: Apache-2.0
// pthread rwlocks, interposed: readers share without parking, a writer
// excludes everyone, a second fiber of the writer's thread waits instead of
// getting EDEADLK, try and timed variants answer as glibc's, and the
// writer-preferring kind keeps new readers out while a writer waits.
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "port_test_util.h"

namespace
{

using namespace tame_port_test;
using tame_test::StatsOf;

constexpr uint64_t kTimeoutNs = 30 * kNsPerMs;

uint64_t ParksOfMyReactor()
{
	return StatsOf(tame_fiber_reactor()).parks;
}

// ---- readers share ---------------------------------------------------------------

TEST_F(PortTest, TwoReaderFibersOfOneReactorHoldTheLockAtOnce)
{
	Watchdog wd(30, "two reader fibers of one reactor");
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	std::atomic<int> holders{0};
	bool r1_saw_r2 = false;
	int r2_rc = -1, r2_holders = -1;
	uint64_t r2_parks = 99;
	RunFibers({[&] {
		           ASSERT_EQ(pthread_rwlock_rdlock(&rw), 0);
		           ++holders;
		           r1_saw_r2 = WaitUntil([&] { return holders.load() == 2; }, kPatienceNs);
		           --holders;
		           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
	           },
	           [&] {
		           uint64_t before = ParksOfMyReactor();
		           r2_rc = pthread_rwlock_rdlock(&rw);
		           r2_parks = ParksOfMyReactor() - before;
		           r2_holders = ++holders;
		           WaitUntil([&] { return holders.load() == 1; }, kPatienceNs);
		           --holders;
		           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
	           }});
	EXPECT_EQ(r2_rc, 0);
	EXPECT_EQ(r2_parks, 0u) << "the second reader parked although only a reader held the lock";
	EXPECT_EQ(r2_holders, 2);
	EXPECT_TRUE(r1_saw_r2) << "the two readers never held the lock at the same time";
}

TEST_F(PortTest, ReadersOnAFiberAndAThreadHoldTheLockAtOnce)
{
	Watchdog wd(30, "a reader fiber and a reader thread");
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	std::atomic<int> holders{0};
	bool fiber_saw_both = false, thread_saw_both = false;
	std::thread reader([&] {
		ASSERT_EQ(pthread_rwlock_rdlock(&rw), 0);
		++holders;
		thread_saw_both = WaitUntil([&] { return holders.load() >= 2; }, kPatienceNs);
		tame_sleep_ns(5 * kNsPerMs);
		EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
	});
	RunFibers({[&] {
		ASSERT_EQ(pthread_rwlock_rdlock(&rw), 0);
		++holders;
		fiber_saw_both = WaitUntil([&] { return holders.load() >= 2; }, kPatienceNs);
		tame_sleep_ns(5 * kNsPerMs);
		EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
	}});
	reader.join();
	EXPECT_TRUE(fiber_saw_both);
	EXPECT_TRUE(thread_saw_both);
}

// A writer's unlock hands the lock to every queued reader at once: two
// fibers and a thread all wait, and all three then hold it together.
TEST_F(PortTest, WriterUnlockAdmitsAllQueuedReadersTogether)
{
	Watchdog wd(30, "readers queued behind a writer thread");
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	std::atomic<int> queued{0}, holders{0}, max_holders{0};
	auto reader = [&] {
		++queued;
		ASSERT_EQ(pthread_rwlock_rdlock(&rw), 0);
		int h = ++holders;
		int m = max_holders.load();
		while (h > m && !max_holders.compare_exchange_weak(m, h))
			;
		WaitUntil([&] { return max_holders.load() == 3; }, 2 * kNsPerS);
		--holders;
		EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
	};
	ASSERT_EQ(pthread_rwlock_wrlock(&rw), 0);
	std::thread t(reader);
	FiberThread fibers({reader, reader});
	ASSERT_TRUE(WaitUntil([&] { return queued.load() == 3; }, kPatienceNs));
	tame_sleep_ns(20 * kNsPerMs); // let them reach the lock and wait
	EXPECT_EQ(holders.load(), 0) << "a reader got in while the writer held the lock";
	ASSERT_EQ(pthread_rwlock_unlock(&rw), 0);
	t.join();
	fibers.Join();
	EXPECT_EQ(max_holders.load(), 3) << "the queued readers were not admitted together";
}

// ---- writers exclude ---------------------------------------------------------------

TEST_F(PortTest, AFiberOfTheWritersThreadWaitsInsteadOfDeadlocking)
{
	Watchdog wd(30, "a writer fiber and two more fibers of its reactor asking for the lock");
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	std::atomic<int> asking{0};
	std::atomic<bool> b_in{false}, c_in{false};
	int a_wr_again = -1, a_rd_again = -1, b_rc = -1, c_rc = -1;
	bool in_before_unlock = true, both_after = false;
	RunFibers({[&] { // A: the writer
		           ASSERT_EQ(pthread_rwlock_wrlock(&rw), 0);
		           a_wr_again = pthread_rwlock_wrlock(&rw);
		           a_rd_again = pthread_rwlock_rdlock(&rw);
		           ASSERT_TRUE(WaitUntil([&] { return asking.load() == 2; }, kPatienceNs));
		           for (int i = 0; i < 10; ++i)
			           tame_yield();
		           in_before_unlock = b_in.load() || c_in.load();
		           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
		           both_after =
		               WaitUntil([&] { return b_in.load() && c_in.load(); }, kPatienceNs);
	           },
	           [&] { // B: another writer on the same thread
		           ++asking;
		           b_rc = pthread_rwlock_wrlock(&rw);
		           b_in = true;
		           if (b_rc == 0) {
			           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
		           }
	           },
	           [&] { // C: a reader on the same thread
		           ++asking;
		           c_rc = pthread_rwlock_rdlock(&rw);
		           c_in = true;
		           if (c_rc == 0) {
			           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
		           }
	           }});
	EXPECT_EQ(a_wr_again, EDEADLK) << "the writing fiber asked again for the write lock";
	EXPECT_EQ(a_rd_again, EDEADLK) << "the writing fiber asked for a read lock";
	EXPECT_EQ(b_rc, 0) << "another fiber of the writer's thread must wait, not fail";
	EXPECT_EQ(c_rc, 0) << "a reader fiber of the writer's thread must wait, not fail";
	EXPECT_FALSE(in_before_unlock) << "a fiber got in while the writer held the lock";
	EXPECT_TRUE(both_after) << "the waiting fibers never got the lock after the unlock";
}

TEST_F(PortTest, AThreadsWriteLockIsNotItsFibers)
{
	Watchdog wd(30, "a rwlock write-locked again by its owner (EDEADLK, not a deadlock)");
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	int try_wr = -1, try_rd = -1;
	ASSERT_EQ(pthread_rwlock_wrlock(&rw), 0); // this thread runs the reactor
	RunFibers({[&] {
		try_wr = pthread_rwlock_trywrlock(&rw);
		try_rd = pthread_rwlock_tryrdlock(&rw);
	}});
	EXPECT_EQ(try_wr, EBUSY) << "a fiber is another owner than its thread";
	EXPECT_EQ(try_rd, EBUSY);
	EXPECT_EQ(pthread_rwlock_wrlock(&rw), EDEADLK);
	EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
}

class RwlockOn : public PortCtxTest
{
};

TEST_P(RwlockOn, TryLocksAreBusyAsTheHolderRequires)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	int w_try_rd = -1, w_try_wr = -1, r_try_rd = -1, r_try_wr = -1, free_try_wr = -1;
	ASSERT_EQ(pthread_rwlock_wrlock(&rw), 0);
	RunIn(ctx(), [&] {
		w_try_rd = pthread_rwlock_tryrdlock(&rw);
		w_try_wr = pthread_rwlock_trywrlock(&rw);
	});
	ASSERT_EQ(pthread_rwlock_unlock(&rw), 0);
	ASSERT_EQ(pthread_rwlock_rdlock(&rw), 0);
	RunIn(ctx(), [&] {
		r_try_wr = pthread_rwlock_trywrlock(&rw);
		r_try_rd = pthread_rwlock_tryrdlock(&rw);
		if (r_try_rd == 0)
			pthread_rwlock_unlock(&rw);
	});
	ASSERT_EQ(pthread_rwlock_unlock(&rw), 0);
	RunIn(ctx(), [&] {
		free_try_wr = pthread_rwlock_trywrlock(&rw);
		if (free_try_wr == 0)
			pthread_rwlock_unlock(&rw);
	});
	EXPECT_EQ(w_try_rd, EBUSY) << "tryrdlock while write-locked";
	EXPECT_EQ(w_try_wr, EBUSY) << "trywrlock while write-locked";
	EXPECT_EQ(r_try_wr, EBUSY) << "trywrlock while read-locked";
	EXPECT_EQ(r_try_rd, 0) << "tryrdlock while read-locked";
	EXPECT_EQ(free_try_wr, 0) << "trywrlock of a free lock";
}

enum class RwTimed { kTimedrd, kTimedwr, kClockrdMono, kClockwrMono, kClockrdReal, kClockwrReal };

struct RwTimedCall {
	RwTimed kind;
	clockid_t clock;
	bool writer;
	const char *name;
};

const RwTimedCall kRwTimedCalls[] = {
    {RwTimed::kTimedrd, CLOCK_REALTIME, false, "pthread_rwlock_timedrdlock"},
    {RwTimed::kTimedwr, CLOCK_REALTIME, true, "pthread_rwlock_timedwrlock"},
    {RwTimed::kClockrdMono, CLOCK_MONOTONIC, false, "pthread_rwlock_clockrdlock(MONOTONIC)"},
    {RwTimed::kClockwrMono, CLOCK_MONOTONIC, true, "pthread_rwlock_clockwrlock(MONOTONIC)"},
    {RwTimed::kClockrdReal, CLOCK_REALTIME, false, "pthread_rwlock_clockrdlock(REALTIME)"},
    {RwTimed::kClockwrReal, CLOCK_REALTIME, true, "pthread_rwlock_clockwrlock(REALTIME)"},
};

int RwTimedLock(const RwTimedCall &t, pthread_rwlock_t *rw, const timespec &abs)
{
	switch (t.kind) {
	case RwTimed::kTimedrd:
		return pthread_rwlock_timedrdlock(rw, &abs);
	case RwTimed::kTimedwr:
		return pthread_rwlock_timedwrlock(rw, &abs);
	case RwTimed::kClockrdMono:
	case RwTimed::kClockrdReal:
		return pthread_rwlock_clockrdlock(rw, t.clock, &abs);
	case RwTimed::kClockwrMono:
	case RwTimed::kClockwrReal:
		return pthread_rwlock_clockwrlock(rw, t.clock, &abs);
	}
	return -1;
}

TEST_P(RwlockOn, TimedLocksExpireNotEarly)
{
	Watchdog wd(60, "timed rwlock calls that should have expired after 30 ms");
	for (bool held_for_write : {true, false}) {
		for (const RwTimedCall &t : kRwTimedCalls) {
			if (!held_for_write && !t.writer)
				continue; // a reader gets a read-held lock at once
			SCOPED_TRACE(std::string(t.name) +
			             (held_for_write ? " vs a writer" : " vs a reader"));
			pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
			ASSERT_EQ(held_for_write ? pthread_rwlock_wrlock(&rw)
			                         : pthread_rwlock_rdlock(&rw),
			          0);
			int rc = -1;
			bool reached = false;
			uint64_t elapsed = 0, ticks = 0;
			auto wait = [&] {
				uint64_t start = MonoNs(); // first: elapsed may only come out long
				timespec abs = AbsAfter(t.clock, kTimeoutNs);
				rc = RwTimedLock(t, &rw, abs);
				elapsed = MonoNs() - start;
				reached = Reached(t.clock, abs);
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
			ASSERT_EQ(pthread_rwlock_unlock(&rw), 0);
			int after = -1;
			RunIn(ctx(), [&] {
				after = pthread_rwlock_trywrlock(&rw);
				if (after == 0)
					pthread_rwlock_unlock(&rw);
			});
			EXPECT_EQ(after, 0) << "the waiter that gave up left the lock unusable";
		}
	}
}

TEST_P(RwlockOn, TimedLocksSucceedWhenReleasedBeforeTheDeadline)
{
	Watchdog wd(60, "timed rwlock calls whose holder released the lock after 20 ms");
	for (const RwTimedCall &t : kRwTimedCalls) {
		SCOPED_TRACE(t.name);
		pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
		std::atomic<bool> held{false}, waiting{false};
		std::thread holder([&] {
			pthread_rwlock_wrlock(&rw);
			held = true;
			WaitUntil([&] { return waiting.load(); }, kPatienceNs);
			tame_sleep_ns(20 * kNsPerMs);
			pthread_rwlock_unlock(&rw);
		});
		int rc = -1;
		uint64_t elapsed = 0;
		RunIn(ctx(), [&] {
			ASSERT_TRUE(WaitUntil([&] { return held.load(); }, kPatienceNs));
			timespec abs = AbsAfter(t.clock, 20 * kNsPerS);
			uint64_t start = MonoNs();
			waiting = true;
			rc = RwTimedLock(t, &rw, abs);
			elapsed = MonoNs() - start;
			if (rc == 0)
				pthread_rwlock_unlock(&rw);
		});
		holder.join();
		EXPECT_EQ(rc, 0);
		EXPECT_LT(elapsed, 10 * kNsPerS) << "woken by the deadline, not by the unlock";
	}
}

TEST_P(RwlockOn, TimedLockWithAnInvalidDeadlineIsEinval)
{
	Watchdog wd(30,
	            "timed rwlock calls with invalid deadlines (they must fail at once, not wait)");
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	ASSERT_EQ(pthread_rwlock_wrlock(&rw), 0);
	int rd = -1, wr = -1, clock_rd = -1;
	RunIn(ctx(), [&] {
		timespec abs = AbsAfter(CLOCK_REALTIME, kNsPerS);
		abs.tv_nsec = 2000000000L;
		rd = pthread_rwlock_timedrdlock(&rw, &abs);
		wr = pthread_rwlock_timedwrlock(&rw, &abs);
		abs = AbsAfter(CLOCK_MONOTONIC, kNsPerS);
		clock_rd = pthread_rwlock_clockrdlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &abs);
	});
	EXPECT_EQ(rd, EINVAL);
	EXPECT_EQ(wr, EINVAL);
	EXPECT_EQ(clock_rd, EINVAL);
	EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
}

INSTANTIATE_TEST_SUITE_P(Ctx, RwlockOn, kBothCtx, CtxParamName);

// ---- writer preference -----------------------------------------------------------------

enum class RwKind { kDefault, kPreferWriterNp, kWriterNonrecursiveAttr, kWriterNonrecursiveStatic };

const char *RwKindName(RwKind k)
{
	switch (k) {
	case RwKind::kDefault:
		return "Default";
	case RwKind::kPreferWriterNp:
		return "PreferWriterNp";
	case RwKind::kWriterNonrecursiveAttr:
		return "WriterNonrecursiveAttr";
	case RwKind::kWriterNonrecursiveStatic:
		return "WriterNonrecursiveStatic";
	}
	return "?";
}

void PrintTo(RwKind k, std::ostream *os)
{
	*os << RwKindName(k);
}

bool KeepsReadersOut(RwKind k)
{
	// glibc treats PTHREAD_RWLOCK_PREFER_WRITER_NP as PREFER_READER_NP.
	return k == RwKind::kWriterNonrecursiveAttr || k == RwKind::kWriterNonrecursiveStatic;
}

void InitRwlock(pthread_rwlock_t *rw, RwKind k)
{
	if (k == RwKind::kWriterNonrecursiveStatic) {
		*rw = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
		return;
	}
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	if (k == RwKind::kPreferWriterNp)
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NP);
	if (k == RwKind::kWriterNonrecursiveAttr)
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	EXPECT_EQ(pthread_rwlock_init(rw, &a), 0);
	pthread_rwlockattr_destroy(&a);
}

class RwlockPreference : public testing::TestWithParam<RwKind>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
};

// Reader R1 holds the lock, writer W queues (parks), then reader R2 comes:
// a writer-preferring lock makes R2 wait until W is done; a
// reader-preferring lock lets R2 straight in.
TEST_P(RwlockPreference, AWaitingWriterBlocksNewReadersOnlyIfPreferred)
{
	Watchdog wd(30, "a reader, a waiting writer and a new reader on one reactor");
	const RwKind kind = GetParam();
	pthread_rwlock_t rw;
	InitRwlock(&rw, kind);
	std::vector<std::string> order; // fibers of one thread: no race
	std::atomic<bool> w_waiting{false};
	int r2_try = -1;
	RunFibers({[&] { // R1
		           ASSERT_EQ(pthread_rwlock_rdlock(&rw), 0);
		           ASSERT_TRUE(WaitUntil([&] { return w_waiting.load(); }, kPatienceNs));
		           tame_yield(); // W parks, R2 runs
		           order.push_back("R1 unlocks");
		           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
	           },
	           [&] { // W
		           w_waiting = true;
		           ASSERT_EQ(pthread_rwlock_wrlock(&rw), 0);
		           order.push_back("W locked");
		           tame_yield();
		           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
	           },
	           [&] { // R2
		           r2_try = pthread_rwlock_tryrdlock(&rw);
		           if (r2_try == 0) {
			           order.push_back("R2 locked");
			           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
		           }
		           ASSERT_EQ(pthread_rwlock_rdlock(&rw), 0);
		           order.push_back("R2 locked");
		           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
	           }});
	std::string seq;
	for (auto &s : order)
		seq += s + "; ";
	if (KeepsReadersOut(kind)) {
		EXPECT_EQ(r2_try, EBUSY) << "a new reader got in past a waiting writer";
		EXPECT_EQ(seq, "R1 unlocks; W locked; R2 locked; ");
	} else {
		EXPECT_EQ(r2_try, 0) << "a reader-preferring lock kept a reader out";
		EXPECT_EQ(seq, "R2 locked; R2 locked; R1 unlocks; W locked; ");
	}
	EXPECT_EQ(pthread_rwlock_destroy(&rw), 0);
}

// A writer that gives up must not keep the readers queued behind it out:
// R1 reads, W's timed write lock waits, R2 wants to read (and, on a
// writer-preferring lock, queues behind W). When W times out R2 must get in
// while R1 still holds its read lock.
TEST_P(RwlockPreference, AWriterThatTimesOutLetsQueuedReadersIn)
{
	Watchdog wd(30, "a reader queued behind a writer whose timed lock expires");
	const RwKind kind = GetParam();
	pthread_rwlock_t rw;
	InitRwlock(&rw, kind);
	std::atomic<bool> w_gave_up{false}, r2_in{false};
	int w_rc = -1;
	bool r2_in_before_r1_unlock = false;
	RunFibers({[&] { // R1 reads until W gave up and R2 got in (or 10 s)
		           ASSERT_EQ(pthread_rwlock_rdlock(&rw), 0);
		           r2_in_before_r1_unlock = WaitUntil(
		               [&] { return w_gave_up.load() && r2_in.load(); }, kPatienceNs);
		           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
	           },
	           [&] { // W
		           timespec abs = AbsAfter(CLOCK_MONOTONIC, kTimeoutNs);
		           w_rc = pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &abs);
		           w_gave_up = true;
		           if (w_rc == 0)
			           pthread_rwlock_unlock(&rw);
	           },
	           [&] { // R2
		           ASSERT_EQ(pthread_rwlock_rdlock(&rw), 0);
		           r2_in = true;
		           EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
	           }});
	EXPECT_EQ(w_rc, ETIMEDOUT) << "the writer got the lock while a reader held it";
	EXPECT_TRUE(r2_in_before_r1_unlock)
	    << "the reader queued behind the writer stayed out after the writer gave up";
	int try_wr = pthread_rwlock_trywrlock(&rw);
	EXPECT_EQ(try_wr, 0) << "the lock was left unusable";
	if (try_wr == 0)
		pthread_rwlock_unlock(&rw);
}

INSTANTIATE_TEST_SUITE_P(Kinds, RwlockPreference,
                         testing::Values(RwKind::kDefault, RwKind::kPreferWriterNp,
                                         RwKind::kWriterNonrecursiveAttr,
                                         RwKind::kWriterNonrecursiveStatic),
                         [](const testing::TestParamInfo<RwKind> &info) {
	                         return std::string(RwKindName(info.param));
                         });

// ---- std::shared_mutex ------------------------------------------------------------------

TEST_F(PortTest, StdSharedMutexSharesAndExcludesBetweenFibers)
{
	Watchdog wd(30, "std::shared_mutex between fibers of one reactor");
	std::shared_mutex sm;
	std::atomic<int> readers{0};
	std::atomic<bool> writer_in{false}, tried{false};
	std::atomic<bool> two_readers{false};
	bool both_read = true, writer_alone = true, try_shared_while_writing = true;
	auto reader = [&] {
		std::shared_lock<std::shared_mutex> l(sm);
		if (++readers == 2)
			two_readers = true;
		if (!WaitUntil([&] { return two_readers.load(); }, kPatienceNs))
			both_read = false;
		tame_yield(); // the writer queues
		--readers;
	};
	RunFibers({reader, reader,
	           [&] {
		           std::unique_lock<std::shared_mutex> l(sm);
		           writer_in = true;
		           writer_alone = readers.load() == 0;
		           WaitUntil([&] { return tried.load(); }, kPatienceNs);
	           },
	           [&] {
		           WaitUntil([&] { return writer_in.load(); }, kPatienceNs);
		           try_shared_while_writing = sm.try_lock_shared();
		           if (try_shared_while_writing)
			           sm.unlock_shared();
		           tried = true;
	           }});
	EXPECT_TRUE(both_read);
	EXPECT_TRUE(writer_alone);
	EXPECT_FALSE(try_shared_while_writing);
}

} // namespace
