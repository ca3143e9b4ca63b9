// SPDX-License-Identifier: MIT
// tandem::mp::Queue<T> — multiprocessing.Queue (docs/multiprocessing.md#queues), with the
// interface of tandem::Queue (queue.Queue, docs/queue.md) and Python 3.13's shutdown.
//
//   tandem::mp::Queue<std::string> q(100);      // q = multiprocessing.Queue(100)
//   mp::Process worker([&] { for (std::string s : q) handle(s); });   // until shut down
//   worker.start();
//   q.put("job");  q.shutdown();  worker.join();
//
// T is any tandem::Serializable type (strings, vectors, maps, optional, variant, aggregates,
// user types with serialize(Ar&)): an item is serialized into shared memory by put and
// decoded by get in whichever process calls it. Not serializable: a compile-time error.
//
// Sharing. The queue lives in one memfd-backed shared region (byte_ring.hpp). Make it before
// fork()/Process::start(): the child inherits it, and every process may put and get. Each
// process's copy of the handle unmaps its own view when destroyed; the creator's handle must
// outlive the other processes' use (as for mp::Lock). A queue costs one fd in each process
// holding it, plus the ring (1 MiB by default, touched lazily).
//
// Guarantees
//  * put(item) blocks while the queue holds maxsize items (maxsize 0: no item bound) or the
//    ring has no room for the item's bytes; put(item, timeout) raises Full when the timeout
//    passes; put_nowait raises Full at once. Every put raises ShutDown once shutdown() was
//    called (including puts blocked at that moment).
//  * get() blocks while empty; get(timeout)/get_nowait() raise Empty. Once shut down and
//    drained every get raises ShutDown (blocked getters wake and raise).
//  * shutdown(immediate): Python 3.13's queue.Queue semantics, across processes — see
//    tandem::Queue (queue/queue.hpp). A put is wholly before or wholly after a shutdown.
//  * Order: FIFO in publication order, hence FIFO for each producer (items of different
//    producers interleave, as in Python). Every item is received exactly once (or removed
//    by shutdown(immediate=true)).
//  * A put happens-before the get that returns its item (release/acquire through shared
//    memory, in any two processes or threads).
//  * Crash safety. A producer killed at any point of a put (SIGKILL included) leaves the
//    queue intact: its item is either fully queued or absent, and the next put takes the
//    lock over (robust mutex). A consumer killed during a get leaves the item queued unless
//    it had already been taken (then it is lost with the dead process); other consumers go
//    on. A process killed just as it was chosen to be woken costs the others at most 250 ms
//    of latency (sleeps re-check at that interval), never a hang. See byte_ring.hpp.
//  * qsize/empty/full are exact at the instant they read (not "approximate" as Python's).
// Cost: put = serialized_size + one robust lock (uncontended: two atomic RMWs, no system
//  call) + a memcpy-speed encode into the ring + a release store + a fence and a load to see
//  whether a getter sleeps; get symmetrically. Producers contend only with producers and
//  consumers with consumers. No feeder thread, no pipe, no pickling.
// Differences from Python
//  * Items are serialized at put() (Python pickles later, in a feeder thread): an
//    encoding error (a valueless variant) is raised by put itself; put returns once the
//    item is visible to every process (Python's empty() may lag).
//  * maxsize 0 is bounded by the ring's bytes (ring_bytes, default 1 MiB): put blocks when
//    the ring is full, where Python's unbounded put never blocks (its feeder thread buffers
//    without limit). An item whose encoding exceeds half of ring_bytes raises ValueError:
//    make the queue with a larger ring_bytes.
//  * A negative timeout counts as 0 (multiprocessing.Queue; queue.Queue raises ValueError).
//  * shutdown()/is_shutdown() are added (multiprocessing queues have none up to 3.14); so
//    are the batch calls put_many/get_many (below, with their own specification), try_get
//    (std::nullopt instead of Empty or ShutDown), range-for (gets until shut
//    down and drained) and unfinished_tasks()/ring_bytes().
//  * close() marks only this process's handle: later put/get through it raise
//    ValueError("Queue is closed"). There is no feeder thread, so join_thread() and
//    cancel_join_thread() do not exist.
//  * Decoding an item that is not a valid encoding (only possible if processes running
//    different binaries share the queue) raises DecodeError and drops that item.
#pragma once

#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <ranges>
#include <span>
#include <utility>
#include <vector>

#include "tandem/detail/drain_iterator.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/detail/queue_core.hpp"
#include "tandem/serialize.hpp"

namespace tandem::mp {

template <class T>
class Queue {
  static_assert(Serializable<T>,
                "tandem::mp::Queue<T>: T must be serializable (see <tandem/serialize.hpp>)");

 protected:
  using Deadline = tandem::detail::Deadline;

 public:
  using value_type = T;

  /// maxsize 0: bounded only by ring_bytes (rounded up to a power of two, at least 4 KiB).
  explicit Queue(std::size_t maxsize = 0, std::size_t ring_bytes = detail::kDefaultRingBytes)
      : core_(maxsize, ring_bytes) {}
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  void put(const T& item) { put_impl(item, Deadline::never(), true); }
  template <class Rep, class Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    put_impl(item, detail::mp_deadline(timeout), true);
  }
  void put_nowait(const T& item) { put_impl(item, Deadline::never(), false); }

  T get() { return take(Deadline::never(), true); }
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return take(detail::mp_deadline(timeout), true);
  }
  T get_nowait() { return take(Deadline::never(), false); }

  std::optional<T> try_get() {
    std::optional<T> out;
    pop(out, Deadline::never(), false);
    return out;
  }
  template <class Rep, class Period>
  std::optional<T> try_get(std::chrono::duration<Rep, Period> timeout) {
    std::optional<T> out;
    pop(out, detail::mp_deadline(timeout), true);
    return out;
  }

  // ---- tandem extensions beyond Python: batches, one lock hold per batch ----------------
  // put_many(items): puts every item of a random-access range (vector, array, span) in
  //  order, as that many put()s would, but under one hold of the producers' lock per run of
  //  items that fit (and one publishing store per 64 items), so a stream costs a fraction
  //  of a put per item. Blocks while the ring is full, as put(). Returns items.size().
  // put_many(items, timeout): the same, giving up when the timeout passes: returns how many
  //  items (a prefix) were queued — fewer than items.size() on timeout; never raises Full.
  // put_many_nowait(items): what fits now; returns the count queued.
  // Errors: ShutDown once the queue is shut down; ValueError at an item larger than
  //  max_item_bytes(); any exception of the item's encoding. Each of them is raised after
  //  the items BEFORE the failing one were queued (their count is lost with the exception:
  //  compare qsize() if it matters).
  // Crash safety: a producer killed in the middle of a batch leaves a prefix of it queued,
  //  every item whole (records are published by single stores), and the queue working.
  template <std::ranges::random_access_range R>
    requires std::ranges::sized_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, const T&>
  std::size_t put_many(R&& items) {
    return put_many_impl(items, Deadline::never(), true);
  }
  template <std::ranges::random_access_range R, class Rep, class Period>
    requires std::ranges::sized_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, const T&>
  std::size_t put_many(R&& items, std::chrono::duration<Rep, Period> timeout) {
    return put_many_impl(items, detail::mp_deadline(timeout), true);
  }
  template <std::ranges::random_access_range R>
    requires std::ranges::sized_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, const T&>
  std::size_t put_many_nowait(R&& items) {
    return put_many_impl(items, Deadline::never(), false);
  }
  // get_many(out, max): blocks as get() until at least one item is queued, then appends up
  //  to `max` queued items to `out` (in queue order) under one hold of the consumers' lock.
  //  Returns how many were appended (>= 1 when max >= 1; 0 when max == 0). ShutDown once the
  //  queue is shut down and drained.
  // get_many(out, max, timeout): 0 when nothing arrived within the timeout (no Empty).
  // get_many_nowait(out, max): what is queued now, possibly 0.
  // Errors: a DecodeError drops that item (as get()) and is raised after the items before
  //  it were appended to `out`; any other exception (std::bad_alloc) leaves the failing item
  //  queued. A consumer killed during get_many loses only what it had already taken.
  std::size_t get_many(std::vector<T>& out, std::size_t max) {
    return get_many_impl(out, max, Deadline::never(), true);
  }
  template <class Rep, class Period>
  std::size_t get_many(std::vector<T>& out, std::size_t max,
                       std::chrono::duration<Rep, Period> timeout) {
    return get_many_impl(out, max, detail::mp_deadline(timeout), true);
  }
  std::size_t get_many_nowait(std::vector<T>& out, std::size_t max) {
    return get_many_impl(out, max, Deadline::never(), false);
  }

  std::size_t qsize() const noexcept { return core_.qsize(); }
  bool empty() const noexcept { return qsize() == 0; }
  bool full() const noexcept { return maxsize() != 0 && qsize() >= maxsize(); }
  std::size_t maxsize() const noexcept { return core_.maxsize(); }

  void shutdown(bool immediate = false) { core_.shutdown(immediate); }
  bool is_shutdown() const noexcept { return core_.is_shutdown(); }
  void close() noexcept { core_.close(); }

  /// The ring's size in bytes, and the largest encoded item it takes (half of it, less 8).
  std::size_t ring_bytes() const noexcept { return core_.ring_bytes(); }
  std::size_t max_item_bytes() const noexcept { return core_.max_item_bytes(); }

  // `for (T item : q)`: gets items until the queue is shut down and drained.
  using iterator = tandem::detail::DrainIterator<Queue, T>;
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 protected:
  detail::QueueCore core_;

 private:
  friend class tandem::detail::DrainIterator<Queue, T>;
  bool drain_next(std::optional<T>& out) { return pop(out, Deadline::never(), true); }
  void put_impl(const T& item, Deadline deadline, bool block) {
    const std::size_t n = serialized_size(item);
    core_.put(n, [&](std::span<std::byte> dst) { serialize_to(dst, item); }, deadline, block);
  }

  template <class R>
  std::size_t put_many_impl(R& items, Deadline deadline, bool block) {
    auto first = std::ranges::begin(items);
    const std::size_t n = static_cast<std::size_t>(std::ranges::size(items));
    return core_.put_many(
        n, [&](std::size_t i) { return serialized_size(static_cast<const T&>(first[i])); },
        [&](std::size_t i, std::span<std::byte> dst) {
          serialize_to(dst, static_cast<const T&>(first[i]));
        },
        deadline, block);
  }
  std::size_t get_many_impl(std::vector<T>& out, std::size_t max, Deadline deadline, bool block) {
    detail::QueueCore::Got got = detail::QueueCore::Got::empty;
    const std::size_t k = core_.get_many(
        max,
        [&](std::span<const std::byte> bytes) {
          out.emplace_back();
          try {
            deserialize_into(bytes, out.back());
          } catch (...) {
            out.pop_back();
            throw;
          }
        },
        deadline, block, got);
    if (got == detail::QueueCore::Got::closed) throw ShutDown();
    return k;
  }

  T take(Deadline deadline, bool block) {
    std::optional<T> out;
    switch (pop_status(out, deadline, block)) {
      case detail::QueueCore::Got::item:
        break;
      case detail::QueueCore::Got::empty:
        throw Empty();
      case detail::QueueCore::Got::closed:
        throw ShutDown();
    }
    return std::move(*out);
  }
  bool pop(std::optional<T>& out, Deadline deadline, bool block) {
    return pop_status(out, deadline, block) == detail::QueueCore::Got::item;
  }
  detail::QueueCore::Got pop_status(std::optional<T>& out, Deadline deadline, bool block) {
    return core_.get(
        [&](std::span<const std::byte> bytes) {
          out.emplace();
          try {
            deserialize_into(bytes, *out);
          } catch (...) {
            out.reset();
            throw;
          }
        },
        deadline, block);
  }
};

}  // namespace tandem::mp
