#include "pg/fence_deadline.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace keel::pg {

PgResult<std::unique_ptr<FenceDeadlineFile>> FenceDeadlineFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return fail(PgErrc::refused, "cannot create the fence deadline file " + path + ": " +
                                     std::strerror(errno) + "; check the data_dir permissions");
  }
  std::int64_t zero = 0;
  bool ok = ::fchmod(fd, 0644) == 0 && ::pwrite(fd, &zero, sizeof zero, 0) == sizeof zero;
  void* p = ok ? ::mmap(nullptr, sizeof(std::int64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
               : MAP_FAILED;
  int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    return fail(PgErrc::refused,
                "cannot map the fence deadline file " + path + ": " + std::strerror(err));
  }
  return std::unique_ptr<FenceDeadlineFile>(
      new FenceDeadlineFile(path, static_cast<std::int64_t*>(p)));
}

FenceDeadlineFile::~FenceDeadlineFile() {
  ::munmap(value_, sizeof(std::int64_t));
}

void FenceDeadlineFile::store(std::int64_t monotonic_ns) {
  __atomic_store_n(value_, monotonic_ns, __ATOMIC_RELEASE);
}

std::int64_t FenceDeadlineFile::load() const {
  return __atomic_load_n(value_, __ATOMIC_ACQUIRE);
}

std::string fenceLibraryNextToExecutable() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return "";
  }
  auto lib = exe.parent_path() / "keel_fence.so";
  return std::filesystem::exists(lib, ec) ? lib.string() : "";
}

}  // namespace keel::pg
