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
// that refusal and exits 0 when the Env was refused as it should be.
#include <spawn.h>
#include <sys/wait.h>

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include <cstring>
#include <memory>
#include <string>

#include "env_test_util.h"
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

TEST(TameEnvStaticRocksdb, AStrippedProgramRefusesTheEnvWithAMessageInsteadOfCrashing)
{
	std::string prog = std::string(TAME_STATIC_TEST_SELF) + ".stripped";
	std::string flag = "--expect-refused";
	char *argv[] = {prog.data(), flag.data(), nullptr};
	pid_t pid;
	ASSERT_EQ(0, posix_spawn(&pid, prog.c_str(), nullptr, nullptr, argv, environ)) << prog;
	int status = 0;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
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
	return slots == 0 && !s.ok() && said_why ? 0 : 1;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--expect-refused") == 0)
		return ExpectRefused();
	testing::InitGoogleTest(&argc, argv);
	return RUN_ALL_TESTS();
}
