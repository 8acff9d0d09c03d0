// SPDX-License-Identifier: Apache-2.0
#ifndef TAME_ENV_H
#define TAME_ENV_H

// tamerocks Env: TameFileSystem for files, TameClock for time, background
// jobs and StartThread bodies as fibers on reactors the Env owns.
//
// Each background reactor runs ONE job fiber at a time (a pool per priority
// of reactor threads pulling from one queue, like ThreadPoolImpl).
// StartThread bodies share fg_reactors reactor threads as fibers when port/
// is active (see PortReady); otherwise a fiber blocking on the DB mutex
// would block every fiber of its thread, so each body gets its own thread.
//
// Everything not overridden here (GetHostName, GetThreadList, ...) goes to
// the wrapped Env: NewCompositeEnv(TameFileSystem) over Env::Default().

#include <memory>

#include <rocksdb/env.h>
#include <rocksdb/system_clock.h>

#include "tame_uri.h"

namespace tamerocks
{

// NowMicros: epoch (CLOCK_REALTIME), as RocksDB computes condvar deadlines
// from it. NowNanos: CLOCK_MONOTONIC. Sleep parks a fiber, sleeps a thread.
class TameClock : public rocksdb::SystemClockWrapper
{
      public:
	TameClock();
	static const char *kClassName()
	{
		return "TameClock";
	}
	const char *Name() const override
	{
		return kClassName();
	}
	uint64_t NowMicros() override;
	uint64_t NowNanos() override;
	void SleepForMicroseconds(int micros) override;
};

// True when fibers sharing a thread may call RocksDB: this process's
// pthread_mutex_lock/pthread_cond_wait/sched_yield are tamerocks' (port/)
// and RocksDB's thread-locals are fiber-local slots. Otherwise *why says what
// is missing, in words a user can act on.
bool PortReady(std::string *why);

// Settle the options that depend on the process (fg_reactors' default) and
// refuse the impossible ones: InvalidArgument naming the key, or
// NotSupported when this process cannot run RocksDB on fibers at all.
rocksdb::Status ResolveEnvOptions(TameEnvOptions *opts);

class TameEnv : public rocksdb::EnvWrapper
{
      public:
	explicit TameEnv(const TameEnvOptions &opts);
	~TameEnv() override;

	static const char *kClassName()
	{
		return "TameEnv";
	}
	const char *Name() const override
	{
		return kClassName();
	}
	bool IsInstanceOf(const std::string &name) const override;

	void Schedule(void (*fn)(void *), void *arg, Priority pri = LOW, void *tag = nullptr,
	              void (*unsched_fn)(void *) = nullptr) override;
	int UnSchedule(void *tag, Priority pri) override;
	unsigned int GetThreadPoolQueueLen(Priority pri = LOW) const override;
	void SetBackgroundThreads(int num, Priority pri = LOW) override;
	int GetBackgroundThreads(Priority pri = LOW) override;
	void IncBackgroundThreadsIfNeeded(int num, Priority pri) override;
	int ReserveThreads(int threads_to_be_reserved, Priority pri) override;
	int ReleaseThreads(int threads_to_be_released, Priority pri) override;
	void LowerThreadPoolIOPriority(Priority) override
	{
	}
	void LowerThreadPoolCPUPriority(Priority) override
	{
	}
	rocksdb::Status LowerThreadPoolCPUPriority(Priority, rocksdb::CpuPriority) override
	{
		return rocksdb::Status::OK();
	}

	void StartThread(void (*fn)(void *), void *arg) override;
	void WaitForJoin() override;
	uint64_t GetThreadID() const override;

	uint64_t NowMicros() override;
	uint64_t NowNanos() override;
	void SleepForMicroseconds(int micros) override;

	const TameEnvOptions &options() const
	{
		return opts_;
	}

	class Pool;
	class Foreground;

      private:
	TameEnvOptions opts_;
	std::unique_ptr<Pool> pools_[Priority::TOTAL];
	std::unique_ptr<Foreground> fg_;
};

} // namespace tamerocks

#endif // TAME_ENV_H
