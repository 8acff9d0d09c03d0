// SPDX-License-Identifier: Apache-2.0
// Small helpers shared by the core tests: lambdas on fibers, reactors owned
// by their own threads, temporary directories, futex waits.
#ifndef TAME_TEST_UTIL_H
#define TAME_TEST_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "tame_fiber.h"
#include "tame_reactor.h"

namespace tame_test
{

constexpr uint64_t kNsPerMs = 1000 * 1000;

inline tame_reactor_opts DefaultOpts()
{
	tame_reactor_opts opts;
	tame_reactor_opts_init(&opts);
	return opts;
}

struct ReactorDeleter {
	void operator()(tame_reactor *r) const
	{
		tame_reactor_destroy(r);
	}
};
using ReactorPtr = std::unique_ptr<tame_reactor, ReactorDeleter>;

// Creates a reactor owned by the calling thread; fails the test (and returns
// null) when creation fails.
inline ReactorPtr MakeReactor(const tame_reactor_opts &opts)
{
	tame_reactor *r = nullptr;
	int rc = tame_reactor_create(&opts, &r);
	EXPECT_EQ(rc, 0) << "tame_reactor_create: " << strerror(-rc);
	if (rc != 0)
		return ReactorPtr();
	return ReactorPtr(r);
}

// Whether a reactor made with the defaults gets io_uring on this machine
// (false under the sync fallback: a kernel or sandbox that refuses it).
inline bool ReactorsUseIoUring()
{
	ReactorPtr r = MakeReactor(DefaultOpts());
	return r && tame_reactor_uses_io_uring(r.get());
}

inline tame_reactor_stats StatsOf(const tame_reactor *r)
{
	tame_reactor_stats s;
	tame_reactor_get_stats(r, &s);
	return s;
}

// A std::function run on a fiber. The fiber owns the heap copy and frees
// it when the function returns, so only use it for fibers that finish.
using Fn = std::function<void()>;

inline void FnTrampoline(void *arg)
{
	std::unique_ptr<Fn> fn(static_cast<Fn *>(arg));
	(*fn)();
}

inline int SpawnFn(tame_reactor *r, Fn fn)
{
	auto *heap = new Fn(std::move(fn));
	int rc = tame_spawn(r, FnTrampoline, heap);
	if (rc != 0)
		delete heap;
	return rc;
}

// Spawn from another thread or reactor, retrying while the inbox is full.
// Returns the number of -EAGAIN answers seen.
inline uint64_t SpawnFnRetrying(tame_reactor *r, const Fn &fn)
{
	uint64_t eagain = 0;
	for (;;) {
		int rc = SpawnFn(r, fn);
		if (rc == 0)
			return eagain;
		EXPECT_EQ(rc, -EAGAIN);
		if (rc != -EAGAIN)
			return eagain;
		++eagain;
		tame_yield(); // a fiber yields to its reactor, a thread sched_yields
	}
}

// Creates a reactor with opts on this thread, runs body on one of its
// fibers until no fiber is left, and returns the reactor's final stats.
inline tame_reactor_stats RunOnReactor(const tame_reactor_opts &opts, Fn body)
{
	tame_reactor_stats stats{};
	ReactorPtr r = MakeReactor(opts);
	if (!r)
		return stats;
	EXPECT_EQ(SpawnFn(r.get(), std::move(body)), 0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	return StatsOf(r.get());
}

inline tame_reactor_stats RunOnReactor(Fn body)
{
	return RunOnReactor(DefaultOpts(), std::move(body));
}

// The loop configurations the scheduling tests run under: each backend,
// with the default busy-poll and with the loop going to sleep in the kernel
// as soon as it is idle (which exercises the cross-thread kick path).
enum class Loop { kIoUring, kIoUringSleepAtOnce, kSync, kSyncSleepAtOnce };

inline tame_reactor_opts OptsFor(Loop loop)
{
	tame_reactor_opts opts = DefaultOpts();
	if (loop == Loop::kSync || loop == Loop::kSyncSleepAtOnce)
		opts.flags = TAME_REACTOR_NO_IO_URING | TAME_REACTOR_SYNC_FALLBACK;
	if (loop == Loop::kIoUringSleepAtOnce || loop == Loop::kSyncSleepAtOnce)
		opts.idle_poll_ns = 0;
	return opts;
}

inline const char *LoopName(Loop loop)
{
	switch (loop) {
	case Loop::kIoUring:
		return "IoUring";
	case Loop::kIoUringSleepAtOnce:
		return "IoUringSleepAtOnce";
	case Loop::kSync:
		return "Sync";
	case Loop::kSyncSleepAtOnce:
		return "SyncSleepAtOnce";
	}
	return "?";
}

inline void PrintTo(Loop loop, std::ostream *os)
{
	*os << LoopName(loop);
}

inline std::string LoopParamName(const testing::TestParamInfo<Loop> &info)
{
	return LoopName(info.param);
}

inline const auto kAllLoops =
    testing::Values(Loop::kIoUring, Loop::kIoUringSleepAtOnce, Loop::kSync, Loop::kSyncSleepAtOnce);

// Fixture for tests parameterized over Loop; skips the io_uring loops when
// the kernel refuses io_uring.
class LoopTest : public testing::TestWithParam<Loop>
{
      protected:
	void SetUp() override
	{
		tame_reactor_opts opts = Opts();
		tame_reactor *probe = nullptr;
		int rc = tame_reactor_create(&opts, &probe);
		if (rc == -ENOSYS || rc == -EPERM)
			GTEST_SKIP() << "kernel refuses io_uring: " << strerror(-rc);
		ASSERT_EQ(rc, 0) << strerror(-rc);
		tame_reactor_destroy(probe);
	}
	tame_reactor_opts Opts() const
	{
		return OptsFor(GetParam());
	}
};

// A reactor created, run and destroyed by its own OS thread. setup runs on
// the owner thread after creation and before tame_reactor_run. The reactor
// is destroyed only in Finish(), after the test has joined every thread
// that could still call tame_spawn/tame_wake on it.
class ReactorThread
{
      public:
	explicit ReactorThread(const tame_reactor_opts &opts,
	                       std::function<void(tame_reactor *)> setup = {},
	                       tame_run_mode mode = TAME_RUN_UNTIL_STOPPED)
	    : thread_([this, opts, setup, mode] { Main(opts, setup, mode); })
	{
		std::unique_lock<std::mutex> lock(mu_);
		cv_.wait(lock, [this] { return created_; });
	}

	~ReactorThread()
	{
		Finish();
	}

	tame_reactor *reactor() const
	{
		return reactor_;
	}
	int create_rc() const
	{
		return create_rc_;
	}
	std::thread::id thread_id() const
	{
		return thread_.get_id();
	}

	// Blocks until tame_reactor_run returned; its result.
	int WaitRunReturned()
	{
		std::unique_lock<std::mutex> lock(mu_);
		cv_.wait(lock, [this] { return run_returned_; });
		return run_rc_;
	}

	// Stats snapshot taken on the owner thread right after run returned.
	tame_reactor_stats StatsAfterRun()
	{
		WaitRunReturned();
		return stats_after_run_;
	}

	void Stop()
	{
		tame_reactor_stop(reactor_);
	}

	// Lets the owner destroy the reactor and joins it.
	void Finish()
	{
		if (!thread_.joinable())
			return;
		{
			std::lock_guard<std::mutex> lock(mu_);
			may_destroy_ = true;
		}
		cv_.notify_all();
		thread_.join();
	}

      private:
	void Main(const tame_reactor_opts &opts, const std::function<void(tame_reactor *)> &setup,
	          tame_run_mode mode)
	{
		tame_reactor *r = nullptr;
		int rc = tame_reactor_create(&opts, &r);
		if (rc == 0 && setup)
			setup(r);
		{
			std::lock_guard<std::mutex> lock(mu_);
			create_rc_ = rc;
			reactor_ = r;
			created_ = true;
		}
		cv_.notify_all();
		if (rc != 0)
			return;
		int run_rc = tame_reactor_run(r, mode);
		tame_reactor_stats stats = StatsOf(r);
		std::unique_lock<std::mutex> lock(mu_);
		run_rc_ = run_rc;
		stats_after_run_ = stats;
		run_returned_ = true;
		cv_.notify_all();
		cv_.wait(lock, [this] { return may_destroy_; });
		tame_reactor_destroy(r);
	}

	std::mutex mu_;
	std::condition_variable cv_;
	bool created_ = false;
	bool run_returned_ = false;
	bool may_destroy_ = false;
	int create_rc_ = 0;
	int run_rc_ = 0;
	tame_reactor *reactor_ = nullptr;
	tame_reactor_stats stats_after_run_{};
	std::thread thread_;
};

// Minimal futex wrappers so plain threads can wait for a fiber without
// burning a core that the reactor thread needs.
inline void FutexWait(std::atomic<uint32_t> *word, uint32_t expected)
{
	syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAIT_PRIVATE, expected,
	        nullptr, nullptr, 0);
}

inline void FutexWakeAll(std::atomic<uint32_t> *word)
{
	syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAKE_PRIVATE, INT32_MAX,
	        nullptr, nullptr, 0);
}

inline void CpuRelax()
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

// Waits on a plain thread until *word >= target: spins a few microseconds,
// then sleeps on the futex. No sched_yield: on a loaded machine it hands the
// core to a CPU hog for a whole tick, where a futex wake is served at once.
inline void ThreadWaitAtLeast(std::atomic<uint32_t> *word, uint32_t target)
{
	for (int spin = 0; spin < 1000; ++spin) {
		if (word->load(std::memory_order_acquire) >= target)
			return;
		CpuRelax();
	}
	for (;;) {
		uint32_t seen = word->load(std::memory_order_acquire);
		if (seen >= target)
			return;
		FutexWait(word, seen);
	}
}

// Waits on a fiber until pred() holds, letting the reactor run meanwhile.
template <typename Pred> void FiberSleepUntil(Pred pred)
{
	while (!pred())
		tame_sleep_ns(100 * 1000);
}

// A fresh directory under $TMPDIR (or /tmp) with an open O_PATH-free dirfd,
// removed with everything in it on destruction.
class TempDir
{
      public:
	TempDir()
	{
		const char *base = getenv("TMPDIR");
		std::string templ =
		    std::string(base && *base ? base : "/tmp") + "/tamerocks-test-XXXXXX";
		if (mkdtemp(&templ[0]) == nullptr) {
			ADD_FAILURE() << "mkdtemp: " << strerror(errno);
			return;
		}
		path_ = templ;
		fd_ = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		EXPECT_GE(fd_, 0) << strerror(errno);
	}
	~TempDir()
	{
		if (fd_ >= 0)
			close(fd_);
		if (!path_.empty())
			nftw(path_.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
	}
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;

	const std::string &path() const
	{
		return path_;
	}
	int fd() const
	{
		return fd_;
	}
	std::string Join(const std::string &name) const
	{
		return path_ + "/" + name;
	}

      private:
	static int RemoveEntry(const char *p, const struct stat *, int, struct FTW *)
	{
		remove(p);
		return 0;
	}
	std::string path_;
	int fd_ = -1;
};

} // namespace tame_test

#endif // TAME_TEST_UTIL_H
