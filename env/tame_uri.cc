// SPDX-License-Identifier: Apache-2.0
#include "tame_uri.h"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include "tame_fiber.h"
#include "tame_reactor.h"

using rocksdb::Status;

namespace tamerocks
{
namespace
{

static_assert(TameEnvOptions{}.read_buffers == TAME_REACTOR_DEFAULT_READ_BUFFERS,
              "the URI's default is the reactor's");
static_assert(((size_t)TameEnvOptions{}.read_buffer_kib << 10) ==
                  TAME_REACTOR_DEFAULT_READ_BUFFER_BYTES,
              "the URI's default is the reactor's");

Status Bad(const std::string &key, const std::string &why)
{
	return Status::InvalidArgument("tamerocks URI option '" + key + "'", why);
}

Status ParseU64(const std::string &key, const std::string &value, uint64_t min, uint64_t max,
                uint64_t *out)
{
	if (value.empty() || value[0] < '0' || value[0] > '9')
		return Bad(key, "'" + value + "' is not a number");
	errno = 0;
	char *end = nullptr;
	unsigned long long v = strtoull(value.c_str(), &end, 10);
	if (errno != 0 || *end != '\0')
		return Bad(key, "'" + value + "' is not a number");
	if (v < min || v > max)
		return Bad(key, value + " is out of range " + std::to_string(min) + ".." +
		                    std::to_string(max));
	*out = v;
	return Status::OK();
}

Status ParseBool(const std::string &key, const std::string &value, bool *out)
{
	if (value == "true" || value == "1") {
		*out = true;
	} else if (value == "false" || value == "0") {
		*out = false;
	} else {
		return Bad(key, "'" + value + "' is not true or false");
	}
	return Status::OK();
}

// Splits "tamerocks://a:1,b:2" into {a:1, b:2}; rejects repeats and items
// without ':'.
Status SplitUri(const std::string &uri, std::map<std::string, std::string> *kv)
{
	std::string prefix = std::string(kUriScheme) + kUriSeparator;
	if (uri.compare(0, prefix.size(), prefix) != 0)
		return Status::InvalidArgument("tamerocks URI must start with " + prefix, uri);
	std::string rest = uri.substr(prefix.size());
	size_t pos = 0;
	while (pos < rest.size()) {
		size_t comma = rest.find(',', pos);
		if (comma == std::string::npos)
			comma = rest.size();
		std::string item = rest.substr(pos, comma - pos);
		pos = comma + 1;
		if (item.empty())
			continue;
		size_t colon = item.find(':');
		std::string key = item.substr(0, colon);
		if (colon == std::string::npos)
			return Bad(key,
			           "has no ':value' (syntax: " + prefix + "key:value,key:value)");
		if (!kv->emplace(key, item.substr(colon + 1)).second)
			return Bad(key, "is given more than once");
	}
	return Status::OK();
}

Status ApplyOption(const std::string &key, const std::string &value, TameEnvOptions *o)
{
	uint64_t v = 0;
	Status s;
	if (key == "fg_reactors") {
		s = ParseU64(key, value, 0, 256, &v);
		o->fg_reactors = (unsigned)v;
		o->fg_reactors_given = true;
	} else if (key == "bg_reactors") {
		s = ParseU64(key, value, 1, 1024, &v);
		o->bg_reactors = (unsigned)v;
	} else if (key == "ring_entries") {
		s = ParseU64(key, value, 1, TAME_REACTOR_MAX_RING_ENTRIES, &v);
		if (s.ok() && (v & (v - 1)) != 0)
			return Bad(key, value + " is not a power of two");
		o->ring_entries = (unsigned)v;
	} else if (key == "stack_bytes") {
		s = ParseU64(key, value, TAME_FIBER_MIN_STACK_BYTES, 64ull << 20, &v);
		o->stack_bytes = (size_t)v;
	} else if (key == "slice_us") {
		s = ParseU64(key, value, 1, 10000000, &v);
		o->slice_us = v;
	} else if (key == "idle_poll_us") {
		s = ParseU64(key, value, 0, 1000000, &v);
		o->idle_poll_us = v;
	} else if (key == "submit_us") {
		s = ParseU64(key, value, 0, 1000000, &v);
		o->submit_us = v;
	} else if (key == "submit_depth") {
		s = ParseU64(key, value, 0, 1000000, &v);
		o->submit_depth = (unsigned)v;
	} else if (key == "submit_tune") {
		s = ParseBool(key, value, &o->submit_tune);
	} else if (key == "wake_batch") {
		s = ParseU64(key, value, 1, TAME_REACTOR_MAX_WAKE_BATCH, &v);
		o->wake_batch = (unsigned)v;
	} else if (key == "wake_wait_us") {
		s = ParseU64(key, value, 0, TAME_REACTOR_MAX_WAKE_WAIT_NS / 1000, &v);
		o->wake_wait_us = v;
	} else if (key == "read_buffers") {
		s = ParseU64(key, value, 0, TAME_REACTOR_MAX_READ_BUFFERS, &v);
		o->read_buffers = (unsigned)v;
	} else if (key == "read_buffer_kib") {
		s = ParseU64(key, value, 4, TAME_REACTOR_MAX_READ_BUFFER_BYTES >> 10, &v);
		if (s.ok() && v % 4 != 0)
			return Bad(key, value + " is not a multiple of 4 (whole 4 KiB pages)");
		o->read_buffer_kib = (unsigned)v;
	} else if (key == "sync_fallback") {
		s = ParseBool(key, value, &o->sync_fallback);
	} else if (key == "io_uring") {
		s = ParseBool(key, value, &o->io_uring);
	} else if (key == "stats") {
		s = ParseBool(key, value, &o->stats);
	} else if (key == "align_direct_reads") {
		s = ParseBool(key, value, &o->align_direct_reads);
	} else {
		return Bad(key, "is unknown (known: fg_reactors, bg_reactors, "
		                "ring_entries, stack_bytes, slice_us, idle_poll_us, "
		                "submit_us, submit_depth, submit_tune, wake_batch, wake_wait_us, read_buffers, "
		                "read_buffer_kib, sync_fallback, "
		                "io_uring, stats, align_direct_reads)");
	}
	return s;
}

} // namespace

Status ParseEnvUri(const std::string &uri, TameEnvOptions *out)
{
	std::map<std::string, std::string> kv;
	Status s = SplitUri(uri, &kv);
	if (!s.ok())
		return s;
	TameEnvOptions o;
	for (const auto &[key, value] : kv) {
		s = ApplyOption(key, value, &o);
		if (!s.ok())
			return s;
	}
	if (!o.io_uring && !o.sync_fallback)
		return Bad("sync_fallback", "false with io_uring:false leaves no way to do I/O");
	if ((uint64_t)o.read_buffers * o.read_buffer_kib * 1024 > TAME_REACTOR_MAX_READ_BUFFER_POOL_BYTES)
		return Bad("read_buffers",
		           std::to_string(o.read_buffers) + " x read_buffer_kib " +
		               std::to_string(o.read_buffer_kib) + " is more than " +
		               std::to_string(TAME_REACTOR_MAX_READ_BUFFER_POOL_BYTES >> 20) +
		               " MiB per reactor");
	*out = o;
	return Status::OK();
}

Status ParseFsUri(const std::string &uri, TameFsOptions *out)
{
	std::map<std::string, std::string> kv;
	Status s = SplitUri(uri, &kv);
	if (!s.ok())
		return s;
	TameFsOptions o;
	for (const auto &[key, value] : kv) {
		if (key != "align_direct_reads")
			return Bad(key, "is not a FileSystem option (the tamerocks FileSystem "
			                "takes only align_direct_reads; reactor options belong "
			                "to --env_uri)");
		s = ParseBool(key, value, &o.align_direct_reads);
		if (!s.ok())
			return s;
	}
	*out = o;
	return Status::OK();
}

} // namespace tamerocks
