// SPDX-License-Identifier: MIT
// <tandem/detail/wait.hpp> — the one waiting layer of tandem.
//
// Every blocking call in tandem ends here: a 32-bit atomic word and futex(2). A waiter
// sleeps while the word still holds the value it last saw, until another thread (or, for
// Scope::shared, another process mapping the same memory) changes the word and wakes it,
// or until an absolute deadline on the steady clock passes.
//
// Why futex and not std::atomic::wait: libstdc++'s atomic wait has no deadline and uses
// private futexes plus a process-local waiter table, so it can neither time out nor wake a
// waiter in another process. Objects that will live in shared memory (multiprocessing) use
// Scope::shared; objects local to one process use Scope::local (FUTEX_PRIVATE_FLAG, cheaper
// in the kernel).
//
// Contract of futex_wait: it may return early (a wake-up meant for someone else, a signal,
// the value already changed). Callers always re-check their condition in a loop; the
// return value only says whether the deadline has passed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

namespace tandem {

/// Timeouts as Python has them: seconds as a double. Any std::chrono duration converts.
using duration = std::chrono::duration<double>;

namespace detail {

using steady = std::chrono::steady_clock;

/// An absolute point on the steady clock, or "never". Built once per blocking call so that
/// a loop of several waits keeps the caller's total timeout (as Python does).
class Deadline {
 public:
  static constexpr Deadline never() noexcept { return Deadline{}; }
  /// now + d; a duration too large to represent (or infinite) becomes never().
  /// A zero or negative d gives a deadline already passed (callers validate signs first).
  static Deadline after(duration d) noexcept {
    // ~30 years: beyond that nothing will be waiting, and steady_clock arithmetic stays
    // far from overflow.
    constexpr double kForever = 1e9;
    if (!(d.count() < kForever)) return never();  // also catches +inf and NaN
    Deadline dl;
    dl.infinite_ = false;
    dl.tp_ = steady::now() + std::chrono::duration_cast<steady::duration>(d);
    return dl;
  }
  static Deadline at(steady::time_point tp) noexcept {
    Deadline dl;
    dl.infinite_ = false;
    dl.tp_ = tp;
    return dl;
  }
  bool is_never() const noexcept { return infinite_; }
  steady::time_point time_point() const noexcept { return tp_; }
  bool expired() const noexcept { return !infinite_ && steady::now() >= tp_; }
  /// Time left, never negative; only meaningful when !is_never().
  duration remaining() const noexcept {
    auto left = std::chrono::duration_cast<duration>(tp_ - steady::now());
    return left.count() > 0 ? left : duration(0);
  }

 private:
  constexpr Deadline() noexcept = default;
  steady::time_point tp_{};
  bool infinite_ = true;
};

/// Whether a futex word is reached only by this process's threads or by other processes too.
enum class Scope : bool { local = false, shared = true };

/// Sleeps while `word == expected`, until woken or `deadline` passes.
/// Returns false only when the deadline has passed; true otherwise (woken, value changed,
/// signal). Never spins.
bool futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                Deadline deadline = Deadline::never(), Scope scope = Scope::local) noexcept;

/// Wakes up to `n` threads sleeping on `word` (n = INT32_MAX wakes all). Returns how many woke.
int futex_wake(const std::atomic<std::uint32_t>& word, int n,
               Scope scope = Scope::local) noexcept;

inline int futex_wake_all(const std::atomic<std::uint32_t>& word,
                          Scope scope = Scope::local) noexcept {
  return futex_wake(word, std::numeric_limits<int>::max(), scope);
}

/// Brief, bounded spinning before a futex sleep: worth ~one cache miss round trip, never
/// more. Returns true if `ready()` turned true while spinning.
template <class Pred>
inline bool spin_briefly(Pred&& ready, int iterations = 64) noexcept {
  for (int i = 0; i < iterations; ++i) {
    if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
  return ready();
}

/// One `pause` (x86) / `yield` (ARM): tells the core this is a spin-wait loop.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// The spin history of one waitable object, for spin_adaptively(): how long a successful
/// spin took lately and how many spins in a row missed. One 32-bit word of hints, no
/// pointers (it may live in shared memory); read and written with relaxed atomics — lost
/// updates between racing waiters only blur the hint, never a wake-up.
///
/// Why adaptive: a spin before a futex sleep pays off only when the thread that will end the
/// wait is running right now and answers within the spin. With an idle CPU for each side
/// (a ping-pong), a few microseconds of spinning avoid a wake-up that costs 15-30 us in this
/// KVM guest; on an oversubscribed machine the partner is often queued behind the spinner
/// on the same CPU, so every spin is pure loss. The policy, after glibc's adaptive mutex
/// (PTHREAD_MUTEX_ADAPTIVE_NP: spin at most 2x the running average of past spins) and the
/// spin-then-park of WebKit's ParkingLot / folly's Baton, with an off switch:
///  * spin for at most min(kCapNs, 2 * average successful spin + kBaseNs), timed on the
///    steady clock (so it is a few microseconds on any CPU, whatever `pause` costs);
///  * after kMaxMisses spins in a row that missed, stop spinning; only every kProbeEvery-th
///    such wait of a thread probes with a spin, and a probe that succeeds switches spinning
///    on again. A skipped spin costs one relaxed load and writes nothing shared.
class SpinHistory {
 public:
  // Measured in a ping-pong on this 2-vCPU KVM guest (haltpoll cpuidle), quiet machine:
  // a cap of 4 us often missed the partner's wake-up from an idle vCPU (~5-8 us), fell
  // into sleep-sleep alternation and gave 15-49 us round trips; 8-16 us kept both sides
  // spinning (0.5-1.6 us, below std::binary_semaphore's ~4 us). Probing every 16th wait
  // with such a cap cost ~1.5 us a round trip when spins kept missing; every 64th, ~0.4.
  static constexpr std::uint32_t kCapNs = 12000;  // never spin longer than this
  static constexpr std::uint32_t kBaseNs = 2000;  // floor of the limit: a partner's answer
  static constexpr std::uint32_t kMaxMisses = 4;
  static constexpr std::uint32_t kProbeEvery = 64;

  SpinHistory() noexcept = default;
  SpinHistory(const SpinHistory&) = delete;
  SpinHistory& operator=(const SpinHistory&) = delete;

  /// Spins until ready() or the budget (or the deadline) runs out; records the outcome.
  /// Returns whether ready() turned true. Costs no clock read when ready() is true at once.
  template <class Pred>
  bool spin(Pred&& ready, const Deadline& deadline) noexcept {
    std::uint32_t h = word_.load(std::memory_order_relaxed);
    std::uint32_t avg = h & 0xffffu, misses = h >> 16;
    // The probe counter is the thread's own: a skipped spin writes nothing shared (the
    // history usually sits on the line the setter is about to write).
    static thread_local std::uint32_t t_skips = 0;
    if (misses >= kMaxMisses && ++t_skips % kProbeEvery != 0) return false;
    if (ready()) {
      if (misses != 0) word_.store(pack(avg, 0), std::memory_order_relaxed);
      return true;
    }
    std::uint32_t limit = 2 * avg + kBaseNs;
    if (limit > kCapNs) limit = kCapNs;
    const steady::time_point start = steady::now();
    steady::time_point stop = start + std::chrono::nanoseconds(limit);
    if (!deadline.is_never() && deadline.time_point() < stop) stop = deadline.time_point();
    for (;;) {
      for (int i = 0; i < kChecksPerClockRead; ++i) {
        if (ready()) {
          auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - start);
          std::int64_t ns = took.count() > 0xffff ? 0xffff : took.count();
          // avg += (took - avg) / 8, as glibc's adaptive mutex does.
          std::int64_t next = static_cast<std::int64_t>(avg) + (ns - static_cast<std::int64_t>(avg)) / 8;
          std::uint32_t now = pack(static_cast<std::uint32_t>(next), 0);
          if (now != h) word_.store(now, std::memory_order_relaxed);  // spare the shared line
          return true;
        }
        cpu_relax();
      }
      if (steady::now() >= stop) break;
    }
    if (ready()) return true;  // not worth a history update
    // A miss pulls the average towards the limit (so a slower partner gets a longer spin)
    // and counts towards switching the spin off.
    std::uint32_t next = avg + (limit > avg ? (limit - avg) / 8 : 0);
    if (misses < kMaxMisses || avg != next)
      word_.store(pack(next, misses < kMaxMisses ? misses + 1 : misses), std::memory_order_relaxed);
    return false;
  }

  /// For tests: whether the next waits skip their spin (recent spins all missed).
  bool spinning_off() const noexcept {
    return (word_.load(std::memory_order_relaxed) >> 16) >= kMaxMisses;
  }

 private:
  static constexpr int kChecksPerClockRead = 8;
  // avg: nanoseconds (at most kCapNs) in the low half; misses in a row (at most kMaxMisses)
  // in the high half.
  static std::uint32_t pack(std::uint32_t avg, std::uint32_t misses) noexcept {
    return (avg > 0xffffu ? 0xffffu : avg) | (misses << 16);
  }
  std::atomic<std::uint32_t> word_{0};
};

/// A full sequentially consistent fence, for the Dekker-style "publish, then look for
/// sleepers" handshakes of the waiting layer. GCC rejects std::atomic_thread_fence under
/// ThreadSanitizer (-Wtsan), which does not model fences anyway; there the hardware fence
/// is emitted directly, so the code TSan checks is the code that ships, with no extra
/// synchronisation that could hide a race.
inline void seq_cst_fence() noexcept {
#if defined(__SANITIZE_THREAD__) && (defined(__x86_64__) || defined(__i386__))
  asm volatile("mfence" ::: "memory");
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

/// The kernel thread id of the calling thread (gettid), cached. Unique among the live
/// threads of the whole system, so it can mark ownership also in shared memory. Never 0.
std::uint32_t current_tid() noexcept;

}  // namespace detail
}  // namespace tandem
