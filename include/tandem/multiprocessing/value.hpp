// SPDX-License-Identifier: MIT
// tandem::mp::Value<T> — multiprocessing.Value (docs/multiprocessing.md#value-and-array),
// crash-safe.
//
//   mp::Value<int> counter(0);                  // Value('i', 0) — with an RLock
//   { std::lock_guard with(counter.get_lock()); counter.value() += 1; }
//
// Guarantees
//  * value() is the one T in shared memory, seen by every process forked after the Value
//    was made (mp::Process children inherit it). Plain memory: reads and writes of value()
//    are not atomic and not locked — hold get_lock() around read-modify-write (Python's
//    `v.value += 1` is not atomic either; its `with v.get_lock():` is this lock_guard).
//  * get_lock() is an mp::RLock (Python's default for Value is an RLock), robust: a process
//    killed while holding it never blocks the others; the next holder sees owner_died() and
//    the value as the dead process left it (an int increment is a single store, so a
//    counter is always a valid number, possibly missing that last increment).
//  * Value(init, false) is Python's RawValue / lock=False: no lock; get_lock() throws
//    RuntimeError("Value(lock=false) has no lock").
// Memory ordering: through the lock; without the lock, none (as a plain T).
// Cost: one page of shared memory (memfd) holding the lock and the T; see shared_region.hpp
//  for the ownership rule (the creator's Value must outlive the children's use).
// Differences from Python: the type is a C++ type, not a typecode; T must be trivially
//  copyable (it is copied byte for byte between processes); a user-supplied lock
//  (lock=<Lock>) is not offered — the built-in RLock is always the right one; each access to
//  value() does not lock on its own (Python's .value takes the lock per access, which makes
//  `v.value += 1` look safe while it is not).
#pragma once

#include <new>
#include <optional>
#include <type_traits>

#include "tandem/errors.hpp"
#include "tandem/multiprocessing/rlock.hpp"
#include "tandem/multiprocessing/detail/shared_region.hpp"

namespace tandem::mp {

template <class T>
class Value {
  static_assert(std::is_trivially_copyable_v<T>,
                "mp::Value<T> needs a trivially copyable T: its bytes live in memory shared "
                "between processes (use mp::Manager or mp::Queue for other types)");

  struct Block {
    detail::RLockState lock;
    T value;
  };

 public:
  explicit Value(T init = T{}, bool lock = true) : region_(sizeof(Block)) {
    Block* b = region_.at<Block>();
    if (lock) {
      ::new (&b->lock) detail::RLockState();
      lock_.emplace(b->lock);
    }
    ::new (&b->value) T(init);
  }
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  /// The shared T (unlocked access; hold get_lock() for read-modify-write).
  T& value() noexcept { return region_.at<Block>()->value; }
  const T& value() const noexcept { return region_.at<Block>()->value; }

  /// The RLock protecting the value. RuntimeError when made with lock = false.
  RLock& get_lock() {
    if (!lock_) throw RuntimeError("Value(lock=false) has no lock");
    return *lock_;
  }
  bool has_lock() const noexcept { return lock_.has_value(); }

 private:
  detail::SharedRegion region_;
  std::optional<RLock> lock_;
};

}  // namespace tandem::mp
