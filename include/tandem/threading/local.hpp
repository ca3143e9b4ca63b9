// SPDX-License-Identifier: MIT
// tandem::local<T> — threading.local (docs/threading.md#local): one T per thread per object.
//
//   tandem::local<std::vector<int>> scratch;       // mydata = threading.local()
//   scratch.get().push_back(1);                     // this thread's vector only
//
// Guarantees
//  * get() returns the calling thread's T, created on that thread's first get() — by
//    value-initialisation T{}, or by the init function given to the constructor (Python's
//    local subclass whose __init__ runs once per thread). Other threads never see it.
//  * Many objects, any number of threads: each (object, thread) pair has its own T.
//  * A thread's T is destroyed when the thread exits (in the exiting thread), or when the
//    object is destroyed first (in the destroying thread, for every thread still holding a
//    value): no value outlives its object or its thread, nothing leaks.
// Thread-safety: get() may be called from any number of threads at once. Destroying the
//  object while another thread is inside get() or uses its T is a data race, as with any
//  object. An init function must not call get() on the same object (it would recurse).
// Memory ordering: a T is only ever touched by its thread, except for its destruction by
//  ~local in another thread; as for any object, the destroyer must already be synchronised
//  with the other threads' last uses of their T (a join, an Event, a queue).
// Cost: get() after the first is an out-of-line call, a bounds check and a load (no lock, no
//  atomic); the first get() per thread allocates the T and takes a process-wide lock once;
//  thread exit and ~local take that lock once each. Objects are numbered from a free list,
//  so a thread's table grows with the number of live objects, not with all ever made.
// Differences from Python: a typed value instead of an attribute dictionary (use a struct
//  with the attributes); there is no AttributeError for an attribute not set in this thread
//  — the T is value-initialised instead. A T's destructor must not use a tandem::local
//  (at thread exit the thread's table is being torn down).
#pragma once

#include <cstddef>
#include <functional>
#include <utility>

namespace tandem {
namespace detail {

/// Registers an object with a destroy function; returns its slot number.
std::size_t local_open(void (*destroy)(void*));
/// Frees every thread's value of slot `id` and the slot itself.
void local_close(std::size_t id) noexcept;
/// The calling thread's value of slot `id`, or null.
void* local_find(std::size_t id) noexcept;
/// Records `value` (a new T) as the calling thread's value of slot `id`; on failure
/// destroys it and rethrows.
void local_store(std::size_t id, void* value);

}  // namespace detail

template <class T>
class local {
 public:
  /// Each thread's T is value-initialised (T{}).
  local() : id_(detail::local_open(&destroy)) {}
  /// Each thread's T is init(), called in that thread at its first get().
  explicit local(std::function<T()> init) : init_(std::move(init)), id_(detail::local_open(&destroy)) {}
  local(const local&) = delete;
  local& operator=(const local&) = delete;
  /// Destroys every thread's value still alive (see Guarantees).
  ~local() { detail::local_close(id_); }

  /// The calling thread's T.
  T& get() {
    if (void* v = detail::local_find(id_)) return *static_cast<T*>(v);
    T* fresh = init_ ? new T(init_()) : new T{};
    detail::local_store(id_, fresh);
    return *fresh;
  }
  T& operator*() { return get(); }
  T* operator->() { return &get(); }

 private:
  static void destroy(void* p) noexcept { delete static_cast<T*>(p); }
  std::function<T()> init_;
  std::size_t id_;
};

}  // namespace tandem
