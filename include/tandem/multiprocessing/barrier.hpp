// SPDX-License-Identifier: MIT
// tandem::mp::Barrier — multiprocessing.Barrier, in shared memory
// (docs/multiprocessing.md#synchronization-primitives, docs/threading.md#barrier).
//
// Guarantees: those of tandem::Barrier (<tandem/threading/barrier.hpp>) across every process
//  sharing the object: wait() returns the arrival index (0 first … parties-1 last); the last
//  arrival runs `action` (its own process's copy of it) once per cycle before anyone
//  returns; a timeout, abort() or an action that throws breaks the barrier
//  (BrokenBarrierError); reset() returns it to filling. Cyclic.
// Algorithm: CPython's Barrier state machine (filling / draining / resetting / broken),
//  as in tandem::Barrier, with its state in a SharedRegion, guarded by a RobustMutex and
//  with a process-shared futex sequence word as condition variable (wake-ups may be
//  spurious; every wait loops on its predicate).
// Crash safety: a process SIGKILLed anywhere inside wait() breaks the barrier for the
//  others — they get BrokenBarrierError within kRecheck (250 ms) of its reaping, never a
//  hang, with or without timeouts:
//   * killed inside the short critical sections (or while running `action`): the robust
//     mutex goes to the next process, which finds owner-died and breaks the barrier (the
//     state may be half-updated);
//   * killed while waiting for the others: each waiter records its pid in a slot of the
//     shared state (the first kTracked = 64 concurrent waiters), and every waiter re-checks
//     the recorded pids (kill(pid, 0)) whenever it wakes, at least every kRecheck; the last
//     arrival checks them before tripping. A dead waiter is then counted out, and during
//     filling the barrier breaks (the cycle cannot complete as promised: the arrival that
//     would have been the dead one's is somebody else's). A dead process is seen only once
//     its parent reaped it (a zombie still exists) — mp::Process::join() or an exit of the
//     parent does that. Waiters beyond the first 64 are not tracked: a death among them is
//     indistinguishable from a slow party (use timeouts or abort()).
//  After a break, reset() returns the barrier to filling once the surviving waiters left.
// Memory ordering: all state is under the mutex; what a process wrote before wait() is
//  visible to every party after its wait() returns.
// Differences from Python: ValueError("parties must be > 0") for parties < 1 (threading's
//  3.13 check; multiprocessing accepts it); `action` must not call this barrier's methods.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

#include "tandem/detail/timeout.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/detail/robust_mutex.hpp"
#include "tandem/multiprocessing/detail/shared_region.hpp"

namespace tandem::mp {
namespace detail {

struct BarrierState {
  enum class Phase : std::uint32_t { filling, draining, resetting, broken };
  static constexpr int kTracked = 64;  // waiters whose death is detected (see barrier.hpp)
  explicit BarrierState(std::int64_t n) noexcept : parties(n) {}
  RobustMutex mutex;
  std::atomic<std::uint32_t> seq{0};  // futex word: bumped on each state change
  std::uint32_t sleepers = 0;         // guarded by mutex
  Phase phase = Phase::filling;       // guarded by mutex
  std::int64_t count = 0;             // parties inside wait(); guarded by mutex
  std::int64_t parties;
  std::int32_t waiter_pid[kTracked] = {};  // pids of waiters inside wait(); 0: free slot
};

}  // namespace detail

class Barrier {
  using Phase = detail::BarrierState::Phase;
  using Deadline = tandem::detail::Deadline;
  static constexpr std::chrono::milliseconds kRecheck{250};  // longest sleep between checks

 public:
  /// ValueError("parties must be > 0") when parties < 1.
  explicit Barrier(std::int64_t parties, std::function<void()> action = {},
                   std::optional<duration> timeout = {})
      : region_(detail::make_shared_state<detail::BarrierState>(checked_parties(parties))),
        s_(region_.at<detail::BarrierState>()),
        action_(std::move(action)),
        timeout_(timeout) {}
  /// A handle on a BarrierState that lives elsewhere (mp::Manager maps it from a memfd another
  /// process made, which constructed it). Not owning: the state must stay mapped while the
  /// handle lives. `action` and `timeout` are this handle's own (each process passes its own).
  explicit Barrier(detail::BarrierState& state, std::function<void()> action = {},
                   std::optional<duration> timeout = {})
      : s_(&state), action_(std::move(action)), timeout_(timeout) {}
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  std::int64_t wait() {
    return wait_impl(timeout_ ? tandem::detail::clamped_deadline(*timeout_) : Deadline::never());
  }
  std::int64_t wait(duration timeout) { return wait_impl(tandem::detail::clamped_deadline(timeout)); }

  void abort() {
    Guard g(*this);
    break_locked();
  }
  void reset() {
    Guard g(*this);
    count_out_dead_locked();
    if (s_->count > 0) {
      if (s_->phase == Phase::filling || s_->phase == Phase::broken) s_->phase = Phase::resetting;
    } else {
      s_->phase = Phase::filling;
    }
    notify_all_locked();
  }
  std::int64_t parties() const noexcept { return s_->parties; }
  std::int64_t n_waiting() const {
    Guard g(*this);
    return s_->phase == Phase::filling ? s_->count : 0;
  }
  bool broken() const {
    Guard g(*this);
    return s_->phase == Phase::broken;
  }

 private:
  struct Guard {
    explicit Guard(const Barrier& b) noexcept : b(b) { b.lock_mutex(); }
    ~Guard() { b.s_->mutex.unlock(); }
    const Barrier& b;
  };

  static std::int64_t checked_parties(std::int64_t parties) {
    if (parties < 1) throw ValueError("parties must be > 0");
    return parties;
  }

  /// Locks the state; a dead previous holder may have left it half-updated: break.
  void lock_mutex() const noexcept {
    if (s_->mutex.lock() == detail::RobustMutex::Acquired::recovered) {
      const_cast<Barrier*>(this)->break_locked();
    }
  }

  void wait_locked(Deadline deadline) noexcept {
    const std::uint32_t key = s_->seq.load(std::memory_order_relaxed);
    ++s_->sleepers;
    s_->mutex.unlock();
    Deadline slice = Deadline::after(duration(kRecheck));
    if (!deadline.is_never() && deadline.time_point() < slice.time_point()) slice = deadline;
    tandem::detail::futex_wait(s_->seq, key, slice, tandem::detail::Scope::shared);
    lock_mutex();
    --s_->sleepers;
    count_out_dead_locked();
  }

  /// Records this waiter's pid in a free slot; -1 when all kTracked slots are taken.
  int claim_slot_locked() noexcept {
    for (int i = 0; i < detail::BarrierState::kTracked; ++i) {
      if (s_->waiter_pid[i] == 0) {
        s_->waiter_pid[i] = static_cast<std::int32_t>(::getpid());
        return i;
      }
    }
    return -1;
  }
  /// Counts out the recorded waiters whose process is gone, as if they had left; while
  /// filling, that breaks the barrier. Returns whether one was found.
  bool count_out_dead_locked() noexcept {
    bool found = false;
    for (std::int32_t& pid : s_->waiter_pid) {
      if (pid != 0 && detail::process_gone(pid)) {
        pid = 0;
        --s_->count;
        found = true;
      }
    }
    if (!found) return false;
    if (s_->phase == Phase::filling) {
      break_locked();
    } else if (s_->count == 0 && s_->phase != Phase::broken) {
      s_->phase = Phase::filling;  // the dead were the last to leave a draining/reset cycle
      notify_all_locked();
    }
    return true;
  }
  void notify_all_locked() noexcept {
    s_->seq.fetch_add(1, std::memory_order_relaxed);
    if (s_->sleepers != 0) tandem::detail::futex_wake_all(s_->seq, tandem::detail::Scope::shared);
  }

  std::int64_t wait_impl(Deadline deadline) {
    Guard g(*this);
    while (s_->phase == Phase::draining || s_->phase == Phase::resetting) {
      if (deadline.expired()) {
        break_locked();
        throw BrokenBarrierError();
      }
      wait_locked(deadline);
    }
    if (s_->phase == Phase::broken) throw BrokenBarrierError();
    const std::int64_t index = s_->count++;
    const int slot = claim_slot_locked();
    try {
      if (index + 1 == s_->parties) {
        if (count_out_dead_locked()) throw BrokenBarrierError();  // a party died waiting
        trip_locked();
      } else {
        await_trip_locked(deadline);
      }
    } catch (...) {
      leave_locked(slot);
      throw;
    }
    leave_locked(slot);
    return index;
  }

  void trip_locked() {
    if (action_) {
      try {
        action_();
      } catch (...) {
        break_locked();
        throw;
      }
    }
    s_->phase = Phase::draining;
    notify_all_locked();
  }

  void await_trip_locked(Deadline deadline) {
    while (s_->phase == Phase::filling) {
      if (deadline.expired()) {
        break_locked();
        throw BrokenBarrierError();
      }
      wait_locked(deadline);
    }
    if (s_->phase == Phase::broken || s_->phase == Phase::resetting) throw BrokenBarrierError();
  }

  void leave_locked(int slot) noexcept {
    if (slot >= 0) s_->waiter_pid[slot] = 0;
    if (--s_->count == 0 && (s_->phase == Phase::draining || s_->phase == Phase::resetting)) {
      s_->phase = Phase::filling;
      notify_all_locked();
    }
  }

  void break_locked() noexcept {
    s_->phase = Phase::broken;
    notify_all_locked();
  }

  detail::SharedRegion region_;  // empty for a handle on a BarrierState made elsewhere
  detail::BarrierState* s_;
  std::function<void()> action_;
  std::optional<duration> timeout_;
};

}  // namespace tandem::mp
