// SPDX-License-Identifier: Apache-2.0
// tamerocks with RocksDB linked into the program (Debian's static
// librocksdb.a, as RocksDB's own plugin build and many applications link
// it): RocksDB exports no dynamic symbols then, and port/ finds its
// thread-locals in the program's .symtab. Without them, the fibers of a
// thread would share RocksDB's ThreadLocalPtr data while the per-fiber
// pthread keys free it when each fiber ends: the next fiber's Get would use
// freed memory. A stripped copy of this program (no .symtab) must therefore
// refuse the Env with a message saying why, not crash.
//
// Run as "<program> --expect-refused" (the stripped copy), it only checks
// that refusal, and that tame_call refuses its pools too (a reactor
// application that runs RocksDB on tame_call's fibers without the Env), and
// exits 0 when both were refused as they should be.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "env_test_util.h"
#include "tame_call.h"
#include "tame_reactor.h"
#include "tame_port.h"

extern char **environ;

using rocksdb::Env;
using rocksdb::Status;
using namespace tamerocks_test;

namespace
{

Status CreateTameEnv(Env **env, std::shared_ptr<Env> *guard)
{
	return Env::CreateFromUri(rocksdb::ConfigOptions(), "tamerocks://", "", env, guard);
}

TEST(TameEnvStaticRocksdb, ThreadLocalsAreFoundInTheProgramsSymbolTable)
{
	ASSERT_TRUE(tame_port_interposed());
	EXPECT_EQ(4, tame_port_register_rocksdb_tls());
}

// Fibers that end one after another on one OS thread, each reading through
// RocksDB's thread-local SuperVersion cache (ThreadLocalPtr), with flushes
// and compactions as background fibers of the Env.
TEST(TameEnvStaticRocksdb, FibersEndingOneAfterAnotherOnAThreadEachKeepTheirOwnRocksdbState)
{
	Env *env = nullptr;
	std::shared_ptr<Env> guard;
	Status s = CreateTameEnv(&env, &guard);
	ASSERT_TRUE(s.ok()) << s.ToString();
	TempDir dir;
	rocksdb::Options o;
	o.env = env;
	o.create_if_missing = true;
	o.write_buffer_size = 64 * 1024;
	rocksdb::DB *raw = nullptr;
	s = rocksdb::DB::Open(o, dir / "db", &raw);
	ASSERT_TRUE(s.ok()) << s.ToString();
	std::unique_ptr<rocksdb::DB> db(raw);
	std::string value(100, 'v');
	for (int round = 0; round < 40; round++) {
		RunInFiber([&] {
			for (int i = 0; i < 200; i++)
				ASSERT_TRUE(db->Put(rocksdb::WriteOptions(),
				                    std::to_string(round * 1000 + i), value)
				                .ok());
			std::string got;
			for (int i = 0; i < 200; i++) {
				ASSERT_TRUE(db->Get(rocksdb::ReadOptions(),
				                    std::to_string(round * 1000 + i), &got)
				                .ok());
				ASSERT_EQ(value, got);
			}
		});
		if (round % 10 == 9) {
			ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
		}
	}
	ASSERT_TRUE(db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
	ASSERT_TRUE(db->Close().ok());
}

TEST(TameEnvStaticRocksdb, CallPoolsAreAllowedWhenTheThreadLocalsAreInTheSymbolTable)
{
	EXPECT_EQ(0, tame_port_check_rocksdb_tls());
	tame_reactor_opts opts;
	tame_reactor_opts_init(&opts);
	tame_reactor *r = nullptr;
	ASSERT_EQ(0, tame_reactor_create(&opts, &r));
	tame_call_pool *p = nullptr;
	EXPECT_EQ(0, tame_call_pool_create(r, nullptr, &p));
	if (p) {
		EXPECT_EQ(0, tame_call_pool_destroy(p));
	}
	tame_reactor_destroy(r);
}

TEST(TameEnvStaticRocksdb, AStrippedProgramRefusesTheEnvAndCallPoolsWithAMessageInsteadOfCrashing)
{
	TempDir dir;
	std::string prog = std::string(TAME_STATIC_TEST_SELF) + ".stripped";
	std::string flag = "--expect-refused";
	std::string err = dir / "stderr";
	char *argv[] = {prog.data(), flag.data(), nullptr};
	posix_spawn_file_actions_t fa;
	ASSERT_EQ(0, posix_spawn_file_actions_init(&fa));
	ASSERT_EQ(0, posix_spawn_file_actions_addopen(&fa, 2, err.c_str(),
	                                              O_WRONLY | O_CREAT | O_TRUNC, 0600));
	pid_t pid;
	ASSERT_EQ(0, posix_spawn(&pid, prog.c_str(), &fa, nullptr, argv, environ)) << prog;
	posix_spawn_file_actions_destroy(&fa);
	int status = 0;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
	// What the person running the program reads, said once.
	std::ifstream in(err);
	std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	EXPECT_NE(std::string::npos, text.find("contains RocksDB")) << text;
	EXPECT_NE(std::string::npos, text.find("Link librocksdb.so, or keep the program's symbol table"))
	    << text;
	EXPECT_EQ(text.find("tamerocks: port:"), text.rfind("tamerocks: port:")) << text;
}

int ExpectRefused()
{
	Env *env = nullptr;
	std::shared_ptr<Env> guard;
	int slots = tame_port_register_rocksdb_tls();
	Status s = CreateTameEnv(&env, &guard);
	printf("stripped: %d RocksDB thread-locals found; Env::CreateFromUri: %s\n", slots,
	       s.ToString().c_str());
	bool said_why = s.ToString().find("symbol table") != std::string::npos;
	bool env_refused = slots == 0 && !s.ok() && said_why;

	tame_reactor_opts opts;
	tame_reactor_opts_init(&opts);
	tame_reactor *r = nullptr;
	if (tame_reactor_create(&opts, &r) != 0)
		return 1;
	int pools[2];
	for (int &rc : pools) {
		tame_call_pool *p = nullptr;
		rc = tame_call_pool_create(r, nullptr, &p);
		if (p)
			tame_call_pool_destroy(p);
	}
	tame_reactor_destroy(r);
	printf("stripped: tame_call_pool_create: %d, then %d\n", pools[0], pools[1]);
	return env_refused && pools[0] == -ENOTSUP && pools[1] == -ENOTSUP ? 0 : 1;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--expect-refused") == 0)
		return ExpectRefused();
	testing::InitGoogleTest(&argc, argv);
	return RUN_ALL_TESTS();
}
