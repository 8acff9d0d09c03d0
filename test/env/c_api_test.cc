// SPDX-License-Identifier: Apache-2.0
// tame_rocksdb_create_env: the tamerocks Env through RocksDB's C API.
#include <fstream>
#include <sstream>
#include <string>

#include <rocksdb/c.h>

#include "env_test_util.h"
#include "tame_rocksdb_c.h"

using namespace tamerocks_test;

namespace
{

std::string ReadFile(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

struct CDb {
	rocksdb_options_t *opts = nullptr;
	rocksdb_t *db = nullptr;
};

// Opens dir with env (nullptr: RocksDB's default Env) through the C API.
CDb OpenC(const std::string &dir, rocksdb_env_t *env, bool direct)
{
	CDb c;
	char *err = nullptr;
	c.opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(c.opts, 1);
	if (env)
		rocksdb_options_set_env(c.opts, env);
	rocksdb_options_set_use_direct_reads(c.opts, direct);
	rocksdb_options_set_use_direct_io_for_flush_and_compaction(c.opts, direct);
	c.db = rocksdb_open(c.opts, dir.c_str(), &err);
	EXPECT_EQ(nullptr, err) << err;
	free(err);
	return c;
}

void CloseC(CDb &c)
{
	if (c.db)
		rocksdb_close(c.db);
	rocksdb_options_destroy(c.opts);
	c = CDb();
}

std::string Key(int i)
{
	return "key" + std::to_string(100000 + i);
}

std::string GetC(rocksdb_t *db, const std::string &key)
{
	char *err = nullptr;
	size_t len = 0;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	char *v = rocksdb_get(db, ro, key.data(), key.size(), &len, &err);
	rocksdb_readoptions_destroy(ro);
	EXPECT_EQ(nullptr, err) << err;
	free(err);
	std::string out = v ? std::string(v, len) : "(missing)";
	rocksdb_free(v);
	return out;
}

TEST(TameCApi, AnEnvFromAUriOpensADbThatWritesThroughTheTamerocksFileSystem)
{
	TempDir dir;
	char *err = nullptr;
	rocksdb_env_t *env = tame_rocksdb_create_env("tamerocks://fg_reactors:0", &err);
	ASSERT_NE(nullptr, env) << err;
	CDb c = OpenC(dir.path(), env, /*direct=*/false);
	ASSERT_NE(nullptr, c.db);
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(wo, 1);
	for (int i = 0; i < 1000; i++) {
		std::string k = Key(i), v = "v" + std::to_string(i);
		rocksdb_put(c.db, wo, k.data(), k.size(), v.data(), v.size(), &err);
		ASSERT_EQ(nullptr, err) << err;
	}
	rocksdb_writeoptions_destroy(wo);
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	rocksdb_flush(c.db, fo, &err); // a HIGH job on the Env's background reactors
	rocksdb_flushoptions_destroy(fo);
	ASSERT_EQ(nullptr, err) << err;
	EXPECT_EQ("v7", GetC(c.db, Key(7)));
	CloseC(c);
	rocksdb_env_destroy(env); // joins the Env's reactors

	// RocksDB's LOG names the FileSystem the DB used.
	EXPECT_NE(std::string::npos, ReadFile(dir / "LOG").find("TameFileSystem"))
	    << "the DB did not use tamerocks' FileSystem";
	// And the default Env reads what tamerocks wrote.
	CDb d = OpenC(dir.path(), nullptr, false);
	ASSERT_NE(nullptr, d.db);
	EXPECT_EQ("v999", GetC(d.db, Key(999)));
	CloseC(d);
}

TEST(TameCApi, ABadUriIsRefusedWithTheKeyNamedAndTheOldErrorFreed)
{
	char *err = strdup("an earlier error, freed by the call");
	EXPECT_EQ(nullptr, tame_rocksdb_create_env("tamerocks://bogus:1", &err));
	ASSERT_NE(nullptr, err);
	EXPECT_NE(nullptr, strstr(err, "bogus")) << err;
	free(err);
	err = nullptr;
	EXPECT_EQ(nullptr, tame_rocksdb_create_env("tamerocks://ring_entries:100", &err));
	ASSERT_NE(nullptr, err);
	EXPECT_NE(nullptr, strstr(err, "ring_entries")) << err;
	free(err);
}

TEST(TameCApi, AUriOfAnotherSchemeIsRefused)
{
	for (const char *uri : {"posix://", "", "tamerocks:/", "TAMEROCKS://"}) {
		char *err = nullptr;
		EXPECT_EQ(nullptr, tame_rocksdb_create_env(uri, &err)) << uri;
		ASSERT_NE(nullptr, err) << uri;
		EXPECT_NE(nullptr, strstr(err, "tamerocks://")) << err;
		free(err);
	}
	char *err = nullptr;
	EXPECT_EQ(nullptr, tame_rocksdb_create_env(nullptr, &err));
	free(err);
	EXPECT_EQ(nullptr, tame_rocksdb_create_env("bogus", nullptr)); // no errptr: still no crash
}

TEST(TameCApi, BackgroundThreadCallsReachTheEnv)
{
	char *err = nullptr;
	rocksdb_env_t *env = tame_rocksdb_create_env("tamerocks://", &err);
	ASSERT_NE(nullptr, env) << err;
	rocksdb_env_set_background_threads(env, 3);
	EXPECT_EQ(3, rocksdb_env_get_background_threads(env));
	rocksdb_env_set_high_priority_background_threads(env, 2);
	rocksdb_env_destroy(env);
}

// The point of the Env for a reactor application: with it, a Get on a
// reactor fiber reads through that reactor's ring (the fiber parks while the
// read is in flight) instead of blocking the thread in pread.
TEST(TameCApi, GetsOnAReactorFiberReadThroughTheReactorsRing)
{
	TempDir dir;
	char *err = nullptr;
	rocksdb_env_t *env = tame_rocksdb_create_env("tamerocks://fg_reactors:0", &err);
	ASSERT_NE(nullptr, env) << err;
	CDb c = OpenC(dir.path(), env, /*direct=*/true);
	ASSERT_NE(nullptr, c.db);
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	std::string big(4000, 'x');
	for (int i = 0; i < 200; i++) {
		std::string k = Key(i);
		rocksdb_put(c.db, wo, k.data(), k.size(), big.data(), big.size(), &err);
		ASSERT_EQ(nullptr, err) << err;
	}
	rocksdb_writeoptions_destroy(wo);
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	rocksdb_flush(c.db, fo, &err);
	rocksdb_flushoptions_destroy(fo);
	ASSERT_EQ(nullptr, err) << err;

	int found = 0;
	FiberRunStats st = RunInFiber([&] {
		for (int i = 0; i < 200; i += 10)
			found += GetC(c.db, Key(i)) == big;
	});
	EXPECT_EQ(20, found);
	if (st.io_uring) {
		EXPECT_GT(st.sqes_submitted, 0u) << "the Gets never reached the fiber's ring";
	}
	CloseC(c);
	rocksdb_env_destroy(env);
}

} // namespace
