// SPDX-License-Identifier: Apache-2.0
#include "tame_env.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <rocksdb/thread_status.h>

#include "tame_fiber.h"
#include "tame_fs.h"
#include "tame_port.h"
#include "tame_reactor.h"

using rocksdb::Env;

namespace tamerocks
{

bool PortReady(std::string *why)
{
	if (!tame_port_interposed()) {
		*why = "this process's pthread_mutex_lock is not tamerocks' (run with "
		       "LD_PRELOAD=libtamerocks.so, or link libtamerocks ahead of libc)";
		return false;
	}
	int slots = tame_port_register_rocksdb_tls();
	if (slots <= 0) {
		*why = slots < 0 ? std::string("RocksDB's thread-locals could not be made "
		                               "fiber-local: ") +
		                       strerror(-slots)
		                 : "RocksDB's thread-locals are not exported by any loaded "
		                   "object (a static RocksDB?), so fibers cannot have their own";
		return false;
	}
	return true;
}

rocksdb::Status ResolveEnvOptions(TameEnvOptions *opts)
{
	std::string why;
	bool ready = PortReady(&why);
	// PortReady has tried to register RocksDB's thread-locals. The
	// interposed pthread keys are per fiber, so RocksDB's ThreadLocalPtr
	// data is freed when the fiber that made it ends; its tls_ pointer to
	// that data must then be the fiber's too, or the next fiber of the
	// thread uses freed memory.
	if (tame_port_interposed() && tame_port_rocksdb_tls_slots() == 0)
		return rocksdb::Status::NotSupported(
		    "tamerocks: RocksDB's thread-locals were found neither among the exported "
		    "symbols of a loaded object nor in this program's symbol table (RocksDB "
		    "linked statically into a stripped program?), so the fibers of a thread "
		    "would share RocksDB's per-thread data and free it under each other. Link "
		    "RocksDB as a shared library (librocksdb.so), or keep the program's symbol "
		    "table (do not strip it)");
	if (!opts->fg_reactors_given) {
		// One reactor per CPU: callers that never park (a writer on the
		// page cache) then still run in parallel with the others.
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		opts->fg_reactors = ready ? (unsigned)std::min<long>(std::max<long>(cpus, 1), 256) : 0;
		return rocksdb::Status::OK();
	}
	if (opts->fg_reactors > 0 && !ready)
		return rocksdb::Status::InvalidArgument(
		    "tamerocks URI option 'fg_reactors': " + std::to_string(opts->fg_reactors) +
		    " shared reactors need fiber-aware locks, but " + why);
	return rocksdb::Status::OK();
}

TameClock::TameClock() : rocksdb::SystemClockWrapper(rocksdb::SystemClock::Default())
{
}

uint64_t TameClock::NowMicros()
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t TameClock::NowNanos()
{
	return tame_now_ns();
}

void TameClock::SleepForMicroseconds(int micros)
{
	if (micros > 0)
		tame_sleep_ns((uint64_t)micros * 1000u);
}

namespace
{

struct Job {
	void (*fn)(void *);
	void *arg;
	void *tag;
	void (*unsched_fn)(void *);
};

void RunJobFiber(void *p)
{
	Job *job = static_cast<Job *>(p);
	job->fn(job->arg);
}

// The fiber running a pool job on this thread, if any. It answers
// GetThreadID with the pool thread's id: RocksDB lists each pool thread in
// thread status under the GetThreadID() of its registration, and matches a
// job's GetThreadID() against that list (EventListenerTest.
// OnSingleDBFlushTest). A pool thread runs one job at a time, so the id is
// still the job's alone; every other fiber keeps its own.
thread_local const tame_fiber *tls_pool_job_fiber = nullptr;

void RunPoolJobFiber(void *p)
{
	tls_pool_job_fiber = tame_fiber_self();
	RunJobFiber(p);
	tls_pool_job_fiber = nullptr;
}

// A reactor owned by the calling thread, or nullptr when it cannot be made
// (the jobs then run directly on the thread, I/O as plain system calls).
tame_reactor *CreateReactor(const TameEnvOptions &o, const char *name)
{
	tame_reactor_opts ro;
	tame_reactor_opts_init(&ro);
	ro.name = name;
	ro.ring_entries = o.ring_entries;
	ro.stack_bytes = o.stack_bytes;
	ro.slice_ns = o.slice_us * 1000u;
	ro.idle_poll_ns = o.idle_poll_us * 1000u;
	ro.submit_ns = o.submit_us * 1000u;
	ro.submit_depth = o.submit_depth;
	ro.submit_tune = o.submit_tune;
	ro.wake_batch = o.wake_batch;
	ro.wake_wait_ns = o.wake_wait_us * 1000u;
	ro.read_buffers = o.read_buffers;
	ro.read_buffer_bytes = (size_t)o.read_buffer_kib << 10;
	ro.flags = (o.sync_fallback ? TAME_REACTOR_SYNC_FALLBACK : 0u) |
	           (o.io_uring ? 0u : TAME_REACTOR_NO_IO_URING) |
	           (o.stats ? TAME_REACTOR_TIME_IO : 0u);
	tame_reactor *r = nullptr;
	int rc = tame_reactor_create(&ro, &r);
	if (rc < 0) {
		fprintf(stderr,
		        "tamerocks: %s: tame_reactor_create: %s; running on the "
		        "plain thread\n",
		        name, strerror(-rc));
		return nullptr;
	}
	return r;
}

// The URI's stats:true: r's counters, one line to stderr if it ran a fiber.
void PrintStats(tame_reactor *r, const char *name)
{
	tame_reactor_stats st;
	tame_reactor_get_stats(r, &st);
	if (st.switches > 0) {
		double n = st.io_timed ? (double)st.io_timed : 1.0;
		fprintf(stderr,
		        "tamerocks: stats: reactor %s (%s): %llu fiber resumes, %llu "
		        "parks, %llu yields; %llu I/O operations in %llu enters (%llu early; "
		        "submit_tune: %llu of %llu windows with no depth limit, %llu trials, "
		        "%llu changes), "
		        "%llu sleeps (%llu batched); per operation: %.1f us queued, %.1f us in the "
		        "kernel, %.1f us completed until its fiber ran; direct reads: %llu "
		        "through read buffers (%llu registered), %llu not (%llu of them "
		        "into memory allocated for an unaligned read)\n",
		        name, tame_reactor_backend(r),
		        (unsigned long long)st.switches, (unsigned long long)st.parks,
		        (unsigned long long)st.yields, (unsigned long long)st.io_timed,
		        (unsigned long long)st.io_enters, (unsigned long long)st.early_enters,
		        (unsigned long long)st.submit_tune_open_windows,
		        (unsigned long long)st.submit_tune_windows,
		        (unsigned long long)st.submit_tune_trials,
		        (unsigned long long)st.submit_tune_changes,
		        (unsigned long long)st.sleeps, (unsigned long long)st.batched_sleeps,
		        st.io_queued_ns / n / 1e3,
		        st.io_kernel_ns / n / 1e3, st.io_resume_ns / n / 1e3,
		        (unsigned long long)st.read_buf_reads, (unsigned long long)st.read_buf_fixed,
		        (unsigned long long)st.read_buf_bypassed,
		        (unsigned long long)st.read_buf_allocated);
	}
}

// Destroys r (owned by this thread, not running), its stats printed first
// when the URI asked for them.
void DestroyReactor(const TameEnvOptions &o, tame_reactor *r, const char *name)
{
	if (r == nullptr)
		return;
	if (o.stats)
		PrintStats(r, name);
	tame_reactor_destroy(r);
}

// Runs job as a fiber of r (owned by this thread), entered through entry,
// until it returns.
void RunOnOwnReactor(tame_reactor *r, Job *job, tame_fiber_fn entry = RunJobFiber)
{
	if (r != nullptr) {
		int rc = tame_spawn(r, entry, job);
		if (rc == 0) {
			tame_reactor_run(r, TAME_RUN_UNTIL_EMPTY);
			return;
		}
		fprintf(stderr, "tamerocks: tame_spawn: %s; running on the plain thread\n",
		        strerror(-rc));
	}
	job->fn(job->arg);
}

// RocksDB's thread status (Env::GetThreadList): a pool thread registers
// with RocksDB's ThreadStatusUpdater as ThreadPoolImpl's threads do, so the
// flush or compaction it runs shows as that thread's operation (each pool
// thread runs one job at a time). ThreadStatusUtil is internal to RocksDB
// (monitoring/thread_status_util.h is not installed); its two static
// members are reached by their mangled names, weakly, so that a RocksDB
// built without them still links and runs, without thread status.
extern "C" void tame_rocksdb_register_thread(const rocksdb::Env *env,
                                             rocksdb::ThreadStatus::ThreadType type)
    __asm__("_ZN7rocksdb16ThreadStatusUtil14RegisterThreadEPKNS_3EnvENS_12ThreadStatus10ThreadTypeE")
        __attribute__((weak));
extern "C" void tame_rocksdb_unregister_thread()
    __asm__("_ZN7rocksdb16ThreadStatusUtil16UnregisterThreadEv") __attribute__((weak));

bool CanListThreads()
{
	return tame_rocksdb_register_thread != nullptr && tame_rocksdb_unregister_thread != nullptr;
}

// Registers (listed) or unregisters the calling thread; returns listed.
// Only where CanListThreads().
bool ListThread(const Env *env, Env::Priority pri, bool listed)
{
	if (!listed) {
		tame_rocksdb_unregister_thread();
		return false;
	}
	rocksdb::ThreadStatus::ThreadType type = rocksdb::ThreadStatus::LOW_PRIORITY;
	if (pri == Env::Priority::HIGH)
		type = rocksdb::ThreadStatus::HIGH_PRIORITY;
	else if (pri == Env::Priority::BOTTOM)
		type = rocksdb::ThreadStatus::BOTTOM_PRIORITY;
	tame_rocksdb_register_thread(env, type);
	return true;
}

const char *PoolName(Env::Priority pri)
{
	switch (pri) {
	case Env::Priority::BOTTOM:
		return "tame:bottom";
	case Env::Priority::LOW:
		return "tame:low";
	case Env::Priority::HIGH:
		return "tame:high";
	default:
		return "tame:user";
	}
}

} // namespace

// Reactor threads of one priority; each runs at most one job fiber at a
// time (see tame_env.h). Mirrors ThreadPoolImpl: a thread takes a job only
// if it is within the limit and more threads wait than are reserved.
class TameEnv::Pool
{
      public:
	Pool(const Env *env, const TameEnvOptions &o, Env::Priority pri)
	    : env_(env), opts_(o), pri_(pri), cap_((int)o.bg_reactors)
	{
	}
	~Pool()
	{
		{
			std::lock_guard<std::mutex> lk(mu_);
			exit_ = true;
		}
		cv_.notify_all();
		for (std::thread &t : threads_)
			t.join();
	}

	void Schedule(const Job &job)
	{
		{
			std::lock_guard<std::mutex> lk(mu_);
			queue_.push_back(job);
			StartThreadsLocked();
		}
		cv_.notify_all();
	}
	int UnSchedule(void *tag)
	{
		std::vector<Job> removed;
		{
			std::lock_guard<std::mutex> lk(mu_);
			auto keep =
			    std::stable_partition(queue_.begin(), queue_.end(),
			                          [&](const Job &j) { return j.tag != tag; });
			removed.assign(keep, queue_.end());
			queue_.erase(keep, queue_.end());
		}
		for (const Job &j : removed)
			if (j.unsched_fn != nullptr)
				j.unsched_fn(j.arg);
		return (int)removed.size();
	}
	unsigned QueueLen() const
	{
		std::lock_guard<std::mutex> lk(mu_);
		return (unsigned)queue_.size();
	}
	void SetLimit(int num, bool only_increase)
	{
		{
			std::lock_guard<std::mutex> lk(mu_);
			int n = std::min(std::max(num, 0), cap_);
			if (only_increase && n <= limit_)
				return;
			// Idle threads crossing the limit join or leave the
			// count ReserveThreads draws on.
			const int lo = std::min(n, limit_), hi = std::max(n, limit_);
			for (int i = lo; i < hi && i < (int)idle_.size(); i++)
				if (idle_[i])
					waiting_ += n > limit_ ? 1 : -1;
			limit_ = n;
			// As ThreadPoolImpl: raising the limit starts the
			// threads (RocksDB's GetThreadStatus counts them).
			StartThreadsLocked();
		}
		cv_.notify_all();
	}
	int Limit() const
	{
		std::lock_guard<std::mutex> lk(mu_);
		return limit_;
	}
	int Reserve(int n)
	{
		std::lock_guard<std::mutex> lk(mu_);
		int got = std::min(std::max(waiting_ - reserved_, 0), n);
		reserved_ += got;
		return got;
	}
	int Release(int n)
	{
		int got;
		{
			std::lock_guard<std::mutex> lk(mu_);
			got = std::min(reserved_, n);
			reserved_ -= got;
		}
		cv_.notify_all();
		return got;
	}

      private:
	void StartThreadsLocked()
	{
		while ((int)threads_.size() < limit_) {
			int index = (int)threads_.size();
			idle_.push_back(false);
			threads_.emplace_back([this, index] { Main(index); });
		}
	}
	void SetIdleLocked(int index, bool idle)
	{
		idle_[index] = idle;
		if (index < limit_)
			waiting_ += idle ? 1 : -1;
	}
	void Main(int index)
	{
		pthread_setname_np(pthread_self(), PoolName(pri_));
		tame_reactor *r = CreateReactor(opts_, PoolName(pri_));
		const bool can_list = CanListThreads();
		bool listed = false;
		std::unique_lock<std::mutex> lk(mu_);
		for (;;) {
			SetIdleLocked(index, true);
			while (!exit_ &&
			       (queue_.empty() || index >= limit_ || waiting_ <= reserved_)) {
				// Listed in thread status while within the pool's
				// limit, as ThreadPoolImpl's excess threads exit.
				if (can_list && listed != (index < limit_)) {
					lk.unlock();
					listed = ListThread(env_, pri_, !listed);
					lk.lock();
					continue;
				}
				cv_.wait(lk);
			}
			SetIdleLocked(index, false);
			if (exit_)
				break;
			Job job = queue_.front();
			queue_.pop_front();
			lk.unlock();
			if (can_list && !listed)
				listed = ListThread(env_, pri_, true);
			RunOnOwnReactor(r, &job, RunPoolJobFiber);
			lk.lock();
		}
		lk.unlock();
		if (listed)
			ListThread(env_, pri_, false);
		DestroyReactor(opts_, r, PoolName(pri_));
	}

	const Env *const env_; // the TameEnv, for thread status
	const TameEnvOptions opts_;
	const Env::Priority pri_;
	const int cap_;
	mutable std::mutex mu_;
	std::condition_variable cv_;
	std::deque<Job> queue_;
	std::vector<std::thread> threads_;
	int limit_ = 0; // as ThreadPoolImpl: DB::Open raises LOW and HIGH, BOTTOM stays 0
	std::vector<bool> idle_;  // by thread index: waiting for a job
	int waiting_ = 0;         // idle threads within the limit, as ThreadPoolImpl's
	                          // (whose threads beyond it exit)
	int reserved_ = 0;
	bool exit_ = false;
};

// StartThread bodies. fg_reactors == 0: one reactor thread per body.
// fg_reactors == N: N shared reactor threads, bodies spawned round-robin.
class TameEnv::Foreground
{
      public:
	explicit Foreground(const TameEnvOptions &o) : opts_(o)
	{
	}
	~Foreground()
	{
		WaitForJoin();
		for (tame_reactor *r : shared_)
			tame_reactor_stop(r);
		for (std::thread &t : shared_threads_)
			t.join();
	}

	void Start(void (*fn)(void *), void *arg)
	{
		std::unique_lock<std::mutex> lk(mu_);
		outstanding_++;
		if (opts_.fg_reactors == 0) {
			Job job{fn, arg, nullptr, nullptr};
			dedicated_.emplace_back([this, job]() mutable {
				pthread_setname_np(pthread_self(), "tame:fg");
				tame_reactor *r = CreateReactor(opts_, "tame:fg");
				RunOnOwnReactor(r, &job);
				DestroyReactor(opts_, r, "tame:fg");
				Done();
			});
			return;
		}
		StartSharedLocked();
		tame_reactor *r = shared_[next_++ % shared_.size()];
		lk.unlock();
		auto *ctx = new SharedJob{this, {fn, arg, nullptr, nullptr}};
		int rc;
		while ((rc = tame_spawn(r, SharedFiber, ctx)) == -EAGAIN)
			tame_yield();
		if (rc < 0) {
			fprintf(stderr,
			        "tamerocks: StartThread: tame_spawn: %s; running on a "
			        "plain thread\n",
			        strerror(-rc));
			lk.lock();
			dedicated_.emplace_back([ctx] { SharedFiber(ctx); });
		}
	}

	void WaitForJoin()
	{
		std::vector<std::thread> threads;
		{
			std::unique_lock<std::mutex> lk(mu_);
			done_cv_.wait(lk, [&] { return outstanding_ == 0; });
			threads.swap(dedicated_);
		}
		for (std::thread &t : threads)
			t.join();
	}

      private:
	struct SharedJob {
		Foreground *self;
		Job job;
	};
	static void SharedFiber(void *p)
	{
		auto *ctx = static_cast<SharedJob *>(p);
		ctx->job.fn(ctx->job.arg);
		Foreground *self = ctx->self;
		delete ctx;
		self->Done();
	}
	void Done()
	{
		std::lock_guard<std::mutex> lk(mu_);
		if (--outstanding_ == 0)
			done_cv_.notify_all();
	}
	void StartSharedLocked()
	{
		while (shared_.size() < opts_.fg_reactors) {
			std::promise<tame_reactor *> made;
			std::future<tame_reactor *> reactor = made.get_future();
			shared_threads_.emplace_back([this, &made] {
				pthread_setname_np(pthread_self(), "tame:fg");
				tame_reactor *r = CreateReactor(opts_, "tame:fg");
				made.set_value(r);
				if (r == nullptr)
					return;
				tame_reactor_run(r, TAME_RUN_UNTIL_STOPPED);
				DestroyReactor(opts_, r, "tame:fg");
			});
			tame_reactor *r = reactor.get();
			if (r == nullptr) {
				shared_threads_.back().join();
				shared_threads_.pop_back();
				opts_.fg_reactors = 0; // fall back to a thread per body
				return;
			}
			shared_.push_back(r);
		}
	}

	TameEnvOptions opts_;
	std::mutex mu_;
	std::condition_variable done_cv_;
	int outstanding_ = 0;
	std::vector<std::thread> dedicated_;
	std::vector<tame_reactor *> shared_;
	std::vector<std::thread> shared_threads_;
	size_t next_ = 0;
};

TameEnv::TameEnv(const TameEnvOptions &opts)
    : rocksdb::EnvWrapper(
          rocksdb::NewCompositeEnv(std::make_shared<TameFileSystem>(opts.align_direct_reads))),
      opts_(opts)
{
	// The DB takes these two directly; the wrapped composite Env serves the
	// legacy Env file API with the same TameFileSystem.
	file_system_ = target()->GetFileSystem();
	system_clock_ = std::make_shared<TameClock>();
	for (int p = 0; p < Priority::TOTAL; p++)
		pools_[p].reset(new Pool(this, opts_, (Priority)p));
	fg_.reset(new Foreground(opts_));
}

TameEnv::~TameEnv()
{
	fg_.reset();
	for (auto &pool : pools_)
		pool.reset();
}

bool TameEnv::IsInstanceOf(const std::string &name) const
{
	return name == "tamerocks" || rocksdb::EnvWrapper::IsInstanceOf(name);
}

void TameEnv::Schedule(void (*fn)(void *), void *arg, Priority pri, void *tag,
                       void (*unsched_fn)(void *))
{
	pools_[pri]->Schedule(Job{fn, arg, tag, unsched_fn});
}

int TameEnv::UnSchedule(void *tag, Priority pri)
{
	return pools_[pri]->UnSchedule(tag);
}

unsigned int TameEnv::GetThreadPoolQueueLen(Priority pri) const
{
	return pools_[pri]->QueueLen();
}

void TameEnv::SetBackgroundThreads(int num, Priority pri)
{
	pools_[pri]->SetLimit(num, false);
}

int TameEnv::GetBackgroundThreads(Priority pri)
{
	return pools_[pri]->Limit();
}

void TameEnv::IncBackgroundThreadsIfNeeded(int num, Priority pri)
{
	pools_[pri]->SetLimit(num, true);
}

int TameEnv::ReserveThreads(int n, Priority pri)
{
	return pools_[pri]->Reserve(n);
}

int TameEnv::ReleaseThreads(int n, Priority pri)
{
	return pools_[pri]->Release(n);
}

void TameEnv::StartThread(void (*fn)(void *), void *arg)
{
	fg_->Start(fn, arg);
}

void TameEnv::WaitForJoin()
{
	fg_->WaitForJoin();
}

uint64_t TameEnv::GetThreadID() const
{
	// Fiber ids are small counters; the high bit keeps them apart from the
	// pthread ids the wrapped Env gives plain threads. A pool job's fiber
	// answers as its pool thread (tls_pool_job_fiber).
	tame_fiber *f = tame_fiber_self();
	if (f != nullptr && f != tls_pool_job_fiber)
		return tame_fiber_id(f) | (1ull << 63);
	return target()->GetThreadID();
}

uint64_t TameEnv::NowMicros()
{
	return system_clock_->NowMicros();
}
uint64_t TameEnv::NowNanos()
{
	return system_clock_->NowNanos();
}
void TameEnv::SleepForMicroseconds(int micros)
{
	system_clock_->SleepForMicroseconds(micros);
}

} // namespace tamerocks
