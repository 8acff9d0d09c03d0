/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TAME_PORT_H
#define TAME_PORT_H

/*
 * tamerocks port layer: the blocking pthread and libc primitives, made
 * fiber-aware.
 *
 * libtamerocks.so (and any program that links the port objects ahead of
 * libc) defines pthread_mutex_*, pthread_cond_*, pthread_rwlock_*,
 * pthread_once, pthread_join, pthread_{get,set}specific, pthread_key_*,
 * sched_yield, nanosleep, clock_nanosleep, usleep, sleep and
 * __cxa_guard_{acquire,release,abort}. Unmodified code, such as Debian's
 * librocksdb, reaches them through its PLT:
 *
 * - On a plain thread they behave as glibc's: a contended lock or a wait
 *   sleeps in the kernel (futex), a sleep sleeps, sched_yield yields.
 * - On a fiber of a reactor they park the fiber (or requeue it, for a
 *   yield); the reactor runs other fibers and resumes this one when the
 *   holder unlocks, the condition is signalled or the deadline passes.
 *   Wake-ups cross threads both ways.
 * - Mutexes, condition variables and rwlocks are tamerocks' own
 *   implementation for fibers and threads alike (glibc's condvar would
 *   release the mutex where no interposer sees it). Zero-initialized
 *   objects are valid. Process-shared, robust and priority-protocol mutexes,
 *   and process-shared condvars and rwlocks, are left to glibc entirely
 *   (fibers then block their thread on them).
 * - Lock ownership is per fiber on a fiber: two fibers of one thread are
 *   two owners (recursive and error-checking mutexes, rwlock EDEADLK).
 * - pthread keys are per fiber on a fiber; their destructors run when the
 *   fiber returns, as at thread exit.
 *
 * None of this needs initialization: the functions work from the first
 * static initializer of the process.
 */

#include <stdbool.h>

#include "tame_reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * No-yield sections (tame_noyield_enter/exit) and tame_can_park are declared
 * in tame_reactor.h: the reactor's I/O calls honour them too.
 * pthread_once and C++ function-static initializers are no-yield sections
 * automatically: a fiber parked inside an initializer while another fiber of
 * its thread waits for that initializer would deadlock the thread.
 */

/*
 * True if this process's pthread_mutex_lock, pthread_cond_wait and
 * sched_yield are tamerocks' (libtamerocks.so preloaded or linked ahead of
 * libc). When false, fibers that share a thread must not call code that
 * blocks; the tamerocks Env then gives each RocksDB caller its own thread.
 */
bool tame_port_interposed(void);

/*
 * Make RocksDB's thread-local state (ThreadLocalPtr's SuperVersion cache,
 * perf_level, perf_context, iostats_context) fiber-local, by registering the
 * TLS symbols librocksdb exports as fiber-local slots. Looks them up in the
 * objects loaded now; fibers created afterwards get their own copies.
 * Idempotent and thread-safe. Returns the number of slots registered (0 if
 * no loaded object exports them, for example a RocksDB linked statically
 * without exported symbols), or -errno (-ENOSPC: no fiber-local slots
 * left).
 */
int tame_port_register_rocksdb_tls(void);

/* Slots registered by tame_port_register_rocksdb_tls so far (0 if none). */
int tame_port_rocksdb_tls_slots(void);

/*
 * Whether fibers may call RocksDB in this process. Registers RocksDB's
 * thread-locals as tame_port_register_rocksdb_tls does; returns 0 when they
 * are fiber-local or when no RocksDB is in the process (none loaded yet, and
 * the program file holds none), -ENOTSUP when the program file contains a
 * RocksDB whose thread-locals were found nowhere (linked statically into a
 * program stripped of its symbol table; said once on stderr, with what to
 * do), or registration's -errno. tame_call_pool_create refuses its pool with
 * that answer. The program file is read once, the first time nothing is
 * registered.
 */
int tame_port_check_rocksdb_tls(void);

#ifdef __cplusplus
}
#endif

#endif /* TAME_PORT_H */
