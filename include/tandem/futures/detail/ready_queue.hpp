// SPDX-License-Identifier: MIT
// <tandem/futures/detail/ready_queue.hpp> — a dispatcher's queue of tasks not yet sent to a
// worker (the process pool's and the MPI pool's), ordered by TaskOptions::priority (higher
// first), in submission order within a priority (detail). A task put back (its worker died)
// goes to the front of its priority. Every plain submit has priority 0 and stays in one deque:
// the common case costs what a deque costs. One thread only (the dispatcher's).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <vector>


namespace tandem::detail {

/// T: a task type with an `int priority` member.
template <class T>
class ReadyQueue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  void push_back(T* t) {
    queue_of(t->priority).push_back(t);
    ++size_;
  }
  void push_front(T* t) {
    queue_of(t->priority).push_front(t);
    ++size_;
  }
  /// The next task to send (the queue must not be empty).
  T* front() { return next_queue().front(); }
  T* pop_front() {
    std::deque<T*>& q = next_queue();
    T* t = q.front();
    q.pop_front();
    --size_;
    if (&q != &plain_ && q.empty()) other_.erase(t->priority);
    return t;
  }
  /// Empties the queue, returning its tasks in the order they would have been sent.
  std::vector<T*> take_all() {
    std::vector<T*> all;
    all.reserve(size_);
    while (!empty()) all.push_back(pop_front());
    return all;
  }

 private:
  std::deque<T*>& queue_of(int priority) {
    return priority == 0 ? plain_ : other_[priority];
  }
  std::deque<T*>& next_queue() {
    if (!other_.empty() && (other_.begin()->first > 0 || plain_.empty()))
      return other_.begin()->second;
    return plain_;
  }

  std::deque<T*> plain_;                                   // priority 0
  std::map<int, std::deque<T*>, std::greater<int>> other_;  // highest first; never empty
  std::size_t size_ = 0;
};

}  // namespace tandem::detail
