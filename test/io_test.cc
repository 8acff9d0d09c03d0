// SPDX-License-Identifier: Apache-2.0
// Every tame_io_* call against real files, in three ways: on a fiber of an
// io_uring reactor, on a fiber of a sync-fallback reactor, and off a fiber
// (the plain system call path). Setup and verification use plain syscalls
// so that a failing tame_io_* call cannot hide behind another one.
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "submit_tune.h"

#include "tame_fiber.h"
#include "tame_reactor.h"
#include "test_util.h"

namespace
{

using tame_test::DefaultOpts;
using tame_test::MakeReactor;
using tame_test::ReactorPtr;
using tame_test::SpawnFn;
using tame_test::StatsOf;
using tame_test::TempDir;

enum class Mode { kOffFiber, kIoUring, kSync };

void PrintTo(Mode mode, std::ostream *os)
{
	*os << (mode == Mode::kOffFiber  ? "off-fiber"
	        : mode == Mode::kIoUring ? "io_uring"
	                                 : "sync-fallback");
}

std::string ModeName(const testing::TestParamInfo<Mode> &info)
{
	switch (info.param) {
	case Mode::kOffFiber:
		return "OffFiber";
	case Mode::kIoUring:
		return "IoUring";
	case Mode::kSync:
		return "SyncFallback";
	}
	return "?";
}

tame_reactor_opts OptsFor(Mode mode)
{
	tame_reactor_opts opts = DefaultOpts();
	if (mode == Mode::kSync)
		opts.flags = TAME_REACTOR_NO_IO_URING | TAME_REACTOR_SYNC_FALLBACK;
	return opts;
}

std::string Pattern(size_t bytes, unsigned seed)
{
	std::string s(bytes, '\0');
	for (size_t i = 0; i < bytes; ++i)
		s[i] = static_cast<char>((i * 31 + seed * 17 + (i >> 8)) & 0xFF);
	return s;
}

std::string ReadWholeFile(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "<missing>";
	std::string out;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		out.append(buf, static_cast<size_t>(n));
	close(fd);
	return out;
}

void WriteWholeFile(int dirfd, const char *name, const std::string &data)
{
	int fd = openat(dirfd, name, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0) << strerror(errno);
	ASSERT_EQ(write(fd, data.data(), data.size()), ssize_t(data.size()));
	close(fd);
}

int OpenRw(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	EXPECT_GE(fd, 0) << strerror(errno);
	return fd;
}

// A descriptor number that is not open and will not be handed out: the
// kernel gives out the lowest free number, so the top of the RLIMIT_NOFILE
// range stays free however many descriptors the library opens meanwhile
// (its ring, an eventfd, a per-thread ring for off-fiber batches).
int ClosedFd()
{
	struct rlimit lim;
	int fd = 1 << 20;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
	    lim.rlim_cur < rlim_t(fd))
		fd = int(lim.rlim_cur) - 1;
	EXPECT_EQ(fcntl(fd, F_GETFD), -1) << "fd " << fd << " is open";
	return fd;
}

bool Exists(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

class Io : public testing::TestWithParam<Mode>
{
      protected:
	void SetUp() override
	{
		if (GetParam() != Mode::kIoUring)
			return;
		tame_reactor_opts opts = OptsFor(Mode::kIoUring);
		tame_reactor *probe = nullptr;
		int rc = tame_reactor_create(&opts, &probe);
		if (rc == -ENOSYS || rc == -EPERM)
			GTEST_SKIP() << "kernel refuses io_uring: " << strerror(-rc);
		ASSERT_EQ(rc, 0) << strerror(-rc);
		tame_reactor_destroy(probe);
	}

	// Runs body on a fiber of the parameter's reactor, or directly.
	void Run(const tame_test::Fn &body)
	{
		Run(OptsFor(GetParam()), body);
	}

	void Run(const tame_reactor_opts &opts, const tame_test::Fn &body)
	{
		if (GetParam() == Mode::kOffFiber) {
			ASSERT_EQ(tame_fiber_self(), nullptr);
			body();
			return;
		}
		tame_reactor *raw = nullptr;
		int rc = tame_reactor_create(&opts, &raw);
		ASSERT_EQ(rc, 0) << strerror(-rc);
		ReactorPtr r(raw);
		if (GetParam() == Mode::kIoUring) {
			EXPECT_TRUE(tame_reactor_uses_io_uring(r.get()));
		} else {
			EXPECT_FALSE(tame_reactor_uses_io_uring(r.get()));
			EXPECT_STREQ(tame_reactor_backend(r.get()), "sync");
		}
		bool on_fiber = false;
		ASSERT_EQ(SpawnFn(r.get(),
		                  [&] {
			                  on_fiber = tame_fiber_self() != nullptr;
			                  body();
		                  }),
		          0);
		EXPECT_EQ(tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY), 0);
		EXPECT_TRUE(on_fiber);
		stats_ = StatsOf(r.get());
		if (GetParam() == Mode::kIoUring) {
			// Every body does I/O: it went through the ring.
			EXPECT_GT(stats_.sqes_submitted, 0u);
			EXPECT_GT(stats_.cqes_reaped, 0u);
			EXPECT_GT(stats_.io_enters, 0u);
		} else {
			EXPECT_EQ(stats_.sqes_submitted, 0u);
			EXPECT_EQ(stats_.cqes_reaped, 0u);
		}
	}

	int dirfd() const
	{
		return dir_.fd();
	}

	TempDir dir_;
	tame_reactor_stats stats_{};
};

TEST_P(Io, OpenatCreatesAndReportsMissingOrExistingFiles)
{
	const std::string absolute = dir_.Join("absolute");
	Run([&] {
		int fd = tame_io_openat(dirfd(), "created", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
		ASSERT_GE(fd, 0) << strerror(-fd);
		struct stat st;
		ASSERT_EQ(fstat(fd, &st), 0);
		EXPECT_TRUE(S_ISREG(st.st_mode));
		EXPECT_EQ(st.st_mode & 0777, 0600u);
		EXPECT_EQ(close(fd), 0);

		EXPECT_EQ(tame_io_openat(dirfd(), "missing", O_RDONLY, 0), -ENOENT);
		EXPECT_EQ(tame_io_openat(dirfd(), "created", O_CREAT | O_EXCL | O_RDWR, 0600),
		          -EEXIST);
		EXPECT_EQ(tame_io_openat(dirfd(), "created", O_RDONLY | O_DIRECTORY, 0), -ENOTDIR);

		int abs_fd = tame_io_openat(AT_FDCWD, absolute.c_str(),
		                            O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		ASSERT_GE(abs_fd, 0) << strerror(-abs_fd);
		EXPECT_EQ(close(abs_fd), 0);
	});
	EXPECT_TRUE(Exists(dirfd(), "absolute"));
}

TEST_P(Io, WriteThenReadReturnsTheSameBytes)
{
	const std::string first = Pattern(10000, 1), second = Pattern(3000, 2);
	int fd = OpenRw(dirfd(), "data");
	ASSERT_GE(fd, 0);
	std::string via_read;
	Run([&] {
		EXPECT_EQ(tame_io_write(fd, first.data(), first.size(), 0), ssize_t(first.size()));
		// An unaligned offset past EOF leaves a hole of zeroes.
		EXPECT_EQ(tame_io_write(fd, second.data(), second.size(), 12345),
		          ssize_t(second.size()));
		std::string buf(12345 + second.size(), 'x');
		EXPECT_EQ(tame_io_read(fd, &buf[0], buf.size(), 0), ssize_t(buf.size()));
		via_read = buf;
	});
	std::string want = first + std::string(12345 - first.size(), '\0') + second;
	EXPECT_TRUE(ReadWholeFile(dirfd(), "data") == want);
	EXPECT_TRUE(via_read == want);
	close(fd);
}

TEST_P(Io, ReadNearEofIsShortAndAtEofIsZero)
{
	const std::string data = Pattern(10000, 3);
	WriteWholeFile(dirfd(), "short", data);
	int fd = openat(dirfd(), "short", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ssize_t near_eof = -1, at_eof = -1, past_eof = -1;
	std::string tail;
	Run([&] {
		char buf[4096];
		near_eof = tame_io_read(fd, buf, sizeof(buf), 9900);
		if (near_eof > 0)
			tail.assign(buf, size_t(near_eof));
		at_eof = tame_io_read(fd, buf, sizeof(buf), 10000);
		past_eof = tame_io_read(fd, buf, sizeof(buf), 1 << 20);
	});
	EXPECT_EQ(near_eof, 100);
	EXPECT_TRUE(tail == data.substr(9900));
	EXPECT_EQ(at_eof, 0);
	EXPECT_EQ(past_eof, 0);
	close(fd);
}

TEST_P(Io, ReadvAndWritevScatterAndGather)
{
	const std::string a = Pattern(100, 4), b = Pattern(4000, 5), c = Pattern(7, 6);
	int fd = OpenRw(dirfd(), "vec");
	ASSERT_GE(fd, 0);
	std::string x(1000, '?'), y(3000, '?'), z(500, '?');
	ssize_t wrote = -1, got = -1;
	Run([&] {
		struct iovec out[3] = {{const_cast<char *>(a.data()), a.size()},
		                       {const_cast<char *>(b.data()), b.size()},
		                       {const_cast<char *>(c.data()), c.size()}};
		wrote = tame_io_writev(fd, out, 3, 50);
		struct iovec in[3] = {{&x[0], x.size()}, {&y[0], y.size()}, {&z[0], z.size()}};
		got = tame_io_readv(fd, in, 3, 50); // asks 4500, 4107 exist
	});
	const std::string all = a + b + c;
	EXPECT_EQ(wrote, ssize_t(all.size()));
	EXPECT_TRUE(ReadWholeFile(dirfd(), "vec") == std::string(50, '\0') + all);
	ASSERT_EQ(got, ssize_t(all.size()));
	EXPECT_TRUE(x + y + z.substr(0, all.size() - 4000) == all);
	EXPECT_EQ(z.substr(all.size() - 4000), std::string(500 - 107, '?'));
	close(fd);
}

TEST_P(Io, FsyncAndFdatasyncSucceedAndRejectBadFds)
{
	int fd = OpenRw(dirfd(), "synced");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "abc", 3), 3);
	Run([&] {
		const int bad = ClosedFd();
		EXPECT_EQ(tame_io_fsync(fd), 0);
		EXPECT_EQ(tame_io_fdatasync(fd), 0);
		EXPECT_EQ(tame_io_fsync(bad), -EBADF);
		EXPECT_EQ(tame_io_fdatasync(bad), -EBADF);
	});
	close(fd);
}

TEST_P(Io, SyncFileRangeSucceedsAndRejectsBadArguments)
{
	int fd = OpenRw(dirfd(), "ranged");
	ASSERT_GE(fd, 0);
	const std::string data = Pattern(8192, 7);
	ASSERT_EQ(write(fd, data.data(), data.size()), ssize_t(data.size()));
	Run([&] {
		const int bad = ClosedFd();
		EXPECT_EQ(tame_io_sync_file_range(fd, 0, 4096, SYNC_FILE_RANGE_WRITE), 0);
		EXPECT_EQ(tame_io_sync_file_range(fd, 0, 0,
		                                  SYNC_FILE_RANGE_WAIT_BEFORE |
		                                      SYNC_FILE_RANGE_WRITE |
		                                      SYNC_FILE_RANGE_WAIT_AFTER),
		          0);
		EXPECT_EQ(tame_io_sync_file_range(bad, 0, 0, SYNC_FILE_RANGE_WRITE), -EBADF);
		EXPECT_EQ(tame_io_sync_file_range(fd, 0, 0, 0x80), -EINVAL);
	});
	close(fd);
}

TEST_P(Io, FallocateExtendsOrKeepsTheSize)
{
	int fd = OpenRw(dirfd(), "allocated");
	ASSERT_GE(fd, 0);
	struct stat extended {
	}, kept{};
	Run([&] {
		const int bad = ClosedFd();
		EXPECT_EQ(tame_io_fallocate(fd, 0, 0, 1 << 20), 0);
		fstat(fd, &extended);
		EXPECT_EQ(tame_io_fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20), 0);
		fstat(fd, &kept);
		EXPECT_EQ(tame_io_fallocate(bad, 0, 0, 4096), -EBADF);
		EXPECT_EQ(tame_io_fallocate(fd, 0, 0, 0), -EINVAL);
	});
	EXPECT_EQ(extended.st_size, 1 << 20);
	EXPECT_EQ(kept.st_size, 1 << 20);
	EXPECT_GE(kept.st_blocks * 512, 2 << 20); // the kept-size range is allocated
	close(fd);
}

TEST_P(Io, FadviseDontneedDropsCleanPagesAndBadArgumentsFail)
{
	constexpr size_t kLen = 64 * 1024;
	int fd = OpenRw(dirfd(), "advised");
	ASSERT_GE(fd, 0);
	std::string data(kLen, 'a');
	ASSERT_EQ(pwrite(fd, data.data(), kLen, 0), (ssize_t)kLen);
	ASSERT_EQ(fdatasync(fd), 0);
	auto cached = [&] {
		void *map = mmap(nullptr, kLen, PROT_READ, MAP_SHARED, fd, 0);
		unsigned char vec[kLen / 4096];
		size_t n = 0;
		EXPECT_NE(map, MAP_FAILED);
		EXPECT_EQ(mincore(map, kLen, vec), 0);
		for (unsigned char v : vec)
			n += v & 1;
		munmap(map, kLen);
		return n;
	};
	ASSERT_GT(cached(), 0u);
	Run([&] {
		const int bad = ClosedFd();
		EXPECT_EQ(tame_io_fadvise(fd, 0, 0, POSIX_FADV_RANDOM), 0);
		EXPECT_EQ(tame_io_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
		EXPECT_EQ(tame_io_fadvise(bad, 0, 0, POSIX_FADV_NORMAL), -EBADF);
		EXPECT_EQ(tame_io_fadvise(fd, 0, 0, 1000), -EINVAL);
	});
	EXPECT_EQ(cached(), 0u);
	close(fd);
}

TEST_P(Io, StatxReportsSizeTypeAndMissingFiles)
{
	WriteWholeFile(dirfd(), "sized", Pattern(5000, 8));
	ASSERT_EQ(mkdirat(dirfd(), "sub", 0755), 0);
	int fd = openat(dirfd(), "sized", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	struct statx by_name {
	}, by_fd{}, dir{}, untouched{};
	int missing = 0;
	Run([&] {
		EXPECT_EQ(tame_io_statx(dirfd(), "sized", 0, STATX_SIZE | STATX_MODE, &by_name), 0);
		EXPECT_EQ(tame_io_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &by_fd), 0);
		EXPECT_EQ(tame_io_statx(dirfd(), "sub", 0, STATX_MODE, &dir), 0);
		missing = tame_io_statx(dirfd(), "missing", 0, STATX_SIZE, &untouched);
	});
	EXPECT_EQ(by_name.stx_size, 5000u);
	EXPECT_TRUE(S_ISREG(by_name.stx_mode));
	EXPECT_EQ(by_fd.stx_size, 5000u);
	EXPECT_TRUE(S_ISDIR(dir.stx_mode));
	EXPECT_EQ(missing, -ENOENT);
	close(fd);
}

TEST_P(Io, CloseReleasesTheFdAndAClosedFdIsEBADF)
{
	int fd = OpenRw(dirfd(), "closing");
	ASSERT_GE(fd, 0);
	int first = -1, second = 0;
	ssize_t read_closed = 0, write_closed = 0;
	Run([&] {
		first = tame_io_close(fd);
		char buf[16];
		read_closed = tame_io_read(fd, buf, sizeof(buf), 0);
		write_closed = tame_io_write(fd, "x", 1, 0);
		second = tame_io_close(fd);
	});
	EXPECT_EQ(first, 0);
	EXPECT_EQ(fcntl(fd, F_GETFD), -1); // really gone from the table
	EXPECT_EQ(read_closed, -EBADF);
	EXPECT_EQ(write_closed, -EBADF);
	EXPECT_EQ(second, -EBADF);
}

TEST_P(Io, WriteToAReadOnlyFdIsEBADF)
{
	WriteWholeFile(dirfd(), "ro", "read only");
	int fd = openat(dirfd(), "ro", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ssize_t rc = 0;
	Run([&] { rc = tame_io_write(fd, "x", 1, 0); });
	EXPECT_EQ(rc, -EBADF);
	EXPECT_EQ(ReadWholeFile(dirfd(), "ro"), "read only");
	close(fd);
}

TEST_P(Io, RenameatMovesReplacesAndHonoursNoReplace)
{
	WriteWholeFile(dirfd(), "a", "AAA");
	WriteWholeFile(dirfd(), "b", "BBB");
	ASSERT_EQ(mkdirat(dirfd(), "other", 0755), 0);
	int other = openat(dirfd(), "other", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(other, 0);
	Run([&] {
		EXPECT_EQ(tame_io_renameat(dirfd(), "a", dirfd(), "c", 0), 0);
		EXPECT_EQ(tame_io_renameat(dirfd(), "c", dirfd(), "b", RENAME_NOREPLACE), -EEXIST);
		EXPECT_EQ(tame_io_renameat(dirfd(), "c", dirfd(), "b", 0), 0);
		EXPECT_EQ(tame_io_renameat(dirfd(), "b", other, "moved", 0), 0);
		EXPECT_EQ(tame_io_renameat(dirfd(), "missing", dirfd(), "x", 0), -ENOENT);
	});
	EXPECT_FALSE(Exists(dirfd(), "a"));
	EXPECT_FALSE(Exists(dirfd(), "b"));
	EXPECT_FALSE(Exists(dirfd(), "c"));
	EXPECT_EQ(ReadWholeFile(other, "moved"), "AAA");
	close(other);
}

TEST_P(Io, UnlinkatRemovesFilesAndDirectories)
{
	WriteWholeFile(dirfd(), "file", "x");
	ASSERT_EQ(mkdirat(dirfd(), "empty", 0755), 0);
	ASSERT_EQ(mkdirat(dirfd(), "full", 0755), 0);
	WriteWholeFile(dirfd(), "full/inside", "y");
	Run([&] {
		EXPECT_EQ(tame_io_unlinkat(dirfd(), "file", 0), 0);
		EXPECT_EQ(tame_io_unlinkat(dirfd(), "file", 0), -ENOENT);
		EXPECT_EQ(tame_io_unlinkat(dirfd(), "empty", 0), -EISDIR);
		EXPECT_EQ(tame_io_unlinkat(dirfd(), "empty", AT_REMOVEDIR), 0);
		EXPECT_EQ(tame_io_unlinkat(dirfd(), "full", AT_REMOVEDIR), -ENOTEMPTY);
	});
	EXPECT_FALSE(Exists(dirfd(), "file"));
	EXPECT_FALSE(Exists(dirfd(), "empty"));
	EXPECT_TRUE(Exists(dirfd(), "full/inside"));
}

TEST_P(Io, MkdiratCreatesOnceAndTwiceIsEEXIST)
{
	int first = -1, twice = 0, no_parent = 0;
	Run([&] {
		first = tame_io_mkdirat(dirfd(), "made", 0750);
		twice = tame_io_mkdirat(dirfd(), "made", 0750);
		no_parent = tame_io_mkdirat(dirfd(), "missing/sub", 0750);
	});
	EXPECT_EQ(first, 0);
	EXPECT_EQ(twice, -EEXIST);
	EXPECT_EQ(no_parent, -ENOENT);
	struct stat st;
	ASSERT_EQ(fstatat(dirfd(), "made", &st, 0), 0);
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(st.st_mode & 0700, 0700u);
}

TEST_P(Io, LinkatCreatesAHardLink)
{
	WriteWholeFile(dirfd(), "src", "linked bytes");
	int made = -1, again = 0, missing = 0;
	Run([&] {
		made = tame_io_linkat(dirfd(), "src", dirfd(), "dst", 0);
		again = tame_io_linkat(dirfd(), "src", dirfd(), "dst", 0);
		missing = tame_io_linkat(dirfd(), "nope", dirfd(), "dst2", 0);
	});
	EXPECT_EQ(made, 0);
	EXPECT_EQ(again, -EEXIST);
	EXPECT_EQ(missing, -ENOENT);
	struct stat src, dst;
	ASSERT_EQ(fstatat(dirfd(), "src", &src, 0), 0);
	ASSERT_EQ(fstatat(dirfd(), "dst", &dst, 0), 0);
	EXPECT_EQ(src.st_ino, dst.st_ino);
	EXPECT_EQ(src.st_nlink, 2u);
	EXPECT_EQ(ReadWholeFile(dirfd(), "dst"), "linked bytes");
}

TEST_P(Io, ReadBatchFillsEveryRequestWithItsOwnResult)
{
	const std::string one = Pattern(65536, 9), two = Pattern(8000, 10);
	WriteWholeFile(dirfd(), "one", one);
	WriteWholeFile(dirfd(), "two", two);
	int fd1 = openat(dirfd(), "one", O_RDONLY | O_CLOEXEC);
	int fd2 = openat(dirfd(), "two", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd1, 0);
	ASSERT_GE(fd2, 0);
	struct Want {
		int fd;
		size_t len;
		off_t off;
		ssize_t res; // expected
		const std::string *file;
	};
	std::vector<Want> wants;
	std::vector<std::string> bufs;
	std::vector<tame_io_read_req> reqs;
	int rc = -1, null_rc = 0;
	Run([&] {
		const int bad = ClosedFd();
		wants = {
		    {fd1, 4096, 0, 4096, &one},    {fd1, 4096, 4096, 4096, &one},
		    {fd1, 1000, 100, 1000, &one},  {fd2, 8000, 0, 8000, &two},
		    {fd1, 4096, 65436, 100, &one}, {fd1, 10, 65536, 0, &one},
		    {fd2, 4096, 1 << 20, 0, &two}, {bad, 16, 0, -EBADF, nullptr},
		    {fd2, 3000, 5000, 3000, &two},
		};
		for (const Want &w : wants)
			bufs.emplace_back(w.len, '?');
		for (size_t i = 0; i < wants.size(); ++i)
			reqs.push_back(
			    {wants[i].fd, &bufs[i][0], wants[i].len, wants[i].off, 12345});
		rc = tame_io_read_batch(reqs.data(), reqs.size());
		null_rc = tame_io_read_batch(nullptr, 3);
	});
	ASSERT_EQ(reqs.size(), wants.size());
	EXPECT_EQ(rc, int(reqs.size()));
	EXPECT_EQ(null_rc, -EINVAL);
	for (size_t i = 0; i < wants.size(); ++i) {
		const Want &w = wants[i];
		ASSERT_EQ(reqs[i].res, w.res) << "request " << i;
		if (w.res > 0) {
			EXPECT_TRUE(bufs[i].substr(0, size_t(w.res)) ==
			            w.file->substr(size_t(w.off), size_t(w.res)))
			    << "request " << i;
		}
	}
	close(fd1);
	close(fd2);
}

INSTANTIATE_TEST_SUITE_P(Backends, Io,
                         testing::Values(Mode::kIoUring, Mode::kSync, Mode::kOffFiber), ModeName);

// ---- many fibers doing I/O on one reactor ---------------------------------

class IoOnReactor : public Io
{
};

TEST_P(IoOnReactor, ConcurrentFibersEachGetTheirOwnCompletion)
{
	constexpr int kFibers = 64, kBlock = 4096, kRounds = 4;
	tame_reactor_opts opts = OptsFor(GetParam());
	opts.ring_entries = 8; // far fewer SQEs than fibers doing I/O
	int fd = OpenRw(dirfd(), "blocks");
	ASSERT_GE(fd, 0);
	int wrong = 0, done = 0;
	Run(opts, [&] {
		tame_reactor *r = tame_fiber_reactor();
		for (int i = 0; i < kFibers; ++i) {
			ASSERT_EQ(SpawnFn(r,
			                  [&, i] {
				                  for (int round = 0; round < kRounds; ++round) {
					                  std::string mine =
					                      Pattern(kBlock, i * 100 + round);
					                  off_t off = off_t(i) * kBlock;
					                  if (tame_io_write(fd, mine.data(), kBlock,
					                                    off) != kBlock)
						                  ++wrong;
					                  tame_yield();
					                  std::string back(kBlock, '\0');
					                  if (tame_io_read(fd, &back[0], kBlock,
					                                   off) != kBlock ||
					                      back != mine)
						                  ++wrong;
				                  }
				                  ++done;
			                  }),
			          0);
		}
	});
	EXPECT_EQ(done, kFibers);
	EXPECT_EQ(wrong, 0);
	std::string file = ReadWholeFile(dirfd(), "blocks");
	ASSERT_EQ(file.size(), size_t(kFibers) * kBlock);
	for (int i = 0; i < kFibers; ++i)
		EXPECT_TRUE(file.substr(size_t(i) * kBlock, kBlock) ==
		            Pattern(kBlock, i * 100 + kRounds - 1))
		    << "block " << i;
	if (GetParam() == Mode::kIoUring) {
		uint64_t ops = uint64_t(kFibers) * kRounds * 2;
		EXPECT_GE(stats_.sqes_submitted, ops);
		EXPECT_GE(stats_.cqes_reaped, ops);
	}
	close(fd);
}

TEST_P(IoOnReactor, ReadBatchLargerThanTheRingCompletes)
{
	constexpr int kReads = 64;
	tame_reactor_opts opts = OptsFor(GetParam());
	opts.ring_entries = 8; // and max_inflight defaults to what 8 SQEs allow
	const std::string data = Pattern(kReads * 512, 11);
	WriteWholeFile(dirfd(), "batch", data);
	int fd = openat(dirfd(), "batch", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	std::vector<std::string> bufs(kReads, std::string(512, '?'));
	std::vector<tame_io_read_req> reqs;
	for (int i = 0; i < kReads; ++i) // in reverse file order
		reqs.push_back({fd, &bufs[i][0], 512, off_t(kReads - 1 - i) * 512, -1});
	int rc = -1;
	Run(opts, [&] { rc = tame_io_read_batch(reqs.data(), reqs.size()); });
	EXPECT_EQ(rc, kReads);
	for (int i = 0; i < kReads; ++i) {
		EXPECT_EQ(reqs[i].res, 512) << "request " << i;
		EXPECT_TRUE(bufs[i] == data.substr(size_t(kReads - 1 - i) * 512, 512))
		    << "request " << i;
	}
	if (GetParam() == Mode::kIoUring) {
		EXPECT_GE(stats_.sqes_submitted, uint64_t{kReads});
	}
	close(fd);
}

INSTANTIATE_TEST_SUITE_P(Backends, IoOnReactor, testing::Values(Mode::kIoUring, Mode::kSync),
                         ModeName);

// The fiber that queued a write parks; the fibers after it in the same pass
// run without parking. The write must reach the kernel before that pass
// ends (io_submit_early), or the device would sit idle while a reactor runs
// a long pass of RocksDB code. A pipe makes the submission visible: the
// last fiber of the pass reads it without blocking.
TEST(IoSubmitEarly, AWriteQueuedEarlyInAPassReachesTheKernelBeforeThePassEnds)
{
	for (uint64_t submit_ns : {uint64_t{0}, uint64_t{TAME_REACTOR_DEFAULT_SUBMIT_NS}}) {
		SCOPED_TRACE("submit_ns " + std::to_string(submit_ns));
		tame_reactor_opts opts = DefaultOpts();
		opts.submit_ns = submit_ns;
		ReactorPtr r = MakeReactor(opts);
		ASSERT_TRUE(r);
		if (!tame_reactor_uses_io_uring(r.get()))
			GTEST_SKIP() << "no io_uring here: " << tame_reactor_backend(r.get());
		int p[2];
		ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
		ASSERT_EQ(0, fcntl(p[0], F_SETFL, O_NONBLOCK));
		ssize_t wrote = -1, seen = -2;
		int seen_errno = 0;
		// Spawned in this order, all three run in the loop's first pass.
		ASSERT_EQ(0, SpawnFn(r.get(), [&] { wrote = tame_io_write(p[1], "x", 1, -1); }));
		ASSERT_EQ(0, SpawnFn(r.get(), [&] {
			// Longer than any submit_ns tested: the pass is old enough
			// for the queued write to be handed over.
			uint64_t start = tame_now_ns();
			while (tame_now_ns() - start < 2 * tame_test::kNsPerMs)
				;
		}));
		ASSERT_EQ(0, SpawnFn(r.get(), [&] {
			char c;
			seen = read(p[0], &c, 1);
			seen_errno = errno;
		}));
		ASSERT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
		EXPECT_EQ(1, wrote);
		EXPECT_EQ(1, seen) << "the write was still queued when the pass's last fiber ran ("
				   << strerror(seen_errno) << ")";
		close(p[0]);
		close(p[1]);
	}
}

// TAME_REACTOR_TIME_IO splits each operation's wait into queued, in the
// kernel, and completed-but-not-yet-running. A pipe that already holds data
// makes the read complete inside the enter that submits it, so the time a
// spinning fiber holds the reactor lands in exactly one stage: before the
// enter without early submission, after the reap with submit_ns 0.
struct TimedRead {
	uint64_t timed, queued_ns, kernel_ns, resume_ns, wall_ns;
};

TimedRead TimeOnePipeReadWithASpinner(uint64_t submit_ns, unsigned flags)
{
	TimedRead out{};
	tame_reactor_opts opts = DefaultOpts();
	opts.submit_ns = submit_ns;
	opts.flags |= flags;
	ReactorPtr r = MakeReactor(opts);
	EXPECT_TRUE(r);
	if (!r)
		return out;
	int p[2];
	EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
	EXPECT_EQ(1, write(p[1], "x", 1));
	ssize_t got = -1;
	EXPECT_EQ(0, SpawnFn(r.get(), [&] {
		char c;
		got = tame_io_read(p[0], &c, 1, -1);
	}));
	EXPECT_EQ(0, SpawnFn(r.get(), [&] {
		uint64_t start = tame_now_ns();
		while (tame_now_ns() - start < 3 * tame_test::kNsPerMs)
			;
	}));
	uint64_t start = tame_now_ns();
	EXPECT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
	out.wall_ns = tame_now_ns() - start;
	EXPECT_EQ(1, got);
	tame_reactor_stats st = StatsOf(r.get());
	out.timed = st.io_timed;
	out.queued_ns = st.io_queued_ns;
	out.kernel_ns = st.io_kernel_ns;
	out.resume_ns = st.io_resume_ns;
	close(p[0]);
	close(p[1]);
	return out;
}

// Each stage, and their sum, is part of the reactor's run.
void ExpectEachStageWithin(const TimedRead &t)
{
	EXPECT_LE(t.queued_ns, t.wall_ns);
	EXPECT_LE(t.kernel_ns, t.wall_ns);
	EXPECT_LE(t.resume_ns, t.wall_ns);
	EXPECT_LE(t.queued_ns + t.kernel_ns + t.resume_ns, t.wall_ns);
}

TEST(IoTiming, AReadHeldInTheQueueByARunningFiberCountsAsQueued)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	// No early submission at all: the read waits in the SQ until the pass
	// ends.
	TimedRead t = TimeOnePipeReadWithASpinner(UINT64_MAX, TAME_REACTOR_TIME_IO);
	EXPECT_EQ(1u, t.timed);
	EXPECT_GE(t.queued_ns, 3 * tame_test::kNsPerMs);
	ExpectEachStageWithin(t);
}

TEST(IoTiming, AReadCompletedWhileAnotherFiberRunsCountsAsWaitingForTheReactor)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	// submit_ns 0: handed over and reaped right after the reading fiber
	// parks; it runs again only after the spinner's 3 ms.
	TimedRead t = TimeOnePipeReadWithASpinner(0, TAME_REACTOR_TIME_IO);
	EXPECT_EQ(1u, t.timed);
	EXPECT_GE(t.resume_ns, 3 * tame_test::kNsPerMs);
	EXPECT_LT(t.queued_ns, 3 * tame_test::kNsPerMs);
	ExpectEachStageWithin(t);
}

TEST(IoTiming, WithoutTheFlagNothingIsTimed)
{
	TimedRead t = TimeOnePipeReadWithASpinner(0, 0);
	EXPECT_EQ(0u, t.timed);
	EXPECT_EQ(0u, t.queued_ns + t.kernel_ns + t.resume_ns);
}

/* Runs NFIBERS fibers on a reactor that submits early at once (submit_ns 0);
 * each reads one byte from a pipe that holds one for each. */
static tame_reactor_stats EarlySubmissionStats(int nfibers)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.submit_ns = 0;
	ReactorPtr r = MakeReactor(opts);
	EXPECT_TRUE(r);
	if (!r)
		return {};
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		ADD_FAILURE() << "pipe2: " << strerror(errno);
		return {};
	}
	std::string bytes(nfibers, 'x');
	EXPECT_EQ((ssize_t)nfibers, write(p[1], bytes.data(), bytes.size()));
	int got = 0;
	for (int i = 0; i < nfibers; i++)
		EXPECT_EQ(0, SpawnFn(r.get(), [&] {
			char c = 0;
			EXPECT_EQ(1, tame_io_read(p[0], &c, 1, -1));
			got += c == 'x';
		}));
	EXPECT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
	EXPECT_EQ(nfibers, got);
	close(p[0]);
	close(p[1]);
	return StatsOf(r.get());
}

/* Both fibers queue a read in the first pass: the first one's goes early,
 * the second (last) one's with the loop's own enter. */
TEST(IoTiming, EarlyEntersCountTheSubmissionsMadeBetweenTheFibersOfAPass)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	tame_reactor_stats st = EarlySubmissionStats(2);
	EXPECT_EQ(1u, st.early_enters);
	EXPECT_LE(st.early_enters, st.io_enters);
}

TEST(IoTiming, TheLastFiberOfAPassLeavesItsSubmissionToTheLoopsOwnEnter)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	tame_reactor_stats st = EarlySubmissionStats(1);
	EXPECT_EQ(0u, st.early_enters);
	EXPECT_GE(st.io_enters, 1u);
}

/* submit_tune wired into the reactor: fibers reading /dev/zero complete
 * windows of SUBMIT_TUNE_WINDOW_OPS, the reactor measures them and runs a
 * trial, whose windows run with no depth limit for half of it. */
TEST(SubmitTune, AReactorThatReadsMeasuresWindowsAndRunsATrial)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	tame_reactor_opts opts = DefaultOpts();
	ASSERT_TRUE(opts.submit_tune) << "on by default";
	ReactorPtr r = MakeReactor(opts);
	ASSERT_TRUE(r);
	int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0) << strerror(errno);
	const uint64_t deadline = tame_now_ns() + 60ull * 1000000000u;
	bool done = false;
	uint64_t bad = 0;
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(0, SpawnFn(r.get(), [&] {
			char buf[64];
			for (unsigned n = 0; !done; n++) {
				bad += tame_io_read(fd, buf, sizeof(buf), -1) != (ssize_t)sizeof(buf);
				if (n % 256 == 0 &&
				    (StatsOf(r.get()).submit_tune_trials >= 1 || tame_now_ns() > deadline))
					done = true;
			}
		}));
	ASSERT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
	close(fd);
	tame_reactor_stats st = StatsOf(r.get());
	EXPECT_EQ(0u, bad);
	EXPECT_EQ(1u, st.submit_tune_trials);
	// At least: a trial abandoned (a window over a second on a loaded
	// machine) starts the count of steady windows again.
	EXPECT_GE(st.submit_tune_windows,
		  uint64_t{SUBMIT_TUNE_STEADY_WINDOWS + SUBMIT_TUNE_TRIAL_WINDOWS});
	EXPECT_GE(st.submit_tune_open_windows, uint64_t{SUBMIT_TUNE_TRIAL_WINDOWS / 2});
	EXPECT_LE(st.submit_tune_changes, 1u);
}

/* IN_KERNEL fibers wait in the kernel for a pipe nobody has written yet:
 * on the measured reactor, or with OTHER_REACTOR on a second reactor run by
 * another thread. In the measured reactor's next pass two fibers read a
 * byte each from a pipe that holds them; returns the early enters made
 * between that pass's fibers (submit_ns 0: every one that submit_depth
 * allows), or -1 if the reads went wrong. */
static int64_t EarlyEntersWithReadsInTheKernel(int in_kernel, unsigned submit_depth,
					       bool other_reactor = false)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.submit_ns = 0;
	opts.submit_depth = submit_depth;
	opts.submit_tune = false;
	ReactorPtr r = MakeReactor(opts);
	EXPECT_TRUE(r);
	if (!r)
		return -1;
	int idle[2], ready[2];
	if (pipe2(idle, O_CLOEXEC) != 0 || pipe2(ready, O_CLOEXEC) != 0) {
		ADD_FAILURE() << "pipe2: " << strerror(errno);
		return -1;
	}
	EXPECT_EQ(2, write(ready[1], "yy", 2));
	std::atomic<int> idle_got{0};
	int ready_got = 0;
	uint64_t before = 0, after = 0;
	auto idle_reader = [&] {
		char c = 0;
		EXPECT_EQ(1, tame_io_read(idle[0], &c, 1, -1));
		idle_got += c == 'x';
	};
	auto release_idle = [&] {
		std::string bytes(in_kernel, 'x');
		EXPECT_EQ((ssize_t)in_kernel, write(idle[1], bytes.data(), bytes.size()));
	};
	std::thread other;
	std::atomic<bool> started{false};
	if (other_reactor) {
		other = std::thread([&] {
			ReactorPtr o = MakeReactor(DefaultOpts());
			for (int i = 0; o && i < in_kernel; i++)
				EXPECT_EQ(0, SpawnFn(o.get(), idle_reader));
			started = true;
			if (o) {
				EXPECT_EQ(0, tame_reactor_run(o.get(), TAME_RUN_UNTIL_EMPTY));
			}
		});
		while (!started)
			std::this_thread::yield();
		/* Until the other reactor sleeps with its reads in the kernel. */
		uint64_t deadline = tame_now_ns() + 10000 * tame_test::kNsPerMs;
		while (StatsOf(r.get()).io_in_kernel_all < (uint64_t)in_kernel &&
		       tame_now_ns() < deadline)
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		EXPECT_EQ((uint64_t)in_kernel, StatsOf(r.get()).io_in_kernel_all);
	} else {
		for (int i = 0; i < in_kernel; i++)
			EXPECT_EQ(0, SpawnFn(r.get(), idle_reader));
	}
	for (int i = 0; i < 2; i++)
		EXPECT_EQ(0, SpawnFn(r.get(), [&, i] {
			tame_yield(); // to the next pass, after the idle reads went in
			if (i == 0)
				before = StatsOf(r.get()).early_enters;
			char c = 0;
			EXPECT_EQ(1, tame_io_read(ready[0], &c, 1, -1));
			ready_got += c == 'y';
		}));
	EXPECT_EQ(0, SpawnFn(r.get(), [&] {
		tame_yield(); // the pass's last fiber
		after = StatsOf(r.get()).early_enters;
		if (!other_reactor)
			release_idle();
	}));
	EXPECT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
	if (other_reactor) {
		release_idle();
		other.join();
	}
	EXPECT_EQ(in_kernel, idle_got.load());
	EXPECT_EQ(2, ready_got);
	for (int fd : {idle[0], idle[1], ready[0], ready[1]})
		close(fd);
	if (idle_got != in_kernel || ready_got != 2)
		return -1;
	return (int64_t)(after - before);
}

// A short device queue: each of the pass's two reads goes to the kernel as
// soon as its fiber parks.
TEST(IoSubmitDepth, ReadsGoEarlyWhileFewerThanSubmitDepthAreInTheKernel)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	EXPECT_EQ(2, EarlyEntersWithReadsInTheKernel(4, 16));
	EXPECT_EQ(2, EarlyEntersWithReadsInTheKernel(0, 1));
	EXPECT_EQ(2, EarlyEntersWithReadsInTheKernel(4, 5, true));
}

// A device with submit_depth operations already: the pass's reads wait for
// the loop's own enter and go to the kernel together (and still complete).
TEST(IoSubmitDepth, ReadsWaitForTheEndOfThePassWhileSubmitDepthAreInTheKernel)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	EXPECT_EQ(0, EarlyEntersWithReadsInTheKernel(4, 4));
	EXPECT_EQ(0, EarlyEntersWithReadsInTheKernel(16, TAME_REACTOR_DEFAULT_SUBMIT_DEPTH));
	EXPECT_EQ(0, EarlyEntersWithReadsInTheKernel(0, 0)) << "submit_depth 0 never submits early";
}

// Reactors share the disk: reads another reactor has in the kernel count
// toward submit_depth, so two reactors do not each cut their passes into
// small batches while the device already holds both reactors' reads.
TEST(IoSubmitDepth, ReadsOfAnotherReactorCountTowardSubmitDepth)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	EXPECT_EQ(0, EarlyEntersWithReadsInTheKernel(4, 4, true));
	EXPECT_EQ(0, EarlyEntersWithReadsInTheKernel(16, TAME_REACTOR_DEFAULT_SUBMIT_DEPTH, true));
}

/* wake_batch: N fibers each wait in the kernel for a byte from a pipe of
 * their own, until another thread writes it (Release). */
struct PipeReaders {
	std::vector<std::array<int, 2>> pipes;
	std::vector<uint64_t> resumed_turn; // the reactor's loop turn at resume
	std::atomic<int> resumed{0};

	explicit PipeReaders(int n) : pipes(n), resumed_turn(n, 0)
	{
		for (auto &p : pipes)
			EXPECT_EQ(0, pipe2(p.data(), O_CLOEXEC)) << strerror(errno);
	}
	~PipeReaders()
	{
		for (auto &p : pipes) {
			close(p[0]);
			close(p[1]);
		}
	}
	void Spawn(tame_reactor *r)
	{
		for (size_t i = 0; i < pipes.size(); i++)
			EXPECT_EQ(0, SpawnFn(r, [this, r, i] {
				char c = 0;
				EXPECT_EQ(1, tame_io_read(pipes[i][0], &c, 1, -1));
				resumed_turn[i] = StatsOf(r).loop_turns;
				resumed++;
			}));
	}
	void Release(size_t i) { EXPECT_EQ(1, write(pipes[i][1], "x", 1)); }
};

static bool KernelHasMinWait(tame_reactor *r)
{
	return strstr(tame_reactor_backend(r), "+min_wait") != nullptr;
}

/* A reactor that batches wake-ups: wake_batch BATCH, wake_wait_ns WAIT_NS. */
static ReactorPtr BatchingReactor(unsigned batch, uint64_t wait_ns)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.wake_batch = batch;
	opts.wake_wait_ns = wait_ns;
	return MakeReactor(opts);
}

/* Until r sleeps with its operations in the kernel, batched if it can. */
static void AwaitSleep(tame_reactor *r, bool batched)
{
	uint64_t deadline = tame_now_ns() + 10000 * tame_test::kNsPerMs;
	while ((batched ? StatsOf(r).batched_sleeps : StatsOf(r).sleeps) == 0 &&
	       tame_now_ns() < deadline)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// Eight reads in the kernel: the reactor sleeps for four completions, but
// one completion alone wakes it once wake_wait_ns have passed: a read is
// never held back for reads that may never come.
TEST(IoWakeBatch, OneCompletionWakesTheReactorOnceWakeWaitHasPassed)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	ReactorPtr r = BatchingReactor(8, 1 * tame_test::kNsPerMs);
	ASSERT_TRUE(r);
	bool min_wait = KernelHasMinWait(r.get());
	PipeReaders readers(8);
	readers.Spawn(r.get());
	bool alone = false;
	std::thread writer([&] {
		AwaitSleep(r.get(), min_wait);
		readers.Release(0);
		uint64_t deadline = tame_now_ns() + 10000 * tame_test::kNsPerMs;
		while (readers.resumed == 0 && tame_now_ns() < deadline)
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		alone = readers.resumed == 1;
		for (size_t i = 1; i < readers.pipes.size(); i++)
			readers.Release(i);
	});
	EXPECT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
	writer.join();
	EXPECT_TRUE(alone) << "the first reader did not resume before the others were written";
	EXPECT_EQ(8, readers.resumed.load());
	if (min_wait)
		EXPECT_GE(StatsOf(r.get()).batched_sleeps, 1u);
	else
		EXPECT_EQ(0u, StatsOf(r.get()).batched_sleeps) << "no min_wait, no batching";
}

// Completions that arrive 20 ms apart within wake_wait_ns (1 s) wake the reactor
// once, for all of them: their fibers run in one pass of the loop.
TEST(IoWakeBatch, CompletionsWithinWakeWaitResumeTheirFibersInOnePass)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	ReactorPtr r = BatchingReactor(4, TAME_REACTOR_MAX_WAKE_WAIT_NS);
	ASSERT_TRUE(r);
	if (!KernelHasMinWait(r.get()))
		GTEST_SKIP() << "this kernel has no io_uring min_wait (Linux 6.12): the reactor "
		                "wakes at each completion";
	PipeReaders readers(8);
	readers.Spawn(r.get());
	std::thread writer([&] {
		AwaitSleep(r.get(), true);
		for (size_t i = 0; i < readers.pipes.size(); i++) {
			readers.Release(i);
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
	});
	EXPECT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
	writer.join();
	ASSERT_EQ(8, readers.resumed.load());
	/* 8 in the kernel: 4 completions wake the reactor. */
	for (size_t i = 1; i < 4; i++)
		EXPECT_EQ(readers.resumed_turn[0], readers.resumed_turn[i]) << "reader " << i;
	EXPECT_NE(readers.resumed_turn[0], readers.resumed_turn[4]);
}

// wake_batch 1, or wake_wait_ns 0, is the reactor before batching: every
// sleep waits for one completion.
TEST(IoWakeBatch, WakeBatchOneOrWakeWaitZeroNeverBatches)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	for (int off = 0; off < 2; off++) {
		ReactorPtr r = off ? BatchingReactor(8, 0) : BatchingReactor(1, 1 * tame_test::kNsPerMs);
		ASSERT_TRUE(r);
		PipeReaders readers(8);
		readers.Spawn(r.get());
		std::thread writer([&] {
			AwaitSleep(r.get(), false);
			for (size_t i = 0; i < readers.pipes.size(); i++)
				readers.Release(i);
		});
		EXPECT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
		writer.join();
		EXPECT_EQ(8, readers.resumed.load());
		EXPECT_EQ(0u, StatsOf(r.get()).batched_sleeps);
	}
}

// A wake from another thread reaches a reactor sleeping for a batch: a
// fiber spawned from outside runs while eight reads are still in the kernel.
TEST(IoWakeBatch, ASpawnFromAnotherThreadRunsWhileTheReactorSleepsForABatch)
{
	if (!tame_test::ReactorsUseIoUring())
		GTEST_SKIP() << "no io_uring here";
	ReactorPtr r = BatchingReactor(8, 1 * tame_test::kNsPerMs);
	ASSERT_TRUE(r);
	PipeReaders readers(8);
	readers.Spawn(r.get());
	std::atomic<bool> ran{false};
	bool before_reads = false;
	std::thread other([&] {
		AwaitSleep(r.get(), KernelHasMinWait(r.get()));
		EXPECT_EQ(0, SpawnFn(r.get(), [&] { ran = true; }));
		uint64_t deadline = tame_now_ns() + 10000 * tame_test::kNsPerMs;
		while (!ran && tame_now_ns() < deadline)
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		before_reads = ran && readers.resumed == 0;
		for (size_t i = 0; i < readers.pipes.size(); i++)
			readers.Release(i);
	});
	EXPECT_EQ(0, tame_reactor_run(r.get(), TAME_RUN_UNTIL_EMPTY));
	other.join();
	EXPECT_TRUE(before_reads);
	EXPECT_EQ(8, readers.resumed.load());
}

TEST(IoWakeBatch, OutOfRangeOptionsAreRefused)
{
	tame_reactor *r = nullptr;
	tame_reactor_opts opts = DefaultOpts();
	opts.wake_batch = 0;
	EXPECT_EQ(-EINVAL, tame_reactor_create(&opts, &r));
	opts.wake_batch = TAME_REACTOR_MAX_WAKE_BATCH + 1;
	EXPECT_EQ(-EINVAL, tame_reactor_create(&opts, &r));
	opts = DefaultOpts();
	opts.wake_wait_ns = TAME_REACTOR_MAX_WAKE_WAIT_NS + 1;
	EXPECT_EQ(-EINVAL, tame_reactor_create(&opts, &r));
	EXPECT_EQ(nullptr, r);
}

TEST(IoTiming, UnknownReactorFlagsAreRefused)
{
	tame_reactor_opts opts = DefaultOpts();
	opts.flags |= 1u << 7;
	tame_reactor *r = nullptr;
	EXPECT_EQ(-EINVAL, tame_reactor_create(&opts, &r));
	EXPECT_EQ(nullptr, r);
}

} // namespace
