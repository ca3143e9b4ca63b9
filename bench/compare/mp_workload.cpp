// SPDX-License-Identifier: MIT
// Workloads "mp value", "mp queue", "mp queue string", "mp manager queue": tandem's
// multiprocessing objects between real processes (issue 4, "Performance"; ANCHORS.md:
// CPython's multiprocessing.Value ~0.7-1.1 M ops/s, multiprocessing.Queue ~230 k msgs/s,
// Manager().Queue ~17 k msgs/s). bench/python/workloads.py runs the same shapes in CPython.
//
//  * mp value: 2 child processes (fork), each N/2 times
//    `std::lock_guard g(v.get_lock()); ++v.value();` on one mp::Value<int> (its lock is a
//    robust RLock, as Python's Value('i', lock=True)). Timing runs from the release of both
//    children (a start gate in shared memory, after both exist) until both are joined.
//    Peer: a bare robust process-shared pthread mutex + int (the ANCHORS floor, ~34 M ops/s).
//    Target: >= 30 M ops/s.
//  * mp queue / mp queue string: 1 producer process (fork) puts N 64-byte messages (a
//    trivially copyable struct / a 64-char std::string) into an mp::Queue (maxsize 0: bounded
//    by its ring's bytes); the parent gets them all. Timing covers start(), the stream and
//    join() (the fork is ~0.2 ms, well under 1%). Target: >= 10 M msgs/s.
//  * the same two streams with the batch calls (tandem extensions beyond Python): the
//    producer put_many()s chunks of 256 messages, the consumer get_many()s up to 256 at a
//    time — contenders "... put_many/get_many" of the same workloads.
//  * mp manager queue: the same stream (std::string, 64 chars) through Manager().Queue<>():
//    the proxy's ring lives in a memfd the server handed out; the Manager's start-up (a fork)
//    is outside the timing, as in the Python counterpart.
#include <pthread.h>
#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "compare/harness.hpp"
#include "tandem/multiprocessing.hpp"

namespace tandem_bench {
namespace {

namespace mp = tandem::mp;

/// StartGate across processes: lives in a MAP_SHARED page made before the children fork.
struct SharedGate {
  std::atomic<int> arrived{0};
  std::atomic<int> open{0};
  void arrive_and_wait() {
    arrived.fetch_add(1, std::memory_order_acq_rel);
    while (!open.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  Clock::time_point release(int parties) {
    while (arrived.load(std::memory_order_acquire) < parties) std::this_thread::yield();
    auto t0 = Clock::now();
    open.store(1, std::memory_order_release);
    return t0;
  }
};

/// One object of type T in anonymous shared memory (inherited by fork).
template <class T>
class Shared {
 public:
  Shared() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
    if (p == MAP_FAILED) fail("mp", "mmap", "mmap failed");
    obj_ = ::new (p) T();
  }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  ~Shared() { ::munmap(obj_, sizeof(T)); }
  T* operator->() const noexcept { return obj_; }
  T& operator*() const noexcept { return *obj_; }

 private:
  T* obj_;
};

std::size_t value_ops(const Sizes& s) { return s.scaled(6'000'000); }
std::size_t queue_msgs(const Sizes& s) { return s.scaled(2'000'000); }

/// Two forked children each run `body(n/2)` after the gate opens; returns ops/s.
template <class Body>
double two_process_increments(const Sizes& s, const char* name, Body body) {
  const std::size_t n = value_ops(s);
  Shared<SharedGate> gate;
  auto child = [&] {
    gate->arrive_and_wait();
    body(n / 2);
  };
  mp::Process a(child), b(child);
  a.start();
  b.start();
  auto t0 = gate->release(2);
  a.join();
  b.join();
  const double secs = seconds_since(t0);
  if (a.exitcode() != 0 || b.exitcode() != 0) fail("mp value", name, "a child failed");
  return static_cast<double>(n) / secs;
}

const Register tandem_value("mp value", "tandem::mp::Value<int>", "ops/s", [](const Sizes& s) {
  mp::Value<int> v(0);
  double rate = two_process_increments(s, "tandem::mp::Value<int>", [&](std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) {
      std::lock_guard g(v.get_lock());
      ++v.value();
    }
  });
  if (static_cast<std::size_t>(v.value()) != value_ops(s) / 2 * 2)
    fail("mp value", "tandem::mp::Value<int>", "lost increments");
  return rate;
});

struct RobustCounter {
  pthread_mutex_t mutex;
  int value;
};

const Register robust_pthread("mp value", "robust pthread mutex (shared)", "ops/s",
                              [](const Sizes& s) {
  Shared<RobustCounter> c;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&c->mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  double rate = two_process_increments(s, "robust pthread mutex", [&](std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) {
      if (pthread_mutex_lock(&c->mutex) == EOWNERDEAD) pthread_mutex_consistent(&c->mutex);
      ++c->value;
      pthread_mutex_unlock(&c->mutex);
    }
  });
  if (static_cast<std::size_t>(c->value) != value_ops(s) / 2 * 2)
    fail("mp value", "robust pthread mutex", "lost increments");
  pthread_mutex_destroy(&c->mutex);
  return rate;
});

struct Msg64 {  // 64 bytes, trivially copyable: the codec's memcpy path
  std::array<char, 64> bytes;
};
static_assert(sizeof(Msg64) == 64);

/// 1 producer process puts n messages made by make(i); this process gets them; msgs/s.
template <class Q, class Make>
double stream(const Sizes& s, const char* workload, const char* name, Q& q, Make make) {
  const std::size_t n = queue_msgs(s);
  mp::Process producer([&] {
    for (std::size_t i = 0; i < n; ++i) q.put(make(i));
  });
  auto t0 = Clock::now();
  producer.start();
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i) bytes += q.get().size();
  producer.join();
  const double secs = seconds_since(t0);
  if (bytes != n * 64 || producer.exitcode() != 0) fail(workload, name, "lost messages");
  return static_cast<double>(n) / secs;
}

Msg64 make_msg(std::size_t i) {
  Msg64 m{};
  m.bytes[0] = static_cast<char>(i);
  return m;
}

struct SizedMsg64 {  // a Msg64 as get() returns it, with size() for the checksum
  Msg64 m;
  static constexpr std::size_t size() { return 64; }
};

const Register tandem_queue("mp queue", "tandem::mp::Queue<Msg64>", "msgs/s", [](const Sizes& s) {
  mp::Queue<Msg64> q;
  struct Adapter {
    mp::Queue<Msg64>& q;
    void put(const Msg64& m) { q.put(m); }
    SizedMsg64 get() { return {q.get()}; }
  } a{q};
  return stream(s, "mp queue", "tandem::mp::Queue<Msg64>", a, make_msg);
});

const Register tandem_queue_string("mp queue string", "tandem::mp::Queue<std::string>", "msgs/s",
                                   [](const Sizes& s) {
  mp::Queue<std::string> q;
  const std::string payload(64, 'x');
  return stream(s, "mp queue string", "tandem::mp::Queue<std::string>", q,
                [&](std::size_t) -> const std::string& { return payload; });
});

/// The same stream with the batch calls (tandem extensions): the producer put_many()s
/// chunks of kChunk messages, the consumer get_many()s up to kChunk at a time.
constexpr std::size_t kChunk = 256;

template <class T, class Make>
double batch_stream(const Sizes& s, const char* workload, const char* name, Make make) {
  mp::Queue<T> q;
  const std::size_t n = queue_msgs(s);
  mp::Process producer([&] {
    std::vector<T> chunk;
    chunk.reserve(kChunk);
    for (std::size_t i = 0; i < n;) {
      chunk.clear();
      for (std::size_t k = 0; k < kChunk && i < n; ++k, ++i) chunk.push_back(make(i));
      q.put_many(chunk);
    }
  });
  auto t0 = Clock::now();
  producer.start();
  std::size_t bytes = 0, got = 0;
  std::vector<T> out;
  out.reserve(kChunk);
  while (got < n) {
    out.clear();
    got += q.get_many(out, kChunk);
    for (const T& m : out) {
      if constexpr (std::is_same_v<T, Msg64>) {
        bytes += sizeof m;
      } else {
        bytes += m.size();
      }
    }
  }
  producer.join();
  const double secs = seconds_since(t0);
  if (bytes != n * 64 || producer.exitcode() != 0) fail(workload, name, "lost messages");
  return static_cast<double>(n) / secs;
}

const Register tandem_queue_batch("mp queue", "tandem::mp::Queue<Msg64> put_many/get_many",
                                  "msgs/s", [](const Sizes& s) {
  return batch_stream<Msg64>(s, "mp queue", "tandem::mp::Queue<Msg64> put_many/get_many",
                             make_msg);
});

const Register tandem_queue_string_batch(
    "mp queue string", "tandem::mp::Queue<std::string> put_many/get_many", "msgs/s",
    [](const Sizes& s) {
      const std::string payload(64, 'x');
      return batch_stream<std::string>(s, "mp queue string",
                                       "tandem::mp::Queue<std::string> put_many/get_many",
                                       [&](std::size_t) { return payload; });
    });

const Register tandem_manager_queue("mp manager queue", "tandem::mp::Manager().Queue<std::string>",
                                    "msgs/s", [](const Sizes& s) {
  mp::Manager m;
  auto q = m.Queue<std::string>();
  const std::string payload(64, 'x');
  return stream(s, "mp manager queue", "tandem::mp::Manager().Queue<std::string>", q,
                [&](std::size_t) -> const std::string& { return payload; });
});

}  // namespace
}  // namespace tandem_bench
