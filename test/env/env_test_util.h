// SPDX-License-Identifier: Apache-2.0
#ifndef TAME_ENV_TEST_UTIL_H
#define TAME_ENV_TEST_UTIL_H

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <string>

#include "tame_reactor.h"

namespace tamerocks_test
{

// A fresh directory under /tmp (ext4 here, so O_DIRECT works), removed at
// scope exit.
class TempDir
{
      public:
	TempDir()
	{
		char tmpl[] = "/tmp/tame_env_test_XXXXXX";
		char *p = mkdtemp(tmpl);
		EXPECT_NE(p, nullptr);
		path_ = p ? p : "/tmp";
	}
	~TempDir()
	{
		std::filesystem::remove_all(path_);
	}
	const std::string &path() const
	{
		return path_;
	}
	std::string operator/(const std::string &name) const
	{
		return path_ + "/" + name;
	}

      private:
	std::string path_;
};

struct FiberRunStats {
	uint64_t sqes_submitted = 0;
	bool io_uring = false;
};

// Runs body as the only fiber of a reactor owned by the calling thread.
inline FiberRunStats RunInFiber(std::function<void()> body, size_t stack_bytes = 0)
{
	tame_reactor_opts opts;
	tame_reactor_opts_init(&opts);
	opts.name = "test";
	opts.flags = TAME_REACTOR_SYNC_FALLBACK;
	if (stack_bytes)
		opts.stack_bytes = stack_bytes;
	tame_reactor *r = nullptr;
	FiberRunStats out;
	EXPECT_EQ(0, tame_reactor_create(&opts, &r));
	if (r == nullptr)
		return out;
	bool ran = false;
	std::function<void()> wrapped = [&] {
		EXPECT_NE(nullptr, tame_fiber_reactor());
		body();
		ran = true;
	};
	EXPECT_EQ(0,
	          tame_spawn(
	              r, [](void *p) { (*static_cast<std::function<void()> *>(p))(); }, &wrapped));
	EXPECT_EQ(0, tame_reactor_run(r, TAME_RUN_UNTIL_EMPTY));
	EXPECT_TRUE(ran);
	tame_reactor_stats st;
	tame_reactor_get_stats(r, &st);
	out.sqes_submitted = st.sqes_submitted;
	out.io_uring = tame_reactor_uses_io_uring(r);
	tame_reactor_destroy(r);
	return out;
}

// Parameter for tests that run on a plain thread and inside a fiber.
enum class Where { kThread, kFiber };

inline std::string WhereName(const ::testing::TestParamInfo<Where> &info)
{
	return info.param == Where::kThread ? "OnPlainThread" : "InsideReactorFiber";
}

} // namespace tamerocks_test

#endif // TAME_ENV_TEST_UTIL_H
