// SPDX-License-Identifier: MIT
// tandem::mp::Manager — multiprocessing.Manager() (docs/multiprocessing.md#manager):
// makes shared objects whose handles (proxies) are serializable, so they reach processes that
// were started BEFORE the object existed — process-pool workers, a child that gets the handle
// through an mp::Queue or a pipe.
//
//   tandem::mp::Manager m;                              // with Manager() as m:
//   auto q = m.Queue<std::string>();                    //     q = m.Queue()
//   auto counter = m.Value<int>(0);                     //     counter = m.Value('i', 0)
//   pool.submit(work, q, counter);                      //     pool.submit(work, q, counter)
//   // in the worker:  q.put("done");  { std::lock_guard g(counter.get_lock()); ++counter.value();
//   }
//
// Objects: Queue<T>(maxsize, ring_bytes) and JoinableQueue<T> (T Serializable), Value<T>(init)
// and Array<T>(n, init) (T trivially copyable, each with a robust RLock), Lock(), RLock(),
// Event(), Semaphore(n), BoundedSemaphore(n), Condition(), Barrier(parties, timeout). They
// return QueueProxy<T>, JoinableQueueProxy<T>, ValueProxy<T>, ArrayProxy<T>, LockProxy,
// RLockProxy, EventProxy, SemaphoreProxy, BoundedSemaphoreProxy, ConditionProxy, BarrierProxy
// (manager_proxy.hpp, manager_queue.hpp, manager_sync.hpp) with the interface of the mp::
// object of the same name; and dict<K, V>(max_bytes), list<T>(max_bytes), Namespace(max_bytes),
// which return DictProxy<K, V>, ListProxy<T>, NamespaceProxy (manager_containers.hpp: Python's
// proxies of the same names, each call atomic under the container's lock).
//
// How it works — and how it differs from Python. Python's manager keeps each object in a server
// process and every proxy call is a round trip (pickle, socket, a server thread): ~17 k queue
// messages/s. Here the object lives in a memfd-backed shared region (the very same layout as the
// mp:: object: robust lock, futex words, the mp::Queue ring) and every proxy call runs on that
// shared memory directly, at the speed of the mp:: object. The server process only hands out
// the memfds:
//  * Manager() forks a small server (named "tandem-manager" in ps) listening on an AF_UNIX
//    socket in the abstract namespace, under a name made of 16 random bytes (getrandom); the
//    server holds a dup of every object's memfd.
//  * A proxy encodes (tandem::serialize; 62 bytes) the server's name, a 16-byte random secret,
//    the object's id, kind and type tag (a hash of T's name, sizeof and alignof) and length.
//  * Decoding a proxy in a process that has not seen the object yet connects to the server,
//    which checks the caller's uid (SO_PEERCRED) and the secret (the abstract name is visible
//    in /proc/net/unix, the secret is not), checks kind/tag/length against its own record, and
//    sends the memfd by SCM_RIGHTS; the process maps it. Each process maps an object once:
//    later decodes (a handle in every task) find it in a per-process cache — no I/O.
//  * Nothing has a name in /dev/shm: the memory is freed when the last process holding it
//    unmaps it or exits, whatever way it exits.
//
// Guarantees
//  * Type safety: decoding a handle as another kind or element type (a Value<long> handle as
//    ValueProxy<int>, a Lock as an Event) raises DecodeError ("handle type mismatch ..."); so
//    does any corrupt handle (bad magic, truncated): never a crash, never a wrong mapping (the
//    server's record, not the handle's bytes, decides what is mapped).
//  * Lifetime: objects live until the Manager is shut down (shutdown() or its destructor), as
//    in Python, even if no proxy refers to them. After shutdown every proxy call raises
//    RuntimeError("... the manager was shut down ...") in every process (a state word in a
//    shared page every attached process maps); queue calls blocked at that moment wake and
//    raise it too. Decoding a handle after shutdown, or after the server was killed, raises
//    RuntimeError ("cannot reach the manager's server process"), within 10 s at most (socket
//    timeouts) — never a hang. Releasing calls (release/unlock) still work after shutdown, so
//    a lock_guard never throws from its destructor.
//  * Blocked calls never outlive the manager. A thread asleep in a proxy's blocking call —
//    Lock/RLock/Semaphore/Condition acquire(), Event/Condition wait(), wait_for(), Queue
//    get()/put()/join()/range-for, with or without a timeout — when the manager shuts down
//    or its server process dies wakes and raises RuntimeError: "... the manager was shut
//    down ..." or "... the manager's server process died ...". Queues wake at once on
//    shutdown (their ring is shut down); the other waits sleep in slices of kManagerRecheck
//    (100 ms) and look at the manager between slices (the state word; a poll of a pidfd on
//    the server), so they wake within ~100 ms — a bounded re-check, not a spin: ~10 wake-ups
//    a second per sleeping waiter. A call that need not sleep (a free lock, a set event, a
//    queued item) still succeeds after the server's death; only waiting on it raises.
//    Exception: BarrierProxy::wait() wakes on shutdown (BrokenBarrierError) but not on the
//    server's death (see manager_sync.hpp).
//  * Crash safety: that of the underlying objects (robust locks: a holder's death is recovered
//    by the next acquirer with owner_died(); a producer killed mid-put leaves the queue
//    intact). If the server is killed, proxies already attached keep working (the memory is
//    theirs) but can no longer sleep (above); new attaches and new objects fail with RuntimeError.
//    If the owner dies, the
//    server sees EOF on its private socket and exits (no leaked process; it does not depend on
//    the creating thread living on, unlike PR_SET_PDEATHSIG) — unless children forked by the
//    owner after Manager() still hold that socket, in which case it exits with the last one.
//  * Proxies are copyable handles; copies share the object. Thread-safety is the object's;
//    the per-process attach cache is guarded by a tandem::Lock (held only for map lookups,
//    never across I/O), so a fork() while another thread attaches inherits it locked.
// Memory ordering: that of the underlying mp:: object.
// Cost: Manager() = one fork (~0.3 ms) + sockets; each object costs one memfd + mapping in the
//  owner and a dup in the server; the first decode of a handle in a process costs one
//  connect/SCM_RIGHTS/mmap round trip (tens of µs); later decodes a map lookup under a lock; a
//  proxy call one relaxed load more than the mp:: object's. Each process attached to a
//  manager holds two fds for it (the control page and a pidfd on the server), plus one per
//  object. A blocked proxy call wakes every 100 ms (a futex time-out and a poll(2)).
// Further differences from Python
//  * Objects can be made only in the process that created the Manager (RuntimeError
//    elsewhere); any process can use them. The Manager itself is not serializable.
//  * Value/Array have a lock (Python's manager Value has none) and value() is the shared T.
//  * Queue(maxsize = 0) is bounded by its ring's bytes (ring_bytes, 1 MiB by default), as
//    mp::Queue: put blocks when the ring is full (Python's manager queue grows without limit).
//  * A process keeps an attached object mapped (one fd, one mapping) until it exits or, after
//    the manager shut down, until its next first-time attach sweeps it (proxies still held
//    keep their memory).
//  * Manager() forks: in a multi-threaded process the server runs only system calls, so that
//    is safe; the server's stdio is /dev/null and it ignores SIGINT (as Python's does).
//  * No register()/custom types: only the objects above.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>

#include "tandem/multiprocessing/detail/byte_ring.hpp"
#include "tandem/multiprocessing/detail/manager.hpp"
#include "tandem/multiprocessing/manager_containers.hpp"
#include "tandem/multiprocessing/manager_proxy.hpp"
#include "tandem/multiprocessing/manager_queue.hpp"
#include "tandem/multiprocessing/manager_sync.hpp"

namespace tandem::mp {
namespace detail {
struct ManagerState;
}

class Manager {
 public:
  /// Starts the server process. std::system_error when the system refuses (fork, sockets).
  Manager();
  /// shutdown().
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  /// Ends every object's life (proxies raise RuntimeError from now on, in every process),
  /// stops and reaps the server. Idempotent. In a fork()ed copy of the owner it only drops
  /// this copy's descriptors.
  void shutdown() noexcept;
  bool is_running() const noexcept;
  /// The server's pid (0 after shutdown).
  int pid() const noexcept;
  /// The server's abstract socket name, "@tandem-mgr-<hex>" (for diagnostics).
  std::string address() const;

  template <class T>
  QueueProxy<T> Queue(std::size_t maxsize = 0, std::size_t ring_bytes = detail::kDefaultRingBytes) {
    return make_queue<QueueProxy<T>, T>(maxsize, ring_bytes);
  }
  template <class T>
  JoinableQueueProxy<T> JoinableQueue(std::size_t maxsize = 0,
                                      std::size_t ring_bytes = detail::kDefaultRingBytes) {
    return make_queue<JoinableQueueProxy<T>, T>(maxsize, ring_bytes);
  }

  template <class T>
  ValueProxy<T> Value(T init = T{}) {
    detail::SharedRegion r(sizeof(detail::ValueBlock<T>), "tandem-manager-value");
    auto* b = r.at<detail::ValueBlock<T>>();
    ::new (&b->lock) detail::RLockState();
    ::new (&b->value) T(init);
    return make<ValueProxy<T>, detail::ValueObject<T>>(std::move(r), detail::type_tag<T>(), 0);
  }

  template <class T>
  ArrayProxy<T> Array(std::size_t n, T init = T{}) {
    using Obj = detail::ArrayObject<T>;
    if (n > (SIZE_MAX - Obj::kOffset) / sizeof(T)) throw ValueError("Array is too large");
    detail::SharedRegion r(Obj::kOffset + n * sizeof(T), "tandem-manager-array");
    ::new (r.data()) detail::RLockState();
    T* p = r.at<T>(Obj::kOffset);
    for (std::size_t i = 0; i < n; ++i) ::new (p + i) T(init);
    return make<ArrayProxy<T>, Obj>(std::move(r), detail::type_tag<T>(), n);
  }
  template <class T>
  ArrayProxy<T> Array(std::initializer_list<T> init) {
    ArrayProxy<T> a = Array<T>(init.size());
    std::copy(init.begin(), init.end(), a.data());
    return a;
  }

  LockProxy Lock() {
    return make<LockProxy, detail::LockObject>(
        detail::make_shared_state<detail::LockState>(), 0, 0);
  }
  RLockProxy RLock() {
    return make<RLockProxy, detail::RLockObject>(
        detail::make_shared_state<detail::RLockState>(), 0, 0);
  }
  EventProxy Event() {
    return make<EventProxy, detail::PlainObject<tandem::Event>>(
        detail::make_shared_state<tandem::Event>(tandem::detail::Scope::shared), 0, 0);
  }
  /// ValueError("semaphore initial value must be >= 0") when value < 0.
  SemaphoreProxy Semaphore(std::int64_t value = 1) {
    return make<SemaphoreProxy, detail::PlainObject<tandem::Semaphore>>(
        detail::make_shared_state<tandem::Semaphore>(value, tandem::detail::Scope::shared), 0, 0);
  }
  BoundedSemaphoreProxy BoundedSemaphore(std::int64_t value = 1) {
    return make<BoundedSemaphoreProxy, detail::PlainObject<tandem::Semaphore>>(
        detail::make_shared_state<tandem::BoundedSemaphore>(value, tandem::detail::Scope::shared),
        0, 0);
  }
  /// Python's m.Condition(): a Condition with its own (robust) RLock. manager_sync.hpp.
  ConditionProxy Condition() {
    return make<ConditionProxy, detail::ConditionObject>(
        detail::make_shared_state<detail::ConditionBlock>(), 0, 0);
  }
  /// Python's m.Barrier(parties, timeout=None); `timeout` is the default of every process's
  /// wait(). ValueError("parties must be > 0") when parties < 1. manager_sync.hpp.
  BarrierProxy Barrier(std::int64_t parties, std::optional<duration> timeout = {}) {
    if (parties < 1) throw ValueError("parties must be > 0");
    const std::int64_t ns =
        timeout ? std::max<std::int64_t>(
                      0, std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout).count())
                : detail::BarrierBlock::kNoTimeout;
    return make<BarrierProxy, detail::BarrierObject>(
        detail::make_shared_state<detail::BarrierBlock>(parties, ns), 0, 0);
  }

  /// Python's m.dict(): insertion-ordered, at most `max_bytes` of serialized items (pages
  /// are touched only when used). manager_containers.hpp.
  template <class K, class V>
  DictProxy<K, V> dict(std::size_t max_bytes = detail::kDefaultContainerBytes) {
    return make_container<DictProxy<K, V>>(max_bytes, detail::type_tag<std::pair<K, V>>());
  }
  /// Python's m.list(). manager_containers.hpp.
  template <class T>
  ListProxy<T> list(std::size_t max_bytes = detail::kDefaultContainerBytes) {
    return make_container<ListProxy<T>>(max_bytes, detail::type_tag<T>());
  }
  /// Python's m.Namespace(). manager_containers.hpp.
  NamespaceProxy Namespace(std::size_t max_bytes = detail::kDefaultContainerBytes) {
    return make_container<NamespaceProxy>(max_bytes, 0);
  }

 private:
  /// Registers `obj` with the server and this process's cache; fills ref's key and id.
  detail::Attached publish(detail::ObjectRef& ref, std::shared_ptr<detail::ManagedObject> obj);

  template <class Proxy, class Obj>
  Proxy make(detail::SharedRegion region, std::uint64_t tag, std::uint64_t count) {
    detail::ObjectRef ref;
    ref.kind = Proxy::kind;
    ref.tag = tag;
    ref.count = count;
    detail::Attached a = publish(ref, std::make_shared<Obj>(std::move(region)));
    return Proxy(ref, std::move(a));
  }
  template <class Proxy>
  Proxy make_container(std::size_t max_bytes, std::uint64_t tag) {
    return make<Proxy, detail::ContainerObject>(detail::ContainerObject::create(max_bytes), tag,
                                                max_bytes);
  }
  template <class Proxy, class T>
  Proxy make_queue(std::size_t maxsize, std::size_t ring_bytes) {
    detail::ObjectRef ref;
    ref.kind = Proxy::kind;
    ref.tag = detail::type_tag<T>();
    detail::Attached a = publish(ref, std::make_shared<detail::QueueObject>(maxsize, ring_bytes));
    return Proxy(ref, std::move(a));
  }

  std::unique_ptr<detail::ManagerState> s_;
};

}  // namespace tandem::mp
