// SPDX-License-Identifier: Apache-2.0
// TameEnv: background jobs and StartThread bodies run as fibers on reactor
// threads the Env owns; pools behave like the Posix Env's; the clock.
#include <dirent.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/listener.h>
#include <rocksdb/thread_status.h>

#include "env_test_util.h"
#include "test_util.h"
#include "tame_env.h"
#include "tame_fs.h"

using rocksdb::Env;
using tamerocks::TameEnv;
using tamerocks::TameEnvOptions;
using namespace tamerocks_test;

namespace
{

// Polls cond for up to 30 s.
bool WaitFor(const std::function<bool()> &cond)
{
	for (int i = 0; i < 30000; i++) {
		if (cond())
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	return cond();
}

int CountThreads()
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	while (dirent *e = readdir(d))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

struct Probe {
	std::atomic<int> ran{0};
	std::atomic<int> on_fiber{0};
};

void ProbeJob(void *p)
{
	auto *probe = static_cast<Probe *>(p);
	if (tame_fiber_self() != nullptr && tame_fiber_reactor() != nullptr)
		probe->on_fiber++;
	probe->ran++;
}

TEST(TameEnvSchedule, JobsOfEveryPriorityRunAsFibersOnBackgroundReactors)
{
	Probe probe; // declared first: it outlives the env's job threads
	TameEnv env{TameEnvOptions()};
	for (auto pri : {Env::BOTTOM, Env::LOW, Env::HIGH}) {
		env.SetBackgroundThreads(1, pri);
		for (int i = 0; i < 10; i++)
			env.Schedule(ProbeJob, &probe, pri);
	}
	ASSERT_TRUE(WaitFor([&] { return probe.ran == 30; }));
	EXPECT_EQ(30, probe.on_fiber.load());
}

struct Gate {
	std::promise<void> open;
	std::shared_future<void> opened{open.get_future().share()};
	std::atomic<int> entered{0};
};

void GateJob(void *p)
{
	auto *g = static_cast<Gate *>(p);
	g->entered++;
	g->opened.wait();
}

void CountJob(void *p)
{
	(*static_cast<std::atomic<int> *>(p))++;
}

TEST(TameEnvSchedule, UnScheduleRemovesQueuedJobsAndCallsTheirUnscheduleFn)
{
	Gate gate; // outlives env, whose destructor joins the jobs still using it
	TameEnv env{TameEnvOptions()};
	env.SetBackgroundThreads(1, Env::LOW);
	env.Schedule(GateJob, &gate, Env::LOW);
	ASSERT_TRUE(WaitFor([&] { return gate.entered == 1; }));
	std::atomic<int> ran{0};
	int tag_a = 0, tag_b = 0;
	for (int i = 0; i < 3; i++)
		env.Schedule(CountJob, &ran, Env::LOW, &tag_a, CountJob);
	env.Schedule(CountJob, &ran, Env::LOW, &tag_b, nullptr);
	EXPECT_EQ(4u, env.GetThreadPoolQueueLen(Env::LOW));
	// unschedFn(arg) is CountJob(&ran) here: ran counts the unscheduled.
	EXPECT_EQ(3, env.UnSchedule(&tag_a, Env::LOW));
	EXPECT_EQ(3, ran.load()) << "unschedFn(arg) was called for each removed job";
	EXPECT_EQ(1u, env.GetThreadPoolQueueLen(Env::LOW));
	EXPECT_EQ(0, env.UnSchedule(&tag_a, Env::LOW));
	gate.open.set_value();
	ASSERT_TRUE(WaitFor([&] { return ran == 4; }));
}

// As the Posix Env's ThreadPoolImpl: no thread in any pool until asked.
// DB::Open raises LOW and HIGH to its job limits; BOTTOM stays 0, so RocksDB
// keeps bottommost compactions in LOW unless the user sets BOTTOM threads
// (with 1 there, RocksDB's db_universal_compaction_test hung on tamerocks).
TEST(TameEnvSchedule, EveryPoolStartsWithNoThreadsAsThePosixEnvs)
{
	const int before = CountThreads();
	TameEnv env{TameEnvOptions()};
	for (auto pri : {Env::BOTTOM, Env::LOW, Env::HIGH})
		EXPECT_EQ(0, env.GetBackgroundThreads(pri)) << "priority " << pri;
	std::atomic<int> ran{0};
	env.Schedule(CountJob, &ran, Env::BOTTOM);
	EXPECT_EQ(1u, env.GetThreadPoolQueueLen(Env::BOTTOM)) << "queued until a thread is allowed";
	EXPECT_EQ(before, CountThreads()) << "no thread before a limit is raised";
	env.SetBackgroundThreads(1, Env::BOTTOM);
	ASSERT_TRUE(WaitFor([&] { return ran == 1; }));
}

TEST(TameEnvSchedule, BackgroundThreadsAreCappedByTheUriOption)
{
	TameEnvOptions o;
	o.bg_reactors = 2;
	TameEnv env{o};
	env.SetBackgroundThreads(8, Env::LOW);
	EXPECT_EQ(2, env.GetBackgroundThreads(Env::LOW));
	env.SetBackgroundThreads(1, Env::HIGH);
	env.IncBackgroundThreadsIfNeeded(2, Env::HIGH);
	EXPECT_EQ(2, env.GetBackgroundThreads(Env::HIGH));
	env.IncBackgroundThreadsIfNeeded(1, Env::HIGH);
	EXPECT_EQ(2, env.GetBackgroundThreads(Env::HIGH));
}

TEST(TameEnvSchedule, JobsRunConcurrentlyUpToTheLimitOneJobPerReactor)
{
	Gate gate; // outlives env, whose destructor joins the jobs still using it
	TameEnv env{TameEnvOptions()};
	env.SetBackgroundThreads(3, Env::LOW);
	for (int i = 0; i < 5; i++)
		env.Schedule(GateJob, &gate, Env::LOW);
	ASSERT_TRUE(WaitFor([&] { return gate.entered == 3; }));
	std::this_thread::sleep_for(std::chrono::milliseconds(50));
	EXPECT_EQ(3, gate.entered.load()) << "a blocked job holds its reactor";
	EXPECT_EQ(2u, env.GetThreadPoolQueueLen(Env::LOW));
	gate.open.set_value();
	ASSERT_TRUE(WaitFor([&] { return gate.entered == 5; }));
}

TEST(TameEnvSchedule, ReserveThreadsTakesOnlyIdleThreadsAndReleaseGivesBack)
{
	TameEnv env{TameEnvOptions()};
	EXPECT_EQ(0, env.ReserveThreads(2, Env::LOW)) << "no thread before the limit is raised";
	env.SetBackgroundThreads(2, Env::LOW);
	int got = 0;
	ASSERT_TRUE(WaitFor([&] {
		got += env.ReserveThreads(5 - got, Env::LOW);
		return got == 2;
	})) << "SetBackgroundThreads starts both threads, idle until a job comes";
	std::atomic<int> ran{0};
	env.Schedule(CountJob, &ran, Env::LOW);
	std::this_thread::sleep_for(std::chrono::milliseconds(50));
	EXPECT_EQ(0, ran.load()) << "reserved threads take no jobs";
	EXPECT_EQ(2, env.ReleaseThreads(5, Env::LOW));
	ASSERT_TRUE(WaitFor([&] { return ran == 1; }));
	EXPECT_EQ(0, env.ReleaseThreads(5, Env::LOW)) << "nothing left reserved";
}

// RocksDB's RoundRobinSubcompactionsAgainstResources: DB::Open raises LOW to
// max_background_compactions (5 there), the test lowers it to 1 and then
// reserves. ThreadPoolImpl's threads beyond the limit exit; tamerocks'
// park, and are not there to reserve either.
TEST(TameEnvSchedule, ReserveThreadsCountsOnlyIdleThreadsWithinTheLimit)
{
	TameEnv env{TameEnvOptions()};
	env.SetBackgroundThreads(5, Env::LOW);
	int got = 0;
	ASSERT_TRUE(WaitFor([&] {
		got += env.ReserveThreads(5 - got, Env::LOW);
		return got == 5;
	}));
	EXPECT_EQ(5, env.ReleaseThreads(5, Env::LOW));
	env.SetBackgroundThreads(1, Env::LOW);
	EXPECT_EQ(1, env.ReserveThreads(5, Env::LOW)) << "4 of the 5 idle threads are beyond the limit";
	EXPECT_EQ(1, env.ReleaseThreads(5, Env::LOW));
	env.SetBackgroundThreads(3, Env::LOW);
	EXPECT_EQ(3, env.ReserveThreads(5, Env::LOW)) << "raising the limit brings idle threads back";
	EXPECT_EQ(3, env.ReleaseThreads(5, Env::LOW));
	std::atomic<int> ran{0};
	env.Schedule(CountJob, &ran, Env::LOW);
	ASSERT_TRUE(WaitFor([&] { return ran == 1; }));
}

struct Body {
	std::mutex mu;
	std::set<uint64_t> ids;
	std::atomic<int> on_fiber{0};
	std::atomic<int> done{0};
	Env *env;
};

void BodyFn(void *p)
{
	auto *b = static_cast<Body *>(p);
	if (tame_fiber_self() != nullptr)
		b->on_fiber++;
	b->env->SleepForMicroseconds(2000);
	{
		std::lock_guard<std::mutex> lk(b->mu);
		b->ids.insert(b->env->GetThreadID());
	}
	b->done++;
}

class TameEnvStartThread : public ::testing::TestWithParam<unsigned>
{
};

TEST_P(TameEnvStartThread, BodiesRunAsFibersWithUniqueIdsAndWaitForJoinWaits)
{
	TameEnvOptions o;
	o.fg_reactors = GetParam();
	Body body; // declared first: it outlives the env's threads
	TameEnv env{o};
	body.env = &env;
	for (int i = 0; i < 8; i++)
		env.StartThread(BodyFn, &body);
	env.WaitForJoin();
	EXPECT_EQ(8, body.done.load());
	EXPECT_EQ(8, body.on_fiber.load());
	EXPECT_EQ(8u, body.ids.size());
}

INSTANTIATE_TEST_SUITE_P(FgReactors, TameEnvStartThread, ::testing::Values(0u, 2u));

TEST(TameEnvLifetime, DestroyingTheEnvJoinsEveryThreadItStarted)
{
	int before = CountThreads();
	{
		TameEnvOptions o;
		o.fg_reactors = 2;
		Probe probe; // declared first: it outlives the env's job threads
		TameEnv env{o};
		env.SetBackgroundThreads(4, Env::LOW);
		env.SetBackgroundThreads(2, Env::HIGH);
		for (int i = 0; i < 20; i++)
			env.Schedule(ProbeJob, &probe, Env::LOW);
		env.Schedule(ProbeJob, &probe, Env::HIGH);
		Body body;
		body.env = &env;
		env.StartThread(BodyFn, &body);
		env.WaitForJoin();
		ASSERT_TRUE(WaitFor([&] { return probe.ran == 21; }));
		EXPECT_GT(CountThreads(), before);
	}
	EXPECT_EQ(before, CountThreads());
}

struct PipeReads {
	int fd;
	int n;
	std::atomic<int> ok{0};
};

void PipeReadsFn(void *p)
{
	auto *pr = static_cast<PipeReads *>(p);
	for (int i = 0; i < pr->n; i++) {
		char c;
		pr->ok += tame_io_read(pr->fd, &c, 1, -1) == 1;
	}
}

// What destroying an Env with reactors that ran fibers writes to stderr.
std::string StderrOfEnvReading(bool stats, int reads)
{
	int p[2];
	EXPECT_EQ(0, pipe(p));
	std::string bytes(reads, 'x');
	EXPECT_EQ(reads, write(p[1], bytes.data(), bytes.size()));
	PipeReads pr{p[0], reads};
	testing::internal::CaptureStderr();
	{
		TameEnvOptions o;
		o.fg_reactors = 1;
		o.stats = stats;
		TameEnv env{o};
		env.StartThread(PipeReadsFn, &pr);
		env.WaitForJoin();
	}
	std::string err = testing::internal::GetCapturedStderr();
	EXPECT_EQ(reads, pr.ok.load());
	close(p[0]);
	close(p[1]);
	return err;
}

// Env::GetThreadList, as for the Posix Env's pools: RocksDB's thread status
// lists each pool thread with its priority while it is within its pool's
// limit, and the operation of the job it runs.
int ListedThreads(Env &env, rocksdb::ThreadStatus::ThreadType type,
                  rocksdb::ThreadStatus::OperationType op = rocksdb::ThreadStatus::NUM_OP_TYPES)
{
	std::vector<rocksdb::ThreadStatus> list;
	EXPECT_TRUE(env.GetThreadList(&list).ok());
	int n = 0;
	for (const rocksdb::ThreadStatus &t : list)
		n += t.thread_type == type &&
		     (op == rocksdb::ThreadStatus::NUM_OP_TYPES || t.operation_type == op);
	return n;
}

TEST(TameEnvThreadStatus, PoolThreadsAreListedWithTheirPriorityWhileWithinTheLimit)
{
	using rocksdb::ThreadStatus;
	Gate gate; // outlives env, whose destructor joins the jobs still using it
	TameEnv env{TameEnvOptions()};
	EXPECT_EQ(0, ListedThreads(env, ThreadStatus::LOW_PRIORITY));
	env.SetBackgroundThreads(3, Env::LOW);
	env.SetBackgroundThreads(1, Env::HIGH);
	for (int i = 0; i < 3; i++)
		env.Schedule(GateJob, &gate, Env::LOW);
	env.Schedule(GateJob, &gate, Env::HIGH);
	ASSERT_TRUE(WaitFor([&] { return gate.entered == 4; }));
	EXPECT_EQ(3, ListedThreads(env, ThreadStatus::LOW_PRIORITY));
	EXPECT_EQ(1, ListedThreads(env, ThreadStatus::HIGH_PRIORITY));
	EXPECT_EQ(0, ListedThreads(env, ThreadStatus::BOTTOM_PRIORITY));
	gate.open.set_value();
	env.SetBackgroundThreads(1, Env::LOW);
	EXPECT_TRUE(WaitFor([&] { return ListedThreads(env, ThreadStatus::LOW_PRIORITY) == 1; }))
	    << ListedThreads(env, ThreadStatus::LOW_PRIORITY) << " LOW threads listed, limit 1";
	env.SetBackgroundThreads(2, Env::LOW);
	EXPECT_TRUE(WaitFor([&] { return ListedThreads(env, ThreadStatus::LOW_PRIORITY) == 2; }))
	    << ListedThreads(env, ThreadStatus::LOW_PRIORITY) << " LOW threads listed, limit 2";
	EXPECT_EQ(1, ListedThreads(env, ThreadStatus::HIGH_PRIORITY));
}

// RocksDB's DBTest.GetThreadStatus, on tamerocks: as the Posix Env's,
// SetBackgroundThreads starts the pool's threads before any job, so each
// pool lists exactly its limit, raised or lowered.
TEST(TameEnvThreadStatus, SetBackgroundThreadsListsEachPoolsLimitBeforeAnyJob)
{
	using rocksdb::ThreadStatus;
	TameEnv env{TameEnvOptions()};
	const int kHigh[] = {3, 2, 5}, kLow[] = {10, 15, 3}, kBottom[] = {2, 1, 4};
	for (int i = 0; i < 3; i++) {
		env.SetBackgroundThreads(kHigh[i], Env::HIGH);
		env.SetBackgroundThreads(kLow[i], Env::LOW);
		env.SetBackgroundThreads(kBottom[i], Env::BOTTOM);
		int high = -1, low = -1, bottom = -1;
		EXPECT_TRUE(WaitFor([&] {
			high = ListedThreads(env, ThreadStatus::HIGH_PRIORITY);
			low = ListedThreads(env, ThreadStatus::LOW_PRIORITY);
			bottom = ListedThreads(env, ThreadStatus::BOTTOM_PRIORITY);
			return high == kHigh[i] && low == kLow[i] && bottom == kBottom[i];
		})) << "round " << i << ": listed HIGH " << high << " LOW " << low << " BOTTOM "
		    << bottom;
	}
}

// A new DB at path on env, with thread tracking and the listener; null (and
// a failure) if it does not open.
std::unique_ptr<rocksdb::DB> OpenTrackedDb(Env &env, const std::string &path,
                                           std::shared_ptr<rocksdb::EventListener> listener)
{
	rocksdb::Options o;
	o.env = &env;
	o.create_if_missing = true;
	o.enable_thread_tracking = true;
	o.listeners.push_back(std::move(listener));
	rocksdb::DB *raw = nullptr;
	rocksdb::Status s = rocksdb::DB::Open(o, path, &raw);
	EXPECT_TRUE(s.ok()) << s.ToString();
	return std::unique_ptr<rocksdb::DB>(raw);
}

// A flush shows as OP_FLUSH of a HIGH_PRIORITY thread while it runs on a
// fiber of the Env's HIGH pool (RocksDB's DBTest.ThreadStatusFlush, on
// tamerocks).
TEST(TameEnvThreadStatus, AFlushShowsAsTheFlushOperationOfAHighPriorityThread)
{
	struct SeeFlush : rocksdb::EventListener {
		Env *env;
		std::atomic<int> flushes_seen{-1};
		explicit SeeFlush(Env *e) : env(e)
		{
		}
		void OnFlushBegin(rocksdb::DB *, const rocksdb::FlushJobInfo &) override
		{
			flushes_seen = ListedThreads(*env, rocksdb::ThreadStatus::HIGH_PRIORITY,
			                             rocksdb::ThreadStatus::OP_FLUSH);
		}
	};
	TameEnv env{TameEnvOptions()};
	auto see = std::make_shared<SeeFlush>(&env);
	TempDir dir;
	std::unique_ptr<rocksdb::DB> db = OpenTrackedDb(env, dir / "db", see);
	ASSERT_TRUE(db);
	ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
	ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
	EXPECT_EQ(1, see->flushes_seen.load());
	ASSERT_TRUE(db->Close().ok());
}

// RocksDB's EventListenerTest.OnSingleDBFlushTest, on tamerocks: on the
// thread that writes a flush's table file, Env::GetThreadID() is the id of a
// thread that GetThreadList shows running a flush. A pool thread registers
// under its own id and runs one job at a time, so its job fiber answers with
// that id; other fibers keep ids of their own.
TEST(TameEnvThreadStatus, AFlushJobsThreadIdIsThatOfAListedFlushThread)
{
	struct MatchFlushThread : rocksdb::EventListener {
		Env *env;
		std::atomic<int> files{0}, matched{0};
		std::atomic<uint64_t> job_id{0};
		explicit MatchFlushThread(Env *e) : env(e)
		{
		}
		void OnTableFileCreated(const rocksdb::TableFileCreationInfo &) override
		{
			const uint64_t id = env->GetThreadID();
			std::vector<rocksdb::ThreadStatus> list;
			EXPECT_TRUE(env->GetThreadList(&list).ok());
			bool match = false;
			for (const rocksdb::ThreadStatus &t : list)
				match |= t.operation_type == rocksdb::ThreadStatus::OP_FLUSH &&
				         t.thread_id == id;
			job_id = id;
			files++;
			matched += match;
		}
	};
	TameEnv env{TameEnvOptions()};
	auto see = std::make_shared<MatchFlushThread>(&env);
	TempDir dir;
	std::unique_ptr<rocksdb::DB> db = OpenTrackedDb(env, dir / "db", see);
	ASSERT_TRUE(db);
	for (int i = 0; i < 3; i++) {
		ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k" + std::to_string(i), "v").ok());
		ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
	}
	EXPECT_EQ(3, see->files.load());
	EXPECT_EQ(3, see->matched.load());
	// A fiber that is no pool job keeps an id of its own.
	Body body;
	body.env = &env;
	env.StartThread(BodyFn, &body);
	env.WaitForJoin();
	ASSERT_EQ(1u, body.ids.size());
	EXPECT_NE(see->job_id.load(), *body.ids.begin());
	EXPECT_NE(env.GetThreadID(), *body.ids.begin());
	ASSERT_TRUE(db->Close().ok());
}

TEST(TameEnvStats, StatsTruePrintsEachReactorsCountersWhenTheEnvGoes)
{
	std::string err = StderrOfEnvReading(true, 5);
	EXPECT_NE(std::string::npos, err.find("tamerocks: stats: reactor tame:fg (")) << err;
	// The fiber's five reads went through the ring (a pipe read is an
	// io_uring read) and were timed; with the sync fallback there is no
	// ring and nothing to time.
	if (tame_test::ReactorsUseIoUring()) {
		EXPECT_NE(std::string::npos, err.find(" 5 I/O operations in ")) << err;
	}
	EXPECT_NE(std::string::npos, err.find("us completed until its fiber ran")) << err;
}

TEST(TameEnvStats, WithoutStatsTheEnvWritesNothing)
{
	std::string err = StderrOfEnvReading(false, 5);
	EXPECT_EQ(std::string::npos, err.find("tamerocks: stats")) << err;
}

TEST(TameEnvClock, NowMicrosIsEpochAndNowNanosIsMonotonic)
{
	TameEnv env{TameEnvOptions()};
	struct timespec rt, mono;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	uint64_t rt_us = (uint64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000;
	uint64_t mono_ns = (uint64_t)mono.tv_sec * 1000000000 + mono.tv_nsec;
	EXPECT_LT(std::abs((int64_t)(env.NowMicros() - rt_us)), 1000000);
	EXPECT_LT(std::abs((int64_t)(env.GetSystemClock()->NowMicros() - rt_us)), 1000000);
	uint64_t n1 = env.GetSystemClock()->NowNanos();
	EXPECT_LT(n1 - mono_ns, 1000000000u);
	env.SleepForMicroseconds(1000);
	EXPECT_GE(env.NowNanos() - n1, 1000000u);
}

TEST(TameEnvClock, SleepOnAFiberParksItInsteadOfBlockingTheReactor)
{
	auto clock = std::make_shared<tamerocks::TameClock>();
	std::atomic<int> ticks{0};
	tame_reactor *r = nullptr;
	ASSERT_EQ(0, tame_reactor_create(nullptr, &r));
	struct Ctx {
		std::shared_ptr<tamerocks::TameClock> clock;
		std::atomic<int> *ticks;
	} ctx{clock, &ticks};
	uint64_t t0 = tame_now_ns();
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, tame_spawn(
		                 r,
		                 [](void *p) {
			                 auto *c = static_cast<Ctx *>(p);
			                 c->clock->SleepForMicroseconds(50000);
			                 (*c->ticks)++;
		                 },
		                 &ctx));
	}
	ASSERT_EQ(0, tame_reactor_run(r, TAME_RUN_UNTIL_EMPTY));
	uint64_t elapsed = tame_now_ns() - t0;
	tame_reactor_destroy(r);
	EXPECT_EQ(4, ticks.load());
	EXPECT_LT(elapsed, 150000000u) << "four 50 ms sleeps overlapped";
}

TEST(TameEnvFiles, TheEnvUsesTheTamerocksFileSystemForBothApis)
{
	TameEnv env{TameEnvOptions()};
	EXPECT_STREQ(tamerocks::TameFileSystem::kClassName(), env.GetFileSystem()->Name());
	EXPECT_STREQ(tamerocks::TameClock::kClassName(), env.GetSystemClock()->Name());
	TempDir dir;
	std::unique_ptr<rocksdb::WritableFile> w;
	ASSERT_TRUE(env.NewWritableFile(dir / "f", &w, rocksdb::EnvOptions()).ok());
	ASSERT_TRUE(w->Append("abc").ok());
	ASSERT_TRUE(w->Close().ok());
	uint64_t size = 0;
	ASSERT_TRUE(env.GetFileSize(dir / "f", &size).ok());
	EXPECT_EQ(3u, size);
	EXPECT_TRUE(env.FileExists(dir / "missing").IsNotFound());
	std::unique_ptr<rocksdb::SequentialFile> s;
	rocksdb::Status st = env.NewSequentialFile(dir / "missing", &s, rocksdb::EnvOptions());
	EXPECT_TRUE(st.IsPathNotFound()) << st.ToString();
}

} // namespace
