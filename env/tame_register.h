// SPDX-License-Identifier: Apache-2.0
#ifndef TAME_REGISTER_H
#define TAME_REGISTER_H

#include <memory>
#include <string>

#include <rocksdb/utilities/object_registry.h>

// Registers the "tamerocks://" Env and FileSystem factories in lib and
// returns how many it registered (2). This is the RocksDB plugin registrar
// (tamerocks_FUNC of the in-tree plugin build). libtamerocks.so also calls
// it on ObjectLibrary::Default() from a static initializer, so a preloaded
// library is enough for db_bench --env_uri / --fs_uri.
extern "C" int tamerocks_reg(rocksdb::ObjectLibrary &lib, const std::string &arg);

namespace rocksdb
{
class Env;
}

namespace tamerocks
{
// The Env factory behind "tamerocks://...": a new TameEnv owned by *guard,
// or nullptr and *errmsg naming the bad key (also used by
// tame_rocksdb_create_env, the C API's way in).
rocksdb::Env *NewEnvFromUri(const std::string &uri, std::unique_ptr<rocksdb::Env> *guard,
                            std::string *errmsg);
} // namespace tamerocks

#endif // TAME_REGISTER_H
