// SPDX-License-Identifier: Apache-2.0
// A real RocksDB on the tamerocks Env: from a plain thread, from inside a
// reactor fiber, with direct I/O, and interchangeably with the default Env.
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <memory>

#include "env_test_util.h"
#include "tame_env.h"

using rocksdb::DB;
using rocksdb::Env;
using rocksdb::Options;
using rocksdb::ReadOptions;
using rocksdb::Status;
using rocksdb::WriteOptions;
using namespace tamerocks_test;

namespace
{

constexpr int kKeys = 20000;

std::string Key(int i)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "key%08d", i);
	return buf;
}
std::string Value(int i)
{
	return "value-" + std::to_string(i * 7) + std::string(100, 'v');
}

std::shared_ptr<Env> TameEnvFromUri(const std::string &uri = "tamerocks://")
{
	std::shared_ptr<Env> guard;
	Env *env = nullptr;
	Status s = Env::CreateFromUri(rocksdb::ConfigOptions(), uri, "", &env, &guard);
	EXPECT_TRUE(s.ok()) << s.ToString();
	return guard;
}

Options DbOptions(Env *env)
{
	Options o;
	o.env = env;
	o.create_if_missing = true;
	o.write_buffer_size = 256 * 1024; // several flushes and compactions
	o.target_file_size_base = 256 * 1024;
	o.max_background_jobs = 4;
	return o;
}

void WriteKeys(DB *db, int from, int to)
{
	for (int i = from; i < to; i++)
		ASSERT_TRUE(db->Put(WriteOptions(), Key(i), Value(i)).ok()) << i;
}

void CheckKeys(DB *db, int n)
{
	std::string v;
	for (int i = 0; i < n; i += 97) {
		ASSERT_TRUE(db->Get(ReadOptions(), Key(i), &v).ok()) << i;
		ASSERT_EQ(Value(i), v);
	}
	EXPECT_TRUE(db->Get(ReadOptions(), "nokey", &v).IsNotFound());
	std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ReadOptions()));
	int count = 0;
	for (it->SeekToFirst(); it->Valid(); it->Next()) {
		ASSERT_EQ(Key(count), it->key().ToString());
		count++;
	}
	ASSERT_TRUE(it->status().ok()) << it->status().ToString();
	EXPECT_EQ(n, count);
	std::vector<std::string> keys;
	for (int i = 0; i < 64; i++)
		keys.push_back(Key(i * 301 % n));
	std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
	std::vector<rocksdb::PinnableSlice> values(keys.size());
	std::vector<Status> statuses(keys.size());
	db->MultiGet(ReadOptions(), db->DefaultColumnFamily(), keys.size(), slices.data(),
	             values.data(), statuses.data());
	for (size_t i = 0; i < keys.size(); i++) {
		ASSERT_TRUE(statuses[i].ok()) << statuses[i].ToString();
		EXPECT_EQ(Value(i * 301 % n), values[i].ToString());
	}
}

// Put, Get, Iterator, MultiGet, Flush, CompactRange, reopen.
void ExerciseDb(const std::string &path, Options options)
{
	DB *raw = nullptr;
	Status s = DB::Open(options, path, &raw);
	ASSERT_TRUE(s.ok()) << s.ToString();
	std::unique_ptr<DB> db(raw);
	WriteKeys(db.get(), 0, kKeys / 2);
	ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
	WriteKeys(db.get(), kKeys / 2, kKeys);
	CheckKeys(db.get(), kKeys);
	ASSERT_TRUE(db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
	CheckKeys(db.get(), kKeys);
	ASSERT_TRUE(db->Close().ok());
	db.reset();
	ASSERT_TRUE(DB::Open(options, path, &raw).ok());
	db.reset(raw);
	CheckKeys(db.get(), kKeys);
	ASSERT_TRUE(db->Close().ok());
}

TEST(TameDb, PutGetIterateFlushCompactAndReopenFromAPlainThread)
{
	TempDir dir;
	auto env = TameEnvFromUri();
	ExerciseDb(dir / "db", DbOptions(env.get()));
}

TEST(TameDb, PutGetIterateFlushCompactAndReopenInsideAReactorFiber)
{
	TempDir dir;
	auto env = TameEnvFromUri();
	FiberRunStats st = RunInFiber([&] { ExerciseDb(dir / "db", DbOptions(env.get())); });
	if (st.io_uring) {
		EXPECT_GT(st.sqes_submitted, 0u);
	}
}

// Both ways a direct read can be aligned: by tamerocks' file (the default)
// and by RocksDB (align_direct_reads:false); off a fiber, and on one with
// the values in blob files.
TEST(TameDb, DirectReadsAndDirectFlushAndCompactionWork)
{
	for (const char *uri : {"tamerocks://", "tamerocks://align_direct_reads:false"}) {
		SCOPED_TRACE(uri);
		TempDir dir;
		auto env = TameEnvFromUri(uri);
		Options o = DbOptions(env.get());
		o.use_direct_reads = true;
		o.use_direct_io_for_flush_and_compaction = true;
		ExerciseDb(dir / "db", o);
		o.enable_blob_files = true;
		o.min_blob_size = 64; // every Value() goes to a blob file
		TempDir dir2;
		RunInFiber([&] { ExerciseDb(dir2 / "db", o); });
		std::vector<std::string> names;
		ASSERT_TRUE(env->GetChildren(dir2 / "db", &names).ok());
		EXPECT_TRUE(std::any_of(names.begin(), names.end(), [](const std::string &n) {
			return n.size() > 5 && n.compare(n.size() - 5, 5, ".blob") == 0;
		})) << "the values were in blob files";
	}
}

TEST(TameDb, ASecondOpenOfTheSameDbInOneProcessFails)
{
	TempDir dir;
	auto env = TameEnvFromUri();
	DB *first = nullptr;
	ASSERT_TRUE(DB::Open(DbOptions(env.get()), dir / "db", &first).ok());
	DB *second = nullptr;
	Status s = DB::Open(DbOptions(env.get()), dir / "db", &second);
	EXPECT_TRUE(s.IsIOError()) << s.ToString();
	EXPECT_EQ(nullptr, second);
	// Also across Envs: the default Env's lock table is separate, the kernel's
	// fcntl lock is per process, so only our own table can refuse here.
	delete first;
}

TEST(TameDb, ADbWrittenByTamerocksOpensWithTheDefaultEnvAndBack)
{
	TempDir dir;
	auto env = TameEnvFromUri();
	{
		DB *raw = nullptr;
		ASSERT_TRUE(DB::Open(DbOptions(env.get()), dir / "db", &raw).ok());
		std::unique_ptr<DB> db(raw);
		WriteKeys(db.get(), 0, kKeys);
		ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
	}
	{
		DB *raw = nullptr;
		Status s = DB::Open(DbOptions(Env::Default()), dir / "db", &raw);
		ASSERT_TRUE(s.ok()) << s.ToString();
		std::unique_ptr<DB> db(raw);
		CheckKeys(db.get(), kKeys);
		WriteKeys(db.get(), kKeys, kKeys + 1000);
		ASSERT_TRUE(
		    db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
	}
	{
		DB *raw = nullptr;
		ASSERT_TRUE(DB::Open(DbOptions(env.get()), dir / "db", &raw).ok());
		std::unique_ptr<DB> db(raw);
		CheckKeys(db.get(), kKeys + 1000);
	}
}

TEST(TameDb, FileSystemUriAloneServesADb)
{
	TempDir dir;
	std::shared_ptr<Env> guard;
	Env *env = nullptr;
	Status s = Env::CreateFromUri(rocksdb::ConfigOptions(), "", "tamerocks://", &env, &guard);
	ASSERT_TRUE(s.ok()) << s.ToString();
	ExerciseDb(dir / "db", DbOptions(env));
}

} // namespace
