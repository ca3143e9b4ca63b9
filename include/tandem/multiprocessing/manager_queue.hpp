// SPDX-License-Identifier: MIT
// QueueProxy<T> and JoinableQueueProxy<T>: what Manager::Queue<T>() / JoinableQueue<T>()
// return (manager.hpp has the specification). The queue is an mp::Queue ring (byte_ring.hpp,
// queue_core.hpp) whose memfd any process can attach through the manager; every call runs on
// the shared ring directly, as mp::Queue's do — no round trip to a server.
//
// Both proxies have task_done()/join(), as Python's Manager().Queue() (a proxy of
// queue.Queue) has. Once the manager is shut down every call raises RuntimeError, and calls
// blocked at that moment (put, get, join, the range-for) wake at once (the owner shuts the
// ring down immediately) and raise it too. Those blocked when the manager's server process
// dies wake within kManagerRecheck (100 ms) and raise RuntimeError ("... server process
// died ..."); calls that need not sleep keep working on the shared ring.
#pragma once

#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "tandem/detail/drain_iterator.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/manager_proxy.hpp"
#include "tandem/multiprocessing/detail/queue_core.hpp"
#include "tandem/serialize.hpp"

namespace tandem::mp {
namespace detail {

struct QueueObject : ManagedObject {
  QueueObject(std::size_t maxsize, std::size_t ring_bytes) : core(maxsize, ring_bytes) {}
  explicit QueueObject(SharedRegion r) : core(std::move(r)) {}
  static std::shared_ptr<ManagedObject> make(SharedRegion&& r) {
    return std::make_shared<QueueObject>(std::move(r));
  }
  int fd() const noexcept override { return core.ring().region().fd(); }
  void on_shutdown() noexcept override {
    try {
      core.shutdown(true);
    } catch (...) {  // only a closed handle throws; the owner never closes it
    }
  }
  QueueCore core;
};

inline std::size_t queue_min_bytes(const ObjectRef&) { return 0; }  // ByteRing checks

template <class T, ManagedKind K>
class BasicQueueProxy : public ProxyBase {
  static_assert(Serializable<T>,
                "Manager::Queue<T>: T must be serializable (see <tandem/serialize.hpp>)");
  using Deadline = tandem::detail::Deadline;

 public:
  static constexpr ManagedKind kind = K;
  using value_type = T;
  BasicQueueProxy() noexcept = default;

  void put(const T& item) { put_impl(item, Deadline::never(), true); }
  template <class Rep, class Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    put_impl(item, mp_deadline(timeout), true);
  }
  void put_nowait(const T& item) { put_impl(item, Deadline::never(), false); }

  T get() { return take(Deadline::never(), true); }
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return take(mp_deadline(timeout), true);
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
    pop(out, mp_deadline(timeout), true);
    return out;
  }

  std::size_t qsize() const { return core().qsize(); }
  bool empty() const { return qsize() == 0; }
  bool full() const { return maxsize() != 0 && qsize() >= maxsize(); }
  std::size_t maxsize() const { return core().maxsize(); }

  void task_done() { core().task_done(); }
  void join() { join_until(Deadline::never()); }
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(mp_deadline(timeout));
  }
  std::size_t unfinished_tasks() const { return core().unfinished_tasks(); }

  /// Python 3.13's Queue.shutdown(), for every process.
  void shutdown(bool immediate = false) { core().shutdown(immediate); }
  bool is_shutdown() const { return core().is_shutdown(); }

  // `for (T item : q)`: gets items until the queue is shut down and drained.
  using iterator = tandem::detail::DrainIterator<BasicQueueProxy, T>;
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

  void load(InArchive& ar) {
    load_ref(ar, K, type_tag<T>(), &queue_min_bytes, &QueueObject::make);
  }

 protected:
  BasicQueueProxy(const ObjectRef& ref, Attached a) noexcept : ProxyBase(ref, std::move(a)) {}

 private:
  friend class tandem::detail::DrainIterator<BasicQueueProxy, T>;
  bool drain_next(std::optional<T>& out) { return pop(out, Deadline::never(), true); }
  QueueCore& core() const {
    check(K);
    return object<QueueObject>()->core;
  }
  // A ShutDown caused by the manager's shutdown is reported as what it is.
  [[noreturn]] void rethrow_shutdown() const {
    check(K);
    throw ShutDown();
  }

  // Blocking calls go through wait_sliced (manager_proxy.hpp): the manager's shutdown wakes
  // them at once (the owner shuts the ring down), its server's death within kManagerRecheck.
  static Deadline slice_deadline(duration slice) noexcept { return Deadline::after(slice); }

  void put_impl(const T& item, Deadline deadline, bool block) {
    QueueCore& c = core();
    const std::size_t n = serialized_size(item);
    auto write = [&](std::span<std::byte> dst) { serialize_to(dst, item); };
    try {
      if (!block) {
        c.put(n, write, deadline, false);
        return;
      }
      const bool put = wait_sliced(K, deadline, [&](duration slice) {
        try {
          c.put(n, write, slice_deadline(slice), true);
          return true;
        } catch (const Full&) {
          return false;
        }
      });
      if (!put) throw Full();
    } catch (const ShutDown&) {
      rethrow_shutdown();
    }
  }
  bool join_until(Deadline deadline) {
    QueueCore& c = core();
    const bool done =
        wait_sliced(K, deadline, [&](duration slice) { return c.join(slice_deadline(slice)); });
    check(K);  // an immediate shutdown (the manager's) discards the tasks: not a success
    return done;
  }
  T take(Deadline deadline, bool block) {
    std::optional<T> out;
    switch (pop_status(out, deadline, block)) {
      case QueueCore::Got::item:
        break;
      case QueueCore::Got::empty:
        throw Empty();
      case QueueCore::Got::closed:
        rethrow_shutdown();
    }
    return std::move(*out);
  }
  bool pop(std::optional<T>& out, Deadline deadline, bool block) {
    const auto got = pop_status(out, deadline, block);
    if (got == QueueCore::Got::closed) check(K);  // the manager's shutdown: RuntimeError
    return got == QueueCore::Got::item;
  }
  QueueCore::Got pop_status(std::optional<T>& out, Deadline deadline, bool block) {
    QueueCore& c = core();
    auto read = [&](std::span<const std::byte> bytes) {
      out.emplace();
      try {
        deserialize_into(bytes, *out);
      } catch (...) {
        out.reset();
        throw;
      }
    };
    QueueCore::Got got = c.get(read, deadline, false);  // a queued item: no clock read
    if (!block || got != QueueCore::Got::empty) return got;
    wait_sliced(K, deadline, [&](duration slice) {
      got = c.get(read, slice_deadline(slice), true);
      return got != QueueCore::Got::empty;
    });
    return got;
  }
};

}  // namespace detail

/// m.Queue<T>(maxsize): an mp::Queue<T> any process can receive (Python's Manager().Queue()).
template <class T>
class QueueProxy : public detail::BasicQueueProxy<T, detail::ManagedKind::queue> {
 public:
  QueueProxy() noexcept = default;

 private:
  friend class Manager;
  QueueProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : detail::BasicQueueProxy<T, detail::ManagedKind::queue>(ref, std::move(a)) {}
};

/// m.JoinableQueue<T>(maxsize): the same, typed apart (Python's Manager().JoinableQueue()).
template <class T>
class JoinableQueueProxy : public detail::BasicQueueProxy<T, detail::ManagedKind::joinable_queue> {
 public:
  JoinableQueueProxy() noexcept = default;

 private:
  friend class Manager;
  JoinableQueueProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : detail::BasicQueueProxy<T, detail::ManagedKind::joinable_queue>(ref, std::move(a)) {}
};

}  // namespace tandem::mp
