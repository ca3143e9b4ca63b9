// SPDX-License-Identifier: MIT
// tandem::scheduler (<tandem/sched.hpp>), after CPython's Lib/sched.py: the same loop in run()
// (look at the first event under the lock; run it outside the lock, or wait for it), over an
// ordered map instead of a heap so that cancel() is O(log n) rather than list.remove's O(n).
#include "tandem/sched.hpp"

#include <thread>

#include "tandem/errors.hpp"

namespace tandem {

scheduler::scheduler(std::function<time_point()> timefunc, std::function<void(duration)> delayfunc)
    : timefunc_(std::move(timefunc)), delayfunc_(std::move(delayfunc)) {
  if (!timefunc_ || !delayfunc_) throw ValueError("scheduler needs a time and a delay function");
}

EventHandle scheduler::add(time_point time, int priority, std::function<void()> action) {
  std::lock_guard<Lock> g(lock_);
  const SchedEvent e{time, priority, next_sequence_++};
  const auto it = q_.emplace(e, std::move(action)).first;
  // A runner waits for the first event; only a new first event changes what it waits for.
  if (it == q_.begin()) changed_.notify_all();
  return e;
}

void scheduler::cancel(const EventHandle& event) {
  std::lock_guard<Lock> g(lock_);
  const auto it = q_.find(event);
  if (it == q_.end()) throw ValueError("list.remove(x): x not in list");
  const bool first = it == q_.begin();
  q_.erase(it);
  if (first) changed_.notify_all();
}

bool scheduler::empty() const {
  std::lock_guard<Lock> g(lock_);
  return q_.empty();
}

std::vector<EventHandle> scheduler::queue() const {
  std::lock_guard<Lock> g(lock_);
  std::vector<EventHandle> out;
  out.reserve(q_.size());
  for (const auto& [e, action] : q_) out.push_back(e);
  return out;
}

std::optional<duration> scheduler::run(bool blocking) {
  for (;;) {
    std::function<void()> action;
    duration delay{0};
    {
      std::lock_guard<Lock> g(lock_);
      if (q_.empty()) return std::nullopt;
      const auto first = q_.begin();
      const time_point t = now();
      if (first->first.time > t) {
        delay = std::chrono::duration_cast<duration>(first->first.time - t);
        if (!blocking) return delay;
        if (!delayfunc_) {
          // Woken by a notify (a new first event, a cancel) or the delay: look again.
          changed_.wait(delay);
          continue;
        }
      } else {
        action = std::move(first->second);
        q_.erase(first);
      }
    }
    if (!action) {  // a custom delay function: Python's delayfunc(time - now), unlocked
      delayfunc_(delay);
      continue;
    }
    action();
    if (delayfunc_) {
      delayfunc_(duration(0));  // Python's "let other threads run"
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace tandem
