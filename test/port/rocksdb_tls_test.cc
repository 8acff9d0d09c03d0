// SPDX-License-Identifier: Apache-2.0
// RocksDB's thread_locals made fiber-local (port/rocksdb_tls.c), tested
// against Debian's librocksdb: the four exported TLS variables are found,
// registered once, start every fiber from their TLS image value, and keep
// each fiber's value across yields to other fibers of the same thread.
//
// The fiber-local slot registry is process-global and append-only: tests
// about the first registration run in a child process (EXPECT_EXIT,
// "threadsafe" style, which re-executes this program for that test alone).
// Linked with port/'s objects, the program registers at load time (port/'s
// constructor), so those children start with the slots registered; each
// child checks what holds either way.
#include <unistd.h>

#include <rocksdb/comparator.h>
#include <rocksdb/db.h>
#include <rocksdb/iostats_context.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "tame_call.h"
#include "tame_fiber.h"
#include "tame_port.h"
#include "tame_reactor.h"
#include "test_util.h"

namespace
{

using rocksdb::PerfLevel;
using tame_test::DefaultOpts;
using tame_test::MakeReactor;
using tame_test::ReactorPtr;
using tame_test::SpawnFn;

constexpr int kRocksdbTlsVars = 4;

// Slots registered before the first test ran: 0, or 4 when port/'s
// constructor registered them at load time.
int slots_at_start = -1;

class RecordStartState : public testing::Environment
{
	void SetUp() override
	{
		slots_at_start = tame_port_rocksdb_tls_slots();
	}
};
testing::Environment *const start_state = testing::AddGlobalTestEnvironment(new RecordStartState);

void RegisterOrFail()
{
	ASSERT_EQ(tame_port_register_rocksdb_tls(), kRocksdbTlsVars);
}

// A reactor that falls back to plain system calls where io_uring is denied:
// these tests are about fiber switches, not I/O.
tame_test::ReactorPtr MakeReactor()
{
	tame_reactor_opts opts = tame_test::DefaultOpts();
	opts.flags |= TAME_REACTOR_SYNC_FALLBACK;
	return tame_test::MakeReactor(opts);
}

// Runs each function on its own fiber of one reactor on this thread until
// all have returned.
void RunFibers(std::vector<tame_test::Fn> fns)
{
	tame_test::ReactorPtr r = MakeReactor();
	ASSERT_TRUE(r);
	for (auto &fn : fns)
		ASSERT_EQ(SpawnFn(r.get(), std::move(fn)), 0);
	ASSERT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
}

// How often the trace switches from one fiber to the other: proof that the
// fibers really interleaved rather than ran one after the other.
int Alternations(const std::vector<int> &trace)
{
	int n = 0;
	for (size_t i = 1; i < trace.size(); ++i)
		n += trace[i] != trace[i - 1];
	return n;
}

TEST(RocksdbTls, RegistrationFindsAllFourRocksdbThreadLocals)
{
	bool first = tame_port_rocksdb_tls_slots() == 0;
	int fls_before = tame_fls_count();
	EXPECT_EQ(tame_port_register_rocksdb_tls(), kRocksdbTlsVars);
	EXPECT_EQ(tame_port_rocksdb_tls_slots(), kRocksdbTlsVars);
	EXPECT_EQ(tame_fls_count() - fls_before, first ? kRocksdbTlsVars : 0);
}

// tame_call's pools run RocksDB calls on fibers: port/ lets them be made
// once RocksDB's thread-locals are fiber-local (found exported, or in the
// program's symbol table for the static variant of this program).
TEST(RocksdbTls, CallPoolsAreAllowedOnceTheThreadLocalsAreFiberLocal)
{
	EXPECT_EQ(0, tame_port_check_rocksdb_tls());
	EXPECT_EQ(tame_port_rocksdb_tls_slots(), kRocksdbTlsVars);
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	tame_call_pool *p = nullptr;
	ASSERT_EQ(0, tame_call_pool_create(r.get(), nullptr, &p));
	EXPECT_EQ(0, tame_call_pool_destroy(p));
}

TEST(RocksdbTls, SecondRegistrationReturnsFourWithoutNewSlots)
{
	RegisterOrFail();
	int fls_after_first = tame_fls_count();
	EXPECT_EQ(tame_port_register_rocksdb_tls(), kRocksdbTlsVars);
	EXPECT_EQ(tame_fls_count(), fls_after_first);
	EXPECT_EQ(tame_port_rocksdb_tls_slots(), kRocksdbTlsVars);
}

// Child process: eight threads race to register (the first registration
// unless port/'s constructor made it already).
void RaceRegistrations()
{
	constexpr int kThreads = 8;
	int fls_before = tame_fls_count();
	bool first = tame_port_rocksdb_tls_slots() == 0;
	std::atomic<bool> go{false};
	std::vector<int> rc(kThreads, -1);
	std::vector<std::thread> threads;
	for (int i = 0; i < kThreads; ++i)
		threads.emplace_back([&, i] {
			while (!go.load(std::memory_order_acquire))
				tame_test::CpuRelax();
			rc[i] = tame_port_register_rocksdb_tls();
		});
	go.store(true, std::memory_order_release);
	for (auto &t : threads)
		t.join();
	for (int v : rc)
		if (v != kRocksdbTlsVars)
			_exit(11);
	if (tame_fls_count() != fls_before + (first ? kRocksdbTlsVars : 0))
		_exit(12);
	_exit(0);
}

TEST(RocksdbTlsDeathTest, ConcurrentRegistrationsRegisterEachVariableOnce)
{
	GTEST_FLAG_SET(death_test_style, "threadsafe");
	EXPECT_EXIT(RaceRegistrations(), testing::ExitedWithCode(0), "");
}

thread_local uint64_t tls_filler[TAME_FLS_MAX_SLOTS];
void *ResolveFiller(void *ctx)
{
	return &tls_filler[reinterpret_cast<uintptr_t>(ctx)];
}

// Child process: one free slot left. ThreadLocalPtr's tls_ (the essential
// one) takes it; perf_level is refused; a retry registers nothing twice.
void RegisterWithOneSlotLeft()
{
	if (tame_fls_count() != 0)
		_exit(20);
	for (uintptr_t i = 0; i < TAME_FLS_MAX_SLOTS - 1; ++i)
		if (tame_fls_register(ResolveFiller, reinterpret_cast<void *>(i), 8, nullptr) < 0)
			_exit(21);
	if (tame_port_register_rocksdb_tls() != -ENOSPC)
		_exit(22);
	if (tame_port_rocksdb_tls_slots() != 1 || tame_fls_count() != TAME_FLS_MAX_SLOTS)
		_exit(23);
	if (tame_port_register_rocksdb_tls() != -ENOSPC)
		_exit(24);
	if (tame_port_rocksdb_tls_slots() != 1 || tame_fls_count() != TAME_FLS_MAX_SLOTS)
		_exit(25);
	_exit(0);
}

TEST(RocksdbTlsDeathTest, FullRegistryIsReportedAsENOSPCAfterRegisteringWhatFits)
{
	if (slots_at_start != 0)
		GTEST_SKIP() << "registered at load time (port/'s constructor): no "
		                "registration is left to refuse";
	GTEST_FLAG_SET(death_test_style, "threadsafe");
	EXPECT_EXIT(RegisterWithOneSlotLeft(), testing::ExitedWithCode(0), "");
}

// Child process: the thread turns its perf level down before registering
// (unless port/'s constructor registered already) and before creating the
// fiber; the fiber still starts with the TLS image's kEnableCount, not the
// thread's kDisable.
void FiberStartsFromImageAfterThreadChangedLevel()
{
	rocksdb::SetPerfLevel(PerfLevel::kDisable);
	if (tame_port_register_rocksdb_tls() != kRocksdbTlsVars)
		_exit(30);
	PerfLevel seen = PerfLevel::kUninitialized;
	RunFibers({[&] { seen = rocksdb::GetPerfLevel(); }});
	if (seen != PerfLevel::kEnableCount)
		_exit(31);
	if (rocksdb::GetPerfLevel() != PerfLevel::kDisable)
		_exit(32);
	_exit(0);
}

TEST(RocksdbTlsDeathTest, NewFiberStartsWithTlsImagePerfLevelNotRegisteringThreads)
{
	GTEST_FLAG_SET(death_test_style, "threadsafe");
	EXPECT_EXIT(FiberStartsFromImageAfterThreadChangedLevel(), testing::ExitedWithCode(0), "");
}

constexpr int kRounds = 6;

TEST(RocksdbTls, PerfLevelAndPerfContextArePerFiber)
{
	RegisterOrFail();
	rocksdb::SetPerfLevel(PerfLevel::kEnableTimeExceptForMutex);
	rocksdb::get_perf_context()->Reset();
	rocksdb::get_perf_context()->user_key_comparison_count = 777;

	const PerfLevel levels[2] = {PerfLevel::kEnableTime, PerfLevel::kDisable};
	PerfLevel initial_level[2] = {};
	uint64_t initial_count[2] = {1, 1};
	int wrong[2] = {0, 0};
	std::vector<int> trace;
	std::vector<tame_test::Fn> fibers;
	for (int id = 0; id < 2; ++id)
		fibers.push_back([&, id] {
			initial_level[id] = rocksdb::GetPerfLevel();
			initial_count[id] = rocksdb::get_perf_context()->user_key_comparison_count;
			rocksdb::SetPerfLevel(levels[id]);
			rocksdb::get_perf_context()->Reset();
			uint64_t mine = 1000 * (id + 1);
			for (int k = 0; k < kRounds; ++k) {
				rocksdb::get_perf_context()->user_key_comparison_count = mine + k;
				trace.push_back(id);
				tame_yield();
				wrong[id] += rocksdb::GetPerfLevel() != levels[id];
				wrong[id] +=
				    rocksdb::get_perf_context()->user_key_comparison_count !=
				    mine + k;
			}
		});
	RunFibers(std::move(fibers));

	for (int id = 0; id < 2; ++id) {
		EXPECT_EQ(initial_level[id], PerfLevel::kEnableCount) << "fiber " << id;
		EXPECT_EQ(initial_count[id], 0u) << "fiber " << id;
		EXPECT_EQ(wrong[id], 0) << "fiber " << id;
	}
	EXPECT_GE(Alternations(trace), kRounds);
	EXPECT_EQ(rocksdb::GetPerfLevel(), PerfLevel::kEnableTimeExceptForMutex);
	EXPECT_EQ(rocksdb::get_perf_context()->user_key_comparison_count, 777u);
	rocksdb::SetPerfLevel(PerfLevel::kEnableCount);
	rocksdb::get_perf_context()->Reset();
}

TEST(RocksdbTls, IostatsContextIsPerFiber)
{
	RegisterOrFail();
	rocksdb::get_iostats_context()->Reset();
	rocksdb::get_iostats_context()->bytes_read = 4242;

	uint64_t initial_read[2] = {1, 1};
	int wrong[2] = {0, 0};
	std::vector<int> trace;
	std::vector<tame_test::Fn> fibers;
	for (int id = 0; id < 2; ++id)
		fibers.push_back([&, id] {
			rocksdb::IOStatsContext *io = rocksdb::get_iostats_context();
			initial_read[id] = io->bytes_read;
			io->Reset();
			for (int k = 0; k < kRounds; ++k) {
				io->bytes_read = 100 * (id + 1) + k;
				io->bytes_written = 200 * (id + 1) + k;
				trace.push_back(id);
				tame_yield();
				wrong[id] += io->bytes_read != uint64_t(100 * (id + 1) + k);
				wrong[id] += io->bytes_written != uint64_t(200 * (id + 1) + k);
			}
		});
	RunFibers(std::move(fibers));

	for (int id = 0; id < 2; ++id) {
		EXPECT_EQ(initial_read[id], 0u) << "fiber " << id;
		EXPECT_EQ(wrong[id], 0) << "fiber " << id;
	}
	EXPECT_GE(Alternations(trace), kRounds);
	EXPECT_EQ(rocksdb::get_iostats_context()->bytes_read, 4242u);
	rocksdb::get_iostats_context()->Reset();
}

// Bytewise order, but a comparison made on a fiber first yields to the other
// fibers: a Get is then suspended halfway, with its SuperVersion marked in
// use in ThreadLocalPtr's slot, while another Get runs on the same thread.
// Counts the comparisons each fiber made.
class YieldingComparator : public rocksdb::Comparator
{
      public:
	const char *Name() const override
	{
		return "tamerocks.test.YieldingBytewise";
	}
	int Compare(const rocksdb::Slice &a, const rocksdb::Slice &b) const override
	{
		// Only the reactor thread's fibers get here; flushes run on
		// RocksDB's own threads, off any fiber.
		if (tame_fiber_reactor()) {
			++calls_[tame_fiber_self()];
			tame_yield();
		}
		return rocksdb::BytewiseComparator()->Compare(a, b);
	}
	void FindShortestSeparator(std::string *start, const rocksdb::Slice &limit) const override
	{
		rocksdb::BytewiseComparator()->FindShortestSeparator(start, limit);
	}
	void FindShortSuccessor(std::string *key) const override
	{
		rocksdb::BytewiseComparator()->FindShortSuccessor(key);
	}
	uint64_t CallsOn(tame_fiber *f) const
	{
		auto it = calls_.find(f);
		return it == calls_.end() ? 0 : it->second;
	}

      private:
	mutable std::unordered_map<tame_fiber *, uint64_t> calls_;
};

std::string Key(int i)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "key%06d", i);
	return buf;
}

std::string Value(int i, int version)
{
	return "v" + std::to_string(version) + "-" + std::to_string(i);
}

constexpr int kKeys = 300;

// Keys 0..kKeys-1 flushed to an SST at version 1; every fifth one
// overwritten in the memtable at version 2.
std::unique_ptr<rocksdb::DB> OpenFilledDb(const std::string &dir, const rocksdb::Comparator *cmp)
{
	rocksdb::Options options;
	options.create_if_missing = true;
	options.comparator = cmp;
	rocksdb::DB *raw = nullptr;
	rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
	EXPECT_TRUE(s.ok()) << s.ToString();
	std::unique_ptr<rocksdb::DB> db(raw);
	if (!db)
		return db;
	for (int i = 0; i < kKeys; ++i)
		EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), Key(i), Value(i, 1)).ok());
	EXPECT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
	for (int i = 0; i < kKeys; i += 5)
		EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), Key(i), Value(i, 2)).ok());
	return db;
}

// Without a fiber-local ThreadLocalPtr::StaticMeta::tls_, the second fiber's
// Get finds the first one's kSVInUse in the thread's slot: Debian's build
// aborts on the assert, an NDEBUG build unrefs a static dummy.
TEST(RocksdbTls, GetsInterleavedOnOneThreadKeepTheirOwnSuperVersion)
{
	RegisterOrFail();
	tame_test::TempDir dir;
	YieldingComparator cmp;
	std::unique_ptr<rocksdb::DB> db = OpenFilledDb(dir.path(), &cmp);
	ASSERT_TRUE(db);

	rocksdb::get_perf_context()->Reset();
	rocksdb::get_perf_context()->user_key_comparison_count = 555;
	constexpr int kGetsPerFiber = 60;
	int in_get = 0, max_in_get = 0;
	int wrong_value[2] = {0, 0};
	uint64_t perf_compares[2] = {0, 0}, cmp_calls[2] = {0, 0};
	std::vector<tame_test::Fn> fibers;
	for (int id = 0; id < 2; ++id)
		fibers.push_back([&, id] {
			rocksdb::get_perf_context()->Reset();
			for (int n = 0; n < kGetsPerFiber; ++n) {
				int i = (n * 7 + id * 131) % kKeys;
				std::string value;
				++in_get;
				max_in_get = std::max(max_in_get, in_get);
				rocksdb::Status s = db->Get(rocksdb::ReadOptions(), Key(i), &value);
				--in_get;
				wrong_value[id] += !s.ok() || value != Value(i, i % 5 == 0 ? 2 : 1);
			}
			perf_compares[id] = rocksdb::get_perf_context()->user_key_comparison_count;
			cmp_calls[id] = cmp.CallsOn(tame_fiber_self());
		});
	RunFibers(std::move(fibers));

	EXPECT_EQ(max_in_get, 2) << "the Gets did not overlap";
	for (int id = 0; id < 2; ++id) {
		EXPECT_EQ(wrong_value[id], 0) << "fiber " << id;
		EXPECT_GT(cmp_calls[id], 0u) << "fiber " << id;
		// Each fiber's perf_context counted its own comparisons only
		// (RocksDB counts most, not all, of them): a counter shared by
		// the thread would exceed the fiber's own comparisons.
		EXPECT_GT(perf_compares[id], 0u) << "fiber " << id;
		EXPECT_LE(perf_compares[id], cmp_calls[id]) << "fiber " << id;
	}
	EXPECT_EQ(rocksdb::get_perf_context()->user_key_comparison_count, 555u);
	rocksdb::get_perf_context()->Reset();
	EXPECT_TRUE(db->Close().ok());
}

} // namespace
