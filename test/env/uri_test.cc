// SPDX-License-Identifier: Apache-2.0
// tamerocks:// URIs: found through RocksDB's registry, options parsed, bad
// ones rejected with InvalidArgument naming the key.
#include <unistd.h>
#include <gtest/gtest.h>

#include <rocksdb/convenience.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "env_test_util.h"
#include "tame_env.h"
#include "tame_fs.h"
#include "tame_reactor.h"
#include "tame_uri.h"

using rocksdb::ConfigOptions;
using rocksdb::Env;
using rocksdb::Status;

namespace
{

Status CreateEnv(const std::string &uri, std::shared_ptr<Env> *guard, Env **env)
{
	*env = nullptr;
	return Env::CreateFromUri(ConfigOptions(), uri, "", env, guard);
}

TEST(TameUri, PlainSchemeGivesTheTamerocksEnvAndFileSystem)
{
	std::shared_ptr<Env> guard;
	Env *env = nullptr;
	Status s = CreateEnv("tamerocks://", &guard, &env);
	ASSERT_TRUE(s.ok()) << s.ToString();
	ASSERT_NE(nullptr, dynamic_cast<tamerocks::TameEnv *>(env));
	EXPECT_STREQ("TameFileSystem", env->GetFileSystem()->Name());

	std::shared_ptr<rocksdb::FileSystem> fs;
	s = rocksdb::FileSystem::CreateFromString(ConfigOptions(), "tamerocks://", &fs);
	ASSERT_TRUE(s.ok()) << s.ToString();
	EXPECT_STREQ("TameFileSystem", fs->Name());

	env = nullptr;
	s = Env::CreateFromUri(ConfigOptions(), "", "tamerocks://", &env, &guard);
	ASSERT_TRUE(s.ok()) << s.ToString();
	EXPECT_STREQ("TameFileSystem", env->GetFileSystem()->Name());
}

TEST(TameUri, EveryOptionIsParsed)
{
	std::shared_ptr<Env> guard;
	Env *env = nullptr;
	Status s = CreateEnv("tamerocks://fg_reactors:2,bg_reactors:4,ring_entries:64,"
	                     "stack_bytes:131072,slice_us:100,idle_poll_us:0,submit_us:7,submit_depth:3,"
	                     "submit_tune:false,"
	                     "wake_batch:5,wake_wait_us:0,"
	                     "sync_fallback:false,"
	                     "io_uring:true,stats:true,read_buffers:16,read_buffer_kib:64,"
	                     "align_direct_reads:false",
	                     &guard, &env);
	ASSERT_TRUE(s.ok()) << s.ToString();
	auto *tame = dynamic_cast<tamerocks::TameEnv *>(env);
	ASSERT_NE(nullptr, tame);
	const tamerocks::TameEnvOptions &o = tame->options();
	EXPECT_EQ(2u, o.fg_reactors);
	EXPECT_EQ(4u, o.bg_reactors);
	EXPECT_EQ(64u, o.ring_entries);
	EXPECT_EQ(131072u, o.stack_bytes);
	EXPECT_EQ(100u, o.slice_us);
	EXPECT_EQ(0u, o.idle_poll_us);
	EXPECT_EQ(7u, o.submit_us);
	EXPECT_EQ(3u, o.submit_depth);
	EXPECT_FALSE(o.submit_tune);
	EXPECT_EQ(5u, o.wake_batch);
	EXPECT_EQ(0u, o.wake_wait_us);
	EXPECT_FALSE(o.sync_fallback);
	EXPECT_TRUE(o.io_uring);
	EXPECT_TRUE(o.stats);
	EXPECT_EQ(16u, o.read_buffers);
	EXPECT_EQ(64u, o.read_buffer_kib);
	EXPECT_FALSE(o.align_direct_reads);
}

TEST(TameUri, ReadBuffersDefaultToTheReactorsAndZeroTurnsThemOff)
{
	tamerocks::TameEnvOptions o;
	ASSERT_TRUE(tamerocks::ParseEnvUri("tamerocks://", &o).ok());
	EXPECT_EQ(TAME_REACTOR_DEFAULT_READ_BUFFERS, o.read_buffers);
	EXPECT_EQ(TAME_REACTOR_DEFAULT_READ_BUFFER_BYTES, size_t(o.read_buffer_kib) << 10);
	Status s = tamerocks::ParseEnvUri("tamerocks://read_buffers:0", &o);
	ASSERT_TRUE(s.ok()) << s.ToString();
	EXPECT_EQ(0u, o.read_buffers);
	s = tamerocks::ParseEnvUri("tamerocks://read_buffers:256,read_buffer_kib:4096", &o);
	EXPECT_TRUE(s.ok()) << "exactly 1 GiB: " << s.ToString();
}

TEST(TameUri, WakeBatchDefaultsToTheReactorsAndOneTurnsItOff)
{
	tamerocks::TameEnvOptions o;
	ASSERT_TRUE(tamerocks::ParseEnvUri("tamerocks://", &o).ok());
	EXPECT_EQ(TAME_REACTOR_DEFAULT_WAKE_BATCH, o.wake_batch);
	EXPECT_EQ(TAME_REACTOR_DEFAULT_WAKE_WAIT_NS, o.wake_wait_us * 1000u);
	Status s = tamerocks::ParseEnvUri("tamerocks://wake_batch:1,wake_wait_us:1000000", &o);
	ASSERT_TRUE(s.ok()) << s.ToString();
	EXPECT_EQ(1u, o.wake_batch);
	EXPECT_EQ(1000000u, o.wake_wait_us);
}

struct BadUri {
	const char *uri;
	const char *key; // must appear in the message
};

class TameBadUri : public ::testing::TestWithParam<BadUri>
{
};

TEST_P(TameBadUri, IsInvalidArgumentNamingTheKey)
{
	std::shared_ptr<Env> guard;
	Env *env = nullptr;
	Status s = CreateEnv(GetParam().uri, &guard, &env);
	EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
	EXPECT_NE(std::string::npos, s.ToString().find(GetParam().key)) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Uris, TameBadUri,
    ::testing::Values(BadUri{"tamerocks://bogus:1", "bogus"},
                      BadUri{"tamerocks://fg_reactors:two", "fg_reactors"},
                      BadUri{"tamerocks://fg_reactors:-1", "fg_reactors"},
                      BadUri{"tamerocks://bg_reactors:0", "bg_reactors"},
                      BadUri{"tamerocks://bg_reactors:99999999999999999999999", "bg_reactors"},
                      BadUri{"tamerocks://ring_entries:100", "ring_entries"},
                      BadUri{"tamerocks://ring_entries:8192", "ring_entries"},
                      BadUri{"tamerocks://stack_bytes:100", "stack_bytes"},
                      BadUri{"tamerocks://slice_us:", "slice_us"},
                      BadUri{"tamerocks://sync_fallback:maybe", "sync_fallback"},
                      BadUri{"tamerocks://stats:yes", "stats"},
                      BadUri{"tamerocks://idle_poll_us:2000000", "idle_poll_us"},
                      BadUri{"tamerocks://submit_us:1000001", "submit_us"},
                      BadUri{"tamerocks://submit_us:-1", "submit_us"},
                      BadUri{"tamerocks://submit_depth:1000001", "submit_depth"},
                      BadUri{"tamerocks://submit_depth:lots", "submit_depth"},
                      BadUri{"tamerocks://submit_tune:sometimes", "submit_tune"},
                      BadUri{"tamerocks://wake_batch:0", "wake_batch"},
                      BadUri{"tamerocks://wake_batch:4097", "wake_batch"},
                      BadUri{"tamerocks://wake_wait_us:1000001", "wake_wait_us"},
                      BadUri{"tamerocks://wake_wait_us:soon", "wake_wait_us"},
                      BadUri{"tamerocks://io_uring:false,sync_fallback:false", "sync_fallback"},
                      BadUri{"tamerocks://slice_us:5,slice_us:6", "slice_us"},
                      BadUri{"tamerocks://stack_bytes", "stack_bytes"},
                      BadUri{"tamerocks://read_buffers:65537", "read_buffers"},
                      BadUri{"tamerocks://read_buffers:x", "read_buffers"},
                      BadUri{"tamerocks://read_buffer_kib:6", "read_buffer_kib"},
                      BadUri{"tamerocks://read_buffer_kib:0", "read_buffer_kib"},
                      BadUri{"tamerocks://read_buffer_kib:16388", "read_buffer_kib"},
                      BadUri{"tamerocks://read_buffers:257,read_buffer_kib:4096", "read_buffers"},
                      BadUri{"tamerocks://align_direct_reads:on", "align_direct_reads"}));

TEST(TameUri, FileSystemUriTakesOnlyAlignDirectReads)
{
	std::shared_ptr<rocksdb::FileSystem> fs;
	Status s = rocksdb::FileSystem::CreateFromString(ConfigOptions(),
	                                                 "tamerocks://fg_reactors:1", &fs);
	EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
	EXPECT_NE(std::string::npos, s.ToString().find("fg_reactors"));
	s = rocksdb::FileSystem::CreateFromString(ConfigOptions(),
	                                          "tamerocks://align_direct_reads:no", &fs);
	EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
	EXPECT_NE(std::string::npos, s.ToString().find("align_direct_reads"));
	s = rocksdb::FileSystem::CreateFromString(ConfigOptions(),
	                                          "tamerocks://align_direct_reads:false", &fs);
	EXPECT_TRUE(s.ok()) << s.ToString();
}

// Who aligns a direct read, as the Env's and the FileSystem's URIs say: the
// file (use_direct_io() false, the default) or RocksDB.
TEST(TameUri, AlignDirectReadsReachesTheFilesOfTheEnvAndTheFileSystem)
{
	tamerocks_test::TempDir dir;
	std::string name = dir / "f";
	std::string page(4096, 'p');
	ASSERT_TRUE(rocksdb::WriteStringToFile(Env::Default(), page, name).ok());
	rocksdb::FileOptions fo;
	fo.use_direct_reads = true;
	auto use_direct_io = [&](rocksdb::FileSystem *fs) {
		std::unique_ptr<rocksdb::FSRandomAccessFile> f;
		rocksdb::IOStatus st = fs->NewRandomAccessFile(name, fo, &f, nullptr);
		EXPECT_TRUE(st.ok()) << st.ToString();
		return f && f->use_direct_io();
	};
	for (bool align : {true, false}) {
		std::string opt = align ? "" : "align_direct_reads:false";
		std::shared_ptr<Env> guard;
		Env *env = nullptr;
		Status s = CreateEnv("tamerocks://" + opt, &guard, &env);
		ASSERT_TRUE(s.ok()) << s.ToString();
		EXPECT_EQ(!align, use_direct_io(env->GetFileSystem().get())) << opt;
		std::shared_ptr<rocksdb::FileSystem> fs;
		s = rocksdb::FileSystem::CreateFromString(ConfigOptions(), "tamerocks://" + opt, &fs);
		ASSERT_TRUE(s.ok()) << s.ToString();
		EXPECT_EQ(!align, use_direct_io(fs.get())) << opt;
	}
}

} // namespace

// With port/ active (this test links it), StartThread bodies share one
// reactor per online CPU unless the URI says otherwise.
TEST(TameUri, FgReactorsDefaultsToOnePerCpuWhenPortIsActive)
{
	std::shared_ptr<Env> guard;
	Env *env = nullptr;
	Status s = CreateEnv("tamerocks://", &guard, &env);
	ASSERT_TRUE(s.ok()) << s.ToString();
	auto *tame = dynamic_cast<tamerocks::TameEnv *>(env);
	ASSERT_NE(nullptr, tame);
	EXPECT_EQ((unsigned)sysconf(_SC_NPROCESSORS_ONLN), tame->options().fg_reactors);
}
