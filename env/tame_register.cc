// SPDX-License-Identifier: Apache-2.0
#include "tame_register.h"

#include <cstring>
#include <memory>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "tame_env.h"
#include "tame_fs.h"
#include "tame_reactor.h"
#include "tame_uri.h"

using rocksdb::ObjectLibrary;

namespace
{

ObjectLibrary::PatternEntry UriPattern()
{
	// Matches "tamerocks://" followed by anything; the factory gets the whole
	// URI and parses the options itself.
	return ObjectLibrary::PatternEntry(tamerocks::kUriScheme, false)
	    .AddSeparator(tamerocks::kUriSeparator, false);
}

// sync_fallback:false promises io_uring or nothing: find out now, while
// the caller can still be told, rather than on a background thread later.
bool IoUringAvailable(const tamerocks::TameEnvOptions &opts, std::string *errmsg)
{
	tame_reactor_opts ro;
	tame_reactor_opts_init(&ro);
	ro.ring_entries = opts.ring_entries;
	tame_reactor *r = nullptr;
	int rc = tame_reactor_create(&ro, &r);
	if (rc < 0) {
		*errmsg = std::string("tamerocks URI option 'sync_fallback': false, but "
		                      "io_uring cannot be set up: ") +
		          strerror(-rc);
		return false;
	}
	tame_reactor_destroy(r);
	return true;
}

} // namespace

rocksdb::Env *tamerocks::NewEnvFromUri(const std::string &uri, std::unique_ptr<rocksdb::Env> *guard,
                                       std::string *errmsg)
{
	tamerocks::TameEnvOptions opts;
	rocksdb::Status s = tamerocks::ParseEnvUri(uri, &opts);
	if (!s.ok()) {
		*errmsg = s.getState() ? s.getState() : s.ToString();
		return nullptr;
	}
	s = tamerocks::ResolveEnvOptions(&opts);
	if (!s.ok()) {
		*errmsg = s.getState() ? s.getState() : s.ToString();
		return nullptr;
	}
	if (!opts.sync_fallback && !IoUringAvailable(opts, errmsg))
		return nullptr;
	guard->reset(new tamerocks::TameEnv(opts));
	return guard->get();
}

namespace
{

rocksdb::FileSystem *NewFs(const std::string &uri, std::unique_ptr<rocksdb::FileSystem> *guard,
                           std::string *errmsg)
{
	tamerocks::TameFsOptions opts;
	rocksdb::Status s = tamerocks::ParseFsUri(uri, &opts);
	if (!s.ok()) {
		*errmsg = s.getState() ? s.getState() : s.ToString();
		return nullptr;
	}
	guard->reset(new tamerocks::TameFileSystem(opts.align_direct_reads));
	return guard->get();
}

} // namespace

extern "C" int tamerocks_reg(ObjectLibrary &lib, const std::string &)
{
	lib.AddFactory<rocksdb::Env>(UriPattern(), tamerocks::NewEnvFromUri);
	lib.AddFactory<rocksdb::FileSystem>(UriPattern(), NewFs);
	return 2;
}

#ifndef TAMEROCKS_NO_STATIC_REGISTRATION
namespace
{
const int registered = tamerocks_reg(*ObjectLibrary::Default(), "");
} // namespace
#endif
