// SPDX-License-Identifier: MIT
// SharedRegion: memfd_create + ftruncate + mmap(MAP_SHARED).
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "tandem/multiprocessing/detail/shared_region.hpp"

namespace tandem::mp::detail {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::size_t round_to_pages(std::size_t size) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  if (size == 0) size = 1;
  return (size + page - 1) / page * page;
}

void* map(int fd, std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    errno = e;
    fail("mmap");
  }
  return p;
}

}  // namespace

SharedRegion::SharedRegion(std::size_t size, const char* name) {
  const std::size_t bytes = round_to_pages(size);
  const int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) fail("memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    fail("ftruncate");
  }
  data_ = map(fd, bytes);
  fd_ = fd;
  size_ = bytes;
}

SharedRegion SharedRegion::attach(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    fail("fstat");
  }
  SharedRegion r;
  r.size_ = static_cast<std::size_t>(st.st_size);
  r.data_ = map(fd, r.size_);
  r.fd_ = fd;
  return r;
}

SharedRegion::~SharedRegion() {
  if (data_ != nullptr) ::munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace tandem::mp::detail
