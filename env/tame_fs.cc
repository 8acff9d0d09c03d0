// SPDX-License-Identifier: Apache-2.0
#include "tame_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <functional>
#include <set>

#include "tame_reactor.h"

using rocksdb::FileOptions;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

namespace tamerocks
{

IOStatus IOStatusFromErrno(int neg_errno, const char *op, const std::string &file)
{
	int err = -neg_errno;
	std::string context = std::string(op) + " " + file;
	switch (err) {
	case ENOENT:
		return IOStatus::PathNotFound(context, strerror(err));
	case ENOSPC:
		return IOStatus::NoSpace(context, strerror(err));
	default:
		return IOStatus::IOError(context, strerror(err));
	}
}

namespace
{

constexpr size_t kDefaultDirectAlignmentBytes = 4096;
constexpr mode_t kFileMode = 0644;
constexpr mode_t kDirMode = 0755;

// Direct I/O alignment of an open file: what statx reports (Linux >= 6.1,
// STATX_DIOALIGN), else a page, which every block size divides.
size_t DirectAlignment(int fd)
{
#ifdef STATX_DIOALIGN
	struct statx stx;
	if (tame_io_statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_mem_align != 0 &&
	    stx.stx_dio_offset_align != 0) {
		return std::max<size_t>(stx.stx_dio_mem_align, stx.stx_dio_offset_align);
	}
#endif
	(void)fd;
	return kDefaultDirectAlignmentBytes;
}

// Reads until n bytes or EOF. align is 0 for a buffered file, whose reads
// try the page cache inline first (tame_io_read_buffered). A direct read
// that comes back short and unaligned is EOF: the next offset could not be
// read with O_DIRECT anyway.
ssize_t ReadFull(int fd, char *buf, size_t n, uint64_t off, size_t align)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = align == 0
		                ? tame_io_read_buffered(fd, buf + got, n - got, (off_t)(off + got))
		                : tame_io_read_direct(fd, buf + got, n - got, (off_t)(off + got));
		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		if (r == 0)
			break;
		got += (size_t)r;
		if (align != 0 && (size_t)r % align != 0)
			break;
	}
	return (ssize_t)got;
}

// One positioned read into scratch: the bytes read (fewer at EOF) or the
// error, with *result empty.
IOStatus ReadAt(int fd, const std::string &fname, uint64_t offset, size_t n, size_t align,
                Slice *result, char *scratch)
{
	ssize_t r = ReadFull(fd, scratch, n, offset, align);
	if (r < 0) {
		*result = Slice();
		return IOStatusFromErrno((int)r, "read", fname);
	}
	*result = Slice(scratch, (size_t)r);
	return IOStatus::OK();
}

// nowait is the file's tame_io_write_buffered state for a buffered file,
// nullptr for a direct one (always through io_uring on a fiber).
int WriteFull(int fd, const char *buf, size_t n, uint64_t off, int *nowait)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = nowait ? tame_io_write_buffered(fd, buf + done, n - done,
		                                            (off_t)(off + done), nowait)
		                   : tame_io_write(fd, buf + done, n - done, (off_t)(off + done));
		if (r == -EINTR)
			continue;
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

int OpenFile(const std::string &fname, int flags, mode_t mode)
{
	int fd;
	do {
		fd = tame_io_openat(AT_FDCWD, fname.c_str(), flags | O_CLOEXEC, mode);
	} while (fd == -EINTR);
	return fd;
}

int StatPath(const std::string &path, unsigned mask, struct statx *stx)
{
	return tame_io_statx(AT_FDCWD, path.c_str(), 0, mask, stx);
}

IOStatus InvalidateFd(int fd, bool direct, size_t offset, size_t length)
{
	if (direct)
		return IOStatus::OK();
	int err = tame_io_fadvise(fd, (off_t)offset, (off_t)length, POSIX_FADV_DONTNEED);
	return err == 0 ? IOStatus::OK() : IOStatusFromErrno(err, "fadvise", std::to_string(fd));
}

int FadviseAdvice(rocksdb::FSRandomAccessFile::AccessPattern pattern)
{
	switch (pattern) {
	case rocksdb::FSRandomAccessFile::kRandom:
		return POSIX_FADV_RANDOM;
	case rocksdb::FSRandomAccessFile::kSequential:
		return POSIX_FADV_SEQUENTIAL;
	case rocksdb::FSRandomAccessFile::kWillNeed:
		return POSIX_FADV_WILLNEED;
	case rocksdb::FSRandomAccessFile::kWontNeed:
		return POSIX_FADV_DONTNEED;
	case rocksdb::FSRandomAccessFile::kNormal:
		break;
	}
	return POSIX_FADV_NORMAL;
}

// What the sequential and random-access files share: they own a descriptor,
// know their name for messages, and answer the direct-I/O questions from it.
template <class Base> class TameReadFile : public Base
{
      public:
	TameReadFile(std::string fname, int fd, bool direct)
	    : fname_(std::move(fname)), fd_(fd), direct_(direct),
	      align_(direct ? DirectAlignment(fd) : 0)
	{
	}
	~TameReadFile() override
	{
		tame_io_close(fd_);
	}
	bool use_direct_io() const override
	{
		return direct_;
	}
	size_t GetRequiredBufferAlignment() const override
	{
		return direct_ ? align_ : kDefaultDirectAlignmentBytes;
	}
	IOStatus InvalidateCache(size_t offset, size_t length) override
	{
		return InvalidateFd(fd_, direct_, offset, length);
	}

      protected:
	std::string fname_;
	int fd_;
	bool direct_;
	size_t align_; // 0 for a buffered file (see ReadFull)
};

class TameSequentialFile : public TameReadFile<rocksdb::FSSequentialFile>
{
      public:
	using TameReadFile::TameReadFile;

	IOStatus Read(size_t n, const IOOptions &, Slice *result, char *scratch,
	              IODebugContext *) override
	{
		IOStatus st = ReadAt(fd_, fname_, offset_, n, align_, result, scratch);
		offset_ += result->size();
		return st;
	}
	IOStatus PositionedRead(uint64_t offset, size_t n, const IOOptions &, Slice *result,
	                        char *scratch, IODebugContext *) override
	{
		return ReadAt(fd_, fname_, offset, n, align_, result, scratch);
	}
	IOStatus Skip(uint64_t n) override
	{
		offset_ += n;
		return IOStatus::OK();
	}

      private:
	uint64_t offset_ = 0;
};

// allow_mmap_reads (PlainTable, for one): RocksDB reads with a null scratch
// and expects a pointer into the file's mapping, as the Posix Env gives it.
// Page faults on the mapping block the thread; that is what mmap reads are.
class TameMmapReadableFile : public rocksdb::FSRandomAccessFile
{
      public:
	TameMmapReadableFile(std::string fname, int fd, void *base, size_t length)
	    : fname_(std::move(fname)), fd_(fd), base_(base), length_(length)
	{
	}
	~TameMmapReadableFile() override
	{
		if (base_ != nullptr)
			munmap(base_, length_);
		tame_io_close(fd_);
	}
	IOStatus Read(uint64_t offset, size_t n, const IOOptions &, Slice *result, char *,
	              IODebugContext *) const override
	{
		if (offset > length_) {
			*result = Slice();
			return IOStatusFromErrno(-EINVAL, "mmap read past the end of", fname_);
		}
		n = std::min<size_t>(n, length_ - offset);
		*result = Slice(static_cast<const char *>(base_) + offset, n);
		return IOStatus::OK();
	}
	IOStatus InvalidateCache(size_t offset, size_t length) override
	{
		return InvalidateFd(fd_, false, offset, length);
	}

      private:
	std::string fname_;
	int fd_;
	void *base_;
	size_t length_;
};

// self_align: a direct file that aligns its reads itself (see
// TameFileSystem): RocksDB sees a file that needs no alignment.
class TameRandomAccessFile : public TameReadFile<rocksdb::FSRandomAccessFile>
{
      public:
	TameRandomAccessFile(std::string fname, int fd, bool direct, bool self_align)
	    : TameReadFile(std::move(fname), fd, direct), self_align_(direct && self_align)
	{
	}
	bool use_direct_io() const override
	{
		return direct_ && !self_align_;
	}

	IOStatus Read(uint64_t offset, size_t n, const IOOptions &, Slice *result, char *scratch,
	              IODebugContext *) const override
	{
		if (!self_align_)
			return ReadAt(fd_, fname_, offset, n, align_, result, scratch);
		ssize_t r = tame_io_read_direct_unaligned(fd_, scratch, n, (off_t)offset, align_);
		if (r < 0) {
			*result = Slice();
			return IOStatusFromErrno((int)r, "read", fname_);
		}
		*result = Slice(scratch, (size_t)r);
		return IOStatus::OK();
	}

	IOStatus MultiRead(rocksdb::FSReadRequest *reqs, size_t num_reqs, const IOOptions &options,
	                   IODebugContext *dbg) override;

	IOStatus ReadAsync(rocksdb::FSReadRequest &req, const IOOptions &opts,
	                   std::function<void(const rocksdb::FSReadRequest &, void *)> cb,
	                   void *cb_arg, void **io_handle, rocksdb::IOHandleDeleter *del_fn,
	                   IODebugContext *dbg) override;

	// As the Posix Env's: a buffered file asks the kernel to read the range
	// into the page cache (readahead(2) there; POSIX_FADV_WILLNEED here,
	// through io_uring on a fiber: it starts the reads and does not wait
	// for them), and RocksDB's reads then find it there; a direct file
	// that RocksDB aligns has nothing to do. A file that aligns its own
	// direct reads says NotSupported, so that RocksDB reads ahead into its
	// own buffer, as it does for any direct file: an OK would tell it the
	// page cache, which direct reads pass by, holds the range.
	IOStatus Prefetch(uint64_t offset, size_t n, const IOOptions &, IODebugContext *) override
	{
		if (self_align_)
			return IOStatus::NotSupported("Prefetch of a file that aligns its own direct reads");
		if (direct_)
			return IOStatus::OK();
		int rc = tame_io_fadvise(fd_, (off_t)offset, (off_t)n, POSIX_FADV_WILLNEED);
		if (rc < 0) {
			std::string op = "prefetch (POSIX_FADV_WILLNEED) of " + std::to_string(n) +
			                 " bytes at offset " + std::to_string(offset) + " of";
			return IOStatusFromErrno(rc, op.c_str(), fname_);
		}
		return IOStatus::OK();
	}

	// The kernel's readahead advice for a buffered file, as the Posix Env
	// gives it: RocksDB says kRandom when it opens a table file (unless
	// advise_random_on_open is off), so a read that misses the page cache
	// fetches its block, not a readahead window. Hint returns nothing, and
	// an advice the file system rejects changes nothing, so an error is
	// dropped, as the Posix Env drops it.
	void Hint(AccessPattern pattern) override
	{
		if (direct_)
			return;
		(void)tame_io_fadvise(fd_, 0, 0, FadviseAdvice(pattern));
	}

      private:
	bool self_align_;
};

// One batch in flight at a time, bounded so the request array stays on the
// stack; the reactor's ring takes the rest as it frees up.
constexpr size_t kMultiReadBatchMax = 64;

IOStatus TameRandomAccessFile::MultiRead(rocksdb::FSReadRequest *reqs, size_t num_reqs,
                                         const IOOptions &options, IODebugContext *dbg)
{
	for (size_t base = 0; base < num_reqs; base += kMultiReadBatchMax) {
		size_t n = std::min(kMultiReadBatchMax, num_reqs - base);
		struct tame_io_read_req batch[kMultiReadBatchMax];
		for (size_t i = 0; i < n; i++) {
			batch[i] = {fd_, reqs[base + i].scratch, reqs[base + i].len,
			            (off_t)reqs[base + i].offset, 0};
		}
		int rc = self_align_ ? tame_io_read_batch_direct_unaligned(batch, n, align_)
		         : align_   ? tame_io_read_batch_direct(batch, n)
		                    : tame_io_read_batch(batch, n);
		if (rc < 0)
			return IOStatusFromErrno(rc, "read batch", fname_);
		for (size_t i = 0; i < n; i++) {
			rocksdb::FSReadRequest &req = reqs[base + i];
			ssize_t r = batch[i].res;
			// Short: a buffered read, or a direct one cut at an aligned
			// offset (a direct read that ends off the alignment hit EOF).
			bool short_read =
			    r > 0 && (size_t)r < req.len &&
			    (align_ == 0 ||
			     (self_align_ ? (req.offset + (size_t)r) : (size_t)r) % align_ == 0);
			if (r < 0 || short_read) {
				// Retry the whole request synchronously: it finishes a short read
				// and reports a failed one with the read's own error.
				req.status = Read(req.offset, req.len, options, &req.result,
				                  req.scratch, dbg);
				continue;
			}
			req.result = Slice(req.scratch, (size_t)r);
			req.status = IOStatus::OK();
		}
	}
	return IOStatus::OK();
}

// One ReadAsync in flight: a fiber of the caller's reactor does the read
// while the caller goes on; Poll parks until it is done and then runs the
// callback on the caller, as RocksDB expects. Single reactor thread, so the
// fields need no locking.
// A fiber waiting in Poll/AbortIO for any of several reads: the first read to
// finish wakes it, once, so the fiber never holds a stray wake token.
struct AsyncWaiter {
	tame_fiber *fiber;
	bool woken;
};

struct TameAsyncRead {
	const TameRandomAccessFile *file;
	rocksdb::FSReadRequest req;
	std::function<void(const rocksdb::FSReadRequest &, void *)> cb;
	void *cb_arg;
	AsyncWaiter *waiter = nullptr;
	bool done = false;
	bool finished = false; /* callback run or aborted */
};

void AsyncReadFiber(void *p)
{
	auto *a = static_cast<TameAsyncRead *>(p);
	a->req.status = a->file->Read(a->req.offset, a->req.len, IOOptions(), &a->req.result,
	                              a->req.scratch, nullptr);
	a->done = true;
	if (a->waiter != nullptr && !a->waiter->woken) {
		a->waiter->woken = true;
		tame_wake(a->waiter->fiber);
	}
}

IOStatus
TameRandomAccessFile::ReadAsync(rocksdb::FSReadRequest &req, const IOOptions &opts,
                                std::function<void(const rocksdb::FSReadRequest &, void *)> cb,
                                void *cb_arg, void **io_handle, rocksdb::IOHandleDeleter *del_fn,
                                IODebugContext *dbg)
{
	tame_reactor *r = tame_fiber_reactor();
	if (r == nullptr) /* a plain thread: read now, call back now */
		return FSRandomAccessFile::ReadAsync(req, opts, cb, cb_arg, io_handle, del_fn, dbg);
	auto *a = new TameAsyncRead{this, req, std::move(cb), cb_arg};
	int rc = tame_spawn(r, AsyncReadFiber, a);
	if (rc < 0) {
		IOStatus s =
		    FSRandomAccessFile::ReadAsync(req, opts, a->cb, cb_arg, io_handle, del_fn, dbg);
		delete a;
		return s;
	}
	*io_handle = a;
	*del_fn = [](void *p) { delete static_cast<TameAsyncRead *>(p); };
	tame_yield(); /* let the read reach the ring before the caller goes on */
	return IOStatus::OK();
}

// Park until at least one of the unfinished reads is done.
void WaitAnyAsync(std::vector<void *> &io_handles)
{
	AsyncWaiter w{tame_fiber_self(), false};
	bool pending = false;
	for (void *h : io_handles) {
		auto *a = static_cast<TameAsyncRead *>(h);
		if (a == nullptr || a->finished)
			continue;
		if (a->done)
			return;
		a->waiter = &w;
		pending = true;
	}
	while (pending && !w.woken)
		tame_park();
	for (void *h : io_handles) {
		auto *a = static_cast<TameAsyncRead *>(h);
		if (a != nullptr && a->waiter == &w)
			a->waiter = nullptr;
	}
}

class TameWritableFile : public rocksdb::FSWritableFile
{
      public:
	TameWritableFile(std::string fname, int fd, bool direct, uint64_t size,
	                 const FileOptions &opts)
	    : rocksdb::FSWritableFile(opts), fname_(std::move(fname)), fd_(fd), direct_(direct),
	      allow_fallocate_(opts.allow_fallocate),
	      align_(direct ? DirectAlignment(fd) : kDefaultDirectAlignmentBytes), filesize_(size)
	{
	}
	~TameWritableFile() override
	{
		if (fd_ >= 0)
			Close(IOOptions(), nullptr);
	}

	IOStatus Append(const Slice &data, const IOOptions &, IODebugContext *) override
	{
		int rc = WriteFull(fd_, data.data(), data.size(), filesize_, WriteMode());
		if (rc < 0)
			return IOStatusFromErrno(rc, "write", fname_);
		filesize_ += data.size();
		return IOStatus::OK();
	}
	IOStatus Append(const Slice &data, const IOOptions &options,
	                const rocksdb::DataVerificationInfo &, IODebugContext *dbg) override
	{
		return Append(data, options, dbg);
	}
	IOStatus PositionedAppend(const Slice &data, uint64_t offset, const IOOptions &,
	                          IODebugContext *) override
	{
		int rc = WriteFull(fd_, data.data(), data.size(), offset, WriteMode());
		if (rc < 0)
			return IOStatusFromErrno(rc, "write", fname_);
		filesize_ = offset + data.size();
		return IOStatus::OK();
	}
	IOStatus PositionedAppend(const Slice &data, uint64_t offset, const IOOptions &options,
	                          const rocksdb::DataVerificationInfo &,
	                          IODebugContext *dbg) override
	{
		return PositionedAppend(data, offset, options, dbg);
	}
	IOStatus Truncate(uint64_t size, const IOOptions &, IODebugContext *) override
	{
		if (ftruncate(fd_, (off_t)size) != 0)
			return IOStatusFromErrno(-errno, "ftruncate", fname_);
		filesize_ = size;
		return IOStatus::OK();
	}
	IOStatus Close(const IOOptions &, IODebugContext *) override
	{
		if (fd_ < 0)
			return IOStatus::OK();
		IOStatus s;
		size_t block_size, last_allocated_block;
		GetPreallocationStatus(&block_size, &last_allocated_block);
		// Drop what Allocate reserved past the end, and the padding of the last
		// direct write.
		if ((direct_ || last_allocated_block > 0) &&
		    ftruncate(fd_, (off_t)filesize_) != 0) {
			s = IOStatusFromErrno(-errno, "ftruncate", fname_);
		}
		int rc = tame_io_close(fd_);
		fd_ = -1;
		if (rc < 0 && s.ok())
			s = IOStatusFromErrno(rc, "close", fname_);
		return s;
	}
	IOStatus Flush(const IOOptions &, IODebugContext *) override
	{
		return IOStatus::OK();
	}
	IOStatus Sync(const IOOptions &, IODebugContext *) override
	{
		int rc = tame_io_fdatasync(fd_);
		return rc < 0 ? IOStatusFromErrno(rc, "fdatasync", fname_) : IOStatus::OK();
	}
	IOStatus Fsync(const IOOptions &, IODebugContext *) override
	{
		int rc = tame_io_fsync(fd_);
		return rc < 0 ? IOStatusFromErrno(rc, "fsync", fname_) : IOStatus::OK();
	}
	bool IsSyncThreadSafe() const override
	{
		return true;
	}
	bool use_direct_io() const override
	{
		return direct_;
	}
	size_t GetRequiredBufferAlignment() const override
	{
		return align_;
	}
	uint64_t GetFileSize(const IOOptions &, IODebugContext *) override
	{
		return filesize_;
	}
	IOStatus InvalidateCache(size_t offset, size_t length) override
	{
		return InvalidateFd(fd_, direct_, offset, length);
	}
	IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions &,
	                   IODebugContext *) override
	{
		unsigned flags = SYNC_FILE_RANGE_WRITE;
		if (strict_bytes_per_sync_)
			flags |= SYNC_FILE_RANGE_WAIT_BEFORE;
		int rc = tame_io_sync_file_range(fd_, (off_t)offset, (off_t)nbytes, flags);
		return rc < 0 ? IOStatusFromErrno(rc, "sync_file_range", fname_) : IOStatus::OK();
	}
	IOStatus Allocate(uint64_t offset, uint64_t len, const IOOptions &,
	                  IODebugContext *) override
	{
		if (!allow_fallocate_)
			return IOStatus::OK();
		int rc = tame_io_fallocate(fd_, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len);
		// Preallocation is a hint; a file system without it still works.
		if (rc == -EOPNOTSUPP || rc == -ENOSYS)
			return IOStatus::OK();
		return rc < 0 ? IOStatusFromErrno(rc, "fallocate", fname_) : IOStatus::OK();
	}

      private:
	int *WriteMode()
	{
		return direct_ ? nullptr : &nowait_;
	}

	std::string fname_;
	int fd_;
	bool direct_;
	bool allow_fallocate_;
	size_t align_;
	uint64_t filesize_;
	int nowait_ = 0; // tame_io_write_buffered's per-file state
};

// Always buffered, as the Posix FileSystem's, whatever the options say:
// RocksDB writes an ingested file's 8-byte global sequence number at its
// offset through this file, with the DB's FileOptions.
class TameRandomRWFile : public rocksdb::FSRandomRWFile
{
      public:
	TameRandomRWFile(std::string fname, int fd) : fname_(std::move(fname)), fd_(fd)
	{
	}
	~TameRandomRWFile() override
	{
		if (fd_ >= 0)
			tame_io_close(fd_);
	}
	IOStatus Write(uint64_t offset, const Slice &data, const IOOptions &,
	               IODebugContext *) override
	{
		int rc = WriteFull(fd_, data.data(), data.size(), offset, &nowait_);
		return rc < 0 ? IOStatusFromErrno(rc, "write", fname_) : IOStatus::OK();
	}
	IOStatus Read(uint64_t offset, size_t n, const IOOptions &, Slice *result, char *scratch,
	              IODebugContext *) const override
	{
		return ReadAt(fd_, fname_, offset, n, 0, result, scratch);
	}
	IOStatus Flush(const IOOptions &, IODebugContext *) override
	{
		return IOStatus::OK();
	}
	IOStatus Sync(const IOOptions &, IODebugContext *) override
	{
		int rc = tame_io_fdatasync(fd_);
		return rc < 0 ? IOStatusFromErrno(rc, "fdatasync", fname_) : IOStatus::OK();
	}
	IOStatus Fsync(const IOOptions &, IODebugContext *) override
	{
		int rc = tame_io_fsync(fd_);
		return rc < 0 ? IOStatusFromErrno(rc, "fsync", fname_) : IOStatus::OK();
	}
	IOStatus Close(const IOOptions &, IODebugContext *) override
	{
		if (fd_ < 0)
			return IOStatus::OK();
		int rc = tame_io_close(fd_);
		fd_ = -1;
		return rc < 0 ? IOStatusFromErrno(rc, "close", fname_) : IOStatus::OK();
	}

      private:
	std::string fname_;
	int fd_;
	int nowait_ = 0; // tame_io_write_buffered's per-file state
};

class TameDirectory : public rocksdb::FSDirectory
{
      public:
	TameDirectory(std::string name, int fd) : name_(std::move(name)), fd_(fd)
	{
	}
	~TameDirectory() override
	{
		if (fd_ >= 0)
			tame_io_close(fd_);
	}
	IOStatus Fsync(const IOOptions &, IODebugContext *) override
	{
		int rc = tame_io_fsync(fd_);
		return rc < 0 ? IOStatusFromErrno(rc, "fsync directory", name_) : IOStatus::OK();
	}
	IOStatus Close(const IOOptions &, IODebugContext *) override
	{
		if (fd_ < 0)
			return IOStatus::OK();
		int rc = tame_io_close(fd_);
		fd_ = -1;
		return rc < 0 ? IOStatusFromErrno(rc, "close directory", name_) : IOStatus::OK();
	}

      private:
	std::string name_;
	int fd_;
};

// fcntl locks belong to the process, so a second LockFile from this process
// would succeed at the kernel; the set makes it fail, as in PosixFileSystem.
std::mutex locked_files_mutex;
std::set<std::string> locked_files;

class TameFileLock : public rocksdb::FileLock
{
      public:
	TameFileLock(std::string name, int lock_fd) : fname(std::move(name)), fd(lock_fd)
	{
	}
	std::string fname;
	int fd;
};

int SetLock(int fd, bool lock)
{
	struct flock f;
	memset(&f, 0, sizeof(f));
	f.l_type = lock ? F_WRLCK : F_UNLCK;
	f.l_whence = SEEK_SET;
	return fcntl(fd, F_SETLK, &f) == 0 ? 0 : -errno;
}

} // namespace

bool TameFileSystem::IsInstanceOf(const std::string &name) const
{
	return name == "tamerocks" || rocksdb::FileSystem::IsInstanceOf(name);
}

IOStatus TameFileSystem::NewSequentialFile(const std::string &fname, const FileOptions &opts,
                                           std::unique_ptr<rocksdb::FSSequentialFile> *result,
                                           IODebugContext *)
{
	result->reset();
	bool direct = opts.use_direct_reads;
	int fd = OpenFile(fname, O_RDONLY | (direct ? O_DIRECT : 0), 0);
	if (fd < 0)
		return IOStatusFromErrno(fd, "open", fname);
	result->reset(new TameSequentialFile(fname, fd, direct));
	return IOStatus::OK();
}

IOStatus TameFileSystem::NewMmapReadable(const std::string &fname, int fd,
                                         std::unique_ptr<rocksdb::FSRandomAccessFile> *result)
{
	struct statx stx;
	int rc = tame_io_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &stx);
	if (rc < 0) {
		tame_io_close(fd);
		return IOStatusFromErrno(rc, "statx", fname);
	}
	size_t length = (size_t)stx.stx_size;
	void *base = nullptr;
	if (length > 0) {
		base = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
		if (base == MAP_FAILED) {
			int err = -errno;
			tame_io_close(fd);
			return IOStatusFromErrno(err, "mmap for read", fname);
		}
	}
	result->reset(new TameMmapReadableFile(fname, fd, base, length));
	return IOStatus::OK();
}

IOStatus TameFileSystem::NewRandomAccessFile(const std::string &fname, const FileOptions &opts,
                                             std::unique_ptr<rocksdb::FSRandomAccessFile> *result,
                                             IODebugContext *)
{
	result->reset();
	bool direct = opts.use_direct_reads;
	int fd = OpenFile(fname, O_RDONLY | (direct ? O_DIRECT : 0), 0);
	if (fd < 0)
		return IOStatusFromErrno(fd, "open", fname);
	if (opts.use_mmap_reads && !direct)
		return NewMmapReadable(fname, fd, result);
	result->reset(new TameRandomAccessFile(fname, fd, direct, align_direct_reads_));
	return IOStatus::OK();
}

IOStatus TameFileSystem::OpenWritable(const std::string &fname, int flags, const FileOptions &opts,
                                      std::unique_ptr<rocksdb::FSWritableFile> *result)
{
	result->reset();
	bool direct = opts.use_direct_writes;
	int fd = OpenFile(fname, flags | (direct ? O_DIRECT : 0), kFileMode);
	if (fd < 0)
		return IOStatusFromErrno(fd, "open", fname);
	uint64_t size = 0;
	if (!(flags & O_TRUNC)) {
		struct statx stx;
		int rc = tame_io_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &stx);
		if (rc < 0) {
			tame_io_close(fd);
			return IOStatusFromErrno(rc, "statx", fname);
		}
		size = stx.stx_size;
	}
	result->reset(new TameWritableFile(fname, fd, direct, size, opts));
	return IOStatus::OK();
}

IOStatus TameFileSystem::NewWritableFile(const std::string &fname, const FileOptions &opts,
                                         std::unique_ptr<rocksdb::FSWritableFile> *result,
                                         IODebugContext *)
{
	return OpenWritable(fname, O_CREAT | O_TRUNC | O_RDWR, opts, result);
}

IOStatus TameFileSystem::ReopenWritableFile(const std::string &fname, const FileOptions &opts,
                                            std::unique_ptr<rocksdb::FSWritableFile> *result,
                                            IODebugContext *)
{
	return OpenWritable(fname, O_CREAT | O_RDWR, opts, result);
}

IOStatus TameFileSystem::ReuseWritableFile(const std::string &fname, const std::string &old_fname,
                                           const FileOptions &opts,
                                           std::unique_ptr<rocksdb::FSWritableFile> *result,
                                           IODebugContext *)
{
	result->reset();
	int rc = tame_io_renameat(AT_FDCWD, old_fname.c_str(), AT_FDCWD, fname.c_str(), 0);
	if (rc < 0)
		return IOStatusFromErrno(rc, "rename", old_fname);
	// The reused file starts empty for the writer, as a new one would.
	return OpenWritable(fname, O_CREAT | O_TRUNC | O_RDWR, opts, result);
}

IOStatus TameFileSystem::NewRandomRWFile(const std::string &fname, const FileOptions &opts,
                                         std::unique_ptr<rocksdb::FSRandomRWFile> *result,
                                         IODebugContext *)
{
	result->reset();
	(void)opts; // no direct I/O here (TameRandomRWFile)
	int fd = OpenFile(fname, O_CREAT | O_RDWR, kFileMode);
	if (fd < 0)
		return IOStatusFromErrno(fd, "open", fname);
	result->reset(new TameRandomRWFile(fname, fd));
	return IOStatus::OK();
}

IOStatus TameFileSystem::NewDirectory(const std::string &name, const IOOptions &,
                                      std::unique_ptr<rocksdb::FSDirectory> *result,
                                      IODebugContext *)
{
	result->reset();
	int fd = OpenFile(name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return IOStatusFromErrno(fd, "open directory", name);
	result->reset(new TameDirectory(name, fd));
	return IOStatus::OK();
}

IOStatus TameFileSystem::FileExists(const std::string &fname, const IOOptions &, IODebugContext *)
{
	struct statx stx;
	int rc = StatPath(fname, STATX_TYPE, &stx);
	if (rc == 0)
		return IOStatus::OK();
	if (rc == -ENOENT || rc == -ENOTDIR || rc == -EACCES)
		return IOStatus::NotFound("FileExists " + fname, strerror(-rc));
	return IOStatusFromErrno(rc, "statx", fname);
}

// Directory listing has no io_uring operation: plain getdents via readdir.
template <typename Fn> static IOStatus ForEachChild(const std::string &dir, Fn fn)
{
	DIR *d = opendir(dir.c_str());
	if (d == nullptr) {
		int err = errno;
		if (err == ENOENT || err == ENOTDIR || err == EACCES)
			return IOStatus::NotFound("opendir " + dir, strerror(err));
		return IOStatusFromErrno(-err, "opendir", dir);
	}
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) != nullptr) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		fn(e->d_name);
	}
	int err = errno;
	closedir(d);
	return err == 0 ? IOStatus::OK() : IOStatusFromErrno(-err, "readdir", dir);
}

IOStatus TameFileSystem::GetChildren(const std::string &dir, const IOOptions &,
                                     std::vector<std::string> *result, IODebugContext *)
{
	result->clear();
	return ForEachChild(dir, [&](const char *name) { result->emplace_back(name); });
}

IOStatus TameFileSystem::GetChildrenFileAttributes(const std::string &dir, const IOOptions &,
                                                   std::vector<rocksdb::FileAttributes> *result,
                                                   IODebugContext *)
{
	result->clear();
	std::vector<std::string> names;
	IOStatus s = ForEachChild(dir, [&](const char *name) { names.emplace_back(name); });
	if (!s.ok())
		return s;
	for (const std::string &name : names) {
		struct statx stx;
		int rc = StatPath(dir + "/" + name, STATX_SIZE, &stx);
		if (rc == -ENOENT)
			continue; // deleted since the listing
		if (rc < 0)
			return IOStatusFromErrno(rc, "statx", dir + "/" + name);
		result->push_back({name, stx.stx_size});
	}
	return IOStatus::OK();
}

IOStatus TameFileSystem::DeleteFile(const std::string &fname, const IOOptions &, IODebugContext *)
{
	int rc = tame_io_unlinkat(AT_FDCWD, fname.c_str(), 0);
	return rc < 0 ? IOStatusFromErrno(rc, "unlink", fname) : IOStatus::OK();
}

IOStatus TameFileSystem::Truncate(const std::string &fname, size_t size, const IOOptions &,
                                  IODebugContext *)
{
	if (truncate(fname.c_str(), (off_t)size) != 0)
		return IOStatusFromErrno(-errno, "truncate", fname);
	return IOStatus::OK();
}

IOStatus TameFileSystem::CreateDir(const std::string &dirname, const IOOptions &, IODebugContext *)
{
	int rc = tame_io_mkdirat(AT_FDCWD, dirname.c_str(), kDirMode);
	return rc < 0 ? IOStatusFromErrno(rc, "mkdir", dirname) : IOStatus::OK();
}

IOStatus TameFileSystem::CreateDirIfMissing(const std::string &dirname, const IOOptions &options,
                                            IODebugContext *dbg)
{
	int rc = tame_io_mkdirat(AT_FDCWD, dirname.c_str(), kDirMode);
	if (rc == 0)
		return IOStatus::OK();
	if (rc != -EEXIST)
		return IOStatusFromErrno(rc, "mkdir", dirname);
	bool is_dir = false;
	IOStatus s = IsDirectory(dirname, options, &is_dir, dbg);
	if (!s.ok())
		return s;
	if (!is_dir)
		return IOStatus::IOError("mkdir " + dirname, "exists but is not a directory");
	return IOStatus::OK();
}

IOStatus TameFileSystem::DeleteDir(const std::string &dirname, const IOOptions &, IODebugContext *)
{
	int rc = tame_io_unlinkat(AT_FDCWD, dirname.c_str(), AT_REMOVEDIR);
	return rc < 0 ? IOStatusFromErrno(rc, "rmdir", dirname) : IOStatus::OK();
}

IOStatus TameFileSystem::GetFileSize(const std::string &fname, const IOOptions &,
                                     uint64_t *file_size, IODebugContext *)
{
	struct statx stx;
	int rc = StatPath(fname, STATX_SIZE, &stx);
	if (rc < 0) {
		*file_size = 0;
		return IOStatusFromErrno(rc, "statx", fname);
	}
	*file_size = stx.stx_size;
	return IOStatus::OK();
}

IOStatus TameFileSystem::GetFileModificationTime(const std::string &fname, const IOOptions &,
                                                 uint64_t *file_mtime, IODebugContext *)
{
	struct statx stx;
	int rc = StatPath(fname, STATX_MTIME, &stx);
	if (rc < 0)
		return IOStatusFromErrno(rc, "statx", fname);
	*file_mtime = (uint64_t)stx.stx_mtime.tv_sec;
	return IOStatus::OK();
}

IOStatus TameFileSystem::RenameFile(const std::string &src, const std::string &target,
                                    const IOOptions &, IODebugContext *)
{
	int rc = tame_io_renameat(AT_FDCWD, src.c_str(), AT_FDCWD, target.c_str(), 0);
	return rc < 0 ? IOStatusFromErrno(rc, "rename", src + " -> " + target) : IOStatus::OK();
}

IOStatus TameFileSystem::LinkFile(const std::string &src, const std::string &target,
                                  const IOOptions &, IODebugContext *)
{
	int rc = tame_io_linkat(AT_FDCWD, src.c_str(), AT_FDCWD, target.c_str(), 0);
	if (rc == -EXDEV || rc == -EPERM || rc == -EOPNOTSUPP)
		return IOStatus::NotSupported("link " + src + " -> " + target, strerror(-rc));
	return rc < 0 ? IOStatusFromErrno(rc, "link", src + " -> " + target) : IOStatus::OK();
}

IOStatus TameFileSystem::NumFileLinks(const std::string &fname, const IOOptions &, uint64_t *count,
                                      IODebugContext *)
{
	struct statx stx;
	int rc = StatPath(fname, STATX_NLINK, &stx);
	if (rc < 0)
		return IOStatusFromErrno(rc, "statx", fname);
	*count = stx.stx_nlink;
	return IOStatus::OK();
}

IOStatus TameFileSystem::AreFilesSame(const std::string &first, const std::string &second,
                                      const IOOptions &, bool *res, IODebugContext *)
{
	struct statx a, b;
	int rc = StatPath(first, STATX_INO, &a);
	if (rc < 0)
		return IOStatusFromErrno(rc, "statx", first);
	rc = StatPath(second, STATX_INO, &b);
	if (rc < 0)
		return IOStatusFromErrno(rc, "statx", second);
	*res = a.stx_dev_major == b.stx_dev_major && a.stx_dev_minor == b.stx_dev_minor &&
	       a.stx_ino == b.stx_ino;
	return IOStatus::OK();
}

IOStatus TameFileSystem::LockFile(const std::string &fname, const IOOptions &,
                                  rocksdb::FileLock **lock, IODebugContext *)
{
	*lock = nullptr;
	std::lock_guard<std::mutex> guard(locked_files_mutex);
	if (!locked_files.insert(fname).second)
		return IOStatus::IOError("lock " + fname, "already held by this process");
	int fd = OpenFile(fname, O_RDWR | O_CREAT, kFileMode);
	if (fd < 0) {
		locked_files.erase(fname);
		return IOStatusFromErrno(fd, "open lock file", fname);
	}
	// fcntl locks have no io_uring operation: plain system call.
	int rc = SetLock(fd, true);
	if (rc < 0) {
		tame_io_close(fd);
		locked_files.erase(fname);
		return IOStatusFromErrno(rc, "lock", fname);
	}
	*lock = new TameFileLock(fname, fd);
	return IOStatus::OK();
}

IOStatus TameFileSystem::UnlockFile(rocksdb::FileLock *lock, const IOOptions &, IODebugContext *)
{
	auto *l = static_cast<TameFileLock *>(lock);
	std::lock_guard<std::mutex> guard(locked_files_mutex);
	int rc = SetLock(l->fd, false);
	locked_files.erase(l->fname);
	tame_io_close(l->fd);
	IOStatus s = rc < 0 ? IOStatusFromErrno(rc, "unlock", l->fname) : IOStatus::OK();
	delete l;
	return s;
}

IOStatus TameFileSystem::GetTestDirectory(const IOOptions &options, std::string *path,
                                          IODebugContext *dbg)
{
	const char *env = getenv("TEST_TMPDIR");
	if (env != nullptr && env[0] != '\0') {
		*path = env;
	} else {
		*path = "/tmp/rocksdbtest-" + std::to_string(geteuid());
	}
	return CreateDirIfMissing(*path, options, dbg);
}

// Returns once min_completions of the handles (or all of them, if fewer are
// left) have completed and had their callbacks run; handles completed
// meanwhile are called back too, in handle order.
IOStatus TameFileSystem::Poll(std::vector<void *> &io_handles, size_t min_completions)
{
	size_t completed = 0;
	for (;;) {
		size_t unfinished = 0;
		for (void *h : io_handles) {
			auto *a = static_cast<TameAsyncRead *>(h);
			if (a == nullptr || a->finished)
				continue;
			if (!a->done) {
				unfinished++;
				continue;
			}
			a->finished = true;
			a->cb(a->req, a->cb_arg);
			completed++;
		}
		if (unfinished == 0 || completed >= min_completions)
			return IOStatus::OK();
		WaitAnyAsync(io_handles);
	}
}

IOStatus TameFileSystem::AbortIO(std::vector<void *> &io_handles)
{
	// A read already on the ring cannot be taken back from the scratch
	// buffer RocksDB is about to free: wait for it, drop the callback.
	for (;;) {
		bool pending = false;
		for (void *h : io_handles) {
			auto *a = static_cast<TameAsyncRead *>(h);
			if (a == nullptr || a->finished)
				continue;
			if (a->done)
				a->finished = true;
			else
				pending = true;
		}
		if (!pending)
			return IOStatus::OK();
		WaitAnyAsync(io_handles);
	}
}

IOStatus TameFileSystem::NewLogger(const std::string &fname, const IOOptions &io_opts,
                                   std::shared_ptr<rocksdb::Logger> *result, IODebugContext *dbg)
{
	// The info LOG is not on the data path: the default logger writes it.
	return rocksdb::FileSystem::Default()->NewLogger(fname, io_opts, result, dbg);
}

IOStatus TameFileSystem::GetAbsolutePath(const std::string &db_path, const IOOptions &,
                                         std::string *output_path, IODebugContext *)
{
	if (!db_path.empty() && db_path[0] == '/') {
		*output_path = db_path;
		return IOStatus::OK();
	}
	char buf[PATH_MAX];
	if (getcwd(buf, sizeof(buf)) == nullptr)
		return IOStatusFromErrno(-errno, "getcwd", db_path);
	*output_path = std::string(buf) + "/" + db_path;
	return IOStatus::OK();
}

IOStatus TameFileSystem::GetFreeSpace(const std::string &path, const IOOptions &,
                                      uint64_t *diskfree, IODebugContext *)
{
	struct statvfs sbuf;
	if (statvfs(path.c_str(), &sbuf) != 0)
		return IOStatusFromErrno(-errno, "statvfs", path);
	uint64_t blocks = geteuid() == 0 ? sbuf.f_bfree : sbuf.f_bavail;
	*diskfree = blocks * sbuf.f_bsize;
	return IOStatus::OK();
}

IOStatus TameFileSystem::IsDirectory(const std::string &path, const IOOptions &, bool *is_dir,
                                     IODebugContext *)
{
	struct statx stx;
	int rc = StatPath(path, STATX_TYPE, &stx);
	if (rc < 0)
		return IOStatusFromErrno(rc, "statx", path);
	if (is_dir != nullptr)
		*is_dir = S_ISDIR(stx.stx_mode);
	return IOStatus::OK();
}

} // namespace tamerocks
