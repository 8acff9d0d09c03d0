// SPDX-License-Identifier: Apache-2.0
// The reactor's read buffers: tame_io_read_direct and
// tame_io_read_batch_direct on O_DIRECT files. A read that fits goes through
// one of the reactor's buffers and is copied out; every other read goes to
// the caller's memory. tame_io_read_direct_unaligned and its batch read the
// aligned span around any request the same way, or into memory allocated
// for the span. Either way the caller gets exactly the file's bytes, and
// nothing beyond what was read is written.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tame_reactor.h"
#include "test_util.h"

namespace
{

using tame_test::DefaultOpts;
using tame_test::RunOnReactor;
using tame_test::TempDir;

constexpr size_t kPage = 4096;
constexpr size_t kFileBytes = 256 * 1024;

std::string Pattern(size_t bytes)
{
	std::string s(bytes, '\0');
	for (size_t i = 0; i < bytes; ++i)
		s[i] = static_cast<char>((i * 131 + (i >> 12) * 7 + 3) & 0xFF);
	return s;
}

// A page-aligned buffer of n bytes, every byte '?', freed with free().
char *Canvas(size_t n)
{
	void *p = nullptr;
	EXPECT_EQ(0, posix_memalign(&p, kPage, n));
	memset(p, '?', n);
	return static_cast<char *>(p);
}

bool AllQuestionMarks(const char *p, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		if (p[i] != '?')
			return false;
	return true;
}

// A file written with plain syscalls, opened again with O_DIRECT.
class DirectFile
{
      public:
	explicit DirectFile(size_t bytes) : data_(Pattern(bytes))
	{
		std::string path = dir_.Join("f");
		int w = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		EXPECT_GE(w, 0) << strerror(errno);
		EXPECT_EQ(ssize_t(bytes), write(w, data_.data(), bytes));
		EXPECT_EQ(0, fsync(w));
		close(w);
		fd_ = open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
		open_errno_ = fd_ < 0 ? errno : 0;
	}
	~DirectFile()
	{
		if (fd_ >= 0)
			close(fd_);
	}
	int fd() const
	{
		return fd_;
	}
	// Empty when the file system takes O_DIRECT; otherwise why not.
	std::string Unsupported() const
	{
		return fd_ >= 0 ? std::string()
		                : "O_DIRECT open in " + dir_.path() + ": " + strerror(open_errno_);
	}
	std::string Bytes(off_t off, size_t n) const
	{
		return size_t(off) >= data_.size() ? std::string() : data_.substr(size_t(off), n);
	}

      private:
	TempDir dir_;
	std::string data_;
	int fd_ = -1;
	int open_errno_ = 0;
};

#define SKIP_WITHOUT_O_DIRECT(file)                                        \
	do {                                                               \
		if (!(file).Unsupported().empty())                         \
			GTEST_SKIP() << (file).Unsupported();              \
	} while (0)

// Tests of reads on fibers of an io_uring reactor, with a file of kFileBytes.
class ReadBuffers : public testing::Test
{
      protected:
	void SetUp() override
	{
		if (!tame_test::ReactorsUseIoUring())
			GTEST_SKIP() << "io_uring unavailable: reads on fibers are plain preads";
		SKIP_WITHOUT_O_DIRECT(f);
	}
	DirectFile f{kFileBytes};
};

tame_reactor_opts BufferOpts(unsigned n, size_t bytes)
{
	tame_reactor_opts o = DefaultOpts();
	o.read_buffers = n;
	o.read_buffer_bytes = bytes;
	return o;
}

TEST_F(ReadBuffers, DirectReadsOnAFiberGoThroughTheBuffersAndReturnTheFileBytes)
{
	struct Read {
		off_t off;
		size_t len;
	};
	const std::vector<Read> reads = {
	    {0, kPage}, {8 * kPage, 2 * kPage}, {52 * kPage, 8 * kPage}, {kPage, kPage}};
	enum tame_read_buffers_mode before = TAME_READ_BUFFERS_REGISTERED, after{};
	std::vector<std::string> got(reads.size());
	std::vector<ssize_t> res(reads.size());
	std::vector<bool> tail_untouched(reads.size());
	tame_reactor_opts o = BufferOpts(4, 8 * kPage);
	tame_reactor_stats st = RunOnReactor(o, [&] {
		before = tame_reactor_read_buffers(tame_fiber_reactor());
		for (size_t i = 0; i < reads.size(); ++i) {
			// One page more than asked: the copy must stop at the read.
			char *buf = Canvas(reads[i].len + kPage);
			res[i] = tame_io_read_direct(f.fd(), buf, reads[i].len, reads[i].off);
			got[i].assign(buf, reads[i].len);
			tail_untouched[i] = AllQuestionMarks(buf + reads[i].len, kPage);
			free(buf);
		}
		after = tame_reactor_read_buffers(tame_fiber_reactor());
	});
	EXPECT_EQ(TAME_READ_BUFFERS_NONE, before) << "set up on the first direct read";
	ASSERT_NE(TAME_READ_BUFFERS_NONE, after);
	for (size_t i = 0; i < reads.size(); ++i) {
		ASSERT_EQ(ssize_t(reads[i].len), res[i]) << "read " << i;
		EXPECT_TRUE(got[i] == f.Bytes(reads[i].off, reads[i].len)) << "read " << i;
		EXPECT_TRUE(tail_untouched[i]) << "read " << i;
	}
	EXPECT_EQ(reads.size(), st.read_buf_reads);
	EXPECT_EQ(0u, st.read_buf_bypassed);
	// 128 KiB of buffers: registered wherever the process may pin that much.
	struct rlimit lim {};
	getrlimit(RLIMIT_MEMLOCK, &lim);
	if (geteuid() == 0 || lim.rlim_cur >= 1024 * 1024) {
		EXPECT_EQ(TAME_READ_BUFFERS_REGISTERED, after);
	}
	if (after == TAME_READ_BUFFERS_REGISTERED) {
		EXPECT_EQ(reads.size(), st.read_buf_fixed) << "registered: IORING_OP_READ_FIXED";
	} else {
		EXPECT_EQ(0u, st.read_buf_fixed) << "unregistered: plain reads into them";
	}
}

TEST_F(ReadBuffers, AReadLargerThanABufferGoesToTheCallersMemory)
{
	ssize_t small = 0, big = 0;
	std::string got_small, got_big;
	tame_reactor_stats st = RunOnReactor(BufferOpts(4, 2 * kPage), [&] {
		char *buf = Canvas(4 * kPage);
		big = tame_io_read_direct(f.fd(), buf, 3 * kPage, 5 * kPage);
		got_big.assign(buf, 3 * kPage);
		small = tame_io_read_direct(f.fd(), buf, 2 * kPage, 9 * kPage);
		got_small.assign(buf, 2 * kPage);
		free(buf);
	});
	ASSERT_EQ(ssize_t(3 * kPage), big);
	ASSERT_EQ(ssize_t(2 * kPage), small);
	EXPECT_TRUE(got_big == f.Bytes(5 * kPage, 3 * kPage));
	EXPECT_TRUE(got_small == f.Bytes(9 * kPage, 2 * kPage));
	EXPECT_EQ(1u, st.read_buf_bypassed) << "3 pages do not fit a 2-page buffer";
	EXPECT_EQ(1u, st.read_buf_reads) << "2 pages fit exactly";
}

// Eight fibers read at once with two buffers: the first two fibers take them,
// the other six read into their own memory; all eight get their bytes, and
// afterwards both buffers are free again.
TEST_F(ReadBuffers, MoreReadsInFlightThanBuffersAllComplete)
{
	constexpr int kFibers = 8;
	std::vector<std::string> got(kFibers);
	std::vector<ssize_t> res(kFibers, -1);
	int done = 0;
	tame_reactor_stats mid{};
	tame_test::ReactorPtr r = tame_test::MakeReactor(BufferOpts(2, kPage));
	ASSERT_TRUE(r);
	for (int i = 0; i < kFibers; ++i) {
		ASSERT_EQ(0, tame_test::SpawnFn(r.get(), [&, i] {
			char *buf = Canvas(kPage);
			res[i] = tame_io_read_direct(f.fd(), buf, kPage, off_t(i) * 3 * kPage);
			got[i].assign(buf, kPage);
			free(buf);
			if (++done == kFibers) {
				mid = tame_test::StatsOf(tame_fiber_reactor());
				// Both buffers are back: two more reads use them.
				char *a = Canvas(kPage);
				char *b = Canvas(kPage);
				tame_io_read_direct(f.fd(), a, kPage, 0);
				tame_io_read_direct(f.fd(), b, kPage, kPage);
				free(a);
				free(b);
			}
		}));
	}
	ASSERT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
	tame_reactor_stats end = tame_test::StatsOf(r.get());
	for (int i = 0; i < kFibers; ++i) {
		ASSERT_EQ(ssize_t(kPage), res[i]) << "fiber " << i;
		EXPECT_TRUE(got[i] == f.Bytes(off_t(i) * 3 * kPage, kPage)) << "fiber " << i;
	}
	EXPECT_EQ(2u, mid.read_buf_reads);
	EXPECT_EQ(6u, mid.read_buf_bypassed);
	EXPECT_EQ(4u, end.read_buf_reads);
	EXPECT_EQ(6u, end.read_buf_bypassed);
}

TEST_F(ReadBuffers, ABatchUsesTheFreeBuffersAndReadsTheRestDirectly)
{
	constexpr size_t kReads = 7;
	std::vector<char *> bufs(kReads);
	std::vector<tame_io_read_req> reqs(kReads);
	std::vector<std::string> got(kReads);
	int rc = -1;
	tame_reactor_stats st = RunOnReactor(BufferOpts(3, 2 * kPage), [&] {
		for (size_t i = 0; i < kReads; ++i) {
			bufs[i] = Canvas(2 * kPage);
			reqs[i] = {f.fd(), bufs[i], (i % 2 ? 2 : 1) * kPage, off_t(i * 5 * kPage), 12345};
		}
		// The last one reads past EOF: 0 bytes, its memory untouched.
		reqs[kReads - 1].off = kFileBytes;
		rc = tame_io_read_batch_direct(reqs.data(), kReads);
		for (size_t i = 0; i < kReads; ++i) {
			got[i].assign(bufs[i], 2 * kPage);
			free(bufs[i]);
		}
	});
	ASSERT_EQ(int(kReads), rc);
	for (size_t i = 0; i + 1 < kReads; ++i) {
		ASSERT_EQ(ssize_t(reqs[i].len), reqs[i].res) << "read " << i;
		EXPECT_TRUE(got[i].substr(0, reqs[i].len) == f.Bytes(reqs[i].off, reqs[i].len))
		    << "read " << i;
		EXPECT_TRUE(AllQuestionMarks(got[i].data() + reqs[i].len, 2 * kPage - reqs[i].len))
		    << "read " << i;
	}
	EXPECT_EQ(0, reqs[kReads - 1].res);
	EXPECT_TRUE(AllQuestionMarks(got[kReads - 1].data(), 2 * kPage));
	EXPECT_EQ(3u, st.read_buf_reads);
	EXPECT_EQ(kReads - 3, st.read_buf_bypassed);
}

// A file whose size is not a multiple of the page: a direct read of its last
// page returns the bytes up to EOF, and only those are copied.
TEST(ReadBuffersAtEof, AShortReadAtEofCopiesOnlyWhatWasRead)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "io_uring unavailable";
	constexpr size_t kBytes = 3 * kPage + 100;
	DirectFile f(kBytes);
	SKIP_WITHOUT_O_DIRECT(f);
	ssize_t res = -1, at_eof = -1;
	std::string got;
	tame_reactor_stats st = RunOnReactor(BufferOpts(2, 4 * kPage), [&] {
		char *buf = Canvas(2 * kPage);
		res = tame_io_read_direct(f.fd(), buf, 2 * kPage, 2 * kPage);
		at_eof = tame_io_read_direct(f.fd(), buf + kPage + 100, kPage, 4 * kPage);
		got.assign(buf, 2 * kPage);
		free(buf);
	});
	ASSERT_EQ(ssize_t(kPage + 100), res);
	EXPECT_EQ(0, at_eof);
	EXPECT_TRUE(got.substr(0, kPage + 100) == f.Bytes(2 * kPage, kPage + 100));
	EXPECT_TRUE(AllQuestionMarks(got.data() + kPage + 100, kPage - 100));
	EXPECT_EQ(2u, st.read_buf_reads);
}

// A file whose size is not a multiple of the page: an unaligned read across
// its end reads one span, which ends off the alignment: that is EOF, and no
// second read is needed to learn it.
TEST(ReadBuffersAtEof, AnUnalignedReadAcrossEofReadsOneSpan)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "io_uring unavailable";
	constexpr size_t kBytes = 3 * kPage + 100;
	DirectFile f(kBytes);
	SKIP_WITHOUT_O_DIRECT(f);
	ssize_t res = -1;
	std::string got;
	tame_reactor_stats st = RunOnReactor(BufferOpts(2, 4 * kPage), [&] {
		char *buf = Canvas(2 * kPage);
		res = tame_io_read_direct_unaligned(f.fd(), buf + 3, kPage, 3 * kPage - 50, kPage);
		got.assign(buf + 3, 150);
		EXPECT_TRUE(AllQuestionMarks(buf + 3 + 150, kPage - 150));
		free(buf);
	});
	ASSERT_EQ(150, res);
	EXPECT_TRUE(got == f.Bytes(3 * kPage - 50, 150));
	EXPECT_EQ(1u, st.read_buf_reads);
}

// A read that fails returns the kernel's error and gives its buffer back: with
// one buffer, the next read still goes through it.
TEST_F(ReadBuffers, AFailedReadReturnsItsErrorAndFreesItsBuffer)
{
	ssize_t unaligned = 0, bad_fd = 0, good = 0;
	std::string got;
	tame_reactor_stats st = RunOnReactor(BufferOpts(1, kPage), [&] {
		char *buf = Canvas(kPage);
		// O_DIRECT refuses an offset that is not sector-aligned.
		unaligned = tame_io_read_direct(f.fd(), buf, kPage, 7);
		bad_fd = tame_io_read_direct(-1, buf, kPage, 0);
		EXPECT_TRUE(AllQuestionMarks(buf, kPage)) << "a failed read copies nothing";
		good = tame_io_read_direct(f.fd(), buf, kPage, 2 * kPage);
		got.assign(buf, kPage);
		free(buf);
	});
	EXPECT_EQ(-EINVAL, unaligned);
	EXPECT_EQ(-EBADF, bad_fd);
	ASSERT_EQ(ssize_t(kPage), good);
	EXPECT_TRUE(got == f.Bytes(2 * kPage, kPage));
	EXPECT_EQ(3u, st.read_buf_reads);
	EXPECT_EQ(0u, st.read_buf_bypassed);
}

TEST_F(ReadBuffers, ZeroBuffersReadStraightIntoTheCallersMemory)
{
	ssize_t res = 0;
	std::string got;
	enum tame_read_buffers_mode mode = TAME_READ_BUFFERS_REGISTERED;
	tame_reactor_opts o = BufferOpts(0, 0);
	tame_reactor_stats st = RunOnReactor(o, [&] {
		char *buf = Canvas(kPage);
		res = tame_io_read_direct(f.fd(), buf, kPage, 4 * kPage);
		got.assign(buf, kPage);
		free(buf);
		mode = tame_reactor_read_buffers(tame_fiber_reactor());
	});
	ASSERT_EQ(ssize_t(kPage), res);
	EXPECT_TRUE(got == f.Bytes(4 * kPage, kPage));
	EXPECT_EQ(TAME_READ_BUFFERS_NONE, mode);
	EXPECT_EQ(0u, st.read_buf_reads);
	EXPECT_EQ(1u, st.read_buf_bypassed);
}

// Off a fiber and on a reactor without io_uring the calls are preads; the
// counters stay at zero.
TEST(ReadBuffersWithoutARing, OffAFiberAndOnTheSyncFallbackDirectReadsArePreads)
{
	DirectFile f(kFileBytes);
	SKIP_WITHOUT_O_DIRECT(f);
	char *buf = Canvas(2 * kPage);
	ASSERT_EQ(ssize_t(kPage), tame_io_read_direct(f.fd(), buf, kPage, 3 * kPage));
	EXPECT_TRUE(std::string(buf, kPage) == f.Bytes(3 * kPage, kPage));
	tame_io_read_req req = {f.fd(), buf, 2 * kPage, off_t(6 * kPage), 0};
	ASSERT_EQ(1, tame_io_read_batch_direct(&req, 1));
	ASSERT_EQ(ssize_t(2 * kPage), req.res);
	EXPECT_TRUE(std::string(buf, 2 * kPage) == f.Bytes(6 * kPage, 2 * kPage));
	free(buf);

	tame_reactor_opts o = DefaultOpts();
	o.flags = TAME_REACTOR_NO_IO_URING | TAME_REACTOR_SYNC_FALLBACK;
	std::string got;
	tame_reactor_stats st = RunOnReactor(o, [&] {
		char *b = Canvas(kPage);
		EXPECT_EQ(ssize_t(kPage), tame_io_read_direct(f.fd(), b, kPage, 5 * kPage));
		got.assign(b, kPage);
		free(b);
	});
	EXPECT_TRUE(got == f.Bytes(5 * kPage, kPage));
	EXPECT_EQ(0u, st.read_buf_reads);
	EXPECT_EQ(0u, st.read_buf_bypassed);
}

TEST(ReadBuffersOptions, OutOfRangeAreRefused)
{
	struct Case {
		unsigned n;
		size_t bytes;
		int want;
	};
	const Case cases[] = {
	    {4, 0, -EINVAL},
	    {4, 4096 + 512, -EINVAL},
	    {4, TAME_REACTOR_MAX_READ_BUFFER_BYTES + 4096, -EINVAL},
	    {TAME_REACTOR_MAX_READ_BUFFERS + 1, 4096, -EINVAL},
	    {1024, 2u << 20, -EINVAL}, // 2 GiB of buffers
	    {256, 4u << 20, 0},        // exactly 1 GiB: allowed (set up lazily)
	    {0, 12345, 0},             // no buffers: their size does not matter
	    {TAME_REACTOR_MAX_READ_BUFFERS, 4096, 0},
	};
	for (const Case &c : cases) {
		tame_reactor_opts o = BufferOpts(c.n, c.bytes);
		tame_reactor *r = nullptr;
		EXPECT_EQ(c.want, tame_reactor_create(&o, &r)) << c.n << " x " << c.bytes;
		if (r)
			tame_reactor_destroy(r);
	}
}

// --- unaligned direct reads: tame_io_read_direct_unaligned and its batch ---

// Reads whose offset, length and memory are not aligned, on a file of
// kFileBytes: within a page, across pages, aligned, a span larger than a
// 2-page buffer, at EOF and past it.
struct Unaligned {
	off_t off;
	size_t len;
	size_t want; // bytes the file has there
};
const std::vector<Unaligned> kUnaligned = {
    {100, 200, 200},
    {kPage - 3, 300, 300},
    {8 * kPage, kPage, kPage},
    {0, 1, 1},
    {kPage - 1, kPage + 2, kPage + 2}, // span of 3 pages: not a 2-page buffer
    {3 * kPage + 5, 10 * kPage, 10 * kPage},
    {kFileBytes - 10, 100, 10},
    {kFileBytes + 5, 10, 0},
};

// Reads every case of kUnaligned into memory one byte past a page start,
// with one page more than asked, and checks the bytes and that nothing
// past what was read is written.
void ReadUnalignedCases(const DirectFile &f)
{
	for (const Unaligned &c : kUnaligned) {
		char *mem = Canvas(c.len + 2 * kPage);
		char *buf = mem + 1;
		ssize_t res = tame_io_read_direct_unaligned(f.fd(), buf, c.len, c.off, kPage);
		EXPECT_EQ(ssize_t(c.want), res) << "at " << c.off << " for " << c.len;
		EXPECT_TRUE(std::string(buf, c.want) == f.Bytes(c.off, c.want))
		    << "at " << c.off << " for " << c.len;
		EXPECT_TRUE(AllQuestionMarks(buf + c.want, c.len - c.want + kPage))
		    << "at " << c.off << " for " << c.len;
		free(mem);
	}
}

TEST_F(ReadBuffers, UnalignedDirectReadsReturnExactlyTheBytesAskedFor)
{
	tame_reactor_stats st = RunOnReactor(BufferOpts(2, 2 * kPage), [&] { ReadUnalignedCases(f); });
	// Spans of at most 2 pages use a buffer; the two larger ones (3 and 11
	// pages) are read into memory allocated for them. The read across EOF
	// takes two spans: the file's size is a multiple of the page, so its
	// first span ends aligned and only the next one's 0 says EOF.
	EXPECT_EQ(7u, st.read_buf_reads);
	EXPECT_EQ(2u, st.read_buf_bypassed);
	EXPECT_EQ(2u, st.read_buf_allocated);
}

// body off a fiber, then on a fiber of a reactor without io_uring: the read
// buffers are never used.
void OffAFiberAndOnTheSyncFallback(const std::function<void()> &body)
{
	body();
	tame_reactor_opts o = DefaultOpts();
	o.flags = TAME_REACTOR_NO_IO_URING | TAME_REACTOR_SYNC_FALLBACK;
	tame_reactor_stats st = RunOnReactor(o, body);
	EXPECT_EQ(0u, st.read_buf_reads);
	EXPECT_EQ(0u, st.read_buf_bypassed);
}

TEST(ReadBuffersWithoutARing, UnalignedDirectReadsOffAFiberAndOnTheSyncFallback)
{
	DirectFile f(kFileBytes);
	SKIP_WITHOUT_O_DIRECT(f);
	OffAFiberAndOnTheSyncFallback([&] { ReadUnalignedCases(f); });
}

// A request that is its own aligned span, into aligned memory, needs no
// copy when no buffer takes it: larger than a buffer, it is read straight
// into the caller's memory (RocksDB's prefetch buffers are such requests).
TEST_F(ReadBuffers, AnAlignedRequestLargerThanABufferIsReadIntoTheCallersMemory)
{
	ssize_t res = 0;
	std::string got;
	tame_reactor_stats st = RunOnReactor(BufferOpts(2, 2 * kPage), [&] {
		char *buf = Canvas(9 * kPage);
		res = tame_io_read_direct_unaligned(f.fd(), buf, 8 * kPage, 4 * kPage, kPage);
		got.assign(buf, 8 * kPage);
		EXPECT_TRUE(AllQuestionMarks(buf + 8 * kPage, kPage));
		free(buf);
	});
	ASSERT_EQ(ssize_t(8 * kPage), res);
	EXPECT_TRUE(got == f.Bytes(4 * kPage, 8 * kPage));
	EXPECT_EQ(0u, st.read_buf_reads);
	EXPECT_EQ(1u, st.read_buf_bypassed);
	EXPECT_EQ(0u, st.read_buf_allocated) << "no memory allocated, nothing copied";
}

TEST_F(ReadBuffers, UnalignedDirectReadErrorsAreReturnedAndFreeTheBuffer)
{
	ssize_t bad_fd = 0, bad_align = 0, zero_align = 0, negative = 0, good = 0;
	std::string got;
	tame_reactor_stats st = RunOnReactor(BufferOpts(1, kPage), [&] {
		char *buf = Canvas(kPage);
		bad_fd = tame_io_read_direct_unaligned(-1, buf, 10, 5, kPage);
		bad_align = tame_io_read_direct_unaligned(f.fd(), buf, 10, 5, 3000);
		zero_align = tame_io_read_direct_unaligned(f.fd(), buf, 10, 5, 0);
		negative = tame_io_read_direct_unaligned(f.fd(), buf, 10, -1, kPage);
		EXPECT_TRUE(AllQuestionMarks(buf, kPage)) << "a failed read copies nothing";
		good = tame_io_read_direct_unaligned(f.fd(), buf, 10, 2 * kPage + 7, kPage);
		got.assign(buf, 10);
		free(buf);
	});
	EXPECT_EQ(-EBADF, bad_fd);
	EXPECT_EQ(-EINVAL, bad_align) << "not a power of two";
	EXPECT_EQ(-EINVAL, zero_align);
	EXPECT_EQ(-EINVAL, negative);
	ASSERT_EQ(10, good);
	EXPECT_TRUE(got == f.Bytes(2 * kPage + 7, 10));
	EXPECT_EQ(2u, st.read_buf_reads) << "the one buffer came back after the failed read";
	EXPECT_EQ(0u, st.read_buf_bypassed);
}

// A batch of kUnaligned plus a bad descriptor and a negative offset: every
// member gets its own bytes or error; with 3 buffers of 2 pages, the first
// three that fit take them and the rest read into memory of their own.
void ReadUnalignedBatch(const DirectFile &f)
{
	std::vector<tame_io_read_req> reqs;
	std::vector<char *> mem;
	for (const Unaligned &c : kUnaligned) {
		mem.push_back(Canvas(c.len + 2 * kPage));
		reqs.push_back({f.fd(), mem.back() + 1, c.len, c.off, 12345});
	}
	mem.push_back(Canvas(kPage));
	reqs.push_back({-1, mem.back() + 1, 10, 5, 12345});
	mem.push_back(Canvas(kPage));
	reqs.push_back({f.fd(), mem.back() + 1, 10, -5, 12345});
	ASSERT_EQ(int(reqs.size()),
	          tame_io_read_batch_direct_unaligned(reqs.data(), reqs.size(), kPage));
	for (size_t i = 0; i < kUnaligned.size(); ++i) {
		const Unaligned &c = kUnaligned[i];
		const char *buf = static_cast<const char *>(reqs[i].buf);
		EXPECT_EQ(ssize_t(c.want), reqs[i].res) << "member " << i;
		EXPECT_TRUE(std::string(buf, c.want) == f.Bytes(c.off, c.want)) << "member " << i;
		EXPECT_TRUE(AllQuestionMarks(buf + c.want, c.len - c.want + kPage)) << "member " << i;
	}
	EXPECT_EQ(-EBADF, reqs[kUnaligned.size()].res);
	EXPECT_EQ(-EINVAL, reqs[kUnaligned.size() + 1].res);
	EXPECT_TRUE(AllQuestionMarks(static_cast<char *>(reqs.back().buf), 10));
	for (char *m : mem)
		free(m);
}

TEST_F(ReadBuffers, AnUnalignedBatchReadsEveryMemberAtOnce)
{
	tame_reactor_stats st = RunOnReactor(BufferOpts(3, 2 * kPage), [&] {
		ReadUnalignedBatch(f);
		tame_io_read_req none{};
		EXPECT_EQ(0, tame_io_read_batch_direct_unaligned(&none, 0, kPage));
		EXPECT_EQ(-EINVAL, tame_io_read_batch_direct_unaligned(&none, 1, 48));
	});
	// 9 members queued (the negative offset is refused before): 3 take the
	// buffers, 6 do not.
	EXPECT_EQ(3u, st.read_buf_reads);
	EXPECT_EQ(6u, st.read_buf_bypassed);
	EXPECT_EQ(6u, st.read_buf_allocated);
}

TEST(ReadBuffersWithoutARing, AnUnalignedBatchOffAFiberAndOnTheSyncFallback)
{
	DirectFile f(kFileBytes);
	SKIP_WITHOUT_O_DIRECT(f);
	OffAFiberAndOnTheSyncFallback([&] { ReadUnalignedBatch(f); });
}

// Without CAP_IPC_LOCK and with a small RLIMIT_MEMLOCK, io_uring refuses to
// pin the buffers; the reactor says so once and uses them unregistered. Runs
// in a child process, which gives up the capability for good.
void ReadWithoutPinnablePages(int fd, std::string want)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct caps[2] = {};
	if (syscall(SYS_capget, &hdr, caps) != 0)
		_exit(3);
	caps[0].effective &= ~(1u << CAP_IPC_LOCK);
	caps[0].permitted &= ~(1u << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &hdr, caps) != 0)
		_exit(4);
	struct rlimit lim = {64 * 1024, 64 * 1024};
	if (setrlimit(RLIMIT_MEMLOCK, &lim) != 0)
		_exit(5);
	enum tame_read_buffers_mode mode{};
	std::string got;
	ssize_t res = 0;
	tame_reactor_stats st = RunOnReactor(BufferOpts(64, 32 * 1024), [&] {
		char *buf = Canvas(kPage);
		res = tame_io_read_direct(fd, buf, kPage, 7 * kPage);
		got.assign(buf, kPage);
		free(buf);
		mode = tame_reactor_read_buffers(tame_fiber_reactor());
	});
	if (res != ssize_t(kPage) || got != want) {
		fprintf(stderr, "wrong bytes: %zd\n", res);
		_exit(6);
	}
	if (mode != TAME_READ_BUFFERS_UNREGISTERED || st.read_buf_reads != 1 || st.read_buf_fixed != 0) {
		fprintf(stderr, "mode %d, %llu reads, %llu fixed\n", int(mode),
		        (unsigned long long)st.read_buf_reads, (unsigned long long)st.read_buf_fixed);
		_exit(7);
	}
	_exit(0);
}

TEST(ReadBuffersDeathTest, WhenTheKernelWillNotPinThemTheyAreUsedUnregistered)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "io_uring unavailable";
	DirectFile f(kFileBytes);
	SKIP_WITHOUT_O_DIRECT(f);
	GTEST_FLAG_SET(death_test_style, "threadsafe");
	EXPECT_EXIT(ReadWithoutPinnablePages(f.fd(), f.Bytes(7 * kPage, kPage)),
	            testing::ExitedWithCode(0),
	            "did not register its 2048 KiB of read buffers: Cannot allocate memory; "
	            "direct reads use them unregistered.*Raise RLIMIT_MEMLOCK");
}

} // namespace
