// SPDX-License-Identifier: MIT
// The textbook bounded queue: std::mutex + two condition variables + std::deque, with
// Python's task_done()/join() bookkeeping (an unfinished-task count and a third condition
// variable), written the way queue.Queue itself is written (Lib/queue.py). It is the peer
// that tandem::Queue must beat on the same workload, so it pays for the same semantics.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <stdexcept>

namespace tandem_bench {

template <class T>
class MutexQueue {
 public:
  explicit MutexQueue(std::size_t maxsize) : maxsize_(maxsize) {}

  void put(T item) {
    std::unique_lock lk(m_);
    not_full_.wait(lk, [&] { return maxsize_ == 0 || q_.size() < maxsize_; });
    q_.push_back(std::move(item));
    ++unfinished_;
    lk.unlock();
    not_empty_.notify_one();
  }

  T get() {
    std::unique_lock lk(m_);
    not_empty_.wait(lk, [&] { return !q_.empty(); });
    T item = std::move(q_.front());
    q_.pop_front();
    lk.unlock();
    not_full_.notify_one();
    return item;
  }

  void task_done() {
    std::lock_guard lk(m_);
    if (unfinished_ == 0) throw std::logic_error("task_done() called too many times");
    if (--unfinished_ == 0) all_done_.notify_all();
  }

  void join() {
    std::unique_lock lk(m_);
    all_done_.wait(lk, [&] { return unfinished_ == 0; });
  }

 private:
  std::mutex m_;
  std::condition_variable not_empty_, not_full_, all_done_;
  std::deque<T> q_;
  std::size_t maxsize_;
  std::size_t unfinished_ = 0;
};

}  // namespace tandem_bench
