// SPDX-License-Identifier: MIT
// The process's timer thread (see <tandem/futures/detail/timer_service.hpp> for the design).
#include "tandem/futures/detail/timer_service.hpp"

#include <pthread.h>

#include <limits>
#include <new>
#include <thread>
#include <vector>

#include "detail/thread_names.hpp"
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
    n->due = due;
    n->seq = next_seq_++;
    try {
      heap_.push_back(n);
    } catch (...) {
      mu_.unlock();
      throw;
    }
    n->heap_index = static_cast<std::int64_t>(heap_.size() - 1);
    sift_up(heap_.size() - 1);
    bool wake = false;
    if (!started_) {
      try {
        std::thread([this] { loop(); }).detach();
        started_ = true;
      } catch (...) {
        erase_at(static_cast<std::size_t>(n->heap_index));
        mu_.unlock();
        throw;
      }
    } else if (heap_[0] == n && due < sleep_until_) {
      sleep_until_ = due;  // no second wake for a burst of ever earlier timers
      wake = true;
      word_.fetch_add(1, std::memory_order_relaxed);
    }
    mu_.unlock();
    if (wake) futex_wake(word_, 1);
  }

  bool remove(TimerNode* n) noexcept {
    mu_.lock();
    bool queued = n->heap_index >= 0;
    if (queued) erase_at(static_cast<std::size_t>(n->heap_index));
    mu_.unlock();
    return queued;
  }

  void close_owner(TimerOwner& o) noexcept {
    std::vector<TimerNode*> mine;
    mu_.lock();
    o.closed.store(true, std::memory_order_relaxed);
    // Keep the others in place, then heapify: one pass whatever the number removed.
    std::size_t keep = 0;
    for (std::size_t i = 0; i < heap_.size(); ++i) {
      TimerNode* n = heap_[i];
      if (n->owner != &o) {
        heap_[keep++] = n;
        continue;
      }
      n->heap_index = -1;
      try {
        mine.push_back(n);
      } catch (...) {
        n->drop();  // out of memory: drop it under the lock (drop never takes it)
      }
    }
    heap_.resize(keep);
    for (std::size_t i = 0; i < keep; ++i) heap_[i]->heap_index = static_cast<std::int64_t>(i);
    for (std::size_t i = keep / 2; i-- > 0;) sift_down(i);
    const std::uint32_t batch = batch_.load(std::memory_order_relaxed);
    mu_.unlock();
    for (TimerNode* n : mine) n->drop();
    // A batch under way may hold this owner's nodes taken before the close: wait for it.
    if ((batch & 1) && !on_timer_thread()) {
      fire_waiters_.fetch_add(1, std::memory_order_seq_cst);
      while (batch_.load(std::memory_order_seq_cst) == batch) futex_wait(batch_, batch);
      fire_waiters_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  std::size_t size() noexcept {
    mu_.lock();
    std::size_t n = heap_.size();
    mu_.unlock();
    return n;
  }

  // fork() child: only the forking thread exists; the parent's timers are not ours.
  void reset_in_child() noexcept {
    ::new (&mu_) FutexMutex();
    for (TimerNode* n : heap_) n->heap_index = -1;
    heap_.clear();
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

  static bool before(const TimerNode* a, const TimerNode* b) noexcept {
    return a->due != b->due ? a->due < b->due : a->seq < b->seq;
  }
  void place(std::size_t i, TimerNode* n) noexcept {
    heap_[i] = n;
    n->heap_index = static_cast<std::int64_t>(i);
  }
  void sift_up(std::size_t i) noexcept {
    TimerNode* n = heap_[i];
    while (i > 0) {
      std::size_t p = (i - 1) / 2;
      if (!before(n, heap_[p])) break;
      place(i, heap_[p]);
      i = p;
    }
    place(i, n);
  }
  void sift_down(std::size_t i) noexcept {
    TimerNode* n = heap_[i];
    const std::size_t size = heap_.size();
    for (;;) {
      std::size_t c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size && before(heap_[c + 1], heap_[c])) ++c;
      if (!before(heap_[c], n)) break;
      place(i, heap_[c]);
      i = c;
    }
    place(i, n);
  }
  void erase_at(std::size_t i) noexcept {
    TimerNode* gone = heap_[i];
    gone->heap_index = -1;
    TimerNode* last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    place(i, last);
    if (i > 0 && before(last, heap_[(i - 1) / 2]))
      sift_up(i);
    else
      sift_down(i);
  }

  bool on_timer_thread() const noexcept { return t_is_timer_thread; }

  void loop() noexcept {
    t_is_timer_thread = true;
    name_this_thread("tandem-timers", "tandem-timers");
    TimerNode* due[kBatch];
    mu_.lock();
    for (;;) {
      const std::int64_t now = steady_ns();
      std::size_t k = 0;
      while (k < kBatch && !heap_.empty() && heap_[0]->due <= now) {
        due[k++] = heap_[0];
        erase_at(0);
      }
      if (k > 0) {
        batch_.fetch_add(1, std::memory_order_relaxed);  // odd: firing
        mu_.unlock();
        for (std::size_t i = 0; i < k; ++i) due[i]->fire();
        batch_.fetch_add(1, std::memory_order_seq_cst);
        if (fire_waiters_.load(std::memory_order_seq_cst) != 0) futex_wake_all(batch_);
        mu_.lock();
        continue;
      }
      sleep_until_ = heap_.empty() ? kNever : heap_[0]->due;
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
  std::vector<TimerNode*> heap_;  // guarded by mu_
  std::uint64_t next_seq_ = 0;    // guarded by mu_
  bool started_ = false;          // guarded by mu_
  std::int64_t sleep_until_ = kAwake;  // guarded by mu_: what the thread sleeps until
  std::atomic<std::uint32_t> word_{0};   // futex word the thread sleeps on
  std::atomic<std::uint32_t> batch_{0};  // odd while a batch fires
  std::atomic<std::uint32_t> fire_waiters_{0};
};

namespace {

TimerService::Impl* g_impl = nullptr;

void fork_prepare() noexcept { g_impl->mutex().lock(); }
void fork_parent() noexcept { g_impl->mutex().unlock(); }
void fork_child() noexcept { g_impl->reset_in_child(); }

TimerService::Impl& impl() {
  static TimerService::Impl* p = [] {
    g_impl = new TimerService::Impl;  // never freed: timers may be used at exit
    pthread_atfork(&fork_prepare, &fork_parent, &fork_child);
    return g_impl;
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
bool TimerService::remove(TimerNode* n) noexcept { return impl().remove(n); }
void TimerService::close_owner(TimerOwner& o) noexcept { impl().close_owner(o); }
std::size_t TimerService::size() const noexcept { return impl().size(); }

}  // namespace tandem::detail
