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
