// Input files opened with O_NONBLOCK and checked with fstat before any read (see input_file.h).
#include "framework/core/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "framework/core/error.h"

namespace effnet {
namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "a special file";
}

// An open descriptor of the regular file at path; O_NONBLOCK so that opening a FIFO does not wait
// for a writer. The caller closes it.
int open_regular(const std::string& path, const std::string& what) {
  EFFNET_CHECK(!path.empty(), what, ": no file given");
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) EFFNET_THROW(path, ": cannot open ", what, ": ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    EFFNET_THROW(path, ": cannot open ", what, ": ", std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    EFFNET_THROW(path, ": cannot read ", what, ": it is ", kind_of(st.st_mode), ", not a regular file");
  }
  return fd;
}

}  // namespace

std::string read_input_file(const std::string& path, const std::string& what) {
  const int fd = open_regular(path, what);
  std::string bytes;
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      EFFNET_THROW(path, ": cannot read ", what, ": ", std::strerror(err));
    }
    if (n == 0) break;
    bytes.append(chunk, size_t(n));
  }
  ::close(fd);
  return bytes;
}

std::string read_input_text(const std::string& path, const std::string& what) {
  std::string text = read_input_file(path, what);
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  return text;
}

void check_input_file(const std::string& path, const std::string& what) { ::close(open_regular(path, what)); }

}  // namespace effnet
