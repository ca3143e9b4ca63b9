// SPDX-License-Identifier: MIT
// The proxies mp::Manager returns for its synchronisation objects and shared values:
// LockProxy, RLockProxy, EventProxy, SemaphoreProxy, BoundedSemaphoreProxy, ValueProxy<T>,
// ArrayProxy<T> (Python's multiprocessing.managers names). manager.hpp has the specification;
// the queue proxies are in manager_queue.hpp.
//
// Every proxy is a small copyable handle (two shared_ptrs, a state pointer and a typed
// pointer), Serializable through save()/load(): the bytes carry the manager's address, its
// secret and the object's id, kind and type tag (detail::ObjectRef); load() attaches (see
// manager_detail.hpp). Operations run directly on the shared memory — no round trip to the
// server — after one relaxed load of the manager's state word (RuntimeError once shut down).
// Blocking calls (acquire, wait) sleep in slices of kManagerRecheck (wait_sliced): between
// slices they raise RuntimeError once the manager was shut down or its server process died.
// Releasing calls (release, unlock of locks and semaphores) skip that check, so that a
// lock_guard never throws from its destructor.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "tandem/detail/lockable.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/lock.hpp"
#include "tandem/multiprocessing/detail/manager.hpp"
#include "tandem/multiprocessing/rlock.hpp"
#include "tandem/serialize.hpp"
#include "tandem/threading/event.hpp"
#include "tandem/threading/semaphore.hpp"

namespace tandem::mp {

class Manager;

namespace detail {

/// What every proxy shares: the reference, the link to the manager, the mapped object.
class ProxyBase {
 public:
  /// False for a default-constructed (empty) proxy.
  explicit operator bool() const noexcept { return ref_.id != 0; }
  /// The object's id within its manager (0 when empty).
  std::uint32_t object_id() const noexcept { return ref_.id; }
  /// Whether the proxy can be used: not empty, and its manager not shut down.
  bool usable() const noexcept {
    return state_->load(std::memory_order_relaxed) == kManagerRunning;
  }

  // The codec's split save/load (tandem::Serializable).
  template <class Ar>
  void save(Ar& ar) const {
    ar(kHandleMagic, kHandleVersion, ref_.key.token, ref_.key.secret, ref_.id, ref_.kind,
       ref_.tag, ref_.count);
  }

 protected:
  ProxyBase() noexcept = default;
  ProxyBase(const ObjectRef& ref, Attached a) noexcept
      : ref_(ref), link_(std::move(a.link)), obj_(std::move(a.object)),
        state_(&link_->control().state) {}

  void check(ManagedKind kind) const {
    const std::uint32_t s = state_->load(std::memory_order_relaxed);
    if (s != kManagerRunning) [[unlikely]]
      throw_proxy_state(s, kind);
  }
  /// A blocking call on the managed object, cut into slices of at most kManagerRecheck:
  /// `attempt(slice)` runs the object's own timed call (true: done). Between slices it
  /// raises what a call on a shut-down manager raises, or throw_server_died() once the
  /// server process has exited, so no caller sleeps forever on a manager that went away.
  /// Returns false when `deadline` passed. An attempt that succeeds at once never looks at
  /// the manager (a free lock is taken even if the server is gone).
  template <class Attempt>
  bool wait_sliced(ManagedKind kind, tandem::detail::Deadline deadline, Attempt&& attempt) const {
    for (;;) {
      duration slice = kManagerRecheck;
      if (!deadline.is_never()) slice = std::min(slice, deadline.remaining());
      if (attempt(slice)) return true;
      if (!deadline.is_never() && deadline.expired()) return false;
      check(kind);
      if (!link_->server_alive()) throw_server_died(kind);
    }
  }

  /// Reads a reference and attaches it; afterwards obj_ is the object (null when the
  /// handle was empty). DecodeError / RuntimeError as detail::attach.
  void load_ref(InArchive& ar, ManagedKind kind, std::uint64_t tag,
                std::size_t (*min_bytes)(const ObjectRef&), MakeObject make) {
    std::uint32_t magic = 0;
    std::uint8_t version = 0;
    ObjectRef r;
    ar(magic, version, r.key.token, r.key.secret, r.id, r.kind, r.tag, r.count);
    check_ref(r, magic, version, kind, tag);
    *this = ProxyBase();
    if (r.id == 0) return;
    Attached a = attach(r, min_bytes(r), make);
    if (a.link->control().state.load(std::memory_order_acquire) != kManagerRunning)
      throw_proxy_state(kManagerShut, kind);
    *this = ProxyBase(r, std::move(a));
  }
  template <class Obj>
  Obj* object() const noexcept {
    return static_cast<Obj*>(obj_.get());
  }

  ObjectRef ref_;
  std::shared_ptr<ManagerLink> link_;
  std::shared_ptr<ManagedObject> obj_;
  const std::atomic<std::uint32_t>* state_ = &empty_state();
};

/// For objects whose state is one T at offset 0 of the region.
template <class State>
std::size_t min_bytes_of(const ObjectRef&) {
  return sizeof(State);
}

struct LockObject : ManagedObject {
  explicit LockObject(SharedRegion r) : ManagedObject(std::move(r)), lock(*region.at<LockState>()) {}
  static std::shared_ptr<ManagedObject> make(SharedRegion&& r) {
    return std::make_shared<LockObject>(std::move(r));
  }
  mp::Lock lock;
};

struct RLockObject : ManagedObject {
  explicit RLockObject(SharedRegion r)
      : ManagedObject(std::move(r)), lock(*region.at<RLockState>()) {}
  static std::shared_ptr<ManagedObject> make(SharedRegion&& r) {
    return std::make_shared<RLockObject>(std::move(r));
  }
  mp::RLock lock;
};

/// A region holding one State object (Event, Semaphore).
template <class State>
struct PlainObject : ManagedObject {
  explicit PlainObject(SharedRegion r) noexcept
      : ManagedObject(std::move(r)), state(region.at<State>()) {}
  static std::shared_ptr<ManagedObject> make(SharedRegion&& r) {
    return std::make_shared<PlainObject>(std::move(r));
  }
  State* state;
};

template <class T>
struct ValueBlock {
  RLockState lock;
  T value;
};

template <class T>
struct ValueObject : ManagedObject {
  explicit ValueObject(SharedRegion r)
      : ManagedObject(std::move(r)), block(region.at<ValueBlock<T>>()), lock(block->lock) {}
  static std::shared_ptr<ManagedObject> make(SharedRegion&& r) {
    return std::make_shared<ValueObject>(std::move(r));
  }
  ValueBlock<T>* block;
  mp::RLock lock;
};

template <class T>
struct ArrayObject : ManagedObject {
  // The elements follow the lock state, aligned for T (as mp::Array).
  static constexpr std::size_t kOffset =
      (sizeof(RLockState) + alignof(T) - 1) / alignof(T) * alignof(T);
  explicit ArrayObject(SharedRegion r)
      : ManagedObject(std::move(r)), lock(*region.at<RLockState>()), data(region.at<T>(kOffset)) {}
  static std::shared_ptr<ManagedObject> make(SharedRegion&& r) {
    return std::make_shared<ArrayObject>(std::move(r));
  }
  static std::size_t min_bytes(const ObjectRef& ref) {
    // A count that cannot fit is reported as "too small" by attach (needs SIZE_MAX bytes).
    if (ref.count > (SIZE_MAX - kOffset) / sizeof(T)) return SIZE_MAX;
    return kOffset + static_cast<std::size_t>(ref.count) * sizeof(T);
  }
  mp::RLock lock;
  T* data;
};

/// The Lockable interface of Lock and RLock proxies.
template <class Obj, ManagedKind K>
class LockProxyBase : public ProxyBase,
                      public tandem::detail::Lockable<LockProxyBase<Obj, K>> {
 public:
  static constexpr ManagedKind kind = K;

  /// Blocking: woken by the manager's shutdown or its server's death (RuntimeError).
  bool acquire(bool blocking = true) {
    auto& l = get();
    if (l.acquire(false)) return true;  // uncontended: no clock read
    if (!blocking) return false;
    return wait_sliced(K, tandem::detail::Deadline::never(),
                       [&](duration slice) { return l.acquire(slice); });
  }
  /// Waits at most `timeout` (negative counts as 0); false when it expired.
  bool acquire(duration timeout) {
    auto& l = get();
    return wait_sliced(K, tandem::detail::clamped_deadline(timeout),
                       [&](duration slice) { return l.acquire(slice); });
  }
  /// Works also after the manager shut down (a guard's destructor must not throw).
  void release() { raw().release(); }
  bool locked() const { return get().locked(); }
  bool owner_died() const { return get().owner_died(); }

 protected:
  LockProxyBase() noexcept = default;
  LockProxyBase(const ObjectRef& ref, Attached a) noexcept : ProxyBase(ref, std::move(a)) {}

 private:
  auto& get() const {
    check(K);
    return object<Obj>()->lock;
  }
  auto& raw() const {
    if (!obj_) throw_proxy_state(kHandleEmpty, K);
    return object<Obj>()->lock;
  }
};

}  // namespace detail

/// m.Lock(): an mp::Lock (robust, crash-safe) any process can receive.
class LockProxy : public detail::LockProxyBase<detail::LockObject, detail::ManagedKind::lock> {
 public:
  LockProxy() noexcept = default;
  void load(InArchive& ar) {
    load_ref(ar, kind, 0, &detail::min_bytes_of<detail::LockState>, &detail::LockObject::make);
  }

 private:
  friend class Manager;
  LockProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : LockProxyBase(ref, std::move(a)) {}
};

/// m.RLock(): an mp::RLock (reentrant, robust) any process can receive.
class RLockProxy : public detail::LockProxyBase<detail::RLockObject, detail::ManagedKind::rlock> {
 public:
  RLockProxy() noexcept = default;
  void load(InArchive& ar) {
    load_ref(ar, kind, 0, &detail::min_bytes_of<detail::RLockState>, &detail::RLockObject::make);
  }

 private:
  friend class Manager;
  RLockProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : LockProxyBase(ref, std::move(a)) {}
};

/// m.Event(): an mp::Event any process can receive.
class EventProxy : public detail::ProxyBase {
  using Obj = detail::PlainObject<tandem::Event>;

 public:
  static constexpr detail::ManagedKind kind = detail::ManagedKind::event;
  EventProxy() noexcept = default;

  bool is_set() const { return get().is_set(); }
  void set() { get().set(); }
  void clear() { get().clear(); }
  /// Woken by the manager's shutdown or its server's death (RuntimeError), see manager.hpp.
  bool wait() { return wait(duration(std::numeric_limits<double>::infinity())); }
  bool wait(duration timeout) {
    tandem::Event& e = get();
    if (e.is_set()) return true;
    return wait_sliced(kind, tandem::detail::clamped_deadline(timeout),
                       [&](duration slice) { return e.wait(slice); });
  }

  void load(InArchive& ar) {
    load_ref(ar, kind, 0, &detail::min_bytes_of<tandem::Event>, &Obj::make);
  }

 private:
  friend class Manager;
  EventProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : ProxyBase(ref, std::move(a)) {}
  tandem::Event& get() const {
    check(kind);
    return *object<Obj>()->state;
  }
};

namespace detail {

template <ManagedKind K, class State>
class SemaphoreProxyBase : public ProxyBase,
                           public tandem::detail::Lockable<SemaphoreProxyBase<K, State>> {
  using Obj = PlainObject<tandem::Semaphore>;

 public:
  static constexpr ManagedKind kind = K;

  /// Blocking: woken by the manager's shutdown or its server's death (RuntimeError).
  bool acquire(bool blocking = true) {
    tandem::Semaphore& sem = get();
    if (sem.acquire(false)) return true;
    if (!blocking) return false;
    return wait_sliced(K, tandem::detail::Deadline::never(),
                       [&](duration slice) { return sem.acquire(slice); });
  }
  bool acquire(duration timeout) {
    tandem::Semaphore& sem = get();
    return wait_sliced(K, tandem::detail::clamped_deadline(timeout),
                       [&](duration slice) { return sem.acquire(slice); });
  }
  /// Works also after the manager shut down (a guard's destructor must not throw).
  void release(std::int64_t n = 1) {
    if (!obj_) throw_proxy_state(kHandleEmpty, K);
    object<Obj>()->state->release(n);
  }
  std::int64_t value() const { return get().value(); }
  std::int64_t get_value() const { return get().value(); }
  bool locked() const { return get().value() == 0; }

  template <class Rep, class Period>
  bool try_acquire_for(const std::chrono::duration<Rep, Period>& d) {
    return acquire(duration(d));
  }

  void load(InArchive& ar) { load_ref(ar, K, 0, &min_bytes_of<State>, &Obj::make); }

 protected:
  SemaphoreProxyBase() noexcept = default;
  SemaphoreProxyBase(const ObjectRef& ref, Attached a) noexcept : ProxyBase(ref, std::move(a)) {}

 private:
  tandem::Semaphore& get() const {
    check(K);
    return *object<Obj>()->state;
  }
};

}  // namespace detail

/// m.Semaphore(n): an mp::Semaphore any process can receive.
class SemaphoreProxy
    : public detail::SemaphoreProxyBase<detail::ManagedKind::semaphore, tandem::Semaphore> {
 public:
  SemaphoreProxy() noexcept = default;

 private:
  friend class Manager;
  SemaphoreProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : SemaphoreProxyBase(ref, std::move(a)) {}
};

/// m.BoundedSemaphore(n): release past the initial value raises ValueError.
class BoundedSemaphoreProxy
    : public detail::SemaphoreProxyBase<detail::ManagedKind::bounded_semaphore,
                                        tandem::BoundedSemaphore> {
 public:
  BoundedSemaphoreProxy() noexcept = default;

 private:
  friend class Manager;
  BoundedSemaphoreProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : SemaphoreProxyBase(ref, std::move(a)) {}
};

/// m.Value<T>(init): one trivially copyable T in shared memory, with an RLock. Python's
/// ValueProxy has get()/set() and no lock (so `v.value += 1` races); this one has both and
/// get_lock() for read-modify-write.
template <class T>
class ValueProxy : public detail::ProxyBase {
  static_assert(std::is_trivially_copyable_v<T>,
                "Manager::Value<T> needs a trivially copyable T (its bytes live in shared "
                "memory); use Manager::Queue<T> to pass other types");
  using Obj = detail::ValueObject<T>;

 public:
  static constexpr detail::ManagedKind kind = detail::ManagedKind::value;
  using value_type = T;
  ValueProxy() noexcept = default;

  /// The shared T, unlocked (hold get_lock() for read-modify-write).
  T& value() const { return obj().block->value; }
  /// A copy taken under the lock (never torn, whatever sizeof(T)).
  T get_value() const {
    Obj& o = obj();
    std::lock_guard g(o.lock);
    return o.block->value;
  }
  /// Python's ValueProxy.get()/set(): one locked copy each.
  T get() const { return get_value(); }
  void set(const T& v) {
    Obj& o = obj();
    std::lock_guard g(o.lock);
    o.block->value = v;
  }
  RLock& get_lock() const { return obj().lock; }

  void load(InArchive& ar) {
    load_ref(ar, kind, detail::type_tag<T>(), &detail::min_bytes_of<detail::ValueBlock<T>>,
             &Obj::make);
  }

 private:
  friend class Manager;
  ValueProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : ProxyBase(ref, std::move(a)) {}
  Obj& obj() const {
    check(kind);
    return *object<Obj>();
  }
};

/// m.Array<T>(n, init): n trivially copyable T in shared memory, with an RLock.
template <class T>
class ArrayProxy : public detail::ProxyBase {
  static_assert(std::is_trivially_copyable_v<T>,
                "Manager::Array<T> needs a trivially copyable T (its bytes live in shared "
                "memory); use Manager::Queue<T> to pass other types");
  using Obj = detail::ArrayObject<T>;

 public:
  static constexpr detail::ManagedKind kind = detail::ManagedKind::array;
  using value_type = T;
  ArrayProxy() noexcept = default;

  std::size_t size() const noexcept { return static_cast<std::size_t>(ref_.count); }
  T* data() const { return obj().data; }
  T& operator[](std::size_t i) const { return obj().data[i]; }
  /// Checked: std::out_of_range("invalid index") (Python's IndexError).
  T& at(std::size_t i) const {
    if (i >= size()) throw std::out_of_range("invalid index");
    return obj().data[i];
  }
  T* begin() const { return data(); }
  T* end() const { return data() + size(); }
  RLock& get_lock() const { return obj().lock; }

  void load(InArchive& ar) { load_ref(ar, kind, detail::type_tag<T>(), &Obj::min_bytes, &Obj::make); }

 private:
  friend class Manager;
  ArrayProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : ProxyBase(ref, std::move(a)) {}
  Obj& obj() const {
    check(kind);
    return *object<Obj>();
  }
};

}  // namespace tandem::mp
