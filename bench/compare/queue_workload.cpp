// SPDX-License-Identifier: MIT
// Workload "queue": a queue of capacity 1024, 2 producers and 2 consumers, N ints in all.
// Every consumer marks every item done (task_done) and the main thread waits for all of
// them (join) — Python's queue.Queue idiom. 4 threads on this 2-core machine is intended:
// it is the workload, and blocking (not spinning) is what it measures.
// Peers: mutex + condvar + deque (with the same task_done/join bookkeeping),
// tbb::concurrent_bounded_queue (set_capacity(1024); no task_done: an atomic counts
// completions), moodycamel::BlockingConcurrentQueue (unbounded — it has no capacity —
// wait_dequeue; an atomic counts completions).
// Targets: tandem::Queue >= 1.0x moodycamel, tbb and mutex+condvar.
#include <atomic>
#include <thread>

#include "compare/harness.hpp"
#include "peers/mutex_queue.hpp"

#include "tandem/queue/queue.hpp"
#ifdef TANDEM_BENCH_HAVE_TBB
#include <tbb/concurrent_queue.h>
#endif
#ifdef TANDEM_BENCH_HAVE_MOODYCAMEL
#include <blockingconcurrentqueue.h>
#endif

namespace tandem_bench {
namespace {

constexpr std::size_t kCapacity = 1024;

/// put(int) and get() -> int move one item; done() marks one item finished; finish() runs
/// on the main thread once the threads are released and returns when all items are done.
template <class Put, class Get, class Done, class Finish>
double two_by_two(const Sizes& s, const char* name, Put put, Get get, Done done,
                  Finish finish) {
  const std::size_t n = s.queue_items();
  std::atomic<long long> sum{0};
  StartGate gate(4);
  auto producer = [&](int first) {
    gate.arrive_and_wait();
    for (std::size_t i = 0; i < n / 2; ++i) put(first + static_cast<int>(i));
  };
  auto consumer = [&] {
    gate.arrive_and_wait();
    long long local = 0;
    for (std::size_t i = 0; i < n / 2; ++i) {
      local += get();
      done();
    }
    sum.fetch_add(local);
  };
  std::thread p1(producer, 0), p2(producer, 1), c1(consumer), c2(consumer);
  auto t0 = gate.open();
  finish();
  p1.join();
  p2.join();
  c1.join();
  c2.join();
  double secs = seconds_since(t0);
  long long half = static_cast<long long>(n / 2);
  if (sum.load() != half * (half - 1) + half) fail("queue", name, "wrong checksum");
  return static_cast<double>(n) / secs;
}

const Register tandem_queue("queue", "tandem::Queue", "items/s", [](const Sizes& s) {
  tandem::Queue<int> q(kCapacity);
  return two_by_two(
      s, "tandem::Queue", [&](int v) { q.put(v); }, [&] { return q.get(); },
      [&] { q.task_done(); }, [&] { q.join(); });
});

const Register mutex_queue("queue", "mutex+condvar+deque", "items/s", [](const Sizes& s) {
  MutexQueue<int> q(kCapacity);
  return two_by_two(
      s, "mutex+condvar+deque", [&](int v) { q.put(v); }, [&] { return q.get(); },
      [&] { q.task_done(); }, [&] { q.join(); });
});

#ifdef TANDEM_BENCH_HAVE_TBB
const Register tbb_queue("queue", "tbb::concurrent_bounded_queue", "items/s",
                         [](const Sizes& s) {
  tbb::concurrent_bounded_queue<int> q;
  q.set_capacity(kCapacity);
  std::atomic<std::size_t> finished{0};
  return two_by_two(
      s, "tbb::concurrent_bounded_queue", [&](int v) { q.push(v); },
      [&] {
        int v = 0;
        q.pop(v);
        return v;
      },
      [&] { finished.fetch_add(1, std::memory_order_acq_rel); }, [] {});
});
#endif

#ifdef TANDEM_BENCH_HAVE_MOODYCAMEL
const Register moodycamel_queue("queue", "moodycamel::BlockingConcurrentQueue", "items/s",
                                [](const Sizes& s) {
  moodycamel::BlockingConcurrentQueue<int> q;
  std::atomic<std::size_t> finished{0};
  return two_by_two(
      s, "moodycamel::BlockingConcurrentQueue", [&](int v) { q.enqueue(v); },
      [&] {
        int v = 0;
        q.wait_dequeue(v);
        return v;
      },
      [&] { finished.fetch_add(1, std::memory_order_acq_rel); }, [] {});
});
#endif

}  // namespace
}  // namespace tandem_bench
