// SPDX-License-Identifier: MIT
// tandem::wait and tandem::as_completed — concurrent.futures.wait / as_completed
// (docs/futures.md#waiting-on-many-futures).
//
// Both register one waiter per call on every future not yet done (as CPython's _Waiter: a
// done callback that counts completions and wakes the caller through a futex word), never
// poll, and unregister it before returning, so repeated timed waits on a long-lived future
// leave nothing behind.
//
// Guarantees
//  * wait(fs, [timeout], return_when) returns {done, not_done}; duplicates in `fs` appear once
//    (Python turns fs into a set; we keep the first occurrence's order). A timeout never
//    throws: it returns the split at that moment. FIRST_EXCEPTION returns once a future has
//    finished by raising, else behaves as ALL_COMPLETED.
//  * as_completed(fs, [timeout]) is a single-pass range: the futures already done first (in
//    input order), then the others in completion order. The deadline is fixed at the call;
//    when it passes, the iterator throws TimeoutError("N (of M) futures unfinished").
//    Futures already yielded are no longer referenced (bpo-27144); destroying the range
//    detaches its waiter.
//  * Called inside a ThreadPoolExecutor task, both run other queued tasks of that pool while
//    they wait (helping one pending future at a time), as result() does, so a task waiting
//    on the tasks it submitted never deadlocks the pool.
// Difference from Python (docs/futures.md#cancellation), deliberate: a future that was
//  cancelled counts as done at once — as done() says — instead of only after an executor
//  "notifies" the cancellation. So wait()/as_completed() never hang on futures cancelled by
//  shutdown(cancel_futures=True) (CPython gh-109934/gh-92001), and test_first_completed's
//  CANCELLED_FUTURE lands in `done`, not `not_done`.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/futures/future.hpp"
#include "tandem/futures/detail/pull_range.hpp"

namespace tandem {

enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };

template <class T>
struct DoneAndNotDone {
  std::vector<Future<T>> done, not_done;
};

namespace detail {

/// One wait()/as_completed() call's waiter. Shared with the callbacks it registers, which
/// may still run (and find it) after the call returned.
struct CompletionWaiter {
  std::atomic<std::uint32_t> completions{0};  // futex word
  std::atomic<std::uint32_t> failures{0};
  FutexMutex mu;
  std::vector<FutureCore*> finished;  // as_completed's order; guarded by mu

  void on_done(FutureCore& f, bool record) {
    if (record) {
      mu.lock();
      finished.push_back(&f);
      mu.unlock();
    }
    if (f.has_exception()) failures.fetch_add(1, std::memory_order_relaxed);
    completions.fetch_add(1, std::memory_order_release);
    futex_wake_all(completions);
  }
};

template <class T>
std::vector<Future<T>> unique_futures(const std::vector<Future<T>>& fs) {
  std::vector<Future<T>> out;
  out.reserve(fs.size());
  std::unordered_set<const void*> seen;
  for (const Future<T>& f : fs)
    if (seen.insert(f.state()).second) out.push_back(f);
  return out;
}

template <class T>
DoneAndNotDone<T> wait_impl(const std::vector<Future<T>>& input, Deadline deadline,
                            ReturnWhen when) {
  std::vector<Future<T>> fs = unique_futures(input);
  auto split = [&] {
    DoneAndNotDone<T> r;
    for (Future<T>& f : fs) (f.done() ? r.done : r.not_done).push_back(f);
    return r;
  };
  auto satisfied = [&](std::size_t n_done, std::size_t n_failed, std::size_t n_pending) {
    if (n_pending == 0) return true;
    if (when == ReturnWhen::FIRST_COMPLETED) return n_done > 0;
    if (when == ReturnWhen::FIRST_EXCEPTION) return n_failed > 0;
    return false;
  };
  std::size_t n_done = 0, n_failed = 0;
  std::vector<bool> counted(fs.size());
  for (std::size_t i = 0; i < fs.size(); ++i) {
    if (fs[i].done()) {
      counted[i] = true;
      ++n_done;
      if (fs[i].state()->has_exception()) ++n_failed;
    }
  }
  if (satisfied(n_done, n_failed, fs.size() - n_done) || deadline.expired()) return split();

  auto waiter = std::make_shared<CompletionWaiter>();
  std::vector<std::pair<FutureCore*, std::uint64_t>> registered;
  registered.reserve(fs.size());
  for (std::size_t i = 0; i < fs.size(); ++i) {
    // Only the futures counted above are skipped: one that finished since then is not in
    // n_done, so it must reach `completions` (try_add_callback returns 0, on_done counts it).
    if (counted[i]) continue;
    Future<T>& f = fs[i];
    std::uint64_t id =
        f.state()->try_add_callback([waiter](FutureCore& c) { waiter->on_done(c, false); });
    if (id == 0)
      waiter->on_done(*f.state(), false);
    else
      registered.emplace_back(f.state(), id);
  }
  std::size_t pending = fs.size() - n_done;
  for (;;) {
    std::uint32_t seen = waiter->completions.load(std::memory_order_acquire);
    if (satisfied(n_done + seen, n_failed + waiter->failures.load(std::memory_order_relaxed),
                  pending - seen))
      break;
    if (t_wait_helper) {
      // Inside a pool worker: run queued tasks while waiting (as result() does), so that a
      // task waiting on its subtasks never deadlocks the pool. We help until one pending
      // future is done, then look again.
      FutureCore* target = nullptr;
      for (auto& reg : registered)
        if (!reg.first->done()) {
          target = reg.first;
          break;
        }
      if (target) {
        if (!target->wait_done_helping(deadline) && deadline.expired()) break;
        continue;
      }
    }
    if (!futex_wait(waiter->completions, seen, deadline) && deadline.expired()) break;
  }
  for (auto& [core, id] : registered) core->remove_callback(id);
  return split();
}

}  // namespace detail

template <class T>
DoneAndNotDone<T> wait(const std::vector<Future<T>>& fs,
                       ReturnWhen return_when = ReturnWhen::ALL_COMPLETED) {
  return detail::wait_impl(fs, detail::Deadline::never(), return_when);
}
template <class T>
DoneAndNotDone<T> wait(const std::vector<Future<T>>& fs, duration timeout,
                       ReturnWhen return_when = ReturnWhen::ALL_COMPLETED) {
  return detail::wait_impl(fs, detail::clamped_deadline(timeout), return_when);
}

/// The range returned by as_completed(). Single pass; move-only.
template <class T>
class AsCompleted : public detail::PullRange<AsCompleted<T>, Future<T>> {
  friend detail::PullRange<AsCompleted, Future<T>>;

 public:
  AsCompleted(std::vector<Future<T>> fs, detail::Deadline deadline)
      : deadline_(deadline), waiter_(std::make_shared<detail::CompletionWaiter>()) {
    fs = detail::unique_futures(fs);
    total_ = fs.size();
    for (Future<T>& f : fs) {
      if (f.done()) {
        ready_.push_back(std::move(f));
        continue;
      }
      std::weak_ptr<detail::CompletionWaiter> w = waiter_;
      std::uint64_t id = f.state()->try_add_callback([w](detail::FutureCore& c) {
        if (auto sp = w.lock()) sp->on_done(c, true);
      });
      if (id == 0) {
        ready_.push_back(std::move(f));
      } else {
        pending_.push_back(Pending{std::move(f), id});
      }
    }
  }
  AsCompleted(AsCompleted&&) noexcept = default;
  AsCompleted& operator=(AsCompleted&&) noexcept = default;
  ~AsCompleted() {
    for (Pending& p : pending_)
      if (p.f.state()) p.f.state()->remove_callback(p.id);
  }

  std::size_t size() const noexcept { return total_; }

 private:
  struct Pending {
    Future<T> f;
    std::uint64_t id;
  };

  void advance() {
    current_.reset();
    if (next_ready_ < ready_.size()) {
      current_ = std::move(ready_[next_ready_++]);
      return;
    }
    if (pending_.empty()) return;
    for (;;) {
      detail::FutureCore* c = nullptr;
      waiter_->mu.lock();
      if (consumed_ < waiter_->finished.size()) c = waiter_->finished[consumed_++];
      waiter_->mu.unlock();
      if (c) {
        for (auto it = pending_.begin(); it != pending_.end(); ++it) {
          if (it->f.state() == c) {
            current_ = std::move(it->f);
            pending_.erase(it);
            return;
          }
        }
        continue;
      }
      std::uint32_t seen = waiter_->completions.load(std::memory_order_acquire);
      waiter_->mu.lock();
      bool more = consumed_ < waiter_->finished.size();
      waiter_->mu.unlock();
      if (more) continue;
      if (detail::t_wait_helper) {
        // Inside a pool worker: help run queued tasks until one pending future is done.
        detail::FutureCore* target = nullptr;
        for (Pending& p : pending_)
          if (!p.f.done()) {
            target = p.f.state();
            break;
          }
        if (target && (target->wait_done_helping(deadline_) || !deadline_.expired())) continue;
      }
      if (!detail::futex_wait(waiter_->completions, seen, deadline_) && deadline_.expired()) {
        waiter_->mu.lock();
        more = consumed_ < waiter_->finished.size();
        waiter_->mu.unlock();
        if (more) continue;
        char buf[80];
        std::snprintf(buf, sizeof buf, "%zu (of %zu) futures unfinished", pending_.size(),
                      total_);
        throw TimeoutError(buf);
      }
    }
  }

  detail::Deadline deadline_;
  std::shared_ptr<detail::CompletionWaiter> waiter_;
  std::vector<Future<T>> ready_;
  std::size_t next_ready_ = 0;
  std::vector<Pending> pending_;
  std::size_t consumed_ = 0;
  std::size_t total_ = 0;
  std::optional<Future<T>> current_;
};

template <class T>
AsCompleted<T> as_completed(std::vector<Future<T>> fs) {
  return AsCompleted<T>(std::move(fs), detail::Deadline::never());
}
template <class T>
AsCompleted<T> as_completed(std::vector<Future<T>> fs, duration timeout) {
  return AsCompleted<T>(std::move(fs), detail::clamped_deadline(timeout));
}

}  // namespace tandem
