// SPDX-License-Identifier: Apache-2.0
//
// tame_get_ab: the buffered Get of db_bench's readrandom (or, with
// --op=seek, the new iterator and Seek of its seekrandom), four ways in ONE
// process, so that the machine's slow and fast phases (which move a
// db_bench run by 1.5x here) fall on all four alike:
//
//   default/thread  the DB opened with the default Env, Gets on the main thread
//   default/fiber   the same DB, Gets on a fiber of a tamerocks reactor
//   tame/thread     the DB opened with tamerocks:// (--uri), on the main thread
//   tame/fiber      the same, on a fiber: what db_bench --env_uri runs
//
// Both DBs are one directory opened read-only twice, each with its own LRU
// block cache of --cache_mib (much smaller than the DB), its table files in
// the page cache: every Get reads one 4 KiB block with a system call (pread
// for the default Env; preadv2(RWF_NOWAIT) for tamerocks on a fiber). The
// rounds rotate the order of the four; each round's four runs read the same
// keys and must find the same number. Printed per way: the median and best
// ns per Get, and the median over rounds of default/thread's time over this
// way's (a speed ratio: below 1.00 is slower).
//
// usage: tame_get_ab [--dir=DIR] [--num=N] [--cache_mib=N] [--rounds=N]
//                    [--gets=N] [--uri=URI] [--op=get|seek]
//   --dir        DB directory, default /var/tmp/tamerocks-getab; written by
//                the default Env on first use (--num keys), reused after; its
//                file tame_get_ab.loaded records --num, and a DB without it
//                or loaded with another --num is refused
//   --num        keys, default 2000000 (a 150 MiB DB, as db_bench_compare.sh)
//   --cache_mib  block cache per DB, default 8
//   --rounds     default 24; --gets per run, default 50000
//   --op         get (default): DB::Get; seek: a new iterator per lookup,
//                Seek, found if it lands on the key
// Exit status: 0 done, 1 a failed open/read or unequal found counts, 2 bad
// arguments.

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "tame_reactor.h"
}

namespace
{

struct Args {
	std::string dir = "/var/tmp/tamerocks-getab";
	uint64_t num = 2000000;
	uint64_t cache_mib = 8;
	uint64_t rounds = 24;
	uint64_t gets = 50000;
	std::string uri = "tamerocks://";
	bool seek = false;
};

[[noreturn]] void Usage(const char *why)
{
	fprintf(stderr,
	        "tame_get_ab: %s\n"
	        "usage: tame_get_ab [--dir=DIR] [--num=N] [--cache_mib=N] [--rounds=N] "
	        "[--gets=N] [--uri=URI] [--op=get|seek]\n",
	        why);
	exit(2);
}

uint64_t ParsePositive(const char *key, const char *v)
{
	char *end = nullptr;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v || *end || x == 0 || v[0] == '-')
		Usage((std::string("--") + key + " must be a positive integer, not '" + v + "'")
		          .c_str());
	return x;
}

Args ParseArgs(int argc, char **argv)
{
	Args a;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		const char *eq = strchr(s, '=');
		if (strncmp(s, "--", 2) != 0 || !eq)
			Usage((std::string("unknown argument: ") + s).c_str());
		std::string key(s + 2, eq);
		const char *v = eq + 1;
		if (key == "dir")
			a.dir = v;
		else if (key == "uri")
			a.uri = v;
		else if (key == "op" && (!strcmp(v, "get") || !strcmp(v, "seek")))
			a.seek = !strcmp(v, "seek");
		else if (key == "op")
			Usage((std::string("--op must be get or seek, not '") + v + "'").c_str());
		else if (key == "num")
			a.num = ParsePositive("num", v);
		else if (key == "cache_mib")
			a.cache_mib = ParsePositive("cache_mib", v);
		else if (key == "rounds")
			a.rounds = ParsePositive("rounds", v);
		else if (key == "gets")
			a.gets = ParsePositive("gets", v);
		else
			Usage((std::string("unknown argument: ") + s).c_str());
	}
	if (a.dir.empty())
		Usage("--dir must not be empty");
	return a;
}

// db_bench's key: the number big-endian in 8 bytes, then '0' padding to 16.
void MakeKey(uint64_t k, char out[16])
{
	for (int j = 0; j < 8; j++)
		out[j] = (char)(k >> (56 - 8 * j));
	memset(out + 8, '0', 8);
}

bool Fail(const char *what, const rocksdb::Status &s)
{
	fprintf(stderr, "tame_get_ab: %s: %s\n", what, s.ToString().c_str());
	return false;
}

// Writes --num keys (the even numbers below 2 x num) of 100-byte values with
// the default Env, then one compaction: a fixed layout without pending work.
// Lookups draw from all numbers below 2 x num: half are found, and every one
// falls inside a table's key range, so each reads a data block.
bool Load(const Args &a)
{
	rocksdb::Options o;
	o.create_if_missing = true;
	o.error_if_exists = true;
	o.compression = rocksdb::kNoCompression;
	rocksdb::DB *db = nullptr;
	rocksdb::Status s = rocksdb::DB::Open(o, a.dir, &db);
	if (!s.ok())
		return Fail(("creating " + a.dir).c_str(), s);
	std::unique_ptr<rocksdb::DB> guard(db);
	rocksdb::WriteOptions wo;
	wo.disableWAL = true;
	std::string value(100, 'v');
	char key[16];
	rocksdb::WriteBatch batch;
	for (uint64_t k = 0; k < a.num; k++) {
		MakeKey(2 * k, key);
		batch.Put(rocksdb::Slice(key, 16), value);
		if (batch.Count() == 1000 || k + 1 == a.num) {
			if (!(s = db->Write(wo, &batch)).ok())
				return Fail("loading", s);
			batch.Clear();
		}
	}
	if (!(s = db->Flush(rocksdb::FlushOptions())).ok())
		return Fail("flush", s);
	if (!(s = db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr)).ok())
		return Fail("compaction", s);
	return true;
}

// Reads every table file once, so that both DBs start with them in the
// page cache (as db_bench_compare.sh's buffered mode does).
uint64_t WarmPageCache(const std::string &dir)
{
	std::vector<std::string> names;
	uint64_t bytes = 0;
	if (!rocksdb::Env::Default()->GetChildren(dir, &names).ok())
		return 0;
	std::vector<char> buf(1 << 20);
	for (const std::string &n : names) {
		if (n.size() < 4 || n.compare(n.size() - 4, 4, ".sst") != 0)
			continue;
		std::ifstream f(dir + "/" + n, std::ios::binary);
		while (f.read(buf.data(), (std::streamsize)buf.size()) || f.gcount() > 0)
			bytes += (uint64_t)f.gcount();
	}
	return bytes;
}

double NowSec()
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

// One run: --gets Gets of keys drawn from [0, 2 * num) (see Load).
struct Run {
	const Args *args = nullptr;
	rocksdb::DB *db = nullptr;
	uint64_t seed = 0;
	double ns_per_get = 0;
	uint64_t found = 0;
	bool failed = false;
};

void DoGets(Run *r)
{
	rocksdb::ReadOptions ro;
	ro.verify_checksums = true;
	std::string value;
	char key[16];
	uint64_t s = r->seed, found = 0;
	double t0 = NowSec();
	for (uint64_t i = 0; i < r->args->gets; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		MakeKey((s >> 16) % (2 * r->args->num), key);
		rocksdb::Slice k(key, 16);
		rocksdb::Status st;
		if (r->args->seek) {
			std::unique_ptr<rocksdb::Iterator> it(r->db->NewIterator(ro));
			it->Seek(k);
			if (it->Valid() && it->key() == k)
				found++;
			st = it->status();
		} else {
			st = r->db->Get(ro, k, &value);
			if (st.ok())
				found++;
		}
		if (!st.ok() && !st.IsNotFound()) {
			Fail(r->args->seek ? "Seek" : "Get", st);
			r->failed = true;
			break;
		}
	}
	r->ns_per_get = (NowSec() - t0) * 1e9 / (double)r->args->gets;
	r->found = found;
}

void FiberGets(void *arg)
{
	DoGets(static_cast<Run *>(arg));
}

double Median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

} // namespace

int main(int argc, char **argv)
{
	Args a = ParseArgs(argc, argv);

	// The marker is written last: a DB without it was not loaded to the end,
	// or by another --num, and would not hold the keys the lookups expect.
	const std::string marker = a.dir + "/tame_get_ab.loaded";
	if (access((a.dir + "/CURRENT").c_str(), F_OK) != 0) {
		printf("loading %" PRIu64 " keys into %s with the default Env ...\n", a.num,
		       a.dir.c_str());
		fflush(stdout);
		double t0 = NowSec();
		if (!Load(a))
			return 1;
		std::ofstream(marker) << a.num << "\n";
		printf("loaded in %.0f s\n", NowSec() - t0);
	}
	uint64_t loaded = 0;
	if (!(std::ifstream(marker) >> loaded) || loaded != a.num) {
		fprintf(
		    stderr,
		    "tame_get_ab: %s holds a DB that was not loaded by tame_get_ab --num=%" PRIu64
		    " (%s); delete the directory, or pass the --num it was loaded with\n",
		    a.dir.c_str(), a.num,
		    loaded ? ("its marker says --num=" + std::to_string(loaded)).c_str()
		           : ("no " + marker).c_str());
		return 1;
	}

	std::shared_ptr<rocksdb::Env> tame_env_guard;
	rocksdb::Env *tame_env = nullptr;
	rocksdb::Status s = rocksdb::Env::CreateFromUri(rocksdb::ConfigOptions(), "", a.uri,
	                                                &tame_env, &tame_env_guard);
	if (!s.ok()) {
		Fail(("--uri=" + a.uri).c_str(), s);
		return 1;
	}
	rocksdb::DB *dbs[2] = {nullptr, nullptr};
	for (int d = 0; d < 2; d++) {
		rocksdb::Options o;
		rocksdb::BlockBasedTableOptions t;
		t.block_cache = rocksdb::NewLRUCache(a.cache_mib << 20);
		o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
		if (d == 1)
			o.env = tame_env;
		s = rocksdb::DB::OpenForReadOnly(o, a.dir, &dbs[d]);
		if (!s.ok()) {
			Fail(("opening " + a.dir + (d ? " with " + a.uri : " with the default Env"))
			         .c_str(),
			     s);
			return 1;
		}
	}
	std::unique_ptr<rocksdb::DB> g0(dbs[0]), g1(dbs[1]);

	struct tame_reactor *reactor = nullptr;
	int rc = tame_reactor_create(nullptr, &reactor);
	if (rc) {
		fprintf(stderr, "tame_get_ab: tame_reactor_create: %s\n", strerror(-rc));
		return 1;
	}
	uint64_t warm = WarmPageCache(a.dir);

	struct utsname u;
	uname(&u);
	printf("tame_get_ab: the same buffered %s four ways in one process\n"
	       "machine: %ld CPUs, kernel %s; DB %s (%" PRIu64 " MiB of table files, in the page "
	       "cache), %" PRIu64 " MiB block cache per DB\n"
	       "runs: %" PRIu64 " rounds x 4 ways x %" PRIu64 " lookups (keys over 2 x %" PRIu64
	       "), order rotating; reactor backend %s\n\n",
	       a.seek ? "Seeks (a new iterator each)" : "Gets", sysconf(_SC_NPROCESSORS_ONLN),
	       u.release, a.dir.c_str(), warm >> 20, a.cache_mib, a.rounds, a.gets, a.num,
	       tame_reactor_backend(reactor));

	const char *names[4] = {"default/thread", "default/fiber", "tame/thread", "tame/fiber"};
	std::vector<double> ns[4];
	uint64_t last_found = 0;
	auto run_way = [&](int way, uint64_t seed, Run *r) {
		r->args = &a;
		r->db = dbs[way >> 1];
		r->seed = seed;
		if (way & 1) {
			int e = tame_spawn(reactor, FiberGets, r);
			if (e == 0)
				e = tame_reactor_run(reactor, TAME_RUN_UNTIL_EMPTY);
			if (e) {
				fprintf(stderr, "tame_get_ab: running a fiber: %s\n", strerror(-e));
				r->failed = true;
			}
		} else {
			DoGets(r);
		}
	};
	// One unmeasured run of each way: table readers, caches and fibers warm.
	for (int w = 0; w < 4; w++) {
		Run r;
		run_way(w, 1, &r);
		if (r.failed)
			return 1;
	}
	for (uint64_t i = 0; i < a.rounds; i++) {
		Run r[4];
		for (int j = 0; j < 4; j++) {
			int w = (int)((i + (uint64_t)j) % 4);
			run_way(w, 1000 + i, &r[w]);
			if (r[w].failed)
				return 1;
		}
		for (int w = 1; w < 4; w++) {
			if (r[w].found != r[0].found) {
				fprintf(stderr,
				        "tame_get_ab: round %" PRIu64 ": %s found %" PRIu64
				        " keys, default/thread %" PRIu64 "\n",
				        i, names[w], r[w].found, r[0].found);
				return 1;
			}
		}
		for (int w = 0; w < 4; w++)
			ns[w].push_back(r[w].ns_per_get);
		last_found = r[0].found;
	}

	printf("%-15s %12s %10s %18s\n", "way", "median ns", "best ns", "speed vs default/thread");
	for (int w = 0; w < 4; w++) {
		std::vector<double> ratio;
		for (size_t i = 0; i < ns[w].size(); i++)
			ratio.push_back(ns[0][i] / ns[w][i]);
		printf("%-15s %12.0f %10.0f %12.3fx (median of rounds)\n", names[w], Median(ns[w]),
		       *std::min_element(ns[w].begin(), ns[w].end()), Median(ratio));
	}
	printf("found: %" PRIu64 " of %" PRIu64 " in the last round, the same in all four ways\n",
	       last_found, a.gets);
	tame_reactor_destroy(reactor);
	return 0;
}
