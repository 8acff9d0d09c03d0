// SPDX-License-Identifier: Apache-2.0
// Mutex stress: fibers on one or two reactors and plain threads increment a
// plain (non-atomic) counter under one mutex, through every way of locking
// it, while holders yield inside the critical section. A mutex that lets two
// holders in shows as a counted overlap and a wrong total; a lost wake-up as
// the watchdog's message. Run alone (RUN_SERIAL).
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <sstream>
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
constexpr uint32_t kIters = 20000;

struct Shared {
	explicit Shared(MutexKind kind) : m(kind)
	{
	}
	TestMutex m;
	uint64_t counter = 0; // only under m
	std::atomic<int> inside{0};
	std::atomic<uint64_t> overlaps{0};
	std::atomic<uint64_t> timeouts{0};
	std::atomic<uint64_t> errors{0};
	std::atomic<uint64_t> busy{0}; // trylocks that found it held
	std::atomic<int> started{0};
	int workers = 0;
};

// Locks s->m the way iteration i asks for.
void LockForIteration(Shared *s, uint32_t i)
{
	pthread_mutex_t *m = s->m.native();
	int rc = 0;
	switch (s->m.kind() == MutexKind::kStdMutex ? i % 2 : i % 4) {
	case 0:
		rc = s->m.Lock();
		break;
	case 1: // trylock until it works
		while ((rc = pthread_mutex_trylock(m)) == EBUSY) {
			s->busy.fetch_add(1, std::memory_order_relaxed);
			tame_yield();
		}
		break;
	case 2: // deadlines so short that timeouts race the unlocks
		for (;;) {
			timespec abs = AbsAfter(CLOCK_MONOTONIC, 20 * kNsPerUs);
			rc = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &abs);
			if (rc != ETIMEDOUT)
				break;
			s->timeouts.fetch_add(1, std::memory_order_relaxed);
		}
		break;
	case 3: {
		timespec abs = AbsAfter(CLOCK_REALTIME, 60 * kNsPerS);
		rc = pthread_mutex_timedlock(m, &abs);
		break;
	}
	}
	if (rc != 0)
		s->errors.fetch_add(1, std::memory_order_relaxed);
}

void Worker(Shared *s)
{
	// Start together, so that every kind of worker contends with every
	// other for the whole run.
	s->started.fetch_add(1);
	if (!WaitUntil([s] { return s->started.load() == s->workers; }, kPatienceNs))
		s->errors.fetch_add(1);
	for (uint32_t i = 0; i < kIters; ++i) {
		LockForIteration(s, i);
		if (s->inside.fetch_add(1, std::memory_order_acq_rel) != 0)
			s->overlaps.fetch_add(1, std::memory_order_relaxed);
		if (s->m.kind() == MutexKind::kRecursive && i % 8 == 0) {
			if (pthread_mutex_lock(s->m.native()) != 0 ||
			    pthread_mutex_unlock(s->m.native()) != 0)
				s->errors.fetch_add(1, std::memory_order_relaxed);
		}
		if (s->m.kind() == MutexKind::kErrorcheck && i % 64 == 0 &&
		    pthread_mutex_lock(s->m.native()) != EDEADLK)
			s->errors.fetch_add(1, std::memory_order_relaxed);
		uint64_t v = s->counter;
		if (i % 16 == 0)
			tame_yield(); // a fiber: others of its reactor contend
		s->counter = v + 1;
		s->inside.fetch_sub(1, std::memory_order_acq_rel);
		if (s->m.Unlock() != 0)
			s->errors.fetch_add(1, std::memory_order_relaxed);
	}
}

class MutexStress : public testing::TestWithParam<std::tuple<MutexKind, int>>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
};

TEST_P(MutexStress, FibersAndThreadsCountExactly)
{
	const MutexKind kind = std::get<0>(GetParam());
	const int reactors = std::get<1>(GetParam());
	Watchdog wd(100, "fibers and threads incrementing under one mutex (a lost wake-up or a "
	                 "blocked reactor)");
	Shared s(kind);
	s.workers = reactors * kFibersPerReactor + kThreads;
	{
		std::vector<std::unique_ptr<FiberThread>> fiber_threads;
		for (int r = 0; r < reactors; ++r) {
			std::vector<Fn> fns;
			for (int f = 0; f < kFibersPerReactor; ++f)
				fns.push_back([&s] { Worker(&s); });
			fiber_threads.push_back(std::make_unique<FiberThread>(std::move(fns)));
		}
		std::vector<std::thread> threads;
		for (int t = 0; t < kThreads; ++t)
			threads.emplace_back(Worker, &s);
		for (auto &t : threads)
			t.join();
		for (auto &ft : fiber_threads)
			ft->Join();
	}
	const uint64_t workers = uint64_t(s.workers);
	EXPECT_EQ(s.overlaps.load(), 0u) << "two holders inside the critical section";
	EXPECT_EQ(s.errors.load(), 0u) << "a lock or unlock call failed";
	EXPECT_EQ(s.counter, workers * kIters) << "lost increments";
	EXPECT_GT(s.busy.load() + s.timeouts.load(), 0u) << "the workers never contended";
	RecordProperty("busy", std::to_string(s.busy.load()));
	RecordProperty("timeouts", std::to_string(s.timeouts.load()));
}

std::string StressName(const testing::TestParamInfo<std::tuple<MutexKind, int>> &info)
{
	return std::string(MutexKindName(std::get<0>(info.param))) + "_" +
	       std::to_string(std::get<1>(info.param)) + "Reactors";
}

INSTANTIATE_TEST_SUITE_P(Kinds, MutexStress,
                         testing::Combine(kAllMutexKinds, testing::Values(1, 2)), StressName);

// The parking lot keeps the waiters of every object whose address hashes
// alike in one bucket: a wake for one object must never reach a waiter of a
// neighbour (a rwlock waiter would take it as a grant). Mutexes and rwlocks
// of 2048 slots (twice the buckets) are locked at random, most picks landing
// on a few hot slots so that there are waiters to confuse.
struct BucketSlot {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	uint64_t m_count = 0;  // under m
	uint64_t rw_count = 0; // under rw, written
	std::atomic<int> m_inside{0}, rw_writers{0}, rw_readers{0};
};

struct BucketTotals {
	std::atomic<uint64_t> m_ops{0}, rw_ops{0}, overlaps{0};
	std::atomic<int> started{0};
};

constexpr int kBucketWorkers = 8;

void BucketWorker(std::vector<BucketSlot> *slots, BucketTotals *tot, uint32_t seed, uint32_t picks)
{
	uint32_t x = seed * 2654435761u + 1;
	tot->started++;
	if (!WaitUntil([tot] { return tot->started.load() == kBucketWorkers; }, kPatienceNs))
		tot->overlaps++;
	for (uint32_t i = 0; i < picks; ++i) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		BucketSlot &s = (*slots)[(x & 7) ? x % 8 : x % slots->size()];
		switch ((x >> 8) % 3) {
		case 0:
			pthread_mutex_lock(&s.m);
			if (s.m_inside.fetch_add(1) != 0)
				tot->overlaps++;
			if (i % 8 == 0)
				tame_yield();
			++s.m_count;
			s.m_inside.fetch_sub(1);
			pthread_mutex_unlock(&s.m);
			tot->m_ops++;
			break;
		case 1:
			pthread_rwlock_wrlock(&s.rw);
			if (s.rw_writers.fetch_add(1) != 0 || s.rw_readers.load() != 0)
				tot->overlaps++;
			if (i % 8 == 0)
				tame_yield();
			++s.rw_count;
			s.rw_writers.fetch_sub(1);
			pthread_rwlock_unlock(&s.rw);
			tot->rw_ops++;
			break;
		default:
			pthread_rwlock_rdlock(&s.rw);
			s.rw_readers.fetch_add(1);
			if (s.rw_writers.load() != 0)
				tot->overlaps++;
			if (i % 8 == 0)
				tame_yield();
			s.rw_readers.fetch_sub(1);
			pthread_rwlock_unlock(&s.rw);
			break;
		}
	}
}

TEST(ParkingLotBuckets, ManyLocksSharingBucketsStayExclusiveAndCountExactly)
{
	ExpectInterposed();
	Watchdog wd(100, "workers on 2048 mutexes and rwlocks (a wake delivered to the wrong "
	                 "waiter, or lost)");
	constexpr size_t kSlots = 2048; // twice the parking lot's buckets
	constexpr uint32_t kPicks = 20000;
	std::vector<BucketSlot> slots(kSlots);
	BucketTotals tot;
	{
		std::vector<std::unique_ptr<FiberThread>> fiber_threads;
		for (uint32_t r = 0; r < 2; ++r) {
			std::vector<Fn> fns;
			for (uint32_t f = 0; f < 3; ++f)
				fns.push_back([&slots, &tot, r, f] {
					BucketWorker(&slots, &tot, r * 10 + f + 1, kPicks);
				});
			fiber_threads.push_back(std::make_unique<FiberThread>(std::move(fns)));
		}
		std::vector<std::thread> threads;
		for (uint32_t t = 0; t < 2; ++t)
			threads.emplace_back(BucketWorker, &slots, &tot, 100 + t, kPicks);
		for (auto &t : threads)
			t.join();
		for (auto &ft : fiber_threads)
			ft->Join();
	}
	uint64_t m_sum = 0, rw_sum = 0;
	for (auto &s : slots) {
		m_sum += s.m_count;
		rw_sum += s.rw_count;
	}
	EXPECT_EQ(tot.overlaps.load(), 0u) << "two holders inside one lock";
	EXPECT_EQ(m_sum, tot.m_ops.load()) << "lost increments under the mutexes";
	EXPECT_EQ(rw_sum, tot.rw_ops.load()) << "lost increments under the rwlocks";
}

// Waiters of many objects parked at once, more objects than the parking lot
// has buckets: each wake must reach the waiter of the object it is for.
// One fiber waits on each object; another releases the objects one by one
// and checks that exactly that object's waiter came back.
enum class Parked { kMutex, kRwlock, kCondvar };

void PrintTo(Parked p, std::ostream *os)
{
	*os << (p == Parked::kMutex ? "Mutex" : p == Parked::kRwlock ? "Rwlock" : "Condvar");
}

struct ParkedObject {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	bool released = false; // condvar predicate, under m
	bool waiting = false;
	bool done = false;
	int wait_returns = 0;
};

void WaitOn(Parked kind, ParkedObject *o)
{
	o->waiting = true;
	switch (kind) {
	case Parked::kMutex:
		pthread_mutex_lock(&o->m);
		pthread_mutex_unlock(&o->m);
		break;
	case Parked::kRwlock:
		pthread_rwlock_rdlock(&o->rw);
		pthread_rwlock_unlock(&o->rw);
		break;
	case Parked::kCondvar:
		pthread_mutex_lock(&o->m);
		while (!o->released) {
			pthread_cond_wait(&o->c, &o->m);
			++o->wait_returns;
		}
		pthread_mutex_unlock(&o->m);
		break;
	}
	o->done = true;
}

void Release(Parked kind, ParkedObject *o)
{
	switch (kind) {
	case Parked::kMutex:
		pthread_mutex_unlock(&o->m);
		break;
	case Parked::kRwlock:
		pthread_rwlock_unlock(&o->rw);
		break;
	case Parked::kCondvar:
		pthread_mutex_lock(&o->m);
		o->released = true;
		pthread_cond_signal(&o->c);
		pthread_mutex_unlock(&o->m);
		break;
	}
}

// After a lost wake: release the objects not yet released and kick the
// lost ones for a while, so that the test can still end.
void Unstick(Parked kind, std::vector<ParkedObject> *objs, size_t lost)
{
	for (size_t j = 0; j < lost; ++j)
		Release(kind, &(*objs)[j]);
	WaitUntil(
	    [&] {
		    bool all = true;
		    for (auto &o : *objs) {
			    if (o.done)
				    continue;
			    all = false;
			    if (kind == Parked::kMutex && pthread_mutex_trylock(&o.m) == 0)
				    pthread_mutex_unlock(&o.m);
			    if (kind == Parked::kRwlock && pthread_rwlock_trywrlock(&o.rw) == 0)
				    pthread_rwlock_unlock(&o.rw);
			    if (kind == Parked::kCondvar)
				    pthread_cond_broadcast(&o.c);
		    }
		    return all;
	    },
	    5 * kNsPerS);
}

class ParkingLotWakes : public testing::TestWithParam<Parked>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
};

TEST_P(ParkingLotWakes, EachWakeReachesTheWaiterOfItsOwnObject)
{
	constexpr size_t kObjects = 1536; // more than the parking lot's 1024 buckets
	const Parked kind = GetParam();
	Watchdog wd(100, "1536 fibers each parked on its own object, released one by one (a "
	                 "wake reached a waiter of another object sharing its bucket)");
	std::vector<ParkedObject> objs(kObjects);
	size_t first_lost = kObjects, others_woken = 0, spurious = 0;
	std::vector<Fn> fns;
	fns.push_back([&] { // the releaser runs first and holds every lock
		for (auto &o : objs) {
			if (kind == Parked::kMutex)
				pthread_mutex_lock(&o.m);
			if (kind == Parked::kRwlock)
				pthread_rwlock_wrlock(&o.rw);
		}
		// All fibers of this reactor: plain fields, no races.
		ASSERT_TRUE(WaitUntil(
		    [&] {
			    for (auto &o : objs)
				    if (!o.waiting)
					    return false;
			    return true;
		    },
		    kPatienceNs));
		tame_sleep_ns(kNsPerMs); // every waiter is parked now
		// Newest waiter first: a wake that took the oldest waiter of the
		// bucket instead of the object's own would pick someone else's.
		for (size_t i = kObjects; i-- > 0;) {
			Release(kind, &objs[i]);
			bool woke = WaitUntil([&] { return objs[i].done; }, 2 * kNsPerS);
			for (size_t j = 0; j < i; ++j)
				others_woken += objs[j].done;
			if (!woke) {
				first_lost = i;
				// Said now: the lost waiter may keep the test from ending.
				ADD_FAILURE() << "the waiter of object " << i
				              << " was not woken by its release";
				Unstick(kind, &objs, i);
				break;
			}
		}
		for (auto &o : objs)
			spurious += o.wait_returns > 1;
	});
	for (auto &o : objs)
		fns.push_back([kind, &o] { WaitOn(kind, &o); });
	tame_reactor_opts opts = PortOpts();
	opts.stack_bytes = 64 * 1024;
	RunFibers(std::move(fns), opts);
	EXPECT_EQ(first_lost, kObjects)
	    << "the waiter of object " << first_lost << " was not woken by its release";
	EXPECT_EQ(others_woken, 0u) << "releasing one object let waiters of others through";
	EXPECT_EQ(spurious, 0u) << "condvar waits returned for another condvar's signal";
}

INSTANTIATE_TEST_SUITE_P(Objects, ParkingLotWakes,
                         testing::Values(Parked::kMutex, Parked::kRwlock, Parked::kCondvar),
                         [](const testing::TestParamInfo<Parked> &info) {
	                         std::ostringstream os;
	                         PrintTo(info.param, &os);
	                         return os.str();
                         });

} // namespace
