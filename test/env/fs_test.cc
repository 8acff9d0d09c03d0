// SPDX-License-Identifier: Apache-2.0
// TameFileSystem: every operation and its error mapping, on a plain thread
// and inside a reactor fiber (where the I/O must go through io_uring).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "env_test_util.h"
#include "tame_fs.h"

using rocksdb::FileOptions;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;
using tamerocks::TameFileSystem;
using namespace tamerocks_test;

namespace
{

// 100 reads of 300 bytes 997 apart through MultiRead (more than one internal
// batch), the last crossing EOF, into scratch at `skew` bytes past a
// std::string's start: every one gets exactly the file's bytes.
void MultiReadMatches(rocksdb::FSRandomAccessFile *r, const std::string &data, size_t skew)
{
	constexpr size_t kReqs = 100;
	std::vector<std::string> bufs(kReqs, std::string(300 + skew, '\0'));
	std::vector<rocksdb::FSReadRequest> reqs(kReqs);
	for (size_t i = 0; i < kReqs; i++) {
		reqs[i].offset = i * 997;
		reqs[i].len = 300;
		reqs[i].scratch = &bufs[i][skew];
	}
	reqs[kReqs - 1].offset = data.size() - 10; // short: crosses EOF
	ASSERT_TRUE(r->MultiRead(reqs.data(), kReqs, IOOptions(), nullptr).ok());
	for (size_t i = 0; i < kReqs; i++) {
		ASSERT_TRUE(reqs[i].status.ok()) << i << ": " << reqs[i].status.ToString();
		EXPECT_EQ(data.substr(reqs[i].offset, reqs[i].len), reqs[i].result.ToString()) << i;
	}
}

class FsTest : public ::testing::TestWithParam<Where>
{
      protected:
	// Runs body where the parameter says; in a fiber, checks that the I/O
	// really went to the ring.
	void Run(std::function<void()> body)
	{
		if (GetParam() == Where::kThread) {
			body();
			return;
		}
		FiberRunStats st = RunInFiber(body);
		if (st.io_uring) {
			EXPECT_GT(st.sqes_submitted, 0u);
		}
	}
	void WriteFile(const std::string &name, const std::string &data)
	{
		std::unique_ptr<rocksdb::FSWritableFile> f;
		ASSERT_TRUE(fs_.NewWritableFile(name, FileOptions(), &f, nullptr).ok());
		ASSERT_TRUE(f->Append(data, io_, nullptr).ok());
		ASSERT_TRUE(f->Close(io_, nullptr).ok());
	}

	TameFileSystem fs_;
	IOOptions io_;
	TempDir dir_;
};

TEST_P(FsTest, WrittenFileReadsBackSequentiallyAndAtRandom)
{
	Run([&] {
		std::string name = dir_ / "data";
		std::unique_ptr<rocksdb::FSWritableFile> w;
		ASSERT_TRUE(fs_.NewWritableFile(name, FileOptions(), &w, nullptr).ok());
		ASSERT_TRUE(w->Append("hello ", io_, nullptr).ok());
		ASSERT_TRUE(w->Append("world", io_, nullptr).ok());
		EXPECT_EQ(11u, w->GetFileSize(io_, nullptr));
		EXPECT_TRUE(w->Flush(io_, nullptr).ok());
		EXPECT_TRUE(w->Sync(io_, nullptr).ok());
		EXPECT_TRUE(w->Fsync(io_, nullptr).ok());
		EXPECT_TRUE(w->RangeSync(0, 11, io_, nullptr).ok());
		ASSERT_TRUE(w->Close(io_, nullptr).ok());

		std::unique_ptr<rocksdb::FSSequentialFile> s;
		ASSERT_TRUE(fs_.NewSequentialFile(name, FileOptions(), &s, nullptr).ok());
		char buf[64];
		Slice out;
		ASSERT_TRUE(s->Read(5, io_, &out, buf, nullptr).ok());
		EXPECT_EQ("hello", out.ToString());
		ASSERT_TRUE(s->Skip(1).ok());
		ASSERT_TRUE(s->Read(64, io_, &out, buf, nullptr).ok());
		EXPECT_EQ("world", out.ToString());
		ASSERT_TRUE(s->Read(64, io_, &out, buf, nullptr).ok());
		EXPECT_EQ(0u, out.size()) << "EOF is an empty read, not an error";

		std::unique_ptr<rocksdb::FSRandomAccessFile> r;
		ASSERT_TRUE(fs_.NewRandomAccessFile(name, FileOptions(), &r, nullptr).ok());
		ASSERT_TRUE(r->Read(6, 5, io_, &out, buf, nullptr).ok());
		EXPECT_EQ("world", out.ToString());
		ASSERT_TRUE(r->Read(8, 100, io_, &out, buf, nullptr).ok());
		EXPECT_EQ("rld", out.ToString()) << "a read across EOF is short, not an error";
		EXPECT_TRUE(r->Prefetch(0, 4, io_, nullptr).ok()) << "a buffered file prefetches";
	});
}

TEST_P(FsTest, MmapReadsReturnPointersIntoTheFileWithoutScratch)
{
	Run([&] {
		std::string name = dir_ / "mapped";
		std::unique_ptr<rocksdb::FSWritableFile> w;
		ASSERT_TRUE(fs_.NewWritableFile(name, FileOptions(), &w, nullptr).ok());
		ASSERT_TRUE(w->Append("plain table bytes", io_, nullptr).ok());
		ASSERT_TRUE(w->Close(io_, nullptr).ok());

		FileOptions mmap_opts;
		mmap_opts.use_mmap_reads = true;
		std::unique_ptr<rocksdb::FSRandomAccessFile> r;
		ASSERT_TRUE(fs_.NewRandomAccessFile(name, mmap_opts, &r, nullptr).ok());
		Slice out;
		// PlainTable reads this way: no scratch buffer at all.
		ASSERT_TRUE(r->Read(6, 5, io_, &out, nullptr, nullptr).ok());
		EXPECT_EQ("table", out.ToString());
		ASSERT_TRUE(r->Read(12, 100, io_, &out, nullptr, nullptr).ok());
		EXPECT_EQ("bytes", out.ToString()) << "a read across EOF is short";
		EXPECT_TRUE(r->Read(100, 1, io_, &out, nullptr, nullptr).IsIOError());

		std::string empty = dir_ / "empty";
		ASSERT_TRUE(fs_.NewWritableFile(empty, FileOptions(), &w, nullptr).ok());
		ASSERT_TRUE(w->Close(io_, nullptr).ok());
		ASSERT_TRUE(fs_.NewRandomAccessFile(empty, mmap_opts, &r, nullptr).ok());
		ASSERT_TRUE(r->Read(0, 10, io_, &out, nullptr, nullptr).ok());
		EXPECT_EQ(0u, out.size());
	});
}

TEST_P(FsTest, MultiReadFillsEveryRequestIncludingPastEof)
{
	Run([&] {
		std::string name = dir_ / "multi";
		std::string data;
		for (int i = 0; i < 100000; i++)
			data.push_back((char)('a' + i % 26));
		WriteFile(name, data);
		std::unique_ptr<rocksdb::FSRandomAccessFile> r;
		ASSERT_TRUE(fs_.NewRandomAccessFile(name, FileOptions(), &r, nullptr).ok());
		MultiReadMatches(r.get(), data, 0);
	});
}

TEST_P(FsTest, OpeningAMissingFileIsPathNotFound)
{
	Run([&] {
		std::string name = dir_ / "missing";
		std::unique_ptr<rocksdb::FSSequentialFile> s;
		IOStatus st = fs_.NewSequentialFile(name, FileOptions(), &s, nullptr);
		EXPECT_TRUE(st.IsIOError()) << st.ToString();
		EXPECT_TRUE(st.IsPathNotFound()) << st.ToString();
		EXPECT_NE(std::string::npos, st.ToString().find(name));
		std::unique_ptr<rocksdb::FSRandomAccessFile> r;
		st = fs_.NewRandomAccessFile(name, FileOptions(), &r, nullptr);
		EXPECT_TRUE(st.IsPathNotFound()) << st.ToString();
		std::unique_ptr<rocksdb::FSDirectory> d;
		st = fs_.NewDirectory(name, io_, &d, nullptr);
		EXPECT_TRUE(st.IsPathNotFound()) << st.ToString();
		uint64_t size;
		st = fs_.GetFileSize(name, io_, &size, nullptr);
		EXPECT_TRUE(st.IsPathNotFound()) << st.ToString();
		st = fs_.DeleteFile(name, io_, nullptr);
		EXPECT_TRUE(st.IsPathNotFound()) << st.ToString();
		bool is_dir;
		st = fs_.IsDirectory(name, io_, &is_dir, nullptr);
		EXPECT_TRUE(st.IsPathNotFound()) << st.ToString();
	});
}

TEST_P(FsTest, FileExistsAndGetChildrenOfMissingPathAreNotFound)
{
	Run([&] {
		IOStatus st = fs_.FileExists(dir_ / "missing", io_, nullptr);
		EXPECT_TRUE(st.IsNotFound()) << st.ToString();
		std::vector<std::string> kids;
		st = fs_.GetChildren(dir_ / "missing", io_, &kids, nullptr);
		EXPECT_TRUE(st.IsNotFound()) << st.ToString();
		std::vector<rocksdb::FileAttributes> attrs;
		st = fs_.GetChildrenFileAttributes(dir_ / "missing", io_, &attrs, nullptr);
		EXPECT_TRUE(st.IsNotFound()) << st.ToString();
		EXPECT_TRUE(fs_.FileExists(dir_.path(), io_, nullptr).ok());
	});
}

TEST_P(FsTest, GetChildrenListsNamesAndSizes)
{
	Run([&] {
		WriteFile(dir_ / "a", "1");
		WriteFile(dir_ / "b", "22");
		ASSERT_TRUE(fs_.CreateDir(dir_ / "sub", io_, nullptr).ok());
		std::vector<std::string> kids;
		ASSERT_TRUE(fs_.GetChildren(dir_.path(), io_, &kids, nullptr).ok());
		std::sort(kids.begin(), kids.end());
		EXPECT_EQ((std::vector<std::string>{"a", "b", "sub"}), kids);
		std::vector<rocksdb::FileAttributes> attrs;
		ASSERT_TRUE(fs_.GetChildrenFileAttributes(dir_.path(), io_, &attrs, nullptr).ok());
		ASSERT_EQ(3u, attrs.size());
		for (auto &a : attrs) {
			EXPECT_EQ(a.name == "a"   ? 1u
			          : a.name == "b" ? 2u
			                          : a.size_bytes,
			          a.size_bytes);
		}
	});
}

TEST_P(FsTest, DirectoriesAreCreatedCheckedSyncedAndDeleted)
{
	Run([&] {
		std::string d = dir_ / "d";
		ASSERT_TRUE(fs_.CreateDir(d, io_, nullptr).ok());
		IOStatus st = fs_.CreateDir(d, io_, nullptr);
		EXPECT_TRUE(st.IsIOError()) << "creating an existing dir fails";
		EXPECT_TRUE(fs_.CreateDirIfMissing(d, io_, nullptr).ok());
		EXPECT_TRUE(fs_.CreateDirIfMissing(dir_ / "d2", io_, nullptr).ok());
		WriteFile(dir_ / "f", "x");
		st = fs_.CreateDirIfMissing(dir_ / "f", io_, nullptr);
		EXPECT_TRUE(st.IsIOError()) << "a file is not a directory: " << st.ToString();
		bool is_dir = false;
		ASSERT_TRUE(fs_.IsDirectory(d, io_, &is_dir, nullptr).ok());
		EXPECT_TRUE(is_dir);
		ASSERT_TRUE(fs_.IsDirectory(dir_ / "f", io_, &is_dir, nullptr).ok());
		EXPECT_FALSE(is_dir);
		std::unique_ptr<rocksdb::FSDirectory> dir;
		ASSERT_TRUE(fs_.NewDirectory(d, io_, &dir, nullptr).ok());
		EXPECT_TRUE(dir->Fsync(io_, nullptr).ok());
		EXPECT_TRUE(
		    dir->FsyncWithDirOptions(io_, nullptr, rocksdb::DirFsyncOptions()).ok());
		EXPECT_TRUE(dir->Close(io_, nullptr).ok());
		EXPECT_TRUE(fs_.DeleteDir(d, io_, nullptr).ok());
		EXPECT_TRUE(fs_.FileExists(d, io_, nullptr).IsNotFound());
	});
}

TEST_P(FsTest, RenameLinkAndMetadataFollowTheFile)
{
	Run([&] {
		std::string a = dir_ / "a", b = dir_ / "b", c = dir_ / "c";
		WriteFile(a, "12345");
		ASSERT_TRUE(fs_.RenameFile(a, b, io_, nullptr).ok());
		EXPECT_TRUE(fs_.FileExists(a, io_, nullptr).IsNotFound());
		uint64_t n = 0;
		ASSERT_TRUE(fs_.GetFileSize(b, io_, &n, nullptr).ok());
		EXPECT_EQ(5u, n);
		ASSERT_TRUE(fs_.LinkFile(b, c, io_, nullptr).ok());
		ASSERT_TRUE(fs_.NumFileLinks(b, io_, &n, nullptr).ok());
		EXPECT_EQ(2u, n);
		bool same = false;
		ASSERT_TRUE(fs_.AreFilesSame(b, c, io_, &same, nullptr).ok());
		EXPECT_TRUE(same);
		uint64_t mtime = 0;
		ASSERT_TRUE(fs_.GetFileModificationTime(b, io_, &mtime, nullptr).ok());
		EXPECT_LE((uint64_t)time(nullptr) - mtime, 60u);
		ASSERT_TRUE(fs_.DeleteFile(c, io_, nullptr).ok());
		ASSERT_TRUE(fs_.NumFileLinks(b, io_, &n, nullptr).ok());
		EXPECT_EQ(1u, n);
		IOStatus st = fs_.RenameFile(dir_ / "missing", c, io_, nullptr);
		EXPECT_TRUE(st.IsPathNotFound()) << st.ToString();
		ASSERT_TRUE(fs_.Truncate(b, 2, io_, nullptr).ok());
		ASSERT_TRUE(fs_.GetFileSize(b, io_, &n, nullptr).ok());
		EXPECT_EQ(2u, n);
	});
}

TEST_P(FsTest, ReopenAppendsAndReuseRenames)
{
	Run([&] {
		std::string a = dir_ / "a", b = dir_ / "b";
		WriteFile(a, "abc");
		std::unique_ptr<rocksdb::FSWritableFile> w;
		ASSERT_TRUE(fs_.ReopenWritableFile(a, FileOptions(), &w, nullptr).ok());
		EXPECT_EQ(3u, w->GetFileSize(io_, nullptr));
		ASSERT_TRUE(w->Append("def", io_, nullptr).ok());
		ASSERT_TRUE(w->Close(io_, nullptr).ok());
		uint64_t n = 0;
		ASSERT_TRUE(fs_.GetFileSize(a, io_, &n, nullptr).ok());
		EXPECT_EQ(6u, n);
		ASSERT_TRUE(fs_.ReuseWritableFile(b, a, FileOptions(), &w, nullptr).ok());
		ASSERT_TRUE(w->Append("z", io_, nullptr).ok());
		ASSERT_TRUE(w->Close(io_, nullptr).ok());
		EXPECT_TRUE(fs_.FileExists(a, io_, nullptr).IsNotFound());
		ASSERT_TRUE(fs_.GetFileSize(b, io_, &n, nullptr).ok());
		EXPECT_EQ(1u, n);
	});
}

TEST_P(FsTest, WritableFileAllocatesTruncatesAndPositionedAppends)
{
	Run([&] {
		std::string a = dir_ / "a";
		std::unique_ptr<rocksdb::FSWritableFile> w;
		ASSERT_TRUE(fs_.NewWritableFile(a, FileOptions(), &w, nullptr).ok());
		ASSERT_TRUE(w->Allocate(0, 1 << 20, io_, nullptr).ok());
		ASSERT_TRUE(w->Append("0123456789", io_, nullptr).ok());
		ASSERT_TRUE(w->PositionedAppend("AB", 4, io_, nullptr).ok());
		EXPECT_EQ(6u, w->GetFileSize(io_, nullptr));
		ASSERT_TRUE(w->Truncate(5, io_, nullptr).ok());
		EXPECT_EQ(5u, w->GetFileSize(io_, nullptr));
		ASSERT_TRUE(w->Close(io_, nullptr).ok());
		uint64_t n = 0;
		ASSERT_TRUE(fs_.GetFileSize(a, io_, &n, nullptr).ok());
		EXPECT_EQ(5u, n);
	});
}

TEST_P(FsTest, RandomRWFileWritesAndReadsAnywhere)
{
	Run([&] {
		std::unique_ptr<rocksdb::FSRandomRWFile> f;
		ASSERT_TRUE(fs_.NewRandomRWFile(dir_ / "rw", FileOptions(), &f, nullptr).ok());
		ASSERT_TRUE(f->Write(10, "tail", io_, nullptr).ok());
		ASSERT_TRUE(f->Write(0, "head", io_, nullptr).ok());
		char buf[32];
		Slice out;
		ASSERT_TRUE(f->Read(10, 4, io_, &out, buf, nullptr).ok());
		EXPECT_EQ("tail", out.ToString());
		ASSERT_TRUE(f->Read(0, 4, io_, &out, buf, nullptr).ok());
		EXPECT_EQ("head", out.ToString());
		EXPECT_TRUE(f->Flush(io_, nullptr).ok());
		EXPECT_TRUE(f->Sync(io_, nullptr).ok());
		EXPECT_TRUE(f->Fsync(io_, nullptr).ok());
		EXPECT_TRUE(f->Close(io_, nullptr).ok());
	});
}

// External SST ingestion writes the file's 8-byte global sequence number at
// its offset through a random-RW file opened with the DB's FileOptions: with
// direct I/O on, the file is still buffered, as the Posix FileSystem's is
// (RocksDB's ExternalSSTFileBasicTest.IngestFileWithGlobalSeqnoPickedSeqno).
TEST_P(FsTest, RandomRWFileIsBufferedEvenWithDirectIoOptions)
{
	Run([&] {
		WriteFile(dir_ / "ingested", std::string(8192, 'x'));
		FileOptions direct;
		direct.use_direct_reads = true;
		direct.use_direct_writes = true;
		std::unique_ptr<rocksdb::FSRandomRWFile> f;
		IOStatus st = fs_.NewRandomRWFile(dir_ / "ingested", direct, &f, nullptr);
		ASSERT_TRUE(st.ok()) << st.ToString();
		EXPECT_FALSE(f->use_direct_io());
		st = f->Write(4093, "12345678", io_, nullptr);
		ASSERT_TRUE(st.ok()) << st.ToString();
		ASSERT_TRUE(f->Fsync(io_, nullptr).ok());
		char buf[16];
		Slice out;
		ASSERT_TRUE(f->Read(4091, 12, io_, &out, buf, nullptr).ok());
		EXPECT_EQ("xx12345678xx", out.ToString());
		EXPECT_TRUE(f->Close(io_, nullptr).ok());
	});
}

// With align_direct_reads:false a direct random-access file asks RocksDB to
// align (use_direct_io() true), as the default Env's do.
TEST_P(FsTest, DirectIoWritesAndReadsAlignedBlocks)
{
	TameFileSystem fs(/*align_direct_reads=*/false);
	Run([&] {
		std::string a = dir_ / "direct";
		FileOptions fo;
		fo.use_direct_writes = true;
		fo.use_direct_reads = true;
		std::unique_ptr<rocksdb::FSWritableFile> w;
		ASSERT_TRUE(fs.NewWritableFile(a, fo, &w, nullptr).ok());
		ASSERT_TRUE(w->use_direct_io());
		size_t align = w->GetRequiredBufferAlignment();
		ASSERT_GT(align, 0u);
		ASSERT_EQ(0u, align & (align - 1)) << "alignment is a power of two";
		char *buf = static_cast<char *>(aligned_alloc(align, 2 * align));
		memset(buf, 'x', 2 * align);
		ASSERT_TRUE(w->PositionedAppend(Slice(buf, 2 * align), 0, io_, nullptr).ok());
		// As RocksDB does: the last block is padded, Close trims to the size.
		ASSERT_TRUE(w->Truncate(align + 7, io_, nullptr).ok());
		ASSERT_TRUE(w->Close(io_, nullptr).ok());
		uint64_t n = 0;
		ASSERT_TRUE(fs.GetFileSize(a, io_, &n, nullptr).ok());
		EXPECT_EQ(align + 7, n);
		std::unique_ptr<rocksdb::FSRandomAccessFile> r;
		ASSERT_TRUE(fs.NewRandomAccessFile(a, fo, &r, nullptr).ok());
		ASSERT_TRUE(r->use_direct_io());
		Slice out;
		memset(buf, 0, 2 * align);
		ASSERT_TRUE(r->Read(0, 2 * align, io_, &out, buf, nullptr).ok());
		EXPECT_EQ(align + 7, out.size()) << "EOF inside the last block";
		EXPECT_EQ(std::string(align + 7, 'x'), out.ToString());
		std::unique_ptr<rocksdb::FSSequentialFile> s;
		ASSERT_TRUE(fs.NewSequentialFile(a, fo, &s, nullptr).ok());
		ASSERT_TRUE(s->use_direct_io());
		ASSERT_TRUE(s->PositionedRead(align, align, io_, &out, buf, nullptr).ok());
		EXPECT_EQ(7u, out.size());
		free(buf);
	});
}

// By default a direct random-access file aligns its reads itself: RocksDB
// sees use_direct_io() false and may read any bytes into any memory, and
// the file still reads past the page cache.
TEST_P(FsTest, DirectReadsAreAlignedByTheFileForRocksdb)
{
	std::string name = dir_ / "self_aligned";
	std::string data;
	for (int i = 0; i < 100000; i++)
		data.push_back((char)('a' + (i * 7 + i / 4096) % 26));
	WriteFile(name, data);
	// Out of the page cache before the reads (ext4 and xfs drop clean
	// pages; where they stay, as on tmpfs, the cache check is skipped).
	int fd = open(name.c_str(), O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, fdatasync(fd));
	ASSERT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
	void *map = mmap(nullptr, data.size(), PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	std::vector<unsigned char> vec((data.size() + 4095) / 4096);
	auto resident = [&] {
		EXPECT_EQ(0, mincore(map, data.size(), vec.data()));
		size_t n = 0;
		for (unsigned char v : vec)
			n += v & 1;
		return n;
	};
	bool cache_check = resident() == 0;
	FileOptions fo;
	fo.use_direct_reads = true;
	std::unique_ptr<rocksdb::FSRandomAccessFile> r;
	IOStatus st = fs_.NewRandomAccessFile(name, fo, &r, nullptr);
	if (!st.ok() && st.ToString().find("Invalid argument") != std::string::npos)
		GTEST_SKIP() << "no O_DIRECT here: " << st.ToString();
	ASSERT_TRUE(st.ok()) << st.ToString();
	EXPECT_FALSE(r->use_direct_io()) << "RocksDB need not align";
	Run([&] {
		std::string buf(5000, '?');
		Slice out;
		ASSERT_TRUE(r->Read(4093, 4097, io_, &out, &buf[1], nullptr).ok());
		EXPECT_EQ(data.substr(4093, 4097), out.ToString());
		ASSERT_TRUE(r->Read(data.size() - 5, 100, io_, &out, &buf[3], nullptr).ok());
		EXPECT_EQ(data.substr(data.size() - 5), out.ToString()) << "EOF is not an error";
		ASSERT_TRUE(r->Read(data.size() + 1, 10, io_, &out, &buf[0], nullptr).ok());
		EXPECT_EQ(0u, out.size());
		MultiReadMatches(r.get(), data, 1); // unaligned memory
	});
	// Nothing of the file came into the page cache; the check can see
	// pages: a buffered read brings some in.
	if (cache_check) {
		EXPECT_EQ(0u, resident()) << "of " << vec.size() << " pages";
		char byte;
		ASSERT_EQ(1, pread(fd, &byte, 1, 0));
		EXPECT_GT(resident(), 0u);
	}
	munmap(map, data.size());
	close(fd);
}

TEST_P(FsTest, LockFileTwiceInOneProcessFails)
{
	Run([&] {
		std::string lock_name = dir_ / "LOCK";
		rocksdb::FileLock *lock = nullptr;
		ASSERT_TRUE(fs_.LockFile(lock_name, io_, &lock, nullptr).ok());
		rocksdb::FileLock *second = nullptr;
		TameFileSystem other;
		IOStatus st = other.LockFile(lock_name, io_, &second, nullptr);
		EXPECT_TRUE(st.IsIOError()) << st.ToString();
		EXPECT_EQ(nullptr, second);
		ASSERT_TRUE(fs_.UnlockFile(lock, io_, nullptr).ok());
		ASSERT_TRUE(other.LockFile(lock_name, io_, &second, nullptr).ok());
		ASSERT_TRUE(other.UnlockFile(second, io_, nullptr).ok());
	});
}

TEST_P(FsTest, MiscQueriesAnswer)
{
	Run([&] {
		uint64_t free_bytes = 0;
		ASSERT_TRUE(fs_.GetFreeSpace(dir_.path(), io_, &free_bytes, nullptr).ok());
		EXPECT_GT(free_bytes, 0u);
		std::string abs;
		ASSERT_TRUE(fs_.GetAbsolutePath("rel/x", io_, &abs, nullptr).ok());
		EXPECT_EQ('/', abs[0]);
		EXPECT_NE(std::string::npos, abs.find("rel/x"));
		ASSERT_TRUE(fs_.GetAbsolutePath("/abs", io_, &abs, nullptr).ok());
		EXPECT_EQ("/abs", abs);
		std::string test_dir;
		ASSERT_TRUE(fs_.GetTestDirectory(io_, &test_dir, nullptr).ok());
		EXPECT_TRUE(fs_.FileExists(test_dir, io_, nullptr).ok());
		std::shared_ptr<rocksdb::Logger> logger;
		ASSERT_TRUE(fs_.NewLogger(dir_ / "LOG", io_, &logger, nullptr).ok());
		EXPECT_NE(nullptr, logger);
	});
}

// How many of the first `len` bytes' pages of fd the page cache holds.
size_t CachedPages(int fd, size_t len)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *map = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return SIZE_MAX;
	std::vector<unsigned char> vec((len + page - 1) / page);
	size_t n = SIZE_MAX;
	if (mincore(map, len, vec.data()) == 0)
		n = (size_t)std::count_if(vec.begin(), vec.end(), [](unsigned char v) { return v & 1; });
	munmap(map, len);
	return n;
}

// Writes the file's pages back and drops them from the page cache; false if
// this file system keeps them (tmpfs does).
bool DropCachedPages(const std::string &name, size_t len)
{
	int fd = open(name.c_str(), O_RDWR);
	if (fd < 0)
		return false;
	bool dropped = fdatasync(fd) == 0 && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0 &&
	               CachedPages(fd, len) == 0;
	close(fd);
	return dropped;
}

// RocksDB hints kRandom when it opens a table file: a buffered read that
// misses the page cache then reads its own page, not a readahead window, as
// with the Posix Env. A first read at offset 0 with no hint starts one.
TEST_P(FsTest, HintRandomReadsOnlyTheMissedPageOfABufferedFile)
{
	constexpr size_t kLen = 1 << 20;
	std::string name = dir_ / "hinted";
	WriteFile(name, std::string(kLen, 'h'));
	if (!DropCachedPages(name, kLen))
		GTEST_SKIP() << "the page cache keeps " << name << "'s pages after POSIX_FADV_DONTNEED";
	std::map<int, size_t> cached;
	for (auto pattern : {rocksdb::FSRandomAccessFile::kRandom, rocksdb::FSRandomAccessFile::kNormal}) {
		ASSERT_TRUE(DropCachedPages(name, kLen));
		Run([&] {
			std::unique_ptr<rocksdb::FSRandomAccessFile> r;
			ASSERT_TRUE(fs_.NewRandomAccessFile(name, FileOptions(), &r, nullptr).ok());
			r->Hint(pattern);
			char buf[4096];
			Slice got;
			ASSERT_TRUE(r->Read(0, sizeof(buf), io_, &got, buf, nullptr).ok());
			EXPECT_EQ(std::string(sizeof(buf), 'h'), got.ToString());
		});
		int fd = open(name.c_str(), O_RDONLY);
		ASSERT_GE(fd, 0);
		cached[pattern] = CachedPages(fd, kLen);
		close(fd);
	}
	EXPECT_EQ(1u, cached[rocksdb::FSRandomAccessFile::kRandom]);
	EXPECT_GT(cached[rocksdb::FSRandomAccessFile::kNormal], 1u);
	EXPECT_NE(SIZE_MAX, cached[rocksdb::FSRandomAccessFile::kNormal]);
}

// RocksDB's iterators and table opens ask a buffered file to prefetch
// (readahead(2) with the Posix Env): the range comes into the page cache.
// A direct file RocksDB aligns has nothing to do (OK, as Posix); one that
// aligns its own reads says NotSupported, so RocksDB reads ahead into its
// own buffer as for any direct file.
TEST_P(FsTest, PrefetchReadsABufferedRangeIntoThePageCache)
{
	constexpr size_t kLen = 1 << 20, kAt = 256 << 10, kSpan = 128 << 10;
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	std::string name = dir_ / "prefetched";
	WriteFile(name, std::string(kLen, 'p'));
	if (!DropCachedPages(name, kLen))
		GTEST_SKIP() << "the page cache keeps " << name << "'s pages after POSIX_FADV_DONTNEED";
	Run([&] {
		std::unique_ptr<rocksdb::FSRandomAccessFile> r;
		ASSERT_TRUE(fs_.NewRandomAccessFile(name, FileOptions(), &r, nullptr).ok());
		r->Hint(rocksdb::FSRandomAccessFile::kRandom);
		IOStatus s = r->Prefetch(kAt, kSpan, io_, nullptr);
		EXPECT_TRUE(s.ok()) << s.ToString();
	});
	int fd = open(name.c_str(), O_RDONLY);
	ASSERT_GE(fd, 0);
	// The reads were started, not waited for.
	size_t before = 0, in_range = 0;
	for (int i = 0; i < 500 && in_range < kSpan / page; i++) {
		before = CachedPages(fd, kAt);
		in_range = CachedPages(fd, kAt + kSpan) - before;
		if (in_range < kSpan / page)
			usleep(10000);
	}
	close(fd);
	EXPECT_EQ(kSpan / page, in_range) << "pages of the prefetched range in the page cache";
	EXPECT_EQ(0u, before) << "pages before the range";

	Run([&] {
		FileOptions direct;
		direct.use_direct_reads = true;
		std::unique_ptr<rocksdb::FSRandomAccessFile> r;
		ASSERT_TRUE(fs_.NewRandomAccessFile(name, direct, &r, nullptr).ok());
		EXPECT_TRUE(r->Prefetch(kAt, kSpan, io_, nullptr).IsNotSupported());
		TameFileSystem rocksdb_aligns(/*align_direct_reads=*/false);
		ASSERT_TRUE(rocksdb_aligns.NewRandomAccessFile(name, direct, &r, nullptr).ok());
		EXPECT_TRUE(r->Prefetch(kAt, kSpan, io_, nullptr).ok());
	});
}

INSTANTIATE_TEST_SUITE_P(Where, FsTest, ::testing::Values(Where::kThread, Where::kFiber),
                         WhereName);

TEST(FsLock, AnotherProcessCannotTakeAHeldLock)
{
	TempDir dir;
	TameFileSystem fs;
	rocksdb::FileLock *lock = nullptr;
	ASSERT_TRUE(fs.LockFile(dir / "LOCK", IOOptions(), &lock, nullptr).ok());
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd = open((dir / "LOCK").c_str(), O_RDWR);
		struct flock f;
		memset(&f, 0, sizeof(f));
		f.l_type = F_WRLCK;
		f.l_whence = SEEK_SET;
		_exit(fcntl(fd, F_SETLK, &f) == 0 ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(1, WEXITSTATUS(status)) << "the child got the lock";
	ASSERT_TRUE(fs.UnlockFile(lock, IOOptions(), nullptr).ok());
}

TEST(FsErrno, OneHelperMapsErrnoToIOStatus)
{
	IOStatus s = tamerocks::IOStatusFromErrno(-ENOENT, "open", "/x/y");
	EXPECT_TRUE(s.IsPathNotFound());
	s = tamerocks::IOStatusFromErrno(-ENOSPC, "write", "/x/y");
	EXPECT_TRUE(s.IsNoSpace());
	EXPECT_TRUE(s.IsIOError());
	s = tamerocks::IOStatusFromErrno(-EIO, "fsync", "/x/y");
	EXPECT_TRUE(s.IsIOError());
	EXPECT_FALSE(s.IsPathNotFound());
	EXPECT_NE(std::string::npos, s.ToString().find("fsync"));
	EXPECT_NE(std::string::npos, s.ToString().find("/x/y"));
	EXPECT_NE(std::string::npos, s.ToString().find(strerror(EIO)));
}

} // namespace

namespace
{

struct AsyncResult {
	int calls = 0;
	std::string data;
	bool ok = false;
};

void OnRead(const rocksdb::FSReadRequest &req, void *arg)
{
	auto *r = static_cast<AsyncResult *>(arg);
	r->calls++;
	r->ok = req.status.ok();
	r->data = req.result.ToString();
}

void ReadAsyncThenPoll(TameFileSystem &fs, const std::string &name, bool on_fiber)
{
	std::unique_ptr<rocksdb::FSRandomAccessFile> f;
	ASSERT_TRUE(fs.NewRandomAccessFile(name, FileOptions(), &f, nullptr).ok());
	constexpr int kReads = 4;
	char scratch[kReads][16];
	AsyncResult results[kReads];
	std::vector<void *> handles;
	std::vector<rocksdb::IOHandleDeleter> deleters;
	for (int i = 0; i < kReads; i++) {
		rocksdb::FSReadRequest req;
		req.offset = (uint64_t)i * 10;
		req.len = 10;
		req.scratch = scratch[i];
		void *h = nullptr;
		rocksdb::IOHandleDeleter del;
		ASSERT_TRUE(
		    f->ReadAsync(req, IOOptions(), OnRead, &results[i], &h, &del, nullptr).ok());
		if (on_fiber) {
			ASSERT_NE(nullptr, h) << "a fiber gets a real handle";
			EXPECT_EQ(0, results[i].calls) << "no callback before Poll";
		} else {
			EXPECT_EQ(1, results[i].calls) << "a plain thread reads at once";
		}
		if (h != nullptr) {
			handles.push_back(h);
			deleters.push_back(del);
		}
	}
	// Abort the last one: its callback must never run.
	std::vector<void *> last;
	if (on_fiber) {
		last.push_back(handles.back());
		ASSERT_TRUE(fs.AbortIO(last).ok());
		handles.pop_back();
	}
	ASSERT_TRUE(fs.Poll(handles, handles.size()).ok());
	for (int i = 0; i < kReads - (on_fiber ? 1 : 0); i++) {
		EXPECT_EQ(1, results[i].calls) << i;
		EXPECT_TRUE(results[i].ok);
		EXPECT_EQ(std::string(10, (char)('0' + i)), results[i].data);
	}
	if (on_fiber) {
		EXPECT_EQ(0, results[kReads - 1].calls);
	}
	handles.insert(handles.end(), last.begin(), last.end());
	for (size_t i = 0; i < handles.size(); i++)
		deleters[i](handles[i]);
}

TEST(FsReadAsync, OnAFiberReadsOverlapAndCompleteInPollOrAbort)
{
	TempDir dir;
	TameFileSystem fs;
	std::string data;
	for (int i = 0; i < 4; i++)
		data += std::string(10, (char)('0' + i));
	{
		std::unique_ptr<rocksdb::FSWritableFile> w;
		ASSERT_TRUE(fs.NewWritableFile(dir / "f", FileOptions(), &w, nullptr).ok());
		ASSERT_TRUE(w->Append(data, IOOptions(), nullptr).ok());
		ASSERT_TRUE(w->Close(IOOptions(), nullptr).ok());
	}
	RunInFiber([&] { ReadAsyncThenPoll(fs, dir / "f", true); });
}

// Poll(handles, 1) returns once one read has been called back; a later
// Poll finishes the others, and no callback ever runs twice.
TEST(FsReadAsync, PollReturnsAfterMinCompletionsAndALaterPollFinishesTheRest)
{
	TempDir dir;
	TameFileSystem fs;
	std::string data(4096 * 8, 'p');
	{
		std::unique_ptr<rocksdb::FSWritableFile> w;
		ASSERT_TRUE(fs.NewWritableFile(dir / "f", FileOptions(), &w, nullptr).ok());
		ASSERT_TRUE(w->Append(data, IOOptions(), nullptr).ok());
		ASSERT_TRUE(w->Close(IOOptions(), nullptr).ok());
	}
	RunInFiber([&] {
		std::unique_ptr<rocksdb::FSRandomAccessFile> f;
		ASSERT_TRUE(fs.NewRandomAccessFile(dir / "f", FileOptions(), &f, nullptr).ok());
		constexpr int kReads = 8;
		static char scratch[kReads][4096];
		AsyncResult results[kReads];
		std::vector<void *> handles;
		std::vector<rocksdb::IOHandleDeleter> deleters;
		for (int i = 0; i < kReads; i++) {
			rocksdb::FSReadRequest req;
			req.offset = (uint64_t)i * 4096;
			req.len = 4096;
			req.scratch = scratch[i];
			void *h = nullptr;
			rocksdb::IOHandleDeleter del;
			ASSERT_TRUE(f->ReadAsync(req, IOOptions(), OnRead, &results[i], &h, &del,
			                         nullptr)
			                .ok());
			ASSERT_NE(nullptr, h);
			handles.push_back(h);
			deleters.push_back(del);
		}
		ASSERT_TRUE(fs.Poll(handles, 1).ok());
		int called = 0;
		for (const AsyncResult &r : results) {
			EXPECT_LE(r.calls, 1);
			called += r.calls;
		}
		EXPECT_GE(called, 1);
		ASSERT_TRUE(fs.Poll(handles, kReads).ok());
		for (const AsyncResult &r : results) {
			EXPECT_EQ(1, r.calls);
			EXPECT_TRUE(r.ok);
			EXPECT_EQ(std::string(4096, 'p'), r.data);
		}
		for (size_t i = 0; i < handles.size(); i++)
			deleters[i](handles[i]);
	});
}

TEST(FsReadAsync, OnAPlainThreadTheCallbackRunsAtOnce)
{
	TempDir dir;
	TameFileSystem fs;
	std::string data;
	for (int i = 0; i < 4; i++)
		data += std::string(10, (char)('0' + i));
	{
		std::unique_ptr<rocksdb::FSWritableFile> w;
		ASSERT_TRUE(fs.NewWritableFile(dir / "f", FileOptions(), &w, nullptr).ok());
		ASSERT_TRUE(w->Append(data, IOOptions(), nullptr).ok());
		ASSERT_TRUE(w->Close(IOOptions(), nullptr).ok());
	}
	ReadAsyncThenPoll(fs, dir / "f", false);
}

} // namespace

namespace
{
struct Starve {
	TameFileSystem *fs;
	std::string path;
	std::atomic<bool> other_ran{false};
	uint64_t appends = 0;
	uint64_t elapsed_ns = 0;
};
} // namespace

// A fiber whose writes never park (buffered, RWF_NOWAIT into the page
// cache) still lets the other fibers of its reactor run: file operations
// are preemption points once the fiber used up its slice.
TEST(FsPreemption, AFiberThatNeverParksStillLetsItsReactorsOtherFibersRun)
{
	TempDir dir;
	TameFileSystem fs;
	Starve st{&fs, dir / "w"};
	tame_reactor_opts o;
	tame_reactor_opts_init(&o);
	o.flags = TAME_REACTOR_SYNC_FALLBACK;
	tame_reactor *r = nullptr;
	ASSERT_EQ(0, tame_reactor_create(&o, &r));
	ASSERT_EQ(0, tame_spawn(
	                 r,
	                 [](void *p) {
		                 auto *s = static_cast<Starve *>(p);
		                 std::unique_ptr<rocksdb::FSWritableFile> w;
		                 ASSERT_TRUE(
		                     s->fs->NewWritableFile(s->path, FileOptions(), &w, nullptr).ok());
		                 // The other fiber becomes runnable only now, behind a
		                 // writer that will not park.
		                 ASSERT_EQ(0, tame_spawn(
		                                  tame_fiber_reactor(),
		                                  [](void *q) {
			                                  static_cast<Starve *>(q)->other_ran = true;
		                                  },
		                                  s));
		                 uint64_t t0 = tame_now_ns(), limit = 5ull * 1000 * 1000 * 1000;
		                 while (!s->other_ran && tame_now_ns() - t0 < limit) {
			                 ASSERT_TRUE(w->Append("x", IOOptions(), nullptr).ok());
			                 s->appends++;
		                 }
		                 s->elapsed_ns = tame_now_ns() - t0;
		                 w->Close(IOOptions(), nullptr);
	                 },
	                 &st));
	ASSERT_EQ(0, tame_reactor_run(r, TAME_RUN_UNTIL_EMPTY));
	tame_reactor_destroy(r);
	EXPECT_TRUE(st.other_ran.load());
	EXPECT_GT(st.appends, 0u);
	EXPECT_LT(st.elapsed_ns, 1000ull * 1000 * 1000)
	    << "the writer kept the reactor to itself for " << st.elapsed_ns / 1000000 << " ms";
}
