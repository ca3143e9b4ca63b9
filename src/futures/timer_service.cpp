// SPDX-License-Identifier: MIT
// The process's timer thread (see <tandem/futures/detail/timer_service.hpp> for the design).
#include "tandem/futures/detail/timer_service.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <new>
#include <thread>
#include <vector>

#include "detail/thread_names.hpp"
#include "futures/timer_heap.hpp"
#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"

namespace tandem::detail {

class TimerService::Impl {
 public:
  void add(TimerNode* n, std::int64_t due) {
    mu_.lock();
    if (n->owner && n->owner->closed.load(std::memory_order_relaxed)) {
      mu_.unlock();
      throw RuntimeError("cannot schedule new futures after shutdown");
    }
    try {
      heap_.push(TimerHeap::Entry{due, next_seq_++, n});
    } catch (...) {
      mu_.unlock();
      throw;
    }
    n->timer_state.store(TimerNode::kQueued, std::memory_order_relaxed);
    bool wake = false;
    if (!started_) {
      try {
        std::thread([this] { loop(); }).detach();
        started_ = true;
      } catch (...) {
        heap_.filter([n](const TimerHeap::Entry& e) { return e.node != n; });
        n->timer_state.store(TimerNode::kIdle, std::memory_order_relaxed);
        mu_.unlock();
        throw;
      }
    } else if (due < sleep_until_ && heap_.top().node == n) {
      sleep_until_ = due;  // no second wake for a burst of ever earlier timers
      wake = true;
      word_.fetch_add(1, std::memory_order_relaxed);
    }
    mu_.unlock();
    if (wake) futex_wake(word_, 1);
  }

  bool cancel(TimerNode* n) noexcept {
    mu_.lock();
    std::uint8_t st = TimerNode::kQueued;
    const bool was_queued = n->timer_state.compare_exchange_strong(
        st, TimerNode::kCancelled, std::memory_order_acq_rel, std::memory_order_relaxed);
    std::vector<TimerNode*> dead;
    if (was_queued && ++cancelled_ > 64 && 2 * cancelled_ > heap_.size()) {
      // More dead entries than live ones: rebuild without them (asyncio's rule).
      try {
        dead.reserve(cancelled_);
        remove_if([](TimerNode* x) {
          return x->timer_state.load(std::memory_order_relaxed) == TimerNode::kCancelled;
        }, dead);
        cancelled_ = 0;
      } catch (...) {  // no memory for the list: rebuild another time
      }
    }
    mu_.unlock();
    for (TimerNode* d : dead) d->discard();
    return was_queued;
  }

  void close_owner(TimerOwner& o) noexcept {
    std::vector<TimerNode*> mine;
    mu_.lock();
    o.closed.store(true, std::memory_order_relaxed);
    std::vector<char> was_cancelled;
    try {
      remove_if([&o](TimerNode* x) { return x->owner == &o; }, mine);
      was_cancelled.reserve(mine.size());
    } catch (...) {  // no memory for the lists: its timers fire (or are refused) when due
    }
    if (was_cancelled.capacity() < mine.size()) mine.clear();  // (only after a failure)
    for (TimerNode* n : mine)  // under the lock, so that no cancel() races with this
      was_cancelled.push_back(n->timer_state.exchange(TimerNode::kFiring,
                                                      std::memory_order_acq_rel) ==
                              TimerNode::kCancelled);
    const std::uint32_t batch = batch_.load(std::memory_order_relaxed);
    mu_.unlock();
    for (std::size_t i = 0; i < mine.size(); ++i) {
      if (was_cancelled[i])
        mine[i]->discard();
      else
        mine[i]->drop();
    }
    // A batch under way may hold this owner's nodes taken before the close: wait for it.
    if ((batch & 1) && !t_is_timer_thread) {
      fire_waiters_.fetch_add(1, std::memory_order_seq_cst);
      while (batch_.load(std::memory_order_seq_cst) == batch) futex_wait(batch_, batch);
      fire_waiters_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  std::size_t size() noexcept {
    mu_.lock();
    std::size_t n = heap_.size() - cancelled_;
    mu_.unlock();
    return n;
  }

  // fork() child: only the forking thread exists; the parent's timers are not ours.
  void reset_in_child() noexcept {
    ::new (&mu_) FutexMutex();
    heap_.clear();
    cancelled_ = 0;
    started_ = false;
    sleep_until_ = kAwake;
    batch_.store(0, std::memory_order_relaxed);
    fire_waiters_.store(0, std::memory_order_relaxed);
  }
  FutexMutex& mutex() noexcept { return mu_; }

 private:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  static constexpr std::int64_t kAwake = std::numeric_limits<std::int64_t>::min();
  static constexpr std::size_t kBatch = 256;


  /// Under the lock: moves the nodes of the entries matching `pred` to `out` (which must have
  /// room: reserve first), keeps the cancelled count right, and re-heapifies. O(n).
  template <class Pred>
  void remove_if(Pred pred, std::vector<TimerNode*>& out) {
    out.reserve(out.size() + heap_.size());
    heap_.filter([&](const TimerHeap::Entry& e) {
      TimerNode* x = e.node;
      if (!pred(x)) return true;
      if (x->timer_state.load(std::memory_order_relaxed) == TimerNode::kCancelled && cancelled_)
        --cancelled_;
      out.push_back(x);  // reserved: cannot throw
      return false;
    });
  }

  void loop() noexcept {
    t_is_timer_thread = true;
    name_this_thread("tandem-timers", "tandem-timers");
    TimerNode* due[kBatch];
    bool fire[kBatch];
    mu_.lock();
    for (;;) {
      const std::int64_t now = steady_ns();
      std::size_t k = 0;
      // Two passes: the nodes lie wherever their tasks were allocated, in add order, and
      // are popped in deadline order — a cache miss each. Popping the batch first and
      // prefetching every node lets those misses overlap instead of following each other.
      while (k < kBatch && !heap_.empty() && heap_.top().due <= now) {
        TimerNode* n = heap_.top().node;
        heap_.pop();
        __builtin_prefetch(n, 1);
        due[k++] = n;
      }
      for (std::size_t i = 0; i < k; ++i) {
        std::uint8_t st = TimerNode::kQueued;
        fire[i] = due[i]->timer_state.compare_exchange_strong(st, TimerNode::kFiring,
                                                              std::memory_order_acq_rel);
        if (!fire[i] && cancelled_) --cancelled_;
      }
      if (k > 0) {
        batch_.fetch_add(1, std::memory_order_relaxed);  // odd: firing
        mu_.unlock();
        for (std::size_t i = 0; i < k; ++i) {
          if (fire[i])
            due[i]->fire();
          else
            due[i]->discard();
        }
        batch_.fetch_add(1, std::memory_order_seq_cst);
        if (fire_waiters_.load(std::memory_order_seq_cst) != 0) futex_wake_all(batch_);
        mu_.lock();
        continue;
      }
      sleep_until_ = heap_.empty() ? kNever : heap_.top().due;
      const std::uint32_t key = word_.load(std::memory_order_relaxed);
      const std::int64_t until = sleep_until_;
      mu_.unlock();
      if (until == kNever) {
        futex_wait(word_, key);
      } else {
        futex_wait(word_, key,
                   Deadline::at(std::chrono::steady_clock::time_point(
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::nanoseconds(until)))));
      }
      mu_.lock();
      sleep_until_ = kAwake;  // add() need not wake us: we look at the heap before sleeping
    }
  }

  static inline thread_local bool t_is_timer_thread = false;

  FutexMutex mu_;
  TimerHeap heap_;                 // guarded by mu_
  std::size_t cancelled_ = 0;      // guarded by mu_: entries of cancelled nodes still in heap_
  std::uint64_t next_seq_ = 0;     // guarded by mu_
  bool started_ = false;           // guarded by mu_
  std::int64_t sleep_until_ = kAwake;  // guarded by mu_: what the thread sleeps until
  std::atomic<std::uint32_t> word_{0};   // futex word the thread sleeps on
  std::atomic<std::uint32_t> batch_{0};  // odd while a batch fires
  std::atomic<std::uint32_t> fire_waiters_{0};
};

namespace {

// Atomic although glibc's lock on its atfork list already orders the store before any fork
// that runs the handlers: ThreadSanitizer cannot see that lock and would report a race.
std::atomic<TimerService::Impl*> g_impl{nullptr};

TimerService::Impl& forking_impl() noexcept { return *g_impl.load(std::memory_order_acquire); }
void fork_prepare() noexcept { forking_impl().mutex().lock(); }
void fork_parent() noexcept { forking_impl().mutex().unlock(); }
void fork_child() noexcept { forking_impl().reset_in_child(); }

TimerService::Impl& impl() {
  static TimerService::Impl* p = [] {
    auto* created = new TimerService::Impl;  // never freed: timers may be used at exit
    g_impl.store(created, std::memory_order_release);
    pthread_atfork(&fork_prepare, &fork_parent, &fork_child);
    return created;
  }();
  return *p;
}

}  // namespace

TimerService& TimerService::instance() {
  static TimerService s;
  impl();
  return s;
}

void TimerService::add(TimerNode* n, std::int64_t due_ns) { impl().add(n, due_ns); }
bool TimerService::cancel(TimerNode* n) noexcept { return impl().cancel(n); }
void TimerService::close_owner(TimerOwner& o) noexcept { impl().close_owner(o); }
std::size_t TimerService::size() const noexcept { return impl().size(); }

}  // namespace tandem::detail
