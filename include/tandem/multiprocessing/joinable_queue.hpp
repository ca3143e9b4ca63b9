// SPDX-License-Identifier: MIT
// tandem::mp::JoinableQueue<T> — multiprocessing.JoinableQueue (docs/multiprocessing.md#queues): an
// mp::Queue<T> that also counts unfinished tasks, in shared memory, for every process.
//
//   mp::JoinableQueue<Job> q;
//   worker:  for (;;) { Job j = q.get(); run(j); q.task_done(); }
//   parent:  for (auto& j : jobs) q.put(j);  q.join();      // every job done, in any process
//
// Guarantees (besides mp::Queue's)
//  * unfinished tasks = puts − task_done() calls − items removed by shutdown(immediate=true)
//    (never below zero), counted across all processes. task_done() with none unfinished
//    raises ValueError("task_done() called too many times") and changes nothing.
//  * join() blocks until the count is 0; join(timeout) returns false if it is not 0 in
//    time (a negative timeout counts as 0). join() never raises ShutDown.
//  * A task_done() happens-before the join() it lets return.
//  * Crash safety: the count moves with the very store that publishes an item, so a
//    producer killed mid-put never leaves a task that no item will finish; an immediate
//    shutdown's discard is journaled (byte_ring.hpp). A consumer killed after get() but
//    before task_done() leaves its task unfinished: join() then waits, as in Python —
//    recovering that is the application's decision (e.g. call task_done() for it when
//    the worker's death is observed).
// Cost: task_done takes the consumers' robust lock for a load and a store.
#pragma once

#include <chrono>
#include <cstddef>

#include "tandem/multiprocessing/queue.hpp"

namespace tandem::mp {

template <class T>
class JoinableQueue : public Queue<T> {
 public:
  explicit JoinableQueue(std::size_t maxsize = 0,
                         std::size_t ring_bytes = detail::kDefaultRingBytes)
      : Queue<T>(maxsize, ring_bytes) {}

  void task_done() { this->core_.task_done(); }
  void join() { this->core_.join(tandem::detail::Deadline::never()); }
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return this->core_.join(detail::mp_deadline(timeout));
  }
  /// Python's unfinished_tasks (a shared counter in JoinableQueue).
  std::size_t unfinished_tasks() const noexcept { return this->core_.unfinished_tasks(); }
};

}  // namespace tandem::mp
