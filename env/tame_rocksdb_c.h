/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tamerocks Env for programs that use RocksDB's C API (rocksdb/c.h).
 *
 * RocksDB's C API makes Envs only by name (rocksdb_create_default_env,
 * rocksdb_create_mem_env), and an options string's "env=tamerocks://" asks
 * RocksDB for an Env that lives forever, which tamerocks' Env is not (it
 * joins its reactor threads when destroyed). This call makes one from a URI:
 *
 *   char *err = NULL;
 *   rocksdb_env_t *env = tame_rocksdb_create_env("tamerocks://", &err);
 *   if (!env) { fprintf(stderr, "%s\n", err); free(err); ... }
 *   rocksdb_options_set_env(opts, env);
 *   ... rocksdb_open, use, rocksdb_close ...
 *   rocksdb_env_destroy(env);   // after every DB opened with it is closed
 *
 * A DB opened with it reads and writes through tamerocks' io_uring
 * FileSystem: on a reactor fiber (inside tame_call's fn, say) a read parks
 * the fiber and the reactor runs other requests; on any other thread the
 * same files use plain system calls. Flushes and compactions run as fibers
 * on the Env's background reactors. The rocksdb_env_* calls
 * (rocksdb_env_set_background_threads, ...) work on it as on any Env.
 *
 * Returns NULL and sets *errptr (malloc'd; free it; a previous *errptr is
 * freed first, as RocksDB's C API does) for a URI that is not tamerocks:// or
 * that Env::CreateFromUri would refuse: the message names the bad key.
 *
 * Built into libtamerocks.so, which must then be linked ahead of libc (or
 * preloaded) as for any use of tamerocks with RocksDB.
 */
#ifndef TAME_ROCKSDB_C_H
#define TAME_ROCKSDB_C_H

#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

rocksdb_env_t *tame_rocksdb_create_env(const char *uri, char **errptr);

#ifdef __cplusplus
}
#endif

#endif /* TAME_ROCKSDB_C_H */
