// SPDX-License-Identifier: MIT
// tandem::Queue, LifoQueue, PriorityQueue — queue.Queue, queue.LifoQueue and
// queue.PriorityQueue of Python 3.13 (docs/queue.md).
//
//   tandem::Queue<int> q(1024);          // q = queue.Queue(1024)
//   q.put(1);  int x = q.get();  q.task_done();  q.join();
//   q.shutdown();                        // 3.13: later puts raise ShutDown, gets drain
//   for (int item : q) { ... }           // gets until shut down and drained
//
// Guarantees (all three classes)
//  * put(item) blocks while the queue holds maxsize items (maxsize 0: never full); put with a
//    timeout raises Full when it passes; put_nowait raises Full at once. Every put raises
//    ShutDown once shutdown() has been called, including puts blocked at that moment.
//  * get() blocks while empty; get(timeout) and get_nowait() raise Empty. Once shut down
//    and drained every get raises ShutDown (getters blocked at that moment wake and raise).
//  * task_done() lowers the count of unfinished tasks (puts not yet task_done'd);
//    ValueError("task_done() called too many times") when it is 0, count unchanged. join()
//    blocks until the count is 0; it never raises ShutDown.
//  * shutdown(immediate=false): exactly Python 3.13. Non-immediate: gets return every item
//    put before the shutdown, then raise ShutDown. Immediate: removes every queued item,
//    lowering unfinished tasks once per removed item (items already taken but not
//    task_done'd still count), wakes join() waiters, and gets raise ShutDown at once.
//    shutdown() then shutdown(true) is allowed; shut down is forever.
//  * A put that races with shutdown() either raises ShutDown or its item is treated as put
//    before the shutdown (drained by gets, or removed by an immediate shutdown): an item is
//    never silently stranded.
//  * Exception safety: the item is moved in and out; a copy, move or comparison that throws
//    leaves the queue's size and counters unchanged (the item stays queued, or is not put).
//    One caveat: get() moves the item out of the queue into a local optional and then into
//    its return value; if T's move throws at that second step (the item has already left
//    the queue) the item is lost. try_get() returns that optional itself (NRVO), so a T
//    whose move may throw is safest taken with try_get().
//  * Move-only T (std::unique_ptr, ...) works throughout.
// Memory ordering: a put happens-before the get that returns its item; a task_done()
//  happens-before the join() it lets return; shutdown() happens-before the ShutDown it
//  causes.
// Order: Queue FIFO; LifoQueue LIFO; PriorityQueue smallest first by Compare (a binary heap,
//  not stable — use (priority, sequence, item) tuples for FIFO among equals, as in Python).
// Cost: a bounded Queue<T> whose T moves without throwing runs on a lock-free ring
//  (ring_engine.hpp, Vyukov's bounded MPMC queue): put is one CAS, get one CAS, task_done one
//  CAS (unfinished tasks = the ring's own put count minus a task_done count, so put touches
//  no shared counter), and no fence on these paths: the wake-up handshake uses an asymmetric
//  fence (asymmetric_fence.hpp) whose costly half (membarrier(2), ~0.5 us) only a thread
//  about to sleep pays. No system call unless a thread must sleep (a would-be sleeper spins
//  briefly first, never yields: see notifier.hpp). Unbounded queues, LifoQueue, PriorityQueue and T
//  with a throwing move use a futex mutex around std::deque / a heap (locked_engine.hpp).
//  qsize/empty/full never lock. Heap push/pop are O(log n); the rest O(1).
// Differences from Python
//  * maxsize is fixed at construction (Python re-reads the attribute; test_shrinking_queue
//    does not apply). maxsize 0 is unbounded; size_t has no negative values.
//  * put(item, timeout) with a negative timeout raises ValueError("'timeout' must be a
//    non-negative number") only when the queue is bounded — as Python, whose unbounded put
//    never looks at the timeout (kept on purpose: docs/queue.md#timeouts). get(timeout)
//    and try_get(timeout) raise it whenever the timeout is negative, even with items queued.
//  * Timeouts are std::chrono durations; the block=False forms are put_nowait/get_nowait.
//  * try_get() / try_get(timeout) (not in Python) return std::nullopt instead of raising
//    Empty, and also when the queue is shut down and drained (check is_shutdown() to tell).
//  * join(timeout) (not in Python) returns false when the timeout passes first.
//  * unfinished_tasks() reads Python's attribute of that name.
//  * Range-for (not in Python): `for (T item : q)` gets items until the queue is shut down
//    and drained; an input range whose iterator does get().
#pragma once

#include <cstddef>
#include <functional>
#include <utility>

#include "tandem/queue/detail/basic_queue.hpp"
#include "tandem/queue/detail/containers.hpp"
#include "tandem/queue/detail/fifo_engine.hpp"
#include "tandem/queue/detail/locked_engine.hpp"

namespace tandem {

/// queue.Queue: FIFO.
template <class T>
class Queue : public detail::BasicQueue<T, detail::FifoEngine<T>> {
  using Base = detail::BasicQueue<T, detail::FifoEngine<T>>;

 public:
  explicit Queue(std::size_t maxsize = 0) : Base(maxsize) {}
};

/// queue.LifoQueue: last in, first out.
template <class T>
class LifoQueue
    : public detail::BasicQueue<T, detail::LockedEngine<T, detail::LifoContainer<T>>> {
  using Base = detail::BasicQueue<T, detail::LockedEngine<T, detail::LifoContainer<T>>>;

 public:
  explicit LifoQueue(std::size_t maxsize = 0) : Base(maxsize) {}
};

/// queue.PriorityQueue: smallest first by Compare (std::less: `a < b`, as heapq).
template <class T, class Compare = std::less<T>>
class PriorityQueue
    : public detail::BasicQueue<T, detail::LockedEngine<T, detail::HeapContainer<T, Compare>>> {
  using Base = detail::BasicQueue<T, detail::LockedEngine<T, detail::HeapContainer<T, Compare>>>;

 public:
  explicit PriorityQueue(std::size_t maxsize = 0, Compare comp = Compare())
      : Base(maxsize, std::move(comp)) {}
};

}  // namespace tandem
