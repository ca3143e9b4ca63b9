// SPDX-License-Identifier: MIT
// ConditionProxy and BarrierProxy: what Manager::Condition() / Manager::Barrier(n) return
// (manager.hpp has the specification of managed objects and their handles). Each is the
// mp:: object of the same name (<tandem/multiprocessing/condition.hpp>, barrier.hpp) on a
// memfd region the manager's server hands out, so it reaches processes started before it
// existed; every call runs on the shared memory directly — no round trip to a server.
//
// ConditionProxy: Python's m.Condition() — acquire/release (its own robust RLock, in the
//  same region), wait(), wait(timeout), wait_for(pred[, timeout]), notify(n), notify_all().
//  The guarantees are mp::Condition's: FIFO notify, no spurious wake-ups, exactly n woken
//  when at least n wait; a waiter process killed while waiting does not swallow a notify()
//  (its slot is skipped once the process is gone — "Crash safety" in condition.hpp).
//  Python's m.Condition(lock) is not offered: the Condition always has its own lock (a
//  second object would need a second attach).
// BarrierProxy: Python's m.Barrier(parties, timeout=None) — wait(), wait(timeout), abort(),
//  reset(), parties(), n_waiting(), broken(), with mp::Barrier's guarantees (a process killed
//  inside the barrier's critical section breaks it; never a hang with a timeout). The default
//  timeout given to m.Barrier() is stored in the shared block, so every process's handle
//  uses it. No `action` (Python runs a manager Barrier's action in the server process; a C++
//  callable cannot travel with the handle).
// Shutdown: every call raises RuntimeError once the manager was shut down, except release()
//  (a lock_guard's destructor must not throw). Processes blocked in BarrierProxy::wait() at
//  shutdown wake with BrokenBarrierError (the owner aborts the barrier). A ConditionProxy
//  acquire() or wait() asleep when the manager shuts down, or when its server process dies,
//  wakes within kManagerRecheck (100 ms) and raises RuntimeError — from wait() with the lock
//  held again, so a lock_guard/unique_lock around it releases it as usual. The price: a
//  wait() longer than 100 ms re-joins the waiters' FIFO at its tail every 100 ms (no notify
//  is lost: the slices re-wait under the lock), and a sleeping waiter costs ~10 futex
//  time-outs and pidfd polls a second. A BarrierProxy::wait() is not woken by the server's
//  death (a timed-out slice would break the barrier): give the Barrier a timeout.
// Memory ordering: that of the mp:: objects (everything under the Condition's lock; what a
//  party wrote before Barrier::wait() is visible to every party after theirs returns).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "tandem/detail/condition_waits.hpp"
#include "tandem/detail/lockable.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/barrier.hpp"
#include "tandem/multiprocessing/condition.hpp"
#include "tandem/multiprocessing/manager_proxy.hpp"

namespace tandem::mp {
namespace detail {

struct ConditionObject : ManagedObject {
  explicit ConditionObject(SharedRegion r)
      : ManagedObject(std::move(r)), cond(*region.at<ConditionBlock>()) {}
  static std::shared_ptr<ManagedObject> make(SharedRegion&& r) {
    return std::make_shared<ConditionObject>(std::move(r));
  }
  mp::Condition cond;
};

/// The shared block of m.Barrier(): the barrier's state and the default timeout every
/// process's handle uses (kNoTimeout: none).
struct BarrierBlock {
  static constexpr std::int64_t kNoTimeout = -1;
  BarrierBlock(std::int64_t parties, std::int64_t timeout) noexcept
      : state(parties), timeout_ns(timeout) {}
  BarrierState state;
  std::int64_t timeout_ns;
};

struct BarrierObject : ManagedObject {
  explicit BarrierObject(SharedRegion r)
      : ManagedObject(std::move(r)),
        barrier(region.at<BarrierBlock>()->state, {}, timeout_of(*region.at<BarrierBlock>())) {}
  static std::shared_ptr<ManagedObject> make(SharedRegion&& r) {
    return std::make_shared<BarrierObject>(std::move(r));
  }
  /// Sleepers in every process wake with BrokenBarrierError instead of waiting forever.
  void on_shutdown() noexcept override { barrier.abort(); }
  static std::optional<duration> timeout_of(const BarrierBlock& b) noexcept {
    if (b.timeout_ns < 0) return std::nullopt;
    return std::chrono::duration_cast<duration>(std::chrono::nanoseconds(b.timeout_ns));
  }
  mp::Barrier barrier;
};

}  // namespace detail

/// m.Condition(): an mp::Condition with its own robust RLock, any process can receive.
class ConditionProxy : public detail::ProxyBase,
                       public tandem::detail::Lockable<ConditionProxy>,
                       public tandem::detail::ConditionWaits<ConditionProxy> {
  using Obj = detail::ConditionObject;

 public:
  static constexpr detail::ManagedKind kind = detail::ManagedKind::condition;
  ConditionProxy() noexcept = default;

  /// Blocking: woken by the manager's shutdown or its server's death (RuntimeError).
  bool acquire(bool blocking = true) {
    mp::Condition& c = get();
    if (c.acquire(false)) return true;
    if (!blocking) return false;
    return wait_sliced(kind, tandem::detail::Deadline::never(),
                       [&](duration slice) { return c.acquire(slice); });
  }
  /// Waits at most `timeout` (negative counts as 0); false when it expired.
  bool acquire(duration timeout) {
    mp::Condition& c = get();
    return wait_sliced(kind, tandem::detail::clamped_deadline(timeout),
                       [&](duration slice) { return c.acquire(slice); });
  }
  /// Works also after the manager shut down (a guard's destructor must not throw).
  void release() {
    if (!obj_) detail::throw_proxy_state(detail::kHandleEmpty, kind);
    object<Obj>()->cond.release();
  }

  /// Releases the lock, sleeps until notified, re-acquires it. RuntimeError("cannot wait on
  /// un-acquired lock") when the caller does not hold the lock.
  /// Woken by the manager's shutdown or its server's death: RuntimeError, raised with the
  /// lock re-acquired (as every exit from wait()); see "Shutdown" above.
  // wait(), wait(timeout), wait_for(pred), wait_for(pred, timeout): detail::ConditionWaits.
  /// Wakes the n longest waiters, in any process. RuntimeError("cannot notify on un-acquired
  /// lock") when the caller does not hold the lock.
  void notify(std::int64_t n = 1) { get().notify(n); }
  void notify_all() { get().notify_all(); }

  void load(InArchive& ar) {
    load_ref(ar, kind, 0, &detail::min_bytes_of<detail::ConditionBlock>, &Obj::make);
  }

 private:
  friend class tandem::detail::ConditionWaits<ConditionProxy>;
  friend class Manager;
  ConditionProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : ProxyBase(ref, std::move(a)) {}
  mp::Condition& get() const {
    check(kind);
    return object<Obj>()->cond;
  }
  // Slices re-wait while holding the lock between them, so no notify() (which needs the
  // lock) can fall between two slices: none is lost. The cost: a waiter that sleeps longer
  // than kManagerRecheck re-joins the FIFO at its tail once per slice.
  bool wait_until(tandem::detail::Deadline deadline) {
    mp::Condition& c = get();
    return wait_sliced(kind, deadline, [&](duration slice) { return c.wait(slice); });
  }
};

/// m.Barrier(parties, timeout): an mp::Barrier any process can receive.
class BarrierProxy : public detail::ProxyBase {
  using Obj = detail::BarrierObject;

 public:
  static constexpr detail::ManagedKind kind = detail::ManagedKind::barrier;
  BarrierProxy() noexcept = default;

  /// The arrival index (0 … parties-1); BrokenBarrierError when broken, aborted, reset while
  /// waiting, or when the default timeout (if any) expired.
  std::int64_t wait() { return get().wait(); }
  std::int64_t wait(duration timeout) { return get().wait(timeout); }
  void abort() { get().abort(); }
  void reset() { get().reset(); }
  std::int64_t parties() const { return get().parties(); }
  std::int64_t n_waiting() const { return get().n_waiting(); }
  bool broken() const { return get().broken(); }

  void load(InArchive& ar) {
    load_ref(ar, kind, 0, &detail::min_bytes_of<detail::BarrierBlock>, &Obj::make);
  }

 private:
  friend class Manager;
  BarrierProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : ProxyBase(ref, std::move(a)) {}
  mp::Barrier& get() const {
    check(kind);
    return object<Obj>()->barrier;
  }
};

}  // namespace tandem::mp
