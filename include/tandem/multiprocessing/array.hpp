// SPDX-License-Identifier: MIT
// tandem::mp::Array<T> — multiprocessing.Array (docs/multiprocessing.md#value-and-array),
// crash-safe.
//
//   mp::Array<double> a(10);                   // Array('d', 10): ten zeros, with an RLock
//   mp::Array<int> b{1, 2, 3};                 // Array('i', [1, 2, 3])
//   { std::lock_guard with(a.get_lock()); for (double& x : a) x *= 2; }
//
// Guarantees
//  * n elements of T in shared memory, seen by every process forked after the Array was
//    made. Plain memory: element access is neither atomic nor locked — hold get_lock().
//  * get_lock() is an mp::RLock (Python's default), robust: see mp::RLock and mp::Value.
//  * Array(n) value-initialises (zeroes for arithmetic types, as Python's Array(t, n)).
//  * at(i) checks the index: std::out_of_range("invalid index") (Python's IndexError);
//    operator[] does not.
//  * lock = false is Python's RawArray / lock=False: get_lock() throws RuntimeError.
// Cost: the lock and the elements in one memfd region, rounded up to pages.
// Differences from Python: T is a C++ trivially copyable type, not a typecode; no slice
//  assignment (use the iterators with std::copy: the length cannot change anyway).
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "tandem/errors.hpp"
#include "tandem/multiprocessing/rlock.hpp"
#include "tandem/multiprocessing/detail/shared_region.hpp"

namespace tandem::mp {

template <class T>
class Array {
  static_assert(std::is_trivially_copyable_v<T>,
                "mp::Array<T> needs a trivially copyable T: its bytes live in memory shared "
                "between processes (use mp::Manager or mp::Queue for other types)");

  // The elements follow the lock state, aligned for T.
  static constexpr std::size_t kOffset =
      (sizeof(detail::RLockState) + alignof(T) - 1) / alignof(T) * alignof(T);

 public:
  explicit Array(std::size_t n, T init = T{}, bool lock = true) : Array(Raw{}, n, lock) {
    std::uninitialized_fill_n(data(), n, init);
  }
  Array(std::initializer_list<T> init, bool lock = true) : Array(Raw{}, init.size(), lock) {
    std::uninitialized_copy(init.begin(), init.end(), data());
  }
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;

  std::size_t size() const noexcept { return n_; }
  T* data() noexcept { return region_.at<T>(kOffset); }
  const T* data() const noexcept { return region_.at<T>(kOffset); }
  T& operator[](std::size_t i) noexcept { return data()[i]; }
  const T& operator[](std::size_t i) const noexcept { return data()[i]; }
  T& at(std::size_t i) {
    if (i >= n_) throw std::out_of_range("invalid index");
    return data()[i];
  }
  T* begin() noexcept { return data(); }
  T* end() noexcept { return data() + n_; }
  const T* begin() const noexcept { return data(); }
  const T* end() const noexcept { return data() + n_; }

  /// The RLock protecting the elements. RuntimeError when made with lock = false.
  RLock& get_lock() {
    if (!lock_) throw RuntimeError("Array(lock=false) has no lock");
    return *lock_;
  }
  bool has_lock() const noexcept { return lock_.has_value(); }

 private:
  struct Raw {};
  Array(Raw, std::size_t n, bool lock) : region_(kOffset + n * sizeof(T)), n_(n) {
    if (lock) {
      auto* s = ::new (region_.data()) detail::RLockState();
      lock_.emplace(*s);
    }
  }

  detail::SharedRegion region_;
  std::size_t n_;
  std::optional<RLock> lock_;
};

}  // namespace tandem::mp
