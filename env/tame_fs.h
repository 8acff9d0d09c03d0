// SPDX-License-Identifier: Apache-2.0
#ifndef TAME_FS_H
#define TAME_FS_H

// tamerocks FileSystem: every read, write, sync, open, statx, rename, unlink,
// link and mkdir goes through the tame_io_* calls of reactor/tame_reactor.h,
// which are io_uring operations on a reactor fiber and plain system calls on
// any other thread. Operations io_uring lacks (getdents, ftruncate, fcntl
// locks, statvfs, realpath/getcwd) are plain system calls everywhere.

#include <string>

#include <rocksdb/file_system.h>
#include <rocksdb/io_status.h>

namespace tamerocks
{

// The one place where -errno becomes an IOStatus: -ENOENT ->
// PathNotFound, -ENOSPC -> NoSpace, anything else -> IOError. The message
// names the operation, the file and strerror.
rocksdb::IOStatus IOStatusFromErrno(int neg_errno, const char *op, const std::string &file);

// align_direct_reads (URI option, default true): a random-access file
// opened with use_direct_reads answers use_direct_io() false and aligns its
// reads itself (tame_io_read_direct_unaligned): RocksDB then reads a block
// straight into the buffer it keeps, instead of into an aligned buffer of
// its own that it copies and frees. The reads still bypass the page cache.
class TameFileSystem : public rocksdb::FileSystem
{
      public:
	explicit TameFileSystem(bool align_direct_reads = true)
	    : align_direct_reads_(align_direct_reads)
	{
	}
	static const char *kClassName()
	{
		return "TameFileSystem";
	}
	const char *Name() const override
	{
		return kClassName();
	}
	bool IsInstanceOf(const std::string &name) const override;

	rocksdb::IOStatus NewSequentialFile(const std::string &fname,
	                                    const rocksdb::FileOptions &opts,
	                                    std::unique_ptr<rocksdb::FSSequentialFile> *result,
	                                    rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus NewRandomAccessFile(const std::string &fname,
	                                      const rocksdb::FileOptions &opts,
	                                      std::unique_ptr<rocksdb::FSRandomAccessFile> *result,
	                                      rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus NewWritableFile(const std::string &fname,
	                                  const rocksdb::FileOptions &opts,
	                                  std::unique_ptr<rocksdb::FSWritableFile> *result,
	                                  rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus ReopenWritableFile(const std::string &fname,
	                                     const rocksdb::FileOptions &opts,
	                                     std::unique_ptr<rocksdb::FSWritableFile> *result,
	                                     rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus ReuseWritableFile(const std::string &fname, const std::string &old_fname,
	                                    const rocksdb::FileOptions &opts,
	                                    std::unique_ptr<rocksdb::FSWritableFile> *result,
	                                    rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus NewRandomRWFile(const std::string &fname,
	                                  const rocksdb::FileOptions &opts,
	                                  std::unique_ptr<rocksdb::FSRandomRWFile> *result,
	                                  rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus NewDirectory(const std::string &name, const rocksdb::IOOptions &io_opts,
	                               std::unique_ptr<rocksdb::FSDirectory> *result,
	                               rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus FileExists(const std::string &fname, const rocksdb::IOOptions &options,
	                             rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus GetChildren(const std::string &dir, const rocksdb::IOOptions &options,
	                              std::vector<std::string> *result,
	                              rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus GetChildrenFileAttributes(const std::string &dir,
	                                            const rocksdb::IOOptions &options,
	                                            std::vector<rocksdb::FileAttributes> *result,
	                                            rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus DeleteFile(const std::string &fname, const rocksdb::IOOptions &options,
	                             rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus Truncate(const std::string &fname, size_t size,
	                           const rocksdb::IOOptions &options,
	                           rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus CreateDir(const std::string &dirname, const rocksdb::IOOptions &options,
	                            rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus CreateDirIfMissing(const std::string &dirname,
	                                     const rocksdb::IOOptions &options,
	                                     rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus DeleteDir(const std::string &dirname, const rocksdb::IOOptions &options,
	                            rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus GetFileSize(const std::string &fname, const rocksdb::IOOptions &options,
	                              uint64_t *file_size, rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus GetFileModificationTime(const std::string &fname,
	                                          const rocksdb::IOOptions &options,
	                                          uint64_t *file_mtime,
	                                          rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus RenameFile(const std::string &src, const std::string &target,
	                             const rocksdb::IOOptions &options,
	                             rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus LinkFile(const std::string &src, const std::string &target,
	                           const rocksdb::IOOptions &options,
	                           rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus NumFileLinks(const std::string &fname, const rocksdb::IOOptions &options,
	                               uint64_t *count, rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus AreFilesSame(const std::string &first, const std::string &second,
	                               const rocksdb::IOOptions &options, bool *res,
	                               rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus LockFile(const std::string &fname, const rocksdb::IOOptions &options,
	                           rocksdb::FileLock **lock, rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus UnlockFile(rocksdb::FileLock *lock, const rocksdb::IOOptions &options,
	                             rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus GetTestDirectory(const rocksdb::IOOptions &options, std::string *path,
	                                   rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus NewLogger(const std::string &fname, const rocksdb::IOOptions &io_opts,
	                            std::shared_ptr<rocksdb::Logger> *result,
	                            rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus GetAbsolutePath(const std::string &db_path,
	                                  const rocksdb::IOOptions &options,
	                                  std::string *output_path,
	                                  rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus GetFreeSpace(const std::string &path, const rocksdb::IOOptions &options,
	                               uint64_t *diskfree, rocksdb::IODebugContext *dbg) override;
	rocksdb::IOStatus IsDirectory(const std::string &path, const rocksdb::IOOptions &options,
	                              bool *is_dir, rocksdb::IODebugContext *dbg) override;

	// ReadAsync handles of TameRandomAccessFile: wait, then call back (Poll)
	// or drop the callback (AbortIO).
	rocksdb::IOStatus Poll(std::vector<void *> &io_handles, size_t min_completions) override;
	rocksdb::IOStatus AbortIO(std::vector<void *> &io_handles) override;

      private:
	bool align_direct_reads_;
	// Takes fd: the file owns it, or it is closed on error.
	rocksdb::IOStatus NewMmapReadable(const std::string &fname, int fd,
	                                  std::unique_ptr<rocksdb::FSRandomAccessFile> *r);
	rocksdb::IOStatus OpenWritable(const std::string &fname, int flags,
	                               const rocksdb::FileOptions &opts,
	                               std::unique_ptr<rocksdb::FSWritableFile> *r);
};

} // namespace tamerocks

#endif // TAME_FS_H
