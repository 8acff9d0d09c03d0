// SPDX-License-Identifier: Apache-2.0
// Fiber-local slots: thread-locals that every fiber sees its own copy of.
//
// The slot registry is process-global and append-only, so the slots used by
// most tests are registered once per process (RegisteredSlots); the tests
// that exhaust the registry do so in a child process (EXPECT_EXIT).
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tame_fiber.h"
#include "tame_reactor.h"
#include "test_util.h"

namespace
{

using tame_test::SpawnFn;

// Stand-in for RocksDB's perf_context, a large __thread struct.
struct PerfLike {
	unsigned char bytes[784];
};
static_assert(sizeof(PerfLike) == 784, "perf_context-sized");

thread_local uint64_t tls_counter;
thread_local PerfLike tls_perf;

constexpr uint64_t kInitialCounter = 0x1111222233334444ull;
constexpr unsigned char kInitialPerfByte = 0x5A;

void *ResolveCounter(void *)
{
	return &tls_counter;
}
void *ResolvePerf(void *)
{
	return &tls_perf;
}

struct Slots {
	int counter;
	int perf;
};

const Slots &RegisteredSlots()
{
	static const Slots slots = [] {
		static const uint64_t initial_counter = kInitialCounter;
		static PerfLike initial_perf;
		memset(&initial_perf, kInitialPerfByte, sizeof(initial_perf));
		Slots s;
		s.counter = tame_fls_register(ResolveCounter, nullptr, sizeof(tls_counter),
		                              &initial_counter);
		s.perf = tame_fls_register(ResolvePerf, nullptr, sizeof(tls_perf), &initial_perf);
		return s;
	}();
	EXPECT_GE(slots.counter, 0);
	EXPECT_GE(slots.perf, 0);
	EXPECT_NE(slots.counter, slots.perf);
	return slots;
}

void FillPerf(PerfLike *p, uint64_t seed)
{
	for (size_t i = 0; i < sizeof(p->bytes); ++i)
		p->bytes[i] = static_cast<unsigned char>(seed * 131 + i * 7);
}

bool PerfIsAll(const PerfLike &p, unsigned char byte)
{
	for (unsigned char b : p.bytes)
		if (b != byte)
			return false;
	return true;
}

TEST(Fls, RegisterRejectsZeroSizeAndNullResolve)
{
	int before = tame_fls_count();
	EXPECT_EQ(tame_fls_register(ResolveCounter, nullptr, 0, nullptr), -EINVAL);
	EXPECT_EQ(tame_fls_register(nullptr, nullptr, 8, nullptr), -EINVAL);
	EXPECT_EQ(tame_fls_count(), before);
}

TEST(Fls, OversizedSlotIsRefusedWithoutConsumingASlot)
{
	int before = tame_fls_count();
	EXPECT_EQ(tame_fls_register(ResolvePerf, nullptr, TAME_FLS_MAX_BYTES + 1, nullptr),
	          -ENOSPC);
	EXPECT_EQ(tame_fls_count(), before);
	// The refusal left the registry usable.
	const Slots &slots = RegisteredSlots();
	EXPECT_GE(slots.perf, 0);
}

thread_local uint64_t tls_many[TAME_FLS_MAX_SLOTS + 1];
void *ResolveMany(void *ctx)
{
	return &tls_many[reinterpret_cast<uintptr_t>(ctx)];
}

// Runs in a child process: fills every slot, checks the 17th is refused and
// that a fiber still swaps all 16.
void FillAllSlotsThenOneMore()
{
	if (tame_fls_count() != 0)
		_exit(10);
	for (uintptr_t i = 0; i < TAME_FLS_MAX_SLOTS; ++i)
		if (tame_fls_register(ResolveMany, reinterpret_cast<void *>(i), sizeof(uint64_t),
		                      nullptr) < 0)
			_exit(11);
	if (tame_fls_count() != TAME_FLS_MAX_SLOTS)
		_exit(12);
	void *extra = reinterpret_cast<void *>(uintptr_t{TAME_FLS_MAX_SLOTS});
	if (tame_fls_register(ResolveMany, extra, sizeof(uint64_t), nullptr) != -ENOSPC)
		_exit(13);
	if (tame_fls_count() != TAME_FLS_MAX_SLOTS)
		_exit(14);

	for (int i = 0; i < TAME_FLS_MAX_SLOTS; ++i)
		tls_many[i] = 1000 + i;
	tame_fiber_attr attr{};
	tame_fiber *f = nullptr;
	auto body = [](void *) {
		for (int i = 0; i < TAME_FLS_MAX_SLOTS; ++i) {
			if (tls_many[i] != 0) // NULL initial means zeroes
				_exit(15);
			tls_many[i] = 2000 + i;
		}
		tame_fiber_suspend();
		for (int i = 0; i < TAME_FLS_MAX_SLOTS; ++i)
			if (tls_many[i] != uint64_t(2000 + i))
				_exit(16);
	};
	if (tame_fiber_create(&attr, body, nullptr, &f) != 0)
		_exit(17);
	tame_fiber_resume(f);
	for (int i = 0; i < TAME_FLS_MAX_SLOTS; ++i)
		if (tls_many[i] != uint64_t(1000 + i))
			_exit(18);
	tame_fiber_resume(f);
	tame_fiber_destroy(f);
	_exit(0);
}

TEST(FlsDeathTest, SeventeenthSlotIsRefusedWithENOSPC)
{
	GTEST_FLAG_SET(death_test_style, "threadsafe");
	EXPECT_EXIT(FillAllSlotsThenOneMore(), testing::ExitedWithCode(0), "");
}

thread_local unsigned char tls_page[TAME_FLS_MAX_BYTES];
void *ResolvePage(void *)
{
	return tls_page;
}

// Runs in a child process: one slot takes every byte, the next byte is
// refused and does not count as a slot.
void FillAllBytesThenOneMore()
{
	if (tame_fls_count() != 0)
		_exit(20);
	if (tame_fls_register(ResolvePage, nullptr, TAME_FLS_MAX_BYTES, nullptr) < 0)
		_exit(21);
	if (tame_fls_register(ResolveCounter, nullptr, 1, nullptr) != -ENOSPC)
		_exit(22);
	if (tame_fls_count() != 1)
		_exit(23);
	_exit(0);
}

TEST(FlsDeathTest, BytesBeyondTheLimitAreRefusedWithENOSPC)
{
	GTEST_FLAG_SET(death_test_style, "threadsafe");
	EXPECT_EXIT(FillAllBytesThenOneMore(), testing::ExitedWithCode(0), "");
}

TEST(Fls, EachOf1000InterleavedFibersSeesItsOwnValue)
{
	RegisteredSlots();
	constexpr int kFibers = 1000;
	constexpr int kRounds = 40;
	tls_counter = 0xABCDEF;
	memset(&tls_perf, 0x33, sizeof(tls_perf));

	int wrong_initial = 0, wrong_after_yield = 0, finished = 0;
	tame_test::RunOnReactor([&] {
		tame_reactor *r = tame_fiber_reactor();
		for (int i = 0; i < kFibers; ++i) {
			ASSERT_EQ(
			    SpawnFn(r,
			            [&, i] {
				            if (tls_counter != kInitialCounter ||
				                !PerfIsAll(tls_perf, kInitialPerfByte))
					            ++wrong_initial;
				            PerfLike mine;
				            for (int round = 0; round < kRounds; ++round) {
					            uint64_t value = uint64_t(i) << 32 | round;
					            tls_counter = value;
					            FillPerf(&mine, value);
					            tls_perf = mine;
					            tame_yield(); // every other fiber runs here
					            if (tls_counter != value ||
					                memcmp(&tls_perf, &mine, sizeof(mine)) != 0)
						            ++wrong_after_yield;
				            }
				            ++finished;
			            }),
			    0);
		}
	});
	EXPECT_EQ(finished, kFibers);
	EXPECT_EQ(wrong_initial, 0);
	EXPECT_EQ(wrong_after_yield, 0);
	// The thread's own instance never saw any fiber's values.
	EXPECT_EQ(tls_counter, 0xABCDEFu);
	EXPECT_TRUE(PerfIsAll(tls_perf, 0x33));
}

struct NestedFls {
	std::vector<uint64_t> seen;
	tame_fiber *inner = nullptr;
};

void NestedInner(void *arg)
{
	auto *n = static_cast<NestedFls *>(arg);
	n->seen.push_back(tls_counter); // initial
	tls_counter = 2;
	tame_fiber_suspend();
	n->seen.push_back(tls_counter); // still 2
}

void NestedOuter(void *arg)
{
	auto *n = static_cast<NestedFls *>(arg);
	n->seen.push_back(tls_counter); // initial, not the thread's value
	tls_counter = 1;
	tame_fiber_attr attr{};
	ASSERT_EQ(tame_fiber_create(&attr, NestedInner, n, &n->inner), 0);
	tame_fiber_resume(n->inner);
	n->seen.push_back(tls_counter); // 1 again after the inner fiber ran
	tls_counter = 3;
	tame_fiber_suspend();
	n->seen.push_back(tls_counter); // 3
	tame_fiber_resume(n->inner);
	n->seen.push_back(tls_counter); // 3
	tame_fiber_destroy(n->inner);
}

TEST(Fls, NestedResumeSwapsSlotsForEachFiber)
{
	RegisteredSlots();
	tls_counter = 99;
	NestedFls n;
	tame_fiber_attr attr{};
	tame_fiber *outer = nullptr;
	ASSERT_EQ(tame_fiber_create(&attr, NestedOuter, &n, &outer), 0);
	tame_fiber_resume(outer);
	EXPECT_EQ(tls_counter, 99u);
	tls_counter = 98;
	tame_fiber_resume(outer);
	EXPECT_EQ(tls_counter, 98u);
	tame_fiber_destroy(outer);
	std::vector<uint64_t> want = {kInitialCounter, kInitialCounter, 1, 3, 2, 3};
	EXPECT_EQ(n.seen, want);
}

TEST(Fls, NewFibersStartFromTheInitialValueNotTheCreators)
{
	RegisteredSlots();
	tls_counter = 7;
	memset(&tls_perf, 0x77, sizeof(tls_perf));
	struct Seen {
		uint64_t counter = 0;
		bool perf_initial = false;
	} seen;
	tame_fiber_attr attr{};
	tame_fiber *f = nullptr;
	ASSERT_EQ(tame_fiber_create(
	              &attr,
	              [](void *arg) {
		              auto *s = static_cast<Seen *>(arg);
		              s->counter = tls_counter;
		              s->perf_initial = PerfIsAll(tls_perf, kInitialPerfByte);
		              tls_counter = 8; // must not leak to the thread
		              memset(&tls_perf, 0x88, sizeof(tls_perf));
	              },
	              &seen, &f),
	          0);
	EXPECT_FALSE(tame_fiber_resume(f));
	tame_fiber_destroy(f);
	EXPECT_EQ(seen.counter, kInitialCounter);
	EXPECT_TRUE(seen.perf_initial);
	EXPECT_EQ(tls_counter, 7u);
	EXPECT_TRUE(PerfIsAll(tls_perf, 0x77));
}

TEST(Fls, SlotsAreSwappedIndependentlyOnEveryThread)
{
	RegisteredSlots();
	constexpr int kThreads = 3, kFibers = 100, kRounds = 20;
	std::vector<int> wrong(kThreads, 0), thread_value_ok(kThreads, 0);
	std::vector<std::thread> threads;
	for (int t = 0; t < kThreads; ++t) {
		threads.emplace_back([&, t] {
			tls_counter = 5000 + t;
			tame_test::RunOnReactor([&, t] {
				tame_reactor *r = tame_fiber_reactor();
				for (int i = 0; i < kFibers; ++i)
					SpawnFn(r, [&, t, i] {
						uint64_t mine = t * 1000000 + i;
						for (int k = 0; k < kRounds; ++k) {
							tls_counter = mine + k;
							tame_yield();
							if (tls_counter != mine + k)
								++wrong[t];
						}
					});
			});
			thread_value_ok[t] = tls_counter == uint64_t(5000 + t);
		});
	}
	for (auto &th : threads)
		th.join();
	for (int t = 0; t < kThreads; ++t) {
		EXPECT_EQ(wrong[t], 0) << "thread " << t;
		EXPECT_TRUE(thread_value_ok[t]) << "thread " << t;
	}
}

thread_local uint64_t tls_late;
void *ResolveLate(void *)
{
	return &tls_late;
}

TEST(Fls, SlotRegisteredAfterTheThreadSwitchedFibersIsSwapped)
{
	std::thread worker([] {
		// This thread switches fibers before the slot exists.
		tame_fiber_attr attr{};
		tame_fiber *before = nullptr;
		ASSERT_EQ(tame_fiber_create(
		              &attr, [](void *) {}, nullptr, &before),
		          0);
		tame_fiber_resume(before);
		tame_fiber_destroy(before);

		static const uint64_t late_initial = 4242;
		static const int late_slot =
		    tame_fls_register(ResolveLate, nullptr, sizeof(tls_late), &late_initial);
		ASSERT_GE(late_slot, 0);

		tls_late = 77;
		uint64_t seen[2] = {0, 0};
		tame_fiber *after = nullptr;
		ASSERT_EQ(tame_fiber_create(
		              &attr,
		              [](void *arg) {
			              auto *s = static_cast<uint64_t *>(arg);
			              s[0] = tls_late;
			              tls_late = 5;
			              tame_fiber_suspend();
			              s[1] = tls_late;
		              },
		              seen, &after),
		          0);
		tame_fiber_resume(after);
		EXPECT_EQ(tls_late, 77u);
		tame_fiber_resume(after);
		tame_fiber_destroy(after);
		EXPECT_EQ(seen[0], 4242u);
		EXPECT_EQ(seen[1], 5u);
	});
	worker.join();
}

// --- batches (tame_fiber_batch_begin): the reactor's pass ---------------------

struct BatchSeen {
	std::vector<uint64_t> counter;
	bool perf_ok = true;
};

// Sets the counter to base, yields, checks, sets base + 1, yields, checks.
void BatchBody(void *arg)
{
	auto *seen = static_cast<std::pair<BatchSeen *, uint64_t> *>(arg);
	BatchSeen *s = seen->first;
	uint64_t base = seen->second;
	PerfLike mine;

	s->counter.push_back(tls_counter);
	tls_counter = base;
	FillPerf(&mine, base);
	tls_perf = mine;
	tame_fiber_suspend();
	s->counter.push_back(tls_counter);
	s->perf_ok = s->perf_ok && memcmp(&tls_perf, &mine, sizeof(mine)) == 0;
	tls_counter = base + 1;
	tame_fiber_suspend();
	s->counter.push_back(tls_counter);
	s->perf_ok = s->perf_ok && memcmp(&tls_perf, &mine, sizeof(mine)) == 0;
}

TEST(FlsBatch, FibersKeepTheirOwnValuesAndTheThreadGetsItsOwnBackAtTheEnd)
{
	RegisteredSlots();
	tls_counter = 11;
	memset(&tls_perf, 0x11, sizeof(tls_perf));
	BatchSeen sa, sb;
	std::pair<BatchSeen *, uint64_t> aa{&sa, 100}, ab{&sb, 200};
	tame_fiber_attr attr{};
	tame_fiber *a = nullptr, *b = nullptr;
	ASSERT_EQ(tame_fiber_create(&attr, BatchBody, &aa, &a), 0);
	ASSERT_EQ(tame_fiber_create(&attr, BatchBody, &ab, &b), 0);

	std::vector<unsigned char> save(TAME_FLS_MAX_BYTES);
	ASSERT_TRUE(tame_fiber_batch_begin(save.data()));
	EXPECT_FALSE(tame_fiber_batch_begin(save.data())) << "a second batch opened";
	EXPECT_TRUE(tame_fiber_resume(a));
	// Lazy: the last fiber's values stay live on the thread's stack...
	EXPECT_EQ(tls_counter, 100u);
	EXPECT_TRUE(tame_fiber_resume(b));
	EXPECT_EQ(tls_counter, 200u);
	EXPECT_TRUE(tame_fiber_resume(a)); // a: 100 back, sets 101
	EXPECT_EQ(tls_counter, 101u);
	tame_fiber_batch_end();
	// ...until the batch ends.
	EXPECT_EQ(tls_counter, 11u);
	EXPECT_TRUE(PerfIsAll(tls_perf, 0x11));

	// Outside a batch, resumes swap as always and see the batch's values.
	EXPECT_TRUE(tame_fiber_resume(b)); // b: 200 back, sets 201
	EXPECT_EQ(tls_counter, 11u);
	ASSERT_TRUE(tame_fiber_batch_begin(save.data()));
	EXPECT_FALSE(tame_fiber_resume(b)); // b: 201, finishes
	// A finished fiber does not stay the owner: its save area is reused.
	EXPECT_EQ(tls_counter, 11u);
	EXPECT_FALSE(tame_fiber_resume(a)); // a: 101, finishes
	tame_fiber_batch_end();
	tame_fiber_destroy(a);
	tame_fiber_destroy(b);
	EXPECT_EQ(tls_counter, 11u);
	EXPECT_TRUE(PerfIsAll(tls_perf, 0x11));
	std::vector<uint64_t> want_a = {kInitialCounter, 100, 101}, want_b = {kInitialCounter, 200, 201};
	EXPECT_EQ(sa.counter, want_a);
	EXPECT_EQ(sb.counter, want_b);
	EXPECT_TRUE(sa.perf_ok);
	EXPECT_TRUE(sb.perf_ok);
}

TEST(FlsBatch, AFiberOnAReusedStackStartsFromTheInitialValues)
{
	RegisteredSlots();
	tls_counter = 12;
	std::vector<unsigned char> save(TAME_FLS_MAX_BYTES);
	tame_fiber_attr attr{};
	uint64_t seen[8] = {};
	ASSERT_TRUE(tame_fiber_batch_begin(save.data()));
	for (int i = 0; i < 8; ++i) {
		tame_fiber *f = nullptr;
		ASSERT_EQ(tame_fiber_create(
		              &attr,
		              [](void *arg) {
			              *static_cast<uint64_t *>(arg) = tls_counter;
			              tls_counter = 0xDEAD; // must die with the fiber
		              },
		              &seen[i], &f),
		          0);
		EXPECT_FALSE(tame_fiber_resume(f));
		tame_fiber_destroy(f); // its stack (and save area) go back to the pool
	}
	tame_fiber_batch_end();
	for (int i = 0; i < 8; ++i)
		EXPECT_EQ(seen[i], kInitialCounter) << "fiber " << i;
	EXPECT_EQ(tls_counter, 12u);
}

TEST(FlsBatch, DestroyingTheParkedOwnerPutsTheThreadsValuesBack)
{
	RegisteredSlots();
	tls_counter = 13;
	std::vector<unsigned char> save(TAME_FLS_MAX_BYTES);
	tame_fiber_attr attr{};
	tame_fiber *f = nullptr;
	ASSERT_EQ(tame_fiber_create(
	              &attr,
	              [](void *) {
		              tls_counter = 0xBEEF;
		              tame_fiber_suspend();
	              },
	              nullptr, &f),
	          0);
	ASSERT_TRUE(tame_fiber_batch_begin(save.data()));
	EXPECT_TRUE(tame_fiber_resume(f));
	tame_fiber_destroy(f); // discarded while it owns the live values
	EXPECT_EQ(tls_counter, 13u);
	tame_fiber_batch_end();
	EXPECT_EQ(tls_counter, 13u);
}

thread_local uint64_t tls_batch_late;
void *ResolveBatchLate(void *)
{
	return &tls_batch_late;
}

// A fiber created before a slot existed shares the thread's value of it,
// in a batch exactly as outside one.
TEST(FlsBatch, AFiberOlderThanASlotSharesTheThreadsValueOfIt)
{
	RegisteredSlots();
	std::thread worker([] {
		tame_fiber_attr attr{};
		tame_fiber *old_fiber = nullptr, *new_fiber = nullptr;
		uint64_t old_seen[2] = {}, new_seen = 0;
		ASSERT_EQ(tame_fiber_create(
		              &attr,
		              [](void *arg) {
			              auto *s = static_cast<uint64_t *>(arg);
			              s[0] = tls_batch_late;
			              tls_batch_late = 200;
			              tame_fiber_suspend();
			              s[1] = tls_batch_late;
			              tls_batch_late = 201;
			              tame_fiber_suspend();
		              },
		              old_seen, &old_fiber),
		          0);
		static const uint64_t initial = 4343;
		static const int slot =
		    tame_fls_register(ResolveBatchLate, nullptr, sizeof(tls_batch_late), &initial);
		ASSERT_GE(slot, 0);
		ASSERT_EQ(tame_fiber_create(
		              &attr,
		              [](void *arg) {
			              *static_cast<uint64_t *>(arg) = tls_batch_late;
			              tls_batch_late = 300;
			              tame_fiber_suspend();
		              },
		              &new_seen, &new_fiber),
		          0);
		tls_batch_late = 100;
		std::vector<unsigned char> save(TAME_FLS_MAX_BYTES);
		ASSERT_TRUE(tame_fiber_batch_begin(save.data()));
		EXPECT_TRUE(tame_fiber_resume(old_fiber)); // thread's 100 -> 200
		EXPECT_TRUE(tame_fiber_resume(new_fiber)); // its own 4343 -> 300
		EXPECT_TRUE(tame_fiber_resume(old_fiber)); // thread's 200 -> 201
		tame_fiber_batch_end();
		EXPECT_EQ(old_seen[0], 100u);
		EXPECT_EQ(old_seen[1], 200u);
		EXPECT_EQ(new_seen, 4343u);
		EXPECT_EQ(tls_batch_late, 201u);
		tame_fiber_destroy(old_fiber);
		tame_fiber_destroy(new_fiber);
	});
	worker.join();
}

TEST(FlsBatch, ABatchCannotBeOpenedOnAFiber)
{
	bool opened = true;
	tame_fiber_attr attr{};
	tame_fiber *f = nullptr;
	ASSERT_EQ(tame_fiber_create(
	              &attr,
	              [](void *arg) {
		              std::vector<unsigned char> save(TAME_FLS_MAX_BYTES);
		              *static_cast<bool *>(arg) = tame_fiber_batch_begin(save.data());
	              },
	              &opened, &f),
	          0);
	EXPECT_FALSE(tame_fiber_resume(f));
	tame_fiber_destroy(f);
	EXPECT_FALSE(opened);
}

// Runs in a child process: with only 64 bytes of slots a swap is cheaper
// than a batch, so none is opened; one byte more and it is.
void SmallSlotsOpenNoBatch()
{
	static thread_local unsigned char small[TAME_FLS_BATCH_MIN_BYTES];
	static thread_local unsigned char one_more[1];
	std::vector<unsigned char> save(TAME_FLS_MAX_BYTES);
	if (tame_fls_count() != 0)
		_exit(30);
	if (tame_fiber_batch_begin(save.data()))
		_exit(31); // no slot at all
	if (tame_fls_register([](void *) -> void * { return small; }, nullptr, sizeof(small),
	                      nullptr) < 0)
		_exit(32);
	if (tame_fiber_batch_begin(save.data()))
		_exit(33);
	if (tame_fls_register([](void *) -> void * { return one_more; }, nullptr,
	                      sizeof(one_more), nullptr) < 0)
		_exit(34);
	if (!tame_fiber_batch_begin(save.data()))
		_exit(35);
	tame_fiber_batch_end();
	_exit(0);
}

TEST(FlsBatchDeathTest, NoBatchIsOpenedForSixtyFourBytesOfSlotsOrFewer)
{
	GTEST_FLAG_SET(death_test_style, "threadsafe");
	EXPECT_EXIT(SmallSlotsOpenNoBatch(), testing::ExitedWithCode(0), "");
}

} // namespace
