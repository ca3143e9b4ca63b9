// SPDX-License-Identifier: MIT
// tandem::mp::detail::SharedPage<T> — one object of type T in anonymous shared memory.
//
// Why: a fork()ed child gets a copy-on-write copy of the parent's memory, so a flag the
// parent changes after fork() is never seen by the child (the bug of the seed's ch11_06,
// where `self.running = False` in the parent never reaches the child). Memory mapped
// MAP_SHARED | MAP_ANONYMOUS before fork() is the same physical memory in both processes:
// a store in one is a store in the other, and futex(2) with detail::Scope::shared wakes a
// waiter across the process boundary (the futex key of a shared mapping is the page itself,
// not the virtual address).
//
// Guarantees
//  * The object is value-initialised in a fresh mapping (zero-filled by the kernel too).
//  * Every process that inherits the mapping sees the same object; atomics in it are
//    lock-free 32-bit words, so they work across processes.
//  * The mapping is released by the destructor of the owner; children that inherited it
//    keep their own mapping until they exit (munmap in one process never affects another).
// Cost: one mmap (a page) per object and one munmap; no file, no name, nothing to clean up
//  after a crash — the kernel frees the page with the last process that maps it.
// Versus SharedRegion (<tandem/multiprocessing/detail/shared_region.hpp>, a memfd): a SharedPage
// has
//  no fd, so it cannot be sent to a process started earlier, but it costs no descriptor in
//  the parent nor in every child that inherits it — the right trade for the one stop word
//  each mp::Process owns (a pool of 100 processes must not pin 100 fds in each child).
// Requirement: T is trivially destructible and its atomics are address-free (std::atomic of
//  32-bit integers is: static_assert in src/detail/wait.cpp).
#pragma once

#include <sys/mman.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>

#include "tandem/errors.hpp"

namespace tandem::mp::detail {

template <class T>
class SharedPage {
  static_assert(std::is_trivially_destructible_v<T>,
                "SharedPage<T>: T must be trivially destructible (it is never destroyed in "
                "the child processes that share it)");

 public:
  SharedPage() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
    if (p == MAP_FAILED)
      throw RuntimeError(std::string("mmap of a shared page failed: ") + std::strerror(errno));
    obj_ = ::new (p) T();
  }
  SharedPage(const SharedPage&) = delete;
  SharedPage& operator=(const SharedPage&) = delete;
  ~SharedPage() { ::munmap(obj_, sizeof(T)); }

  T& operator*() const noexcept { return *obj_; }
  T* operator->() const noexcept { return obj_; }
  T* get() const noexcept { return obj_; }

 private:
  T* obj_ = nullptr;
};

}  // namespace tandem::mp::detail
