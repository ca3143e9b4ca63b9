// SPDX-License-Identifier: MIT
// tandem::mp::SharedMemory: shm_open + ftruncate + fstat + mmap, as CPython's
// multiprocessing/shared_memory.py does on POSIX.
#include "tandem/multiprocessing/shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "multiprocessing/shared_memory_name.hpp"
#include "tandem/errors.hpp"

namespace tandem::mp {

namespace {

int open_segment(const std::string& name, bool create) {
  const int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
  const int fd = ::shm_open(("/" + name).c_str(), flags, 0600);
  if (fd < 0) raise_os_error(errno, "/" + name);
  return fd;
}

}  // namespace

SharedMemory::SharedMemory(std::optional<std::string> name, bool create, std::size_t size) {
  if (create && size == 0)
    throw ValueError("'size' must be a positive number different from zero");
  if (!name && !create) throw ValueError("'name' can only be None if create=True");
  if (name) {
    fd_ = open_segment(*name, create);
    name_ = std::move(*name);
  } else {
    for (;;) {
      std::string candidate = detail::make_shm_name();
      try {
        fd_ = open_segment(candidate, true);
      } catch (const FileExistsError&) {
        continue;
      }
      name_ = std::move(candidate);
      break;
    }
  }
  // From here a failure closes the descriptor and, for a segment we made, removes it.
  auto fail = [&](int err) {
    ::close(fd_);
    fd_ = -1;
    if (create) ::shm_unlink(("/" + name_).c_str());
    raise_os_error(err, "/" + name_);
  };
  if (create && ::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail(errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail(errno);
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ == 0) {
    ::close(fd_);
    fd_ = -1;
    throw ValueError("cannot mmap an empty file");
  }
  void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) fail(errno);
  data_ = static_cast<std::byte*>(p);
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept { swap(other); }

SharedMemory& SharedMemory::operator=(SharedMemory&& other) noexcept {
  SharedMemory tmp(std::move(other));
  swap(tmp);
  return *this;
}

SharedMemory::~SharedMemory() { close(); }

void SharedMemory::swap(SharedMemory& other) noexcept {
  std::swap(name_, other.name_);
  std::swap(size_, other.size_);
  std::swap(data_, other.data_);
  std::swap(fd_, other.fd_);
}

void SharedMemory::close() noexcept {
  if (data_) ::munmap(data_, size_);
  data_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void SharedMemory::unlink() {
  if (name_.empty()) return;  // a moved-from object
  if (::shm_unlink(("/" + name_).c_str()) != 0) raise_os_error(errno, "/" + name_);
}

}  // namespace tandem::mp
