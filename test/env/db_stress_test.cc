// SPDX-License-Identifier: Apache-2.0
// Many RocksDB callers sharing one OS thread: 256 fibers of one reactor, then
// 2 reactors plus 4 plain threads, all on one DB opened with tamerocks://,
// against Debian's librocksdb (built with asserts: two fibers of one thread
// sharing RocksDB's per-thread SuperVersion cache abort on
// `assert(ptr != SuperVersion::kSVInUse)`).
//
// Every caller owns a disjoint key range and keeps an in-memory model of
// it, so each Get, MultiGet and scan of its range has one right answer.
// Reads go to disk (direct I/O, a tiny block cache, small memtables), so a
// fiber parks with its read in flight while others run. A background fiber
// keeps calling Flush and CompactRange, which run as fibers of the Env's
// background reactors.
//
// TAME_STRESS_OPS sets the operations per run (default 1,000,000 in
// total); the ASan CI build runs fewer (see CMakeLists).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "env_test_util.h"
#include "tame_port.h"
#include "tame_reactor.h"

using rocksdb::DB;
using rocksdb::Env;
using rocksdb::Slice;
using rocksdb::Status;

namespace
{

uint64_t OpsFromEnv()
{
	const char *s = getenv("TAME_STRESS_OPS");
	return s ? strtoull(s, nullptr, 10) : 1000000;
}

std::string Key(unsigned owner, unsigned i)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "o%04u/k%06u", owner, i);
	return buf;
}

std::string Value(unsigned owner, unsigned i, uint64_t version)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "v%u.%u.%" PRIu64 ".", owner, i, version);
	std::string v(buf);
	v.resize(100 + (i % 7) * 40, 'x'); // a few sizes, blocks span entries
	return v;
}

struct Shared {
	DB *db = nullptr;
	std::atomic<uint64_t> ops{0};
	std::atomic<uint64_t> failures{0};
	std::atomic<bool> stop_background{false};
	std::mutex first_failure_mu;
	std::string first_failure;

	void Fail(const std::string &what)
	{
		if (failures.fetch_add(1) == 0) {
			std::lock_guard<std::mutex> lk(first_failure_mu);
			first_failure = what;
		}
	}
};

// One caller: its key range, its model, its share of the operations.
class Worker
{
      public:
	static constexpr unsigned kKeys = 200;

	Worker(Shared *sh, unsigned owner, uint64_t ops)
	    : sh_(sh), owner_(owner), ops_(ops), rng_(owner * 7919u + 1)
	{
	}

	void Run()
	{
		for (uint64_t n = 0; n < ops_ && sh_->failures == 0; n++) {
			unsigned pick = rng_() % 100;
			if (pick < 35)
				Get();
			else if (pick < 50)
				MultiGet();
			else if (pick < 72)
				Put();
			else if (pick < 82)
				Batch();
			else if (pick < 88)
				Delete();
			else
				Scan();
			sh_->ops.fetch_add(1, std::memory_order_relaxed);
		}
	}

      private:
	unsigned AnyKey()
	{
		return rng_() % kKeys;
	}
	void Check(const Status &s, const char *op)
	{
		if (!s.ok() && !s.IsNotFound())
			sh_->Fail(std::string(op) + ": " + s.ToString());
	}
	void Expect(unsigned i, const Status &s, const std::string &got, const char *op)
	{
		auto it = model_.find(i);
		if (it == model_.end()) {
			if (!s.IsNotFound())
				sh_->Fail(std::string(op) + " " + Key(owner_, i) +
				          ": expected NotFound, got " + s.ToString());
		} else if (!s.ok() || got != it->second) {
			sh_->Fail(std::string(op) + " " + Key(owner_, i) + ": expected " +
			          it->second.substr(0, 24) + ", got " + s.ToString() + " " +
			          got.substr(0, 24));
		}
	}
	void Get()
	{
		unsigned i = AnyKey();
		std::string v;
		Status s = sh_->db->Get(rocksdb::ReadOptions(), Key(owner_, i), &v);
		Expect(i, s, v, "Get");
	}
	void MultiGet()
	{
		constexpr unsigned kBatch = 8;
		std::vector<std::string> keys;
		std::vector<unsigned> idx;
		for (unsigned k = 0; k < kBatch; k++) {
			idx.push_back(AnyKey());
			keys.push_back(Key(owner_, idx.back()));
		}
		std::vector<Slice> slices(keys.begin(), keys.end());
		std::vector<rocksdb::PinnableSlice> values(kBatch);
		std::vector<Status> st(kBatch);
		sh_->db->MultiGet(rocksdb::ReadOptions(), sh_->db->DefaultColumnFamily(), kBatch,
		                  slices.data(), values.data(), st.data());
		for (unsigned k = 0; k < kBatch; k++)
			Expect(idx[k], st[k], values[k].ToString(), "MultiGet");
	}
	void Put()
	{
		unsigned i = AnyKey();
		rocksdb::WriteOptions wo;
		wo.sync = rng_() % 50 == 0; // 2% reach the disk before returning
		std::string v = Value(owner_, i, ++version_);
		Status s = sh_->db->Put(wo, Key(owner_, i), v);
		Check(s, wo.sync ? "Put(sync)" : "Put");
		if (s.ok())
			model_[i] = v;
	}
	void Batch()
	{
		rocksdb::WriteBatch b;
		std::map<unsigned, std::string> puts;
		std::vector<unsigned> dels;
		for (unsigned k = 0; k < 4; k++) {
			unsigned i = AnyKey();
			if (rng_() % 4 == 0) {
				b.Delete(Key(owner_, i));
				puts.erase(i);
				dels.push_back(i);
			} else {
				std::string v = Value(owner_, i, ++version_);
				b.Put(Key(owner_, i), v);
				puts[i] = v;
				dels.erase(std::remove(dels.begin(), dels.end(), i), dels.end());
			}
		}
		Status s = sh_->db->Write(rocksdb::WriteOptions(), &b);
		Check(s, "Write(batch)");
		if (!s.ok())
			return;
		for (unsigned i : dels)
			model_.erase(i);
		for (auto &kv : puts)
			model_[kv.first] = kv.second;
	}
	void Delete()
	{
		unsigned i = AnyKey();
		Status s = sh_->db->Delete(rocksdb::WriteOptions(), Key(owner_, i));
		Check(s, "Delete");
		if (s.ok())
			model_.erase(i);
	}
	void Scan()
	{
		unsigned from = AnyKey();
		std::unique_ptr<rocksdb::Iterator> it(sh_->db->NewIterator(rocksdb::ReadOptions()));
		auto m = model_.lower_bound(from);
		it->Seek(Key(owner_, from));
		std::string prefix = Key(owner_, 0).substr(0, 6);
		for (unsigned n = 0; n < 20; n++, it->Next(), ++m) {
			bool in_range = it->Valid() && it->key().starts_with(prefix);
			if (m == model_.end()) {
				if (in_range)
					sh_->Fail("Scan: extra key " + it->key().ToString());
				break;
			}
			if (!in_range || it->key().ToString() != Key(owner_, m->first) ||
			    it->value().ToString() != m->second) {
				sh_->Fail("Scan: at " + Key(owner_, m->first) + " got " +
				          (it->Valid() ? it->key().ToString() : "end"));
				break;
			}
		}
		Check(it->status(), "Scan");
	}

	Shared *sh_;
	unsigned owner_;
	uint64_t ops_;
	std::mt19937 rng_;
	uint64_t version_ = 0;
	std::map<unsigned, std::string> model_;
};

// Flush and CompactRange until told to stop; both wait (park, on a fiber)
// for jobs running on the Env's background reactors.
void Background(Shared *sh)
{
	for (unsigned n = 0; !sh->stop_background; n++) {
		Status s = n % 4 == 3 ? sh->db->CompactRange(rocksdb::CompactRangeOptions(), nullptr,
		                                             nullptr)
		                      : sh->db->Flush(rocksdb::FlushOptions());
		if (!s.ok())
			sh->Fail("background: " + s.ToString());
		tame_sleep_ns(20 * 1000 * 1000);
	}
}

rocksdb::Options StressOptions(Env *env)
{
	rocksdb::Options o;
	o.env = env;
	o.create_if_missing = true;
	o.use_direct_reads = true;
	o.use_direct_io_for_flush_and_compaction = true;
	o.write_buffer_size = 512 * 1024;
	o.max_write_buffer_number = 4;
	o.target_file_size_base = 1024 * 1024;
	o.level0_file_num_compaction_trigger = 4;
	o.max_background_jobs = 4;
	rocksdb::BlockBasedTableOptions t;
	t.block_cache = rocksdb::NewLRUCache(256 * 1024);
	t.block_size = 4096;
	o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
	return o;
}

struct Fixture {
	tamerocks_test::TempDir dir;
	std::shared_ptr<Env> guard;
	Env *env = nullptr;
	Shared sh;

	void Open()
	{
		ASSERT_TRUE(tame_port_interposed()) << "test binary must link tamerocks_port";
		ASSERT_GT(tame_port_rocksdb_tls_slots(), 0);
		Status s = Env::CreateFromUri(rocksdb::ConfigOptions(), "", "tamerocks://", &env,
		                              &guard);
		ASSERT_TRUE(s.ok()) << s.ToString();
		s = DB::Open(StressOptions(env), dir.path(), &sh.db);
		ASSERT_TRUE(s.ok()) << s.ToString();
	}
	void Close()
	{
		delete sh.db;
		sh.db = nullptr;
	}
};

struct ReactorThread {
	tame_reactor *r = nullptr;
	std::vector<std::unique_ptr<Worker>> workers;
	std::thread thread;
};

tame_reactor *NewReactor(const char *name)
{
	tame_reactor_opts o;
	tame_reactor_opts_init(&o);
	o.name = name;
	o.flags = TAME_REACTOR_SYNC_FALLBACK;
	o.inbox_capacity = 1024;
	tame_reactor *r = nullptr;
	EXPECT_EQ(0, tame_reactor_create(&o, &r));
	return r;
}

void SpawnWorkers(ReactorThread *rt, Shared *sh, unsigned first_owner, unsigned n, uint64_t ops)
{
	for (unsigned k = 0; k < n; k++) {
		rt->workers.emplace_back(new Worker(sh, first_owner + k, ops));
		int rc = tame_spawn(
		    rt->r, [](void *p) { static_cast<Worker *>(p)->Run(); }, rt->workers.back().get());
		ASSERT_EQ(0, rc);
	}
}

void ExpectClean(Shared *sh, uint64_t want_ops)
{
	EXPECT_EQ(0u, sh->failures.load()) << sh->first_failure;
	EXPECT_EQ(want_ops, sh->ops.load());
}

} // namespace

TEST(TameDbStress, TwoHundredFiftySixFibersOfOneReactorThreadMatchAModel)
{
	constexpr unsigned kFibers = 256;
	Fixture fx;
	fx.Open();
	ASSERT_NE(nullptr, fx.sh.db);
	uint64_t per = OpsFromEnv() / kFibers + 1;

	ReactorThread rt;
	rt.r = NewReactor("stress");
	ASSERT_NE(nullptr, rt.r);
	SpawnWorkers(&rt, &fx.sh, 0, kFibers, per);
	ASSERT_EQ(0, tame_spawn(rt.r, [](void *p) { Background(static_cast<Shared *>(p)); }, &fx.sh));
	// The background fiber stops once every worker is done.
	struct Stopper {
		Shared *sh;
		uint64_t want;
	} stop{&fx.sh, per * kFibers};
	ASSERT_EQ(0, tame_spawn(
	                 rt.r,
	                 [](void *p) {
		                 auto *s = static_cast<Stopper *>(p);
		                 while (s->sh->ops < s->want && s->sh->failures == 0)
			                 tame_sleep_ns(5 * 1000 * 1000);
		                 s->sh->stop_background = true;
	                 },
	                 &stop));
	ASSERT_EQ(0, tame_reactor_run(rt.r, TAME_RUN_UNTIL_EMPTY));
	tame_reactor_stats st;
	tame_reactor_get_stats(rt.r, &st);
	tame_reactor_destroy(rt.r);
	ExpectClean(&fx.sh, per * kFibers);
	// Reads really parked with I/O in flight on the shared thread.
	EXPECT_GT(st.parks, per * kFibers / 10);
	EXPECT_GT(st.cqes_reaped + st.parks, 0u);
	fx.Close();
}

TEST(TameDbStress, TwoReactorsAndFourPlainThreadsShareOneDbAndMatchAModel)
{
	constexpr unsigned kReactors = 2, kFibersPerReactor = 64, kThreads = 4;
	Fixture fx;
	fx.Open();
	ASSERT_NE(nullptr, fx.sh.db);
	uint64_t total = OpsFromEnv();
	uint64_t per = total / (kReactors * kFibersPerReactor + kThreads) + 1;
	uint64_t want = per * (kReactors * kFibersPerReactor + kThreads);

	ReactorThread rts[kReactors];
	for (unsigned k = 0; k < kReactors; k++) {
		ReactorThread *rt = &rts[k];
		rt->thread = std::thread([rt, &fx, k, per] {
			rt->r = NewReactor(k ? "stress1" : "stress0");
			if (!rt->r)
				return;
			SpawnWorkers(rt, &fx.sh, k * kFibersPerReactor, kFibersPerReactor, per);
			if (k == 0)
				tame_spawn(
				    rt->r, [](void *p) { Background(static_cast<Shared *>(p)); }, &fx.sh);
			tame_reactor_run(rt->r, TAME_RUN_UNTIL_EMPTY);
			tame_reactor_destroy(rt->r); // on its owner thread
		});
	}
	std::vector<std::unique_ptr<Worker>> plain;
	std::vector<std::thread> threads;
	for (unsigned t = 0; t < kThreads; t++) {
		plain.emplace_back(new Worker(&fx.sh, kReactors * kFibersPerReactor + t, per));
		threads.emplace_back([w = plain.back().get()] { w->Run(); });
	}
	for (std::thread &t : threads)
		t.join();
	while (fx.sh.ops < want && fx.sh.failures == 0)
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	fx.sh.stop_background = true;
	for (ReactorThread &rt : rts)
		rt.thread.join();
	ExpectClean(&fx.sh, want);
	fx.Close();
}
