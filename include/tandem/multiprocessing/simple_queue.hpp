// SPDX-License-Identifier: MIT
// tandem::mp::SimpleQueue<T> — multiprocessing.SimpleQueue (docs/multiprocessing.md#queues): put,
// get, empty, close; no maxsize, no task tracking, no shutdown.
//
// The same shared-memory ring as mp::Queue<T> (queue.hpp: sharing, crash safety, ordering,
// memory ordering and costs are the same), without the item bound.
// Differences from Python
//  * put blocks only while the ring (ring_bytes, 1 MiB by default) has no room for the item
//    — Python's SimpleQueue.put blocks likewise when its pipe is full. An item larger than
//    half the ring raises ValueError.
//  * put(item, timeout) and put_nowait(item) are added, as mp::Queue's: they raise Full
//    when the ring still has no room for the item when the timeout passes (at once for
//    put_nowait), and then the item is not queued. A negative timeout counts as 0. (Python
//    has neither: its put can block without bound on a full pipe.)
//  * get(timeout), get_nowait() (Empty) and try_get() are added (Python's SimpleQueue.get
//    has no timeout); a negative timeout counts as 0. qsize() is added.
//  * close() marks this process's handle only; later calls through it raise
//    ValueError("Queue is closed").
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

#include "tandem/multiprocessing/queue.hpp"

namespace tandem::mp {

template <class T>
class SimpleQueue {
 public:
  using value_type = T;

  explicit SimpleQueue(std::size_t ring_bytes = detail::kDefaultRingBytes) : q_(0, ring_bytes) {}
  SimpleQueue(const SimpleQueue&) = delete;
  SimpleQueue& operator=(const SimpleQueue&) = delete;

  void put(const T& item) { q_.put(item); }
  template <class Rep, class Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    q_.put(item, timeout);
  }
  void put_nowait(const T& item) { q_.put_nowait(item); }
  T get() { return q_.get(); }
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return q_.get(timeout);
  }
  T get_nowait() { return q_.get_nowait(); }
  std::optional<T> try_get() { return q_.try_get(); }
  template <class Rep, class Period>
  std::optional<T> try_get(std::chrono::duration<Rep, Period> timeout) {
    return q_.try_get(timeout);
  }
  bool empty() const noexcept { return q_.empty(); }
  std::size_t qsize() const noexcept { return q_.qsize(); }
  void close() noexcept { q_.close(); }

 private:
  Queue<T> q_;
};

}  // namespace tandem::mp
