// Durable atomic file writes (see atomic_file.h), on the POSIX calls so that every step's own
// error (errno of write, fsync, close, rename) is reported rather than a stale one.
#include "framework/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "framework/core/error.h"

namespace effnet {
namespace {

std::string reason(int err) { return std::strerror(err); }

// fsync of an open descriptor; EINTR is retried.
int sync_fd(int fd) {
  int rc;
  do rc = ::fsync(fd);
  while (rc != 0 && errno == EINTR);
  return rc;
}

// The folder holding `path` ("." for a bare name).
std::string folder_of(const std::string& path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

void rename_into_place(const std::string& tmp, const std::string& path) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    EFFNET_THROW(path, ": cannot rename ", tmp, " into place: ", reason(err));
  }
}

// Makes the closed file tmp durable (fsync through a new descriptor flushes all of its pages),
// renames it over path and syncs the folder; throws (removing tmp) on failure.
void commit(const std::string& tmp, const std::string& path) {
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    EFFNET_THROW(path, ": cannot reopen ", tmp, " to sync it: ", reason(err));
  }
  if (sync_fd(fd) != 0) {
    const int err = errno;
    ::close(fd);
    std::remove(tmp.c_str());
    EFFNET_THROW(path, ": cannot write (fsync of ", tmp, "): ", reason(err));
  }
  ::close(fd);
  rename_into_place(tmp, path);
  // The new directory entry is durable only once the folder is synced. The file is complete and in
  // place by now, so a failure here is reported but cannot have damaged anything.
  const std::string dir = folder_of(path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) EFFNET_THROW(path, ": written, but its folder ", dir, " cannot be opened to sync it: ", reason(errno));
  const int synced = sync_fd(dfd);
  const int err = errno;
  ::close(dfd);
  if (synced != 0) EFFNET_THROW(path, ": written, but syncing its folder ", dir, " failed: ", reason(err));
}

}  // namespace

void write_file_atomic(const std::string& path, const void* bytes, size_t size, Durability durability) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) EFFNET_THROW(path, ": cannot write (creating ", tmp, "): ", reason(errno));
  const char* p = static_cast<const char*>(bytes);
  size_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      std::remove(tmp.c_str());
      EFFNET_THROW(path, ": cannot write: ", reason(err));
    }
    p += n;
    left -= size_t(n);
  }
  // A full disk may show only now (at close) or at the fsync in commit(), not at write.
  if (::close(fd) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    EFFNET_THROW(path, ": cannot write (closing ", tmp, "): ", reason(err));
  }
  if (durability == Durability::now) commit(tmp, path);
  else rename_into_place(tmp, path);
}

void sync_file_system(const std::string& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) EFFNET_THROW(folder, ": cannot open to sync it: ", reason(errno));
  const int rc = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) EFFNET_THROW(folder, ": syncing its file system failed: ", reason(err));
}

}  // namespace effnet
