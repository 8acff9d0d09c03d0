// SPDX-License-Identifier: Apache-2.0
#include "tame_rocksdb_c.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <rocksdb/env.h>

#include "tame_register.h"
#include "tame_uri.h"

// rocksdb/c.h declares rocksdb_env_t opaque; RocksDB's db/c.cc defines it as
// below (7.x and 8.x alike) and rocksdb_env_destroy() deletes rep unless
// is_default. Same layout here, so the handle is an ordinary C API Env:
// TameCApi.* open a DB through it and find tamerocks' FileSystem in its LOG.
struct rocksdb_env_t {
	rocksdb::Env *rep;
	bool is_default;
};

namespace
{

void SetError(char **errptr, const std::string &msg)
{
	if (!errptr)
		return;
	free(*errptr);
	*errptr = strdup(msg.c_str());
}

} // namespace

extern "C" rocksdb_env_t *tame_rocksdb_create_env(const char *uri, char **errptr)
{
	const std::string prefix = std::string(tamerocks::kUriScheme) + tamerocks::kUriSeparator;
	if (!uri || strncmp(uri, prefix.c_str(), prefix.size()) != 0) {
		SetError(errptr, std::string("tame_rocksdb_create_env: '") + (uri ? uri : "(null)") +
		                     "' is not a " + prefix + " URI");
		return nullptr;
	}
	std::unique_ptr<rocksdb::Env> guard;
	std::string errmsg;
	rocksdb::Env *env = tamerocks::NewEnvFromUri(uri, &guard, &errmsg);
	if (!env) {
		SetError(errptr, "tame_rocksdb_create_env: " + errmsg);
		return nullptr;
	}
	auto *handle = new rocksdb_env_t{guard.release(), false};
	return handle;
}
