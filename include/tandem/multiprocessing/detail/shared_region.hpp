// SPDX-License-Identifier: MIT
// <tandem/multiprocessing/detail/shared_region.hpp> — where the state of tandem::mp objects lives.
//
// mp::detail::SharedRegion is one anonymous shared memory object: memfd_create(MFD_CLOEXEC)
// + ftruncate + mmap(MAP_SHARED). It is
//  * inherited by fork(): a child made by mp::Process (or fork()) after the region was
//    created maps the very same pages at the very same address, so a handle object copied
//    into the child by fork works there unchanged;
//  * passable to processes started earlier: the fd can travel over a Unix socket
//    (SCM_RIGHTS) and be mapped there with SharedRegion::attach() (for mp::Manager);
//  * zero-filled when created (ftruncate), rounded up to whole pages, and gone once every
//    process has unmapped it and closed its fd (no name, nothing to leak after a crash).
// Rules for what is placed in a region: no pointers (another process may map it at another
// address; store offsets), trivially destructible state (a region is only ever unmapped,
// never "destroyed": see below), 32-bit atomic futex words for anything that waits.
//
// Ownership across fork. The C++ handle (mp::Lock, mp::Value, ...) is an ordinary object of
// the process that made it. fork() copies it into the child; the child's copy shares the
// pages. Destroying a copy — in the child or the parent — only unmaps that process's view
// and closes its fd: it never re-initialises or tears down the shared state, so a child
// whose destructors run (or do not run, after _exit) cannot break the parent's object. The
// parent's handle must outlive the children's use of the object (as with Python's
// inheritance-only sharing of Value/Lock); after the last process unmaps, the kernel frees
// the memory.
//
// Cost: one fd and at least one page per region. Errors (EMFILE, ENOMEM) throw
// std::system_error with the errno.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace tandem::mp::detail {

class SharedRegion {
 public:
  SharedRegion() noexcept = default;
  /// A fresh zero-filled region of at least `size` bytes (rounded up to pages).
  explicit SharedRegion(std::size_t size, const char* name = "tandem");
  /// Maps an existing memfd (for instance one received over SCM_RIGHTS); takes ownership of
  /// `fd`. The size is the file's.
  static SharedRegion attach(int fd);

  SharedRegion(SharedRegion&& other) noexcept { swap(other); }
  SharedRegion& operator=(SharedRegion&& other) noexcept {
    SharedRegion(std::move(other)).swap(*this);
    return *this;
  }
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  /// Unmaps and closes the fd; the shared state itself is left untouched.
  ~SharedRegion();

  int fd() const noexcept { return fd_; }
  std::size_t size() const noexcept { return size_; }
  void* data() const noexcept { return data_; }
  explicit operator bool() const noexcept { return data_ != nullptr; }

  /// The object of type T at byte `offset` (which must be suitably aligned).
  template <class T>
  T* at(std::size_t offset = 0) const noexcept {
    return std::launder(reinterpret_cast<T*>(static_cast<char*>(data_) + offset));
  }

  void swap(SharedRegion& other) noexcept {
    std::swap(fd_, other.fd_);
    std::swap(size_, other.size_);
    std::swap(data_, other.data_);
  }

 private:
  int fd_ = -1;
  std::size_t size_ = 0;
  void* data_ = nullptr;
};

/// A region holding one State, constructed in place by the creating process with `args`.
/// State must be trivially destructible: regions are unmapped, never destroyed (see above).
template <class State, class... Args>
SharedRegion make_shared_state(Args&&... args) {
  static_assert(std::is_trivially_destructible_v<State>,
                "state in shared memory must be trivially destructible");
  SharedRegion region(sizeof(State));
  ::new (region.data()) State(std::forward<Args>(args)...);
  return region;
}

}  // namespace tandem::mp::detail
