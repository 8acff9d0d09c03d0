// SPDX-License-Identifier: Apache-2.0
// Rwlock stress: fibers on one or two reactors and plain threads read and
// write under one rwlock through every way of locking it, yielding while
// they hold it. Each holder checks the invariants on entry (a writer finds
// nobody else inside, a reader finds no writer); writers bump a plain
// counter that must end exact. std::shared_mutex and std::shared_timed_mutex
// run the same mix. Run alone (RUN_SERIAL).
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "port_test_util.h"

namespace
{

using namespace tame_port_test;

constexpr int kFibersPerReactor = 3;
constexpr int kThreads = 2;
constexpr uint32_t kIters = 8000;

enum class RwImpl { kPthreadDefault, kPthreadPreferWriter, kStdSharedMutex, kStdSharedTimedMutex };

const char *RwImplName(RwImpl i)
{
	switch (i) {
	case RwImpl::kPthreadDefault:
		return "PthreadDefault";
	case RwImpl::kPthreadPreferWriter:
		return "PthreadPreferWriter";
	case RwImpl::kStdSharedMutex:
		return "StdSharedMutex";
	case RwImpl::kStdSharedTimedMutex:
		return "StdSharedTimedMutex";
	}
	return "?";
}

void PrintTo(RwImpl i, std::ostream *os)
{
	*os << RwImplName(i);
}

struct Shared {
	explicit Shared(RwImpl i) : impl(i)
	{
		pthread_rwlockattr_t a;
		pthread_rwlockattr_init(&a);
		if (i == RwImpl::kPthreadPreferWriter)
			pthread_rwlockattr_setkind_np(&a,
			                              PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		EXPECT_EQ(pthread_rwlock_init(&rw, &a), 0);
		pthread_rwlockattr_destroy(&a);
	}
	RwImpl impl;
	pthread_rwlock_t rw;
	std::shared_mutex sm;
	std::shared_timed_mutex stm;
	uint64_t writes = 0; // only under the write lock
	std::atomic<int> readers{0}, writers{0};
	std::atomic<uint64_t> violations{0}, errors{0}, timeouts{0}, write_ops{0};
	std::atomic<int> started{0};
	int workers = 0;
};

// Retries a timed lock with deadlines short enough to race the unlocks.
template <typename TryFor> int RetryShortDeadline(Shared *s, TryFor try_for)
{
	int rc;
	while ((rc = try_for(AbsAfter(CLOCK_MONOTONIC, 30 * kNsPerUs))) == ETIMEDOUT)
		s->timeouts.fetch_add(1, std::memory_order_relaxed);
	return rc;
}

int PthreadLock(Shared *s, bool write, uint32_t i)
{
	pthread_rwlock_t *rw = &s->rw;
	int rc;
	switch (i % 4) {
	case 0:
		return write ? pthread_rwlock_wrlock(rw) : pthread_rwlock_rdlock(rw);
	case 1:
		while ((rc = write ? pthread_rwlock_trywrlock(rw) : pthread_rwlock_tryrdlock(rw)) ==
		       EBUSY)
			tame_yield();
		return rc;
	case 2:
		return RetryShortDeadline(s, [&](timespec abs) {
			return write ? pthread_rwlock_clockwrlock(rw, CLOCK_MONOTONIC, &abs)
			             : pthread_rwlock_clockrdlock(rw, CLOCK_MONOTONIC, &abs);
		});
	default: {
		timespec abs = AbsAfter(CLOCK_REALTIME, 60 * kNsPerS);
		return write ? pthread_rwlock_timedwrlock(rw, &abs)
		             : pthread_rwlock_timedrdlock(rw, &abs);
	}
	}
}

void Lock(Shared *s, bool write, uint32_t i)
{
	int rc = 0;
	switch (s->impl) {
	case RwImpl::kPthreadDefault:
	case RwImpl::kPthreadPreferWriter:
		rc = PthreadLock(s, write, i);
		break;
	case RwImpl::kStdSharedMutex:
		write ? s->sm.lock() : s->sm.lock_shared();
		break;
	case RwImpl::kStdSharedTimedMutex: {
		auto d = std::chrono::microseconds(i % 2 ? 30 : 60 * 1000 * 1000);
		while (!(write ? s->stm.try_lock_for(d) : s->stm.try_lock_shared_for(d)))
			s->timeouts.fetch_add(1, std::memory_order_relaxed);
		break;
	}
	}
	if (rc != 0)
		s->errors.fetch_add(1, std::memory_order_relaxed);
}

void Unlock(Shared *s, bool write)
{
	switch (s->impl) {
	case RwImpl::kPthreadDefault:
	case RwImpl::kPthreadPreferWriter:
		if (pthread_rwlock_unlock(&s->rw) != 0)
			s->errors.fetch_add(1, std::memory_order_relaxed);
		break;
	case RwImpl::kStdSharedMutex:
		write ? s->sm.unlock() : s->sm.unlock_shared();
		break;
	case RwImpl::kStdSharedTimedMutex:
		write ? s->stm.unlock() : s->stm.unlock_shared();
		break;
	}
}

void Worker(Shared *s, uint32_t seed)
{
	s->started.fetch_add(1);
	if (!WaitUntil([s] { return s->started.load() == s->workers; }, kPatienceNs))
		s->errors.fetch_add(1);
	for (uint32_t i = 0; i < kIters; ++i) {
		const bool write = (i + seed) % 4 == 0;
		Lock(s, write, i / 4 + seed);
		if (write) {
			if (s->writers.fetch_add(1) != 0 || s->readers.load() != 0)
				s->violations.fetch_add(1, std::memory_order_relaxed);
			uint64_t v = s->writes;
			if (i % 3 == 0)
				tame_yield();
			s->writes = v + 1;
			s->write_ops.fetch_add(1, std::memory_order_relaxed);
			s->writers.fetch_sub(1);
		} else {
			s->readers.fetch_add(1);
			if (s->writers.load() != 0)
				s->violations.fetch_add(1, std::memory_order_relaxed);
			if (i % 3 == 0)
				tame_yield();
			if (s->writers.load() != 0)
				s->violations.fetch_add(1, std::memory_order_relaxed);
			s->readers.fetch_sub(1);
		}
		Unlock(s, write);
	}
}

class RwlockStress : public testing::TestWithParam<std::tuple<RwImpl, int>>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
};

TEST_P(RwlockStress, WritersExcludeEveryoneAndCountExactly)
{
	const RwImpl impl = std::get<0>(GetParam());
	const int reactors = std::get<1>(GetParam());
	Watchdog wd(100, "readers and writers on one rwlock (a lost wake-up or a blocked reactor)");
	Shared s(impl);
	s.workers = reactors * kFibersPerReactor + kThreads;
	{
		std::vector<std::unique_ptr<FiberThread>> fiber_threads;
		uint32_t seed = 0;
		for (int r = 0; r < reactors; ++r) {
			std::vector<Fn> fns;
			for (int f = 0; f < kFibersPerReactor; ++f, ++seed)
				fns.push_back([&s, seed] { Worker(&s, seed); });
			fiber_threads.push_back(std::make_unique<FiberThread>(std::move(fns)));
		}
		std::vector<std::thread> threads;
		for (int t = 0; t < kThreads; ++t, ++seed)
			threads.emplace_back(Worker, &s, seed);
		for (auto &t : threads)
			t.join();
		for (auto &ft : fiber_threads)
			ft->Join();
	}
	EXPECT_EQ(s.violations.load(), 0u) << "a writer shared the lock";
	EXPECT_EQ(s.errors.load(), 0u) << "a lock or unlock call failed";
	EXPECT_EQ(s.writes, s.write_ops.load()) << "lost writes";
	EXPECT_EQ(s.write_ops.load(), uint64_t(s.workers) * kIters / 4);
	RecordProperty("timeouts", std::to_string(s.timeouts.load()));
}

std::string StressName(const testing::TestParamInfo<std::tuple<RwImpl, int>> &info)
{
	return std::string(RwImplName(std::get<0>(info.param))) + "_" +
	       std::to_string(std::get<1>(info.param)) + "Reactors";
}

INSTANTIATE_TEST_SUITE_P(
    Impls, RwlockStress,
    testing::Combine(testing::Values(RwImpl::kPthreadDefault, RwImpl::kPthreadPreferWriter,
                                     RwImpl::kStdSharedMutex, RwImpl::kStdSharedTimedMutex),
                     testing::Values(1, 2)),
    StressName);

} // namespace
