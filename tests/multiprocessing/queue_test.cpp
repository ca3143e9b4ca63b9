// SPDX-License-Identifier: MIT
// tandem::mp::Queue / JoinableQueue / SimpleQueue — ports of CPython
// Lib/test/_test_multiprocessing.py (_TestQueue, _TestSimpleQueue) with real fork()ed
// children, plus serialized types, shutdown across processes, ring wrap-around, and a
// many-producers × many-consumers stress with checksums (every item exactly once).
//
// Children never use gtest macros: they report through their exit code (0 = ok) or shared
// memory, and the parent checks. Every test checks that no child and no fd is left behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;
using mptest::Shared;
using mptest::SharedEvent;

namespace {

using mptest::join;
using mptest::spawn;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class MpQueue : public mptest::ProcessFixture {};

struct Task {  // an aggregate: serialized member by member
  int id;
  std::string name;
  std::vector<double> weights;
};

class Shape {  // a class with the cereal-style serialize()
 public:
  Shape() = default;
  Shape(std::string kind, std::map<std::string, int> dims) : kind_(std::move(kind)), dims_(std::move(dims)) {}
  template <class Ar>
  void serialize(Ar& ar) {
    ar(kind_, dims_);
  }
  bool operator==(const Shape&) const = default;

 private:
  std::string kind_;
  std::map<std::string, int> dims_;
};

}  // namespace

// _TestQueue.test_put: put/put_nowait/put(timeout) on a bounded queue, Full raised when
// full (non-blocking at once, with a timeout after it); a child then takes all six items.
TEST_F(MpQueue, Put) {
  constexpr int kMax = 6;
  mp::Queue<int> queue(kMax);
  Shared<SharedEvent> child_can_start, parent_can_continue;
  const pid_t child = spawn([&] {
    if (!child_can_start->wait()) return 1;
    for (int i = 0; i < kMax; ++i)
      if (queue.get() != i) return 2;
    parent_can_continue->set();
    return 0;
  });
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.full());
  queue.put(0);
  queue.put(1, 1s);
  queue.put(2, 0s);  // Python's put(2, True, None) / put(2, False) forms
  queue.put_nowait(3);
  queue.put(4, 10s);
  queue.put(5);
  EXPECT_EQ(queue.qsize(), 6u);
  EXPECT_FALSE(queue.empty());
  EXPECT_TRUE(queue.full());
  EXPECT_THROW(queue.put_nowait(7), tandem::Full);
  EXPECT_THROW(queue.put(7, 0s), tandem::Full);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(queue.put(7, 100ms), tandem::Full);
  EXPECT_GE(seconds_since(t0), 0.09);
  t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(queue.put(7, -1s), tandem::Full);  // negative counts as 0 (multiprocessing)
  child_can_start->set();
  EXPECT_TRUE(parent_can_continue->wait());
  EXPECT_EQ(join(child), 0);
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.full());
}

// _TestQueue.test_get: items put by a child are got with get/get(timeout)/get_nowait;
// Empty from get_nowait and timed gets once drained (timed: after at least the timeout).
TEST_F(MpQueue, Get) {
  mp::Queue<int> queue;
  Shared<SharedEvent> child_can_start, parent_can_continue;
  const pid_t child = spawn([&] {
    if (!child_can_start->wait()) return 1;
    queue.put(2);
    queue.put(3);
    queue.put(4);
    queue.put(5);
    parent_can_continue->set();
    return 0;
  });
  EXPECT_TRUE(queue.empty());
  child_can_start->set();
  EXPECT_TRUE(parent_can_continue->wait());
  EXPECT_FALSE(queue.empty());
  EXPECT_EQ(queue.get(), 2);
  EXPECT_EQ(queue.get(1s), 3);
  EXPECT_EQ(queue.get(-1s), 4);  // negative timeout = 0, an item is there: returned
  EXPECT_EQ(queue.get_nowait(), 5);
  EXPECT_TRUE(queue.empty());
  EXPECT_THROW(queue.get_nowait(), tandem::Empty);
  EXPECT_THROW(queue.get(0s), tandem::Empty);
  EXPECT_THROW(queue.get(-1s), tandem::Empty);  // no ValueError, unlike queue.Queue
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(queue.get(100ms), tandem::Empty);
  EXPECT_GE(seconds_since(t0), 0.09);
  EXPECT_EQ(join(child), 0);
}

// _TestQueue.test_fork: items put before the child exists and items the child puts arrive
// in order in the parent.
TEST_F(MpQueue, Fork) {
  mp::Queue<int> queue;
  for (int i = 0; i < 10; ++i) queue.put(i);
  const pid_t child = spawn([&] {
    for (int i = 10; i < 20; ++i) queue.put(i);
    return 0;
  });
  EXPECT_EQ(join(child), 0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(queue.get(10s), i);
  EXPECT_THROW(queue.get_nowait(), tandem::Empty);
}

// _TestQueue.test_qsize
TEST_F(MpQueue, Qsize) {
  mp::Queue<int> q;
  EXPECT_EQ(q.qsize(), 0u);
  q.put(1);
  EXPECT_EQ(q.qsize(), 1u);
  q.put(5);
  EXPECT_EQ(q.qsize(), 2u);
  q.get();
  EXPECT_EQ(q.qsize(), 1u);
  q.get();
  EXPECT_EQ(q.qsize(), 0u);
}

// _TestQueue.test_task_done: worker processes get and task_done; join() in the parent
// returns once all ten tasks are done; a None-like sentinel stops the workers.
TEST_F(MpQueue, TaskDone) {
  mp::JoinableQueue<std::optional<int>> queue;
  Shared<std::atomic<int>> total;
  std::vector<pid_t> workers;
  for (int w = 0; w < 4; ++w)
    workers.push_back(spawn([&] {
      for (auto item = queue.get(); item; item = queue.get()) {
        total->fetch_add(*item);
        queue.task_done();
      }
      queue.task_done();
      return 0;
    }));
  for (int i = 0; i < 10; ++i) queue.put(i);
  queue.join();
  EXPECT_EQ(total->load(), 45);
  for (std::size_t w = 0; w < workers.size(); ++w) queue.put(std::nullopt);
  queue.join();
  for (pid_t w : workers) EXPECT_EQ(join(w), 0);
  EXPECT_EQ(queue.unfinished_tasks(), 0u);
  EXPECT_THROW(queue.task_done(), tandem::ValueError);
}

// JoinableQueue: task_done() too many times — Python's message; the count is unchanged.
TEST_F(MpQueue, TaskDoneTooManyTimes) {
  mp::JoinableQueue<int> q;
  try {
    q.task_done();
    FAIL() << "no ValueError";
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "task_done() called too many times");
  }
  q.put(1);
  q.put(2);
  EXPECT_EQ(q.unfinished_tasks(), 2u);
  q.task_done();  // allowed before the get (Python counts, it does not match items)
  EXPECT_FALSE(q.join(10ms));
  q.task_done();
  EXPECT_TRUE(q.join(0s));
  EXPECT_THROW(q.task_done(), tandem::ValueError);
  EXPECT_EQ(q.qsize(), 2u);
}

// join() in a child waits for task_done() in the parent.
TEST_F(MpQueue, JoinAcrossProcesses) {
  mp::JoinableQueue<std::string> q;
  q.put("a");
  q.put("b");
  Shared<SharedEvent> joining, joined;
  const pid_t child = spawn([&] {
    joining->set();
    q.join();
    joined->set();
    return 0;
  });
  EXPECT_TRUE(joining->wait());
  EXPECT_EQ(q.get(), "a");
  q.task_done();
  EXPECT_FALSE(joined->wait(20ms));
  EXPECT_EQ(q.get(), "b");
  q.task_done();
  EXPECT_TRUE(joined->wait());
  EXPECT_EQ(join(child), 0);
}

// _TestQueue.test_timeout: get(0.2 s) on an empty queue raises Empty after about that long.
TEST_F(MpQueue, Timeout) {
  mp::Queue<int> q;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(q.get(200ms), tandem::Empty);
  EXPECT_GE(seconds_since(t0), 0.18);
  std::optional<int> none = q.try_get(50ms);
  EXPECT_FALSE(none.has_value());
}

// _TestQueue.test_closed_queue_put_get_exceptions: after close(), put and get through this
// handle raise ValueError("... is closed"); other processes keep using the queue.
TEST_F(MpQueue, ClosedQueuePutGetExceptions) {
  mp::Queue<std::string> q;
  mp::JoinableQueue<std::string> jq;
  const pid_t child = spawn([&] {
    q.close();
    jq.close();
    int rc = 0;
    try {
      q.put("foo");
      rc = 1;
    } catch (const tandem::ValueError& e) {
      if (std::string(e.what()).find("is closed") == std::string::npos) rc = 2;
    }
    try {
      jq.get();
      rc = 3;
    } catch (const tandem::ValueError&) {
    }
    return rc;
  });
  EXPECT_EQ(join(child), 0);
  q.put("still open here");
  EXPECT_EQ(q.get(), "still open here");
  q.close();
  EXPECT_THROW(q.put("x"), tandem::ValueError);
  EXPECT_THROW(q.get(), tandem::ValueError);
}

// _TestSimpleQueue.test_empty: empty() as seen by the parent, items put by the child.
TEST_F(MpQueue, SimpleQueueEmpty) {
  mp::SimpleQueue<bool> queue;
  Shared<SharedEvent> child_can_start, parent_can_continue;
  const pid_t child = spawn([&] {
    if (!child_can_start->wait()) return 1;
    queue.put(queue.empty());
    queue.put(queue.empty());
    parent_can_continue->set();
    return 0;
  });
  EXPECT_TRUE(queue.empty());
  child_can_start->set();
  EXPECT_TRUE(parent_can_continue->wait());
  EXPECT_FALSE(queue.empty());
  EXPECT_EQ(queue.get(), true);
  EXPECT_EQ(queue.get(), false);
  EXPECT_TRUE(queue.empty());
  EXPECT_THROW(queue.get_nowait(), tandem::Empty);
  EXPECT_FALSE(queue.try_get(10ms).has_value());
  EXPECT_EQ(join(child), 0);
}

// _TestSimpleQueue.test_close: close() marks this handle closed.
TEST_F(MpQueue, SimpleQueueClose) {
  mp::SimpleQueue<int> q;
  q.put(1);
  q.close();
  EXPECT_THROW(q.put(2), tandem::ValueError);
  EXPECT_THROW(q.get(), tandem::ValueError);
}

// Strings, vectors, aggregates, serialize() classes, variants and maps cross processes.
TEST_F(MpQueue, SerializableTypes) {
  mp::Queue<std::string> strings;
  mp::Queue<std::vector<int>> vectors;
  mp::Queue<Task> tasks;
  mp::Queue<Shape> shapes;
  mp::Queue<std::variant<int, std::string>> variants;
  const pid_t child = spawn([&] {
    strings.put("");
    strings.put(std::string(10000, 'x'));
    vectors.put({});
    vectors.put({1, 2, 3});
    tasks.put(Task{7, "seven", {0.5, 1.5}});
    shapes.put(Shape("box", {{"w", 2}, {"h", 3}}));
    variants.put(42);
    variants.put(std::string("forty-two"));
    return 0;
  });
  EXPECT_EQ(join(child), 0);
  EXPECT_EQ(strings.get(), "");
  EXPECT_EQ(strings.get(), std::string(10000, 'x'));
  EXPECT_EQ(vectors.get(), std::vector<int>{});
  EXPECT_EQ(vectors.get(), (std::vector<int>{1, 2, 3}));
  Task t = tasks.get();
  EXPECT_EQ(t.id, 7);
  EXPECT_EQ(t.name, "seven");
  EXPECT_EQ(t.weights, (std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(shapes.get(), Shape("box", {{"w", 2}, {"h", 3}}));
  EXPECT_EQ(std::get<int>(variants.get()), 42);
  EXPECT_EQ(std::get<std::string>(variants.get()), "forty-two");
}

// An item larger than half the ring is refused with ValueError; nothing is queued.
TEST_F(MpQueue, ItemTooLarge) {
  mp::Queue<std::string> q(0, 4096);
  EXPECT_EQ(q.ring_bytes(), 4096u);
  EXPECT_THROW(q.put(std::string(q.max_item_bytes(), 'x')), tandem::ValueError);
  EXPECT_TRUE(q.empty());
  const std::string fits(q.max_item_bytes() - 16, 'y');  // frame byte + length prefix
  q.put(fits);
  EXPECT_EQ(q.get(), fits);
}

// maxsize 0 is bounded by the ring's bytes: put_nowait raises Full when no room is left;
// a get makes room again.
TEST_F(MpQueue, UnboundedQueueIsBoundedByRingBytes) {
  mp::Queue<std::string> q(0, 4096);
  const std::string item(100, 'z');
  int n = 0;
  try {
    for (;; ++n) q.put_nowait(item);
  } catch (const tandem::Full&) {
  }
  EXPECT_GT(n, 10);
  EXPECT_FALSE(q.full());  // full() speaks of maxsize, as Python
  EXPECT_EQ(q.get(), item);
  q.put_nowait(item);
  EXPECT_EQ(q.qsize(), static_cast<std::size_t>(n));
}

// Records of every size wrap around a small ring (pad records), in one process and across
// two, and come out intact and in order.
TEST_F(MpQueue, WrapAroundVariableSizes) {
  mp::Queue<std::string> q(0, 4096);
  auto item = [](int i) { return std::string(static_cast<std::size_t>((i * 37) % 1500), static_cast<char>('a' + i % 26)); };
  for (int i = 0; i < 2000; ++i) {
    q.put(item(i));
    ASSERT_EQ(q.get(), item(i));
  }
  const pid_t child = spawn([&] {
    for (int i = 0; i < 5000; ++i) q.put(item(i));
    return 0;
  });
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(q.get(30s), item(i));
  EXPECT_EQ(join(child), 0);
}

// A producer blocked on a full queue in a child is released by a get in the parent.
TEST_F(MpQueue, BlockedPutReleasedByGet) {
  mp::Queue<int> q(1);
  q.put(1);
  Shared<SharedEvent> putting;
  const pid_t child = spawn([&] {
    putting->set();
    q.put(2);  // blocks until the parent gets
    return 0;
  });
  EXPECT_TRUE(putting->wait());
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get(30s), 2);
  EXPECT_EQ(join(child), 0);
}

// Python 3.13 shutdown (added here): a getter blocked in a child wakes with ShutDown; puts
// raise ShutDown; items put before a non-immediate shutdown are still delivered.
TEST_F(MpQueue, ShutdownWakesBlockedGetterInAnotherProcess) {
  mp::Queue<int> q;
  Shared<SharedEvent> getting;
  const pid_t child = spawn([&] {
    getting->set();
    try {
      q.get();
      return 1;
    } catch (const tandem::ShutDown&) {
      return 0;
    }
  });
  EXPECT_TRUE(getting->wait());
  q.shutdown();
  EXPECT_EQ(join(child), 0);
  EXPECT_TRUE(q.is_shutdown());
  EXPECT_THROW(q.put(1), tandem::ShutDown);
  EXPECT_THROW(q.put_nowait(1), tandem::ShutDown);
  EXPECT_THROW(q.get(), tandem::ShutDown);
  EXPECT_THROW(q.get_nowait(), tandem::ShutDown);
  EXPECT_FALSE(q.try_get().has_value());
}

TEST_F(MpQueue, ShutdownDrainsThenRaises) {
  mp::Queue<int> q;
  q.put(1);
  q.put(2);
  q.shutdown();
  EXPECT_THROW(q.put(3), tandem::ShutDown);
  const pid_t child = spawn([&] {
    if (q.get() != 1 || q.get() != 2) return 1;
    try {
      q.get(1s);
      return 2;
    } catch (const tandem::ShutDown&) {
      return 0;
    }
  });
  EXPECT_EQ(join(child), 0);
}

// A putter blocked on a full queue in a child wakes with ShutDown.
TEST_F(MpQueue, ShutdownWakesBlockedPutter) {
  mp::Queue<int> q(1);
  q.put(0);
  Shared<SharedEvent> putting;
  const pid_t child = spawn([&] {
    putting->set();
    try {
      q.put(1);
      return 1;
    } catch (const tandem::ShutDown&) {
      return 0;
    }
  });
  EXPECT_TRUE(putting->wait());
  q.shutdown();
  EXPECT_EQ(join(child), 0);
  EXPECT_EQ(q.get(), 0);  // put before the shutdown: still delivered
}

// shutdown(immediate=true): queued items are removed, unfinished tasks lowered once per
// removed item (items taken but not task_done'd still count), join() waiters released.
TEST_F(MpQueue, ShutdownImmediate) {
  mp::JoinableQueue<int> q;
  q.put(1);
  q.put(2);
  q.put(3);
  EXPECT_EQ(q.get(), 1);  // in flight: still unfinished after the shutdown
  Shared<SharedEvent> joining, joined;
  const pid_t child = spawn([&] {
    joining->set();
    q.join();
    joined->set();
    return 0;
  });
  EXPECT_TRUE(joining->wait());
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  EXPECT_THROW(q.get(), tandem::ShutDown);
  EXPECT_FALSE(joined->is_set());
  q.task_done();
  EXPECT_TRUE(joined->wait());
  EXPECT_EQ(join(child), 0);
  EXPECT_THROW(q.task_done(), tandem::ValueError);
  q.shutdown();  // allowed transitions (test_shutdown_allowed_transitions)
  q.shutdown(true);
}

// shutdown(immediate) never lowers unfinished tasks below zero.
TEST_F(MpQueue, ShutdownImmediateFloorsUnfinishedAtZero) {
  mp::JoinableQueue<int> q;
  q.put(1);
  q.put(2);
  q.task_done();
  q.task_done();
  q.shutdown(true);
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  EXPECT_TRUE(q.join(0s));
}

// Range-for in a child until the parent shuts the queue down.
TEST_F(MpQueue, RangeForUntilShutdown) {
  mp::Queue<int> q(4);
  Shared<std::atomic<long>> sum;
  const pid_t child = spawn([&] {
    for (int v : q) sum->fetch_add(v);
    return 0;
  });
  for (int i = 1; i <= 1000; ++i) q.put(i);
  q.shutdown();
  EXPECT_EQ(join(child), 0);
  EXPECT_EQ(sum->load(), 500500);
}

namespace {

struct Item {
  std::uint32_t producer;
  std::uint32_t seq;
  std::string payload;
  std::uint64_t checksum;
};
std::uint64_t checksum_of(std::uint32_t p, std::uint32_t s, const std::string& payload) {
  std::uint64_t h = 1469598103934665603ull ^ (std::uint64_t{p} << 32 | s);
  for (unsigned char ch : payload) h = (h ^ ch) * 1099511628211ull;
  return h;
}
Item make_item(std::uint32_t p, std::uint32_t s) {
  std::string payload(static_cast<std::size_t>((s * 7 + p * 13) % 200), static_cast<char>('A' + (s + p) % 26));
  return Item{p, s, payload, checksum_of(p, s, payload)};
}

constexpr int kProducers = 4, kConsumers = 3, kPerProducer = 20000;
struct Tally {
  std::atomic<std::uint8_t> seen[kProducers][kPerProducer];
  std::atomic<int> errors;
};

}  // namespace

// Stress: 4 producer processes × 3 consumer processes, variable-size items with checksums,
// a small ring and a bound so that both sides block often. Every item is received exactly
// once, intact, and each consumer sees each producer's items in increasing order.
TEST_F(MpQueue, ManyProducersManyConsumersExactlyOnce) {
  mp::Queue<std::optional<Item>> q(64, 16384);
  Shared<Tally> tally;
  std::vector<pid_t> kids;
  for (int c = 0; c < kConsumers; ++c)
    kids.push_back(spawn([&] {
      std::int64_t last[kProducers];
      std::fill(std::begin(last), std::end(last), -1);
      while (auto item = q.get()) {
        const Item& it = *item;
        if (it.producer >= kProducers || it.seq >= kPerProducer ||
            checksum_of(it.producer, it.seq, it.payload) != it.checksum ||
            static_cast<std::int64_t>(it.seq) <= last[it.producer]) {
          tally->errors.fetch_add(1);
          continue;
        }
        last[it.producer] = it.seq;
        tally->seen[it.producer][it.seq].fetch_add(1);
      }
      return 0;
    }));
  std::vector<pid_t> producers;
  for (std::uint32_t p = 0; p < kProducers; ++p)
    producers.push_back(spawn([&, p] {
      for (std::uint32_t s = 0; s < kPerProducer; ++s) q.put(make_item(p, s));
      return 0;
    }));
  for (pid_t p : producers) EXPECT_EQ(join(p), 0);
  for (int c = 0; c < kConsumers; ++c) q.put(std::nullopt);
  for (pid_t c : kids) EXPECT_EQ(join(c), 0);
  EXPECT_EQ(tally->errors.load(), 0);
  int missing = 0, dup = 0;
  for (int p = 0; p < kProducers; ++p)
    for (int s = 0; s < kPerProducer; ++s) {
      const int n = tally->seen[p][s].load();
      missing += n == 0;
      dup += n > 1;
    }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(dup, 0);
  EXPECT_TRUE(q.empty());
}

// Threads of one process share the handle too (the only configuration ThreadSanitizer can
// check: it does not follow other processes).
TEST_F(MpQueue, ThreadsShareOneHandle) {
  mp::JoinableQueue<std::string> q(32, 8192);
  std::atomic<long> sum{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < 2; ++c)
    threads.emplace_back([&] {
      for (;;) {
        std::string s = q.get();
        if (s.empty()) {
          q.task_done();
          return;
        }
        sum.fetch_add(std::stol(s));
        q.task_done();
      }
    });
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; ++p)
    producers.emplace_back([&, p] {
      for (int i = 1; i <= 5000; ++i) q.put(std::to_string(i + p * 5000));
    });
  for (auto& t : producers) t.join();
  q.join();
  EXPECT_EQ(sum.load(), 10000L * 10001 / 2);
  q.put("");
  q.put("");
  for (auto& t : threads) t.join();
  q.join();
}

// Through mp::Process (not only raw fork()).
TEST_F(MpQueue, WithProcess) {
  mp::Queue<std::string> q;
  mp::Process worker([&] {
    for (int i = 0; i < 3; ++i) q.put("hello " + std::to_string(i));
  });
  worker.start();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(q.get(30s), "hello " + std::to_string(i));
  worker.join();
  EXPECT_EQ(worker.exitcode(), 0);
}
