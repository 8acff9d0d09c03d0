// SPDX-License-Identifier: Apache-2.0
// Durability and a full disk, proven against a real process: crash_writer
// (crash_writer.cc) writes through tamerocks from fibers of its reactor and
// reports each write RocksDB acknowledged; the test kills it with SIGKILL in
// the middle of its writes and reopens the DB with RocksDB's default Env,
// which must hold every acknowledged key. A kill loses what the process
// held in memory (buffers, SQEs not yet submitted, completions not yet
// reaped), not what reached the kernel: these tests prove that an
// acknowledged write had left the process, through the FileSystem's write
// and its fdatasync / fsync. On a full disk (a 4 MiB tmpfs) writes must fail
// with a status saying so, as with the default Env, and nothing acknowledged
// may be lost.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "crash_test_util.h"
#include "env_test_util.h"

extern char **environ;

using namespace tamerocks_test;

namespace
{

struct WriterRun {
	std::map<int, int> acked; // fiber -> keys acknowledged (0..n-1)
	int total = 0;
	int status = 0;	    // waitpid's
	std::string output; // stdout lines that are not acks
	std::string errors; // stderr
};

std::string ReadFile(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

// Runs crash_writer ARGS; once it has acknowledged kill_after writes (0:
// never) kills it with SIGKILL, then reads what it wrote before dying.
WriterRun RunWriter(const std::vector<std::string> &args, int kill_after,
                    const std::string &scratch)
{
	WriterRun run;
	int out[2];
	EXPECT_EQ(0, pipe2(out, O_CLOEXEC));
	const std::string err_path = scratch + ".stderr";
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path.c_str(),
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	std::vector<char *> argv;
	std::string prog = TAME_CRASH_WRITER;
	argv.push_back(prog.data());
	std::vector<std::string> copy = args;
	for (std::string &a : copy)
		argv.push_back(a.data());
	argv.push_back(nullptr);
	pid_t pid = -1;
	int rc = posix_spawn(&pid, prog.c_str(), &fa, nullptr, argv.data(), environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	EXPECT_EQ(0, rc) << "posix_spawn " << prog << ": " << strerror(rc);
	if (rc != 0) {
		close(out[0]);
		return run;
	}
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
	std::string buf;
	bool killed = false;
	for (;;) {
		int left = (int)std::chrono::duration_cast<std::chrono::milliseconds>(
		               deadline - std::chrono::steady_clock::now())
		               .count();
		if (left <= 0) {
			ADD_FAILURE() << "crash_writer " << args[0] << " gave no result in 90 s";
			kill(pid, SIGKILL);
			killed = true;
			deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
			left = 10000;
		}
		struct pollfd p = {out[0], POLLIN, 0};
		if (poll(&p, 1, left) <= 0)
			continue;
		char chunk[4096];
		ssize_t n = read(out[0], chunk, sizeof(chunk));
		if (n <= 0)
			break; // EOF: the writer is gone, and all it wrote is read
		buf.append(chunk, (size_t)n);
		size_t nl;
		while ((nl = buf.find('\n')) != std::string::npos) {
			std::string line = buf.substr(0, nl);
			buf.erase(0, nl + 1);
			int f, i;
			if (sscanf(line.c_str(), "A %d %d", &f, &i) == 2) {
				// Each fiber acknowledges its keys in order.
				EXPECT_EQ(run.acked[f], i) << "fiber " << f;
				run.acked[f] = i + 1;
				run.total++;
			} else {
				run.output += line + "\n";
			}
		}
		if (kill_after && !killed && run.total >= kill_after) {
			kill(pid, SIGKILL);
			killed = true;
		}
	}
	close(out[0]);
	waitpid(pid, &run.status, 0);
	run.errors = ReadFile(err_path);
	unlink(err_path.c_str());
	return run;
}

// Opens dir with RocksDB's default Env and checks every acknowledged key.
void ExpectAckedKeysInDb(const std::string &dir, const WriterRun &run)
{
	rocksdb::Options o;
	o.env = rocksdb::Env::Default();
	rocksdb::DB *raw = nullptr;
	rocksdb::Status s = rocksdb::DB::OpenForReadOnly(o, dir, &raw);
	ASSERT_TRUE(s.ok()) << s.ToString();
	std::unique_ptr<rocksdb::DB> db(raw);
	int lost = 0;
	for (const auto &[f, n] : run.acked) {
		for (int i = 0; i < n; i++) {
			std::string v;
			s = db->Get(rocksdb::ReadOptions(), CrashKey(f, i), &v);
			if (!s.ok() || v != CrashValue(f, i)) {
				if (lost++ < 5)
					ADD_FAILURE() << "acknowledged key " << CrashKey(f, i)
					              << " after the kill: " << s.ToString();
			}
		}
	}
	EXPECT_EQ(0, lost) << "of " << run.total << " acknowledged keys";
	// What was written but not yet acknowledged may be there or not, but
	// never wrong.
	std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
	int unacked = 0;
	for (it->SeekToFirst(); it->Valid(); it->Next()) {
		int f, i;
		ASSERT_EQ(2, sscanf(it->key().ToString().c_str(), "f%d-%d", &f, &i));
		EXPECT_EQ(CrashValue(f, i), it->value().ToString());
		if (i >= run.acked.at(f))
			unacked++;
	}
	EXPECT_TRUE(it->status().ok()) << it->status().ToString();
	printf("%d acknowledged keys of %zu fibers checked, %d of them lost; %d written but "
	       "not yet acknowledged at the kill are there too\n",
	       run.total, run.acked.size(), lost, unacked);
}

void KillAndCheck(const std::string &mode, int kill_after)
{
	TempDir dir;
	const std::string db = dir / "db";
	WriterRun run = RunWriter({mode, db, "tamerocks://"}, kill_after, dir / "writer");
	ASSERT_TRUE(WIFSIGNALED(run.status) && WTERMSIG(run.status) == SIGKILL)
	    << "crash_writer ended before the kill (status " << run.status << "): " << run.output
	    << run.errors;
	ASSERT_GE(run.total, kill_after);
	ASSERT_EQ(4u, run.acked.size()) << "every fiber wrote";
	ExpectAckedKeysInDb(db, run);
}

TEST(TameCrash, SyncedPutsOnFibersSurviveASigkillOfTheWriter)
{
	KillAndCheck("wal", 400);
}

TEST(TameCrash, FlushedKeysWithoutAWalSurviveASigkillOfTheWriter)
{
	KillAndCheck("flush", 400);
}

TEST(TameCrash, AFullDiskFailsWritesAsTheDefaultEnvDoesAndLosesNothing)
{
	TempDir dir;
	WriterRun tame = RunWriter({"enospc", "tamerocks://"}, 0, dir / "tame");
	if (WIFEXITED(tame.status) && WEXITSTATUS(tame.status) == 77)
		GTEST_SKIP() << "no tmpfs to fill: " << tame.errors;
	EXPECT_TRUE(WIFEXITED(tame.status) && WEXITSTATUS(tame.status) == 0)
	    << tame.output << tame.errors;
	WriterRun posix = RunWriter({"enospc", "default"}, 0, dir / "default");
	EXPECT_TRUE(WIFEXITED(posix.status) && WEXITSTATUS(posix.status) == 0)
	    << posix.output << posix.errors;
	printf("tamerocks:\n%s%sdefault Env:\n%s%s", tame.output.c_str(), tame.errors.c_str(),
	       posix.output.c_str(), posix.errors.c_str());
	// The disk filled, the write said so, and nothing acknowledged was lost.
	EXPECT_NE(std::string::npos, tame.output.find("/NoSpace")) << tame.output;
	EXPECT_NE(std::string::npos, tame.output.find(" 0 lost")) << tame.output;
	// Line by line as the default Env, but for where the disk filled
	// (tamerocks' and Posix' files take the space in different steps).
	auto outcome = [](const std::string &out) {
		std::string o;
		std::istringstream in(out);
		for (std::string line; std::getline(in, line);)
			if (line.rfind("full: after ", 0) == 0)
				o += line.substr(line.find(':', 6)) + "\n";
			else if (line.rfind("reopened: ", 0) != 0)
				o += line + "\n";
		return o;
	};
	EXPECT_EQ(outcome(posix.output), outcome(tame.output));
}

} // namespace
