// SPDX-License-Identifier: Apache-2.0
// Fiber mechanism without a reactor: the test itself resumes fibers.
#include <alloca.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tame_fiber.h"

namespace
{

using ::testing::AllOf;
using ::testing::HasSubstr;

tame_fiber *MakeFiber(tame_fiber_fn fn, void *arg, const char *name = nullptr,
                      size_t stack_bytes = 0, size_t local_bytes = 0)
{
	tame_fiber_attr attr{};
	attr.stack_bytes = stack_bytes;
	attr.local_bytes = local_bytes;
	attr.name = name;
	tame_fiber *f = nullptr;
	int rc = tame_fiber_create(&attr, fn, arg, &f);
	EXPECT_EQ(rc, 0) << strerror(-rc);
	return f;
}

void Noop(void *)
{
}

struct Trace {
	std::string events;
};

void RecordAndSuspend(void *arg)
{
	auto *t = static_cast<Trace *>(arg);
	t->events += "a";
	tame_fiber_suspend();
	t->events += "b";
	tame_fiber_suspend();
	t->events += "c";
}

TEST(Fiber, SwitchesInResumeSuspendOrder)
{
	Trace trace;
	tame_fiber *f = MakeFiber(RecordAndSuspend, &trace);
	ASSERT_NE(f, nullptr);
	trace.events += "0";
	EXPECT_TRUE(tame_fiber_resume(f));
	trace.events += "1";
	EXPECT_TRUE(tame_fiber_resume(f));
	trace.events += "2";
	EXPECT_FALSE(tame_fiber_resume(f));
	trace.events += "3";
	EXPECT_EQ(trace.events, "0a1b2c3");
	tame_fiber_destroy(f);
}

TEST(Fiber, TwoFibersInterleaveExactlyAsResumed)
{
	Trace trace_x, trace_y;
	tame_fiber *x = MakeFiber(RecordAndSuspend, &trace_x);
	tame_fiber *y = MakeFiber(RecordAndSuspend, &trace_y);
	ASSERT_NE(x, nullptr);
	ASSERT_NE(y, nullptr);
	std::string order;
	// Resume in the order y x x y y x and log which fiber advanced.
	const char *plan = "yxxyyx";
	for (const char *p = plan; *p; ++p) {
		tame_fiber *f = *p == 'x' ? x : y;
		Trace &t = *p == 'x' ? trace_x : trace_y;
		size_t before = t.events.size();
		tame_fiber_resume(f);
		order += *p;
		order += t.events.substr(before);
	}
	EXPECT_EQ(order, "yaxaxbybycxc");
	EXPECT_TRUE(tame_fiber_finished(x));
	EXPECT_TRUE(tame_fiber_finished(y));
	tame_fiber_destroy(x);
	tame_fiber_destroy(y);
}

struct Nested {
	std::string events;
	tame_fiber *outer = nullptr;
	tame_fiber *inner = nullptr;
	tame_fiber *self_in_inner = nullptr;
	tame_fiber *self_in_outer_before = nullptr;
	tame_fiber *self_in_outer_after = nullptr;
};

void InnerBody(void *arg)
{
	auto *n = static_cast<Nested *>(arg);
	n->self_in_inner = tame_fiber_self();
	n->events += "i1";
	tame_fiber_suspend(); // back to outer, not to the test thread
	n->events += "i2";
}

void OuterBody(void *arg)
{
	auto *n = static_cast<Nested *>(arg);
	n->self_in_outer_before = tame_fiber_self();
	n->events += "o1";
	n->inner = MakeFiber(InnerBody, n, "inner");
	EXPECT_TRUE(tame_fiber_resume(n->inner));
	n->events += "o2";
	EXPECT_EQ(tame_fiber_self(), n->outer);
	tame_fiber_suspend(); // back to the test thread
	n->events += "o3";
	EXPECT_FALSE(tame_fiber_resume(n->inner));
	n->events += "o4";
	n->self_in_outer_after = tame_fiber_self();
	tame_fiber_destroy(n->inner);
}

TEST(Fiber, NestedResumeReturnsToTheResumingFiber)
{
	Nested n;
	n.outer = MakeFiber(OuterBody, &n, "outer");
	ASSERT_NE(n.outer, nullptr);
	EXPECT_TRUE(tame_fiber_resume(n.outer));
	n.events += "T";
	EXPECT_EQ(tame_fiber_self(), nullptr);
	EXPECT_FALSE(tame_fiber_resume(n.outer));
	EXPECT_EQ(n.events, "o1i1o2To3i2o4");
	EXPECT_EQ(n.self_in_outer_before, n.outer);
	EXPECT_EQ(n.self_in_outer_after, n.outer);
	EXPECT_NE(n.self_in_inner, nullptr);
	EXPECT_NE(n.self_in_inner, n.outer);
	tame_fiber_destroy(n.outer);
}

void StoreSelf(void *arg)
{
	*static_cast<tame_fiber **>(arg) = tame_fiber_self();
	tame_fiber_suspend();
	*static_cast<tame_fiber **>(arg) = tame_fiber_self();
}

TEST(Fiber, SelfIsNullOffFiberAndTheRunningFiberOnIt)
{
	EXPECT_EQ(tame_fiber_self(), nullptr);
	tame_fiber *seen = nullptr;
	tame_fiber *f = MakeFiber(StoreSelf, &seen);
	ASSERT_NE(f, nullptr);
	EXPECT_EQ(tame_fiber_self(), nullptr);
	tame_fiber_resume(f);
	EXPECT_EQ(seen, f);
	EXPECT_EQ(tame_fiber_self(), nullptr);
	seen = nullptr;
	tame_fiber_resume(f);
	EXPECT_EQ(seen, f);
	EXPECT_EQ(tame_fiber_self(), nullptr);
	tame_fiber_destroy(f);

	std::thread other([] { EXPECT_EQ(tame_fiber_self(), nullptr); });
	other.join();
}

void SuspendTwice(void *)
{
	tame_fiber_suspend();
	tame_fiber_suspend();
}

TEST(Fiber, FinishedOnlyOnceTheFunctionReturned)
{
	tame_fiber *f = MakeFiber(SuspendTwice, nullptr);
	ASSERT_NE(f, nullptr);
	EXPECT_FALSE(tame_fiber_finished(f)); // never resumed
	EXPECT_TRUE(tame_fiber_resume(f));
	EXPECT_FALSE(tame_fiber_finished(f));
	EXPECT_TRUE(tame_fiber_resume(f));
	EXPECT_FALSE(tame_fiber_finished(f));
	EXPECT_FALSE(tame_fiber_resume(f));
	EXPECT_TRUE(tame_fiber_finished(f));
	tame_fiber_destroy(f);

	tame_fiber *g = MakeFiber(Noop, nullptr);
	ASSERT_NE(g, nullptr);
	EXPECT_FALSE(tame_fiber_resume(g));
	EXPECT_TRUE(tame_fiber_finished(g));
	tame_fiber_destroy(g);
}

TEST(Fiber, NamesAreCopiedTruncatedOrDefaulted)
{
	char buf[] = "compaction-7";
	tame_fiber *named = MakeFiber(Noop, nullptr, buf);
	ASSERT_NE(named, nullptr);
	memset(buf, 'X', sizeof(buf) - 1); // the fiber keeps its own copy
	EXPECT_STREQ(tame_fiber_name(named), "compaction-7");

	std::string longname(100, 'n');
	longname[0] = 'L';
	tame_fiber *truncated = MakeFiber(Noop, nullptr, longname.c_str());
	ASSERT_NE(truncated, nullptr);
	EXPECT_EQ(std::string(tame_fiber_name(truncated)),
	          longname.substr(0, TAME_FIBER_NAME_BYTES - 1));

	tame_fiber *unnamed = MakeFiber(Noop, nullptr, nullptr);
	ASSERT_NE(unnamed, nullptr);
	EXPECT_EQ(std::string(tame_fiber_name(unnamed)),
	          "fiber-" + std::to_string(tame_fiber_id(unnamed)));

	for (tame_fiber *f : {named, truncated, unnamed}) {
		tame_fiber_resume(f);
		tame_fiber_destroy(f);
	}
}

TEST(Fiber, IdsAreUniqueAndNeverZeroAcrossThreads)
{
	constexpr int kPerThread = 200;
	std::vector<uint64_t> ids[2];
	auto make_ids = [](std::vector<uint64_t> *out) {
		for (int i = 0; i < kPerThread; ++i) {
			tame_fiber *f = MakeFiber(Noop, nullptr);
			ASSERT_NE(f, nullptr);
			out->push_back(tame_fiber_id(f));
			tame_fiber_destroy(f); // ids stay unique after reuse
		}
	};
	std::thread t0(make_ids, &ids[0]);
	std::thread t1(make_ids, &ids[1]);
	t0.join();
	t1.join();
	std::set<uint64_t> all;
	for (auto &v : ids)
		for (uint64_t id : v) {
			EXPECT_NE(id, 0u);
			all.insert(id);
		}
	EXPECT_EQ(all.size(), 2u * kPerThread);
}

TEST(Fiber, StackBytesArePageRoundedAndDefaulted)
{
	const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
	tame_fiber *dflt = MakeFiber(Noop, nullptr, nullptr, 0);
	ASSERT_NE(dflt, nullptr);
	EXPECT_EQ(tame_fiber_stack_bytes(dflt), TAME_FIBER_DEFAULT_STACK_BYTES);

	const size_t odd = TAME_FIBER_MIN_STACK_BYTES + 100;
	tame_fiber *rounded = MakeFiber(Noop, nullptr, nullptr, odd);
	ASSERT_NE(rounded, nullptr);
	EXPECT_EQ(tame_fiber_stack_bytes(rounded), (odd + page - 1) / page * page);

	tame_fiber *smallest = MakeFiber(Noop, nullptr, nullptr, TAME_FIBER_MIN_STACK_BYTES);
	ASSERT_NE(smallest, nullptr);
	EXPECT_EQ(tame_fiber_stack_bytes(smallest), TAME_FIBER_MIN_STACK_BYTES);

	for (tame_fiber *f : {dflt, rounded, smallest})
		tame_fiber_destroy(f); // never resumed: destroy must cope
}

TEST(Fiber, CreateRejectsBadAttributes)
{
	tame_fiber_attr attr{};
	tame_fiber *f = nullptr;

	attr.stack_bytes = TAME_FIBER_MIN_STACK_BYTES / 2;
	EXPECT_EQ(tame_fiber_create(&attr, Noop, nullptr, &f), -EINVAL);
	EXPECT_EQ(f, nullptr);

	attr.stack_bytes = 0;
	attr.local_bytes = TAME_FIBER_MAX_LOCAL_BYTES + 1;
	EXPECT_EQ(tame_fiber_create(&attr, Noop, nullptr, &f), -EINVAL);
	EXPECT_EQ(f, nullptr);

	attr.local_bytes = TAME_FIBER_MAX_LOCAL_BYTES;
	ASSERT_EQ(tame_fiber_create(&attr, Noop, nullptr, &f), 0);
	ASSERT_NE(f, nullptr);
	tame_fiber_destroy(f);
}

TEST(Fiber, LocalAreaIsAlignedZeroedAndPerFiber)
{
	tame_fiber *none = MakeFiber(Noop, nullptr, nullptr, 0, 0);
	ASSERT_NE(none, nullptr);
	EXPECT_EQ(tame_fiber_local(none), nullptr);

	constexpr size_t kLocal = 200;
	std::vector<tame_fiber *> fibers;
	for (int i = 0; i < 3; ++i) {
		tame_fiber *f = MakeFiber(Noop, nullptr, nullptr, 0, kLocal);
		ASSERT_NE(f, nullptr);
		auto *local = static_cast<unsigned char *>(tame_fiber_local(f));
		ASSERT_NE(local, nullptr);
		EXPECT_EQ(reinterpret_cast<uintptr_t>(local) % 16, 0u);
		for (size_t b = 0; b < kLocal; ++b)
			ASSERT_EQ(local[b], 0) << "byte " << b;
		memset(local, 0xA0 + i, kLocal); // dirty it for the next pooled stack
		fibers.push_back(f);
	}
	for (int i = 0; i < 3; ++i) {
		auto *local = static_cast<unsigned char *>(tame_fiber_local(fibers[i]));
		for (size_t b = 0; b < kLocal; ++b)
			ASSERT_EQ(local[b], 0xA0 + i); // areas do not overlap
	}
	for (tame_fiber *f : fibers)
		tame_fiber_destroy(f);
	// A fiber created on a recycled stack still starts zeroed.
	tame_fiber *again = MakeFiber(Noop, nullptr, nullptr, 0, kLocal);
	ASSERT_NE(again, nullptr);
	auto *local = static_cast<unsigned char *>(tame_fiber_local(again));
	for (size_t b = 0; b < kLocal; ++b)
		ASSERT_EQ(local[b], 0) << "byte " << b;
	tame_fiber_destroy(again);
	tame_fiber_destroy(none);
}

void UseMostOfTheStack(void *arg)
{
	size_t bytes = *static_cast<size_t *>(arg);
	volatile char *block = static_cast<volatile char *>(alloca(bytes));
	for (size_t i = 0; i < bytes; i += 512)
		block[i] = static_cast<char>(i);
	tame_fiber_suspend();
	for (size_t i = 0; i < bytes; i += 512)
		EXPECT_EQ(block[i], static_cast<char>(i));
}

TEST(Fiber, WholeRequestedStackIsUsableAndPreservedAcrossSwitches)
{
	// Leave room for the frames of the entry trampoline and EXPECT_EQ.
	size_t use = 40 * 1024;
	tame_fiber *f = MakeFiber(UseMostOfTheStack, &use, "big-frame", 64 * 1024);
	ASSERT_NE(f, nullptr);
	EXPECT_TRUE(tame_fiber_resume(f));
	EXPECT_FALSE(tame_fiber_resume(f));
	tame_fiber_destroy(f);
}

void SuspendForever(void *arg)
{
	++*static_cast<int *>(arg);
	for (;;)
		tame_fiber_suspend();
}

TEST(Fiber, DestroyDiscardsASuspendedFiber)
{
	int started = 0;
	for (int i = 0; i < 300; ++i) { // more than the default pool limit
		tame_fiber *f = MakeFiber(SuspendForever, &started);
		ASSERT_NE(f, nullptr);
		EXPECT_TRUE(tame_fiber_resume(f));
		EXPECT_FALSE(tame_fiber_finished(f));
		tame_fiber_destroy(f);
	}
	EXPECT_EQ(started, 300);
	tame_fiber_pool_trim();
}

void ThrowAndCatch(void *arg)
{
	auto *caught = static_cast<int *>(arg);
	for (int i = 0; i < 3; ++i) {
		try {
			tame_fiber_suspend();
			throw std::runtime_error("inside a fiber");
		} catch (const std::runtime_error &e) {
			if (std::string(e.what()) == "inside a fiber")
				++*caught;
		}
	}
}

TEST(Fiber, CxxExceptionsUnwindWithinTheFiber)
{
	int caught = 0;
	tame_fiber *f = MakeFiber(ThrowAndCatch, &caught);
	ASSERT_NE(f, nullptr);
	while (tame_fiber_resume(f)) {
	}
	EXPECT_EQ(caught, 3);
	tame_fiber_destroy(f);
}

void CountTo(void *arg)
{
	auto *n = static_cast<int *>(arg);
	for (int i = 0; i < 10; ++i) {
		++*n;
		tame_fiber_suspend();
	}
}

TEST(Fiber, ThreadsRunTheirOwnFibersIndependently)
{
	constexpr int kThreads = 4, kFibers = 100;
	std::vector<std::thread> threads;
	std::vector<int> totals(kThreads, 0);
	for (int t = 0; t < kThreads; ++t) {
		threads.emplace_back([t, &totals] {
			std::vector<int> counts(kFibers, 0);
			std::vector<tame_fiber *> fibers;
			for (int i = 0; i < kFibers; ++i)
				fibers.push_back(MakeFiber(CountTo, &counts[i]));
			bool any = true;
			while (any) { // round robin until every fiber finished
				any = false;
				for (tame_fiber *f : fibers)
					if (!tame_fiber_finished(f))
						any |= tame_fiber_resume(f);
			}
			for (int i = 0; i < kFibers; ++i) {
				totals[t] += counts[i];
				tame_fiber_destroy(fibers[i]);
			}
		});
	}
	for (auto &th : threads)
		th.join();
	for (int t = 0; t < kThreads; ++t)
		EXPECT_EQ(totals[t], kFibers * 10);
}

TEST(Fiber, PoolLimitIsPerThreadWithDefault128)
{
	std::thread fresh([] {
		EXPECT_EQ(tame_fiber_pool_set_limit(4), 128u);
		EXPECT_EQ(tame_fiber_pool_set_limit(0), 4u);
		// With no pooling, create/destroy still works.
		for (int i = 0; i < 10; ++i) {
			tame_fiber *f = MakeFiber(Noop, nullptr);
			ASSERT_NE(f, nullptr);
			EXPECT_FALSE(tame_fiber_resume(f));
			tame_fiber_destroy(f);
		}
		EXPECT_EQ(tame_fiber_pool_set_limit(128), 0u);
		tame_fiber_pool_trim();
	});
	fresh.join();
	std::thread other([] { EXPECT_EQ(tame_fiber_pool_set_limit(128), 128u); });
	other.join();
}

TEST(Fiber, BackendIsOneOfTheConfiguredNames)
{
	std::string backend = tame_fiber_backend();
	EXPECT_TRUE(backend == "boost-c" || backend == "boost-cxx-wrapper") << backend;
}

// ---- guard page -----------------------------------------------------------

constexpr char kVictimName[] = "overflow-victim-7";

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion" // the point of the test
// Each frame keeps a live volatile array and uses it after the recursive
// call, so the compiler can neither drop the array nor turn the recursion
// into a loop.
__attribute__((noinline)) int RecurseForever(int depth)
{
	volatile char pad[512];
	for (size_t i = 0; i < sizeof(pad); i += 64)
		pad[i] = static_cast<char>(depth);
	int below = RecurseForever(depth + 1);
	return below + pad[depth % sizeof(pad)];
}
#pragma GCC diagnostic pop

void OverflowBody(void *)
{
	RecurseForever(0);
}

void RunOverflowingFiber()
{
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
	tame_fiber_attr attr{};
	attr.stack_bytes = 64 * 1024;
	attr.name = kVictimName;
	tame_fiber *f = nullptr;
	if (tame_fiber_create(&attr, OverflowBody, nullptr, &f) != 0)
		_exit(0); // not a death: the test fails
	tame_fiber_resume(f);
	_exit(0); // the overflow was not caught
}

TEST(FiberDeathTest, StackOverflowIsReportedWithTheFiberName)
{
	GTEST_FLAG_SET(death_test_style, "threadsafe");
	EXPECT_DEATH(RunOverflowingFiber(), AllOf(HasSubstr(kVictimName), HasSubstr("overflow"),
	                                          HasSubstr("stack_bytes")));
}

} // namespace
