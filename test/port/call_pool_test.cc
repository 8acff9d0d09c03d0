// SPDX-License-Identifier: Apache-2.0
// tame_call pools with port/ linked in, in a program that holds no RocksDB:
// port/ refuses pools only where a RocksDB in the program cannot get
// per-fiber state (port/rocksdb_tls.c); here there is none, so pools are
// made and run their calls. The refusal itself is tested against a stripped
// program that links Debian's librocksdb.a (test/env/static_rocksdb_test.cc),
// and pools beside a RocksDB whose thread-locals were found in
// rocksdb_tls_test.cc.
#include <gtest/gtest.h>

#include "tame_call.h"
#include "tame_port.h"
#include "test_util.h"

namespace
{

using tame_test::DefaultOpts;
using tame_test::MakeReactor;
using tame_test::ReactorPtr;

TEST(CallPoolWithoutRocksdb, AProgramThatHoldsNoRocksdbMayCreatePoolsAndRunCalls)
{
	EXPECT_EQ(0, tame_port_rocksdb_tls_slots());
	EXPECT_EQ(0, tame_port_check_rocksdb_tls());
	ReactorPtr r = MakeReactor(DefaultOpts());
	ASSERT_TRUE(r);
	tame_call_pool *p = nullptr;
	ASSERT_EQ(0, tame_call_pool_create(r.get(), nullptr, &p));
	struct Seen {
		tame_reactor *r;
		int runs = 0, done = 0;
	} seen{r.get()};
	ASSERT_EQ(0, tame_call(
	                 p, [](void *arg) { static_cast<Seen *>(arg)->runs++; }, &seen,
	                 [](void *ctx, int status) {
		                 EXPECT_EQ(0, status);
		                 static_cast<Seen *>(ctx)->done++;
		                 tame_reactor_stop(static_cast<Seen *>(ctx)->r);
	                 },
	                 &seen));
	// The worker stays, idle and warm: run until on_done stops the loop.
	ASSERT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_STOPPED));
	EXPECT_EQ(1, seen.runs);
	EXPECT_EQ(1, seen.done);
	EXPECT_EQ(0, tame_call_pool_destroy(p));
}

} // namespace
