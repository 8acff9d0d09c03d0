// SPDX-License-Identifier: Apache-2.0
// The writing side of crash_test.cc: a process that opens a DB on an Env
// given by URI and writes to it from fibers of its own reactor, as a
// reactor application would, reporting on stdout every write RocksDB has
// acknowledged. crash_test.cc kills it with SIGKILL and checks the DB.
//
//   crash_writer wal DIR URI     Puts with WriteOptions::sync, forever;
//                                "A <fiber> <index>" after each.
//   crash_writer flush DIR URI   Puts without a WAL, then Flush; each key
//                                reported once the Flush that holds it is
//                                done.
//   crash_writer enospc URI      In a private mount namespace, on a 4 MiB
//                                tmpfs: Puts and Flushes until the disk
//                                is full, then grow the tmpfs, DB::Resume,
//                                more of them, reopen and read every
//                                flushed key back. Prints what it saw;
//                                exits 0 if nothing acknowledged was lost,
//                                77 if it may not mount (not root).
//
// URI "default" is Env::Default(). Keys and values: crash_test_util.h.
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "crash_test_util.h"
#include "tame_reactor.h"

using rocksdb::DB;
using rocksdb::Env;
using rocksdb::Options;
using rocksdb::Status;
using rocksdb::WriteOptions;
using namespace tamerocks_test;

namespace
{

constexpr int kFibers = 4;
constexpr int kExitCannotMount = 77;

[[noreturn]] void Die(const std::string &what)
{
	fprintf(stderr, "crash_writer: %s\n", what.c_str());
	exit(1);
}

// One line per acknowledged key; a single write(2) of a few bytes to a pipe
// is atomic, so lines of different fibers never mix.
void Ack(int fiber, int index)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "A %d %d\n", fiber, index);
	if (write(STDOUT_FILENO, line, (size_t)n) != n)
		exit(1); // the test is gone
}

std::shared_ptr<Env> EnvFromUri(const std::string &uri, Env **env)
{
	std::shared_ptr<Env> guard;
	if (uri == "default") {
		*env = Env::Default();
		return guard;
	}
	Status s = Env::CreateFromUri(rocksdb::ConfigOptions(), uri, "", env, &guard);
	if (!s.ok())
		Die("Env::CreateFromUri(" + uri + "): " + s.ToString());
	return guard;
}

// Runs body(i) as fiber i of kFibers on a reactor of this thread, until
// every one returns (or the process is killed).
void RunFibers(const std::function<void(int)> &body, int fibers = kFibers)
{
	tame_reactor_opts opts;
	tame_reactor_opts_init(&opts);
	opts.name = "crash_writer";
	opts.flags = TAME_REACTOR_SYNC_FALLBACK;
	tame_reactor *r = nullptr;
	if (int rc = tame_reactor_create(&opts, &r))
		Die(std::string("tame_reactor_create: ") + strerror(-rc));
	struct Arg {
		const std::function<void(int)> *body;
		int i;
	};
	std::vector<Arg> args(fibers);
	for (int i = 0; i < fibers; i++) {
		args[i] = {&body, i};
		int rc = tame_spawn(
		    r, [](void *p) { (*static_cast<Arg *>(p)->body)(static_cast<Arg *>(p)->i); },
		    &args[i]);
		if (rc)
			Die(std::string("tame_spawn: ") + strerror(-rc));
	}
	tame_reactor_run(r, TAME_RUN_UNTIL_EMPTY);
	tame_reactor_destroy(r);
}

std::unique_ptr<DB> OpenDb(const std::string &dir, Env *env, size_t write_buffer)
{
	Options o;
	o.env = env;
	o.create_if_missing = true;
	o.write_buffer_size = write_buffer;
	DB *raw = nullptr;
	Status s = DB::Open(o, dir, &raw);
	if (!s.ok())
		Die("DB::Open(" + dir + "): " + s.ToString());
	return std::unique_ptr<DB>(raw);
}

void WriteWal(const std::string &dir, Env *env)
{
	std::unique_ptr<DB> db = OpenDb(dir, env, 256 * 1024);
	WriteOptions wo;
	wo.sync = true;
	RunFibers([&](int f) {
		for (int i = 0;; i++) {
			Status s = db->Put(wo, CrashKey(f, i), CrashValue(f, i));
			if (!s.ok())
				Die("Put: " + s.ToString());
			Ack(f, i);
		}
	});
}

void WriteFlush(const std::string &dir, Env *env)
{
	std::unique_ptr<DB> db = OpenDb(dir, env, 64 << 20);
	WriteOptions wo;
	wo.disableWAL = true;
	RunFibers([&](int f) {
		constexpr int kPerFlush = 50;
		for (int i = 0;; i += kPerFlush) {
			for (int j = i; j < i + kPerFlush; j++) {
				Status s = db->Put(wo, CrashKey(f, j), CrashValue(f, j));
				if (!s.ok())
					Die("Put: " + s.ToString());
			}
			Status s = db->Flush(rocksdb::FlushOptions());
			if (!s.ok())
				Die("Flush: " + s.ToString());
			for (int j = i; j < i + kPerFlush; j++)
				Ack(f, j);
		}
	});
}

// The kind of a failed write, in words both Envs' errors can be compared by.
std::string Kind(const Status &s)
{
	if (s.ok())
		return "OK";
	std::string k = s.IsIOError() ? "IOError" : "code" + std::to_string((int)s.code());
	if (s.IsNoSpace())
		k += "/NoSpace";
	else if (s.ToString().find(strerror(ENOSPC)) != std::string::npos)
		k += "/ENOSPC-in-message";
	return k;
}

int FullDisk(const std::string &uri)
{
	// Before any thread exists: unshare(CLONE_NEWNS) refuses a process
	// whose threads share its file system information.
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
		fprintf(stderr, "crash_writer: no private mount namespace (%s): needs root\n",
		        strerror(errno));
		return kExitCannotMount;
	}
	char tmpl[] = "/tmp/tame_enospc_XXXXXX";
	if (!mkdtemp(tmpl))
		Die(std::string("mkdtemp: ") + strerror(errno));
	const std::string dir = tmpl;
	if (mount("tmpfs", tmpl, "tmpfs", 0, "size=4m") != 0) {
		fprintf(stderr, "crash_writer: mount tmpfs: %s\n", strerror(errno));
		rmdir(tmpl);
		return kExitCannotMount;
	}
	const std::string db_dir = dir + "/db";
	Env *env = nullptr;
	std::shared_ptr<Env> guard = EnvFromUri(uri, &env);
	int failures = 0;
	RunFibers(
	    [&](int) {
		    std::unique_ptr<DB> db = OpenDb(db_dir, env, 1 << 20);
		    // Keys are made durable by Flush, not by a WAL: Debian's
		    // asserting librocksdb 7.8 aborts when it syncs a WAL after a
		    // failed write to it (RocksDB's own bug, with any Env; fixed
		    // upstream by facebook/rocksdb#12448), so the disk must fill
		    // under the table files and the MANIFEST only.
		    WriteOptions wo;
		    wo.disableWAL = true;
		    constexpr int kPerFlush = 64;
		    // Writes kPerFlush keys from `from` and flushes them: OK when
		    // all of them are durable.
		    auto write_batch = [&](int from) {
			    for (int k = from; k < from + kPerFlush; k++) {
				    Status s = db->Put(wo, CrashKey(0, k), CrashValue(0, k, 4096));
				    if (!s.ok())
					    return s;
			    }
			    return db->Flush(rocksdb::FlushOptions());
		    };
		    Status first;
		    int acked = 0;
		    for (; acked < 100000; acked += kPerFlush) {
			    first = write_batch(acked);
			    if (!first.ok())
				    break;
		    }
		    printf("full: after %d flushed keys: %s\n", acked, Kind(first).c_str());
		    fprintf(stderr, "crash_writer: the full disk's error: %s\n",
		            first.ToString().c_str());
		    if (first.ok())
			    failures++;
		    Status again = write_batch(acked);
		    printf("next writes on the full disk: %s\n", Kind(again).c_str());
		    if (again.ok())
			    acked += kPerFlush;
		    if (mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT, "size=64m") != 0)
			    Die(std::string("remount: ") + strerror(errno));
		    // RocksDB's SstFileManager is already recovering on its own
		    // thread, checking the free space every few seconds (the
		    // FileSystem's GetFreeSpace): Resume is Busy until it is done
		    // (about 5 s here). At most 30 s, so both Envs' runs fit in
		    // the test's 120 s.
		    Status resumed;
		    for (int tries = 0; tries < 300; tries++) {
			    resumed = db->Resume();
			    if (!resumed.IsBusy())
				    break;
			    usleep(100 * 1000);
		    }
		    printf("Resume after the disk grew: %s\n", Kind(resumed).c_str());
		    fprintf(stderr, "crash_writer: Resume: %s\n", resumed.ToString().c_str());
		    int more = 0;
		    if (resumed.ok()) {
			    for (; more < 256; more += kPerFlush) {
				    Status s = write_batch(acked + more);
				    if (!s.ok()) {
					    printf("writes after Resume failed: %s\n", s.ToString().c_str());
					    failures++;
					    break;
				    }
			    }
		    }
		    printf("keys flushed after Resume: %d\n", more);
		    Status closed = db->Close();
		    fprintf(stderr, "crash_writer: Close: %s\n", closed.ToString().c_str());
		    db.reset();
		    // Every key acknowledged before the disk filled must be there
		    // after a reopen. Those flushed after Resume are counted, not
		    // judged: with either Env, RocksDB 7.8's Flush after a Resume
		    // sometimes returns OK before its flush job has installed the
		    // table; Close then cancels the job and its 64 keys are gone
		    // (the LOG shows that job's flush_finished, immutable_memtables
		    // 1, after "Shutdown: canceling all background work", then the
		    // deletion of its table file). Seen in 1 of 8 runs with
		    // Env::Default() and 3 of 8 with tamerocks: RocksDB's recovery
		    // racing its shutdown, not the FileSystem.
		    db = OpenDb(db_dir, env, 1 << 20);
		    auto count_lost = [&](int from, int to) {
			    int lost = 0;
			    for (int k = from; k < to; k++) {
				    std::string v;
				    Status s = db->Get(rocksdb::ReadOptions(), CrashKey(0, k), &v);
				    if (!s.ok() || v != CrashValue(0, k, 4096))
					    lost++;
			    }
			    return lost;
		    };
		    int lost = count_lost(0, acked);
		    printf("reopened: %d of the %d keys flushed before the disk filled read back, "
		           "%d lost\n",
		           acked - lost, acked, lost);
		    fprintf(stderr, "crash_writer: of the %d keys flushed after Resume, %d lost\n",
		            more, count_lost(acked, acked + more));
		    failures += lost;
		    db->Close().PermitUncheckedError();
	    },
	    1);
	umount2(tmpl, MNT_DETACH);
	rmdir(tmpl);
	fflush(stdout);
	return failures ? 1 : 0;
}

} // namespace

int main(int argc, char **argv)
{
	setvbuf(stdout, nullptr, _IOLBF, 0);
	std::string mode = argc > 1 ? argv[1] : "";
	if (mode == "enospc" && argc == 3)
		return FullDisk(argv[2]);
	if ((mode == "wal" || mode == "flush") && argc == 4) {
		Env *env = nullptr;
		std::shared_ptr<Env> guard = EnvFromUri(argv[3], &env);
		if (mode == "wal")
			WriteWal(argv[2], env);
		else
			WriteFlush(argv[2], env);
		return 0;
	}
	fprintf(stderr, "usage: crash_writer wal|flush DIR URI | crash_writer enospc URI\n");
	return 2;
}
