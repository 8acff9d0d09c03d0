// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the port/ tests: a watchdog that turns a hang into a
// message, clocks and deadlines, fibers run on this thread or on reactors
// of their own threads, bounded waits for fibers and plain threads.
//
// Every program that includes this links the tamerocks_port objects, so the
// pthread and libc calls below (and those inside gtest and libstdc++) are
// tamerocks'.
#ifndef TAME_PORT_TEST_UTIL_H
#define TAME_PORT_TEST_UTIL_H

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tame_fiber.h"
#include "tame_port.h"
#include "tame_reactor.h"
#include "test_util.h"

namespace tame_port_test
{

using tame_test::Fn;
using tame_test::kNsPerMs;

constexpr uint64_t kNsPerUs = 1000;
constexpr uint64_t kNsPerS = 1000 * kNsPerMs;

// ---- watchdog -------------------------------------------------------------

// Exits the process with a message if not disarmed within seconds. A broken
// primitive typically hangs a reactor thread (a fiber blocked the thread) or
// loses a wake-up; the watchdog names what was awaited. It uses alarm(2),
// write(2) and _exit(2) only, nothing the tests exercise. Watchdogs nest: a
// test's own watchdog replaces the default one every test gets (see
// DefaultWatchdog below) and gives it back, less the time spent, when done.
class Watchdog
{
      public:
	Watchdog(unsigned seconds, const std::string &what)
	    : outer_left_s_(alarm(0)), start_ns_(NowNs())
	{
		memcpy(outer_message_, message_, sizeof(message_));
		const testing::TestInfo *info =
		    testing::UnitTest::GetInstance()->current_test_info();
		snprintf(message_, sizeof(message_),
		         "\nWATCHDOG: %s.%s: not done within %u s: %s\n",
		         info ? info->test_suite_name() : "?", info ? info->name() : "?", seconds,
		         what.c_str());
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = Fire;
		sigaction(SIGALRM, &sa, nullptr);
		alarm(seconds);
	}
	~Watchdog()
	{
		alarm(0);
		memcpy(message_, outer_message_, sizeof(message_));
		if (outer_left_s_ == 0)
			return;
		uint64_t spent_s = (NowNs() - start_ns_) / 1000000000ull;
		alarm(outer_left_s_ > spent_s ? unsigned(outer_left_s_ - spent_s) : 1);
	}
	Watchdog(const Watchdog &) = delete;
	Watchdog &operator=(const Watchdog &) = delete;

      private:
	static uint64_t NowNs()
	{
		timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
	}
	static void Fire(int)
	{
		ssize_t n = write(2, message_, strlen(message_));
		(void)n;
		_exit(1);
	}
	static inline char message_[512];
	char outer_message_[512];
	unsigned outer_left_s_;
	uint64_t start_ns_;
};

// Every test of a program that includes this header runs under a watchdog,
// so that a test that hangs where it has none of its own still ends with its
// name, before ctest's timeout (TAME_PORT_TEST_TIMEOUT_SECONDS) kills it.
constexpr unsigned kDefaultWatchdogSeconds = 115;

class DefaultWatchdog : public testing::EmptyTestEventListener
{
      public:
	void OnTestStart(const testing::TestInfo &) override
	{
		dog_ = std::make_unique<Watchdog>(kDefaultWatchdogSeconds,
		                                  "the test hangs (default watchdog)");
	}
	void OnTestEnd(const testing::TestInfo &) override
	{
		dog_.reset();
	}

      private:
	std::unique_ptr<Watchdog> dog_;
};

inline const bool kDefaultWatchdogInstalled = [] {
	testing::UnitTest::GetInstance()->listeners().Append(new DefaultWatchdog);
	return true;
}();

// ---- clocks ---------------------------------------------------------------

inline uint64_t ClockNs(clockid_t clock)
{
	timespec ts;
	clock_gettime(clock, &ts);
	return uint64_t(ts.tv_sec) * kNsPerS + uint64_t(ts.tv_nsec);
}

inline uint64_t MonoNs()
{
	return ClockNs(CLOCK_MONOTONIC);
}

inline timespec TimespecOf(uint64_t ns)
{
	timespec ts;
	ts.tv_sec = time_t(ns / kNsPerS);
	ts.tv_nsec = long(ns % kNsPerS);
	return ts;
}

inline uint64_t NsOf(const timespec &ts)
{
	return uint64_t(ts.tv_sec) * kNsPerS + uint64_t(ts.tv_nsec);
}

// An absolute deadline ns from now on clock.
inline timespec AbsAfter(clockid_t clock, uint64_t ns)
{
	return TimespecOf(ClockNs(clock) + ns);
}

// Has clock reached abs? (A timed wait that returns ETIMEDOUT must have.)
inline bool Reached(clockid_t clock, const timespec &abs)
{
	return ClockNs(clock) >= NsOf(abs);
}

inline const char *ClockName(clockid_t clock)
{
	return clock == CLOCK_REALTIME ? "CLOCK_REALTIME" : "CLOCK_MONOTONIC";
}

// ---- where the code under test runs ---------------------------------------

// A fiber of a reactor or a plain thread: most semantics are checked on
// both.
enum class Ctx { kFiber, kThread };

inline const char *CtxName(Ctx c)
{
	return c == Ctx::kFiber ? "Fiber" : "Thread";
}

inline void PrintTo(Ctx c, std::ostream *os)
{
	*os << CtxName(c);
}

inline std::string CtxParamName(const testing::TestParamInfo<Ctx> &info)
{
	return CtxName(info.param);
}

inline const auto kBothCtx = testing::Values(Ctx::kFiber, Ctx::kThread);

// The reactors of these tests: the defaults, falling back to blocking I/O
// where the kernel refuses io_uring (the port layer does no I/O).
inline tame_reactor_opts PortOpts()
{
	tame_reactor_opts opts = tame_test::DefaultOpts();
	opts.flags |= TAME_REACTOR_SYNC_FALLBACK;
	return opts;
}

// Runs fns as fibers of one reactor owned by the calling thread, spawned in
// order (the run queue is FIFO, so the first runs first), until none is
// left. Returns the reactor's stats.
inline tame_reactor_stats RunFibers(std::vector<Fn> fns, const tame_reactor_opts &opts = PortOpts())
{
	tame_reactor_stats stats{};
	tame_test::ReactorPtr r = tame_test::MakeReactor(opts);
	if (!r)
		return stats;
	for (auto &fn : fns)
		EXPECT_EQ(tame_test::SpawnFn(r.get(), std::move(fn)), 0);
	EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
	return tame_test::StatsOf(r.get());
}

// Runs fn on a fiber (of a reactor on this thread) or on a new plain
// thread, and returns when it has finished.
inline void RunIn(Ctx ctx, Fn fn)
{
	if (ctx == Ctx::kFiber) {
		RunFibers({std::move(fn)});
		return;
	}
	std::thread t(std::move(fn));
	t.join();
}

// A reactor on its own thread running the fibers given, until none is
// left. The fibers are spawned before the loop starts, in order.
class FiberThread
{
      public:
	explicit FiberThread(std::vector<Fn> fns, const tame_reactor_opts &opts = PortOpts())
	    : fns_(std::move(fns)),
	      thread_(
	          opts,
	          [this](tame_reactor *r) {
		          for (auto &fn : fns_)
			          EXPECT_EQ(tame_test::SpawnFn(r, std::move(fn)), 0);
	          },
	          TAME_RUN_UNTIL_EMPTY)
	{
		EXPECT_EQ(thread_.create_rc(), 0);
	}
	// Blocks until every fiber has finished.
	void Join()
	{
		if (thread_.create_rc() == 0 && !joined_) {
			EXPECT_EQ(thread_.WaitRunReturned(), 0);
		}
		joined_ = true;
		thread_.Finish();
	}
	~FiberThread()
	{
		Join();
	}

      private:
	std::vector<Fn> fns_;
	bool joined_ = false;
	tame_test::ReactorThread thread_;
};

// ---- waiting for each other -----------------------------------------------

// Polls pred from a fiber (parking between polls) or a plain thread
// (sleeping) until it holds or timeout_ns passes; returns pred's last value.
template <typename Pred> bool WaitUntil(Pred pred, uint64_t timeout_ns)
{
	uint64_t deadline = MonoNs() + timeout_ns;
	while (!pred()) {
		if (MonoNs() >= deadline)
			return pred();
		tame_sleep_ns(50 * kNsPerUs);
	}
	return true;
}

constexpr uint64_t kPatienceNs = 10 * kNsPerS; // "never" for a handshake

// Counts while the fiber it runs on gets the CPU: started next to a fiber
// that blocks, it shows whether the reactor kept running other fibers.
struct Ticker {
	std::atomic<bool> stop{false};
	std::atomic<uint64_t> ticks{0};

	void Run()
	{
		while (!stop.load(std::memory_order_acquire)) {
			ticks.fetch_add(1, std::memory_order_relaxed);
			tame_sleep_ns(20 * kNsPerUs);
		}
	}
	uint64_t Now() const
	{
		return ticks.load(std::memory_order_relaxed);
	}
	void Stop()
	{
		stop.store(true, std::memory_order_release);
	}
};

// ---- fixtures -------------------------------------------------------------

inline void ExpectInterposed()
{
	ASSERT_TRUE(tame_port_interposed())
	    << "this test program does not resolve pthread_mutex_lock, pthread_cond_wait and "
	       "sched_yield to tamerocks' port/: link it with tamerocks_port";
}

class PortTest : public testing::Test
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
};

class PortCtxTest : public testing::TestWithParam<Ctx>
{
      protected:
	void SetUp() override
	{
		ExpectInterposed();
	}
	Ctx ctx() const
	{
		return GetParam();
	}
};

// A mutex initialized with attributes, destroyed at scope end.
class AttrMutex
{
      public:
	explicit AttrMutex(int type, int pshared = PTHREAD_PROCESS_PRIVATE)
	{
		pthread_mutexattr_t a;
		pthread_mutexattr_init(&a);
		EXPECT_EQ(pthread_mutexattr_settype(&a, type), 0);
		EXPECT_EQ(pthread_mutexattr_setpshared(&a, pshared), 0);
		EXPECT_EQ(pthread_mutex_init(&m_, &a), 0);
		pthread_mutexattr_destroy(&a);
	}
	~AttrMutex()
	{
		pthread_mutex_destroy(&m_);
	}
	AttrMutex(const AttrMutex &) = delete;
	AttrMutex &operator=(const AttrMutex &) = delete;
	pthread_mutex_t *get()
	{
		return &m_;
	}

      private:
	pthread_mutex_t m_;
};

// The mutex flavours RocksDB and the C++ library use. Each is set up the way
// its users set it up: static initializer, zeroed memory, attributes or
// std::mutex's constexpr constructor.
enum class MutexKind {
	kDefault,    // PTHREAD_MUTEX_INITIALIZER
	kZeroed,     // memset 0, no init call
	kAdaptive,   // PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP (RocksDB's port::Mutex)
	kRecursive,  // pthread_mutexattr_settype(PTHREAD_MUTEX_RECURSIVE)
	kErrorcheck, // pthread_mutexattr_settype(PTHREAD_MUTEX_ERRORCHECK)
	kStdMutex,   // std::mutex, locked through std::mutex
};

inline const char *MutexKindName(MutexKind k)
{
	switch (k) {
	case MutexKind::kDefault:
		return "Default";
	case MutexKind::kZeroed:
		return "Zeroed";
	case MutexKind::kAdaptive:
		return "Adaptive";
	case MutexKind::kRecursive:
		return "Recursive";
	case MutexKind::kErrorcheck:
		return "Errorcheck";
	case MutexKind::kStdMutex:
		return "StdMutex";
	}
	return "?";
}

inline void PrintTo(MutexKind k, std::ostream *os)
{
	*os << MutexKindName(k);
}

inline const auto kAllMutexKinds =
    testing::Values(MutexKind::kDefault, MutexKind::kZeroed, MutexKind::kAdaptive,
                    MutexKind::kRecursive, MutexKind::kErrorcheck, MutexKind::kStdMutex);

class TestMutex
{
      public:
	explicit TestMutex(MutexKind kind) : kind_(kind)
	{
		switch (kind) {
		case MutexKind::kDefault:
			m_ = PTHREAD_MUTEX_INITIALIZER;
			break;
		case MutexKind::kZeroed:
			memset(static_cast<void *>(&m_), 0, sizeof(m_));
			break;
		case MutexKind::kAdaptive:
			m_ = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
			break;
		case MutexKind::kRecursive:
		case MutexKind::kErrorcheck: {
			pthread_mutexattr_t a;
			pthread_mutexattr_init(&a);
			pthread_mutexattr_settype(&a, kind == MutexKind::kRecursive
			                                  ? PTHREAD_MUTEX_RECURSIVE
			                                  : PTHREAD_MUTEX_ERRORCHECK);
			EXPECT_EQ(pthread_mutex_init(&m_, &a), 0);
			pthread_mutexattr_destroy(&a);
			break;
		}
		case MutexKind::kStdMutex:
			break;
		}
	}
	TestMutex(const TestMutex &) = delete;
	TestMutex &operator=(const TestMutex &) = delete;

	int Lock()
	{
		if (kind_ == MutexKind::kStdMutex) {
			std_.lock();
			return 0;
		}
		return pthread_mutex_lock(&m_);
	}
	int Unlock()
	{
		if (kind_ == MutexKind::kStdMutex) {
			std_.unlock();
			return 0;
		}
		return pthread_mutex_unlock(&m_);
	}
	pthread_mutex_t *native()
	{
		return kind_ == MutexKind::kStdMutex ? std_.native_handle() : &m_;
	}
	MutexKind kind() const
	{
		return kind_;
	}

      private:
	MutexKind kind_;
	pthread_mutex_t m_;
	std::mutex std_;
};

} // namespace tame_port_test

#endif // TAME_PORT_TEST_UTIL_H
