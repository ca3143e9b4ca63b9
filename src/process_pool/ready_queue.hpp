// SPDX-License-Identifier: MIT
// Internal to the process pool: the dispatcher's queue of tasks not yet sent to a worker,
// ordered by TaskOptions::priority (higher first), in submission order within a priority.
// A task re-queued from a dead worker goes back to the front of its priority. Every plain
// submit has priority 0 and stays in one deque: the common case costs what a deque costs.
// Dispatcher thread only. Not installed.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "tandem/process_pool/detail/task.hpp"

namespace tandem::detail {

class ReadyQueue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  void push_back(PTask* t) {
    queue_of(t->priority).push_back(t);
    ++size_;
  }
  void push_front(PTask* t) {
    queue_of(t->priority).push_front(t);
    ++size_;
  }
  /// The next task to send (the queue must not be empty).
  PTask* pop_front() {
    std::deque<PTask*>& q = next_queue();
    PTask* t = q.front();
    q.pop_front();
    --size_;
    if (&q != &plain_ && q.empty()) other_.erase(t->priority);
    return t;
  }
  /// Empties the queue, returning its tasks in the order they would have been sent.
  std::vector<PTask*> take_all() {
    std::vector<PTask*> all;
    all.reserve(size_);
    while (!empty()) all.push_back(pop_front());
    return all;
  }

 private:
  std::deque<PTask*>& queue_of(int priority) {
    return priority == 0 ? plain_ : other_[priority];
  }
  std::deque<PTask*>& next_queue() {
    if (!other_.empty() && (other_.begin()->first > 0 || plain_.empty()))
      return other_.begin()->second;
    return plain_;
  }

  std::deque<PTask*> plain_;                                   // priority 0
  std::map<int, std::deque<PTask*>, std::greater<int>> other_;  // highest first; never empty
  std::size_t size_ = 0;
};

}  // namespace tandem::detail
