// SPDX-License-Identifier: MIT
// tandem::Queue / LifoQueue / PriorityQueue — ports of CPython Lib/test/test_queue.py
// (BaseQueueTestMixin and the 3.13 shutdown tests), run against every engine: the lock-free
// ring (bounded Queue<int>), the locked deque (unbounded Queue, or a T whose move may
// throw), LifoQueue and PriorityQueue.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "tandem/queue.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int QUEUE_SIZE = 5;

// An int whose move may throw (never does): forces the locked engine on a bounded Queue.
struct ThrowingMoveInt {
  int v = 0;
  ThrowingMoveInt(int v = 0) : v(v) {}  // NOLINT: implicit, like the int it wraps
  ThrowingMoveInt(const ThrowingMoveInt&) = default;
  ThrowingMoveInt(ThrowingMoveInt&& o) noexcept(false) : v(o.v) {}
  ThrowingMoveInt& operator=(const ThrowingMoveInt&) = default;
  operator int() const { return v; }
  bool operator<(const ThrowingMoveInt& o) const { return v < o.v; }
};

enum class Order { fifo, lifo, priority };

template <class Q, Order O>
struct Kind {
  using queue_type = Q;
  static constexpr Order order = O;
};

using Kinds = ::testing::Types<Kind<tandem::Queue<int>, Order::fifo>,
                               Kind<tandem::Queue<ThrowingMoveInt>, Order::fifo>,
                               Kind<tandem::LifoQueue<int>, Order::lifo>,
                               Kind<tandem::PriorityQueue<int>, Order::priority>>;

template <class K>
class QueueTest : public ::testing::Test {
 protected:
  using Q = typename K::queue_type;
};
TYPED_TEST_SUITE(QueueTest, Kinds);

// BlockingTestMixin.do_blocking_test without the sleep: `block` runs in a thread and must
// not return before `trigger` has been called.
template <class Block, class Trigger>
void do_blocking_test(Block block, Trigger trigger) {
  std::atomic<bool> started{false}, triggered{false}, returned{false};
  std::thread t([&] {
    started = true;
    block();
    returned = true;
    EXPECT_TRUE(triggered.load()) << "blocking function returned before the trigger";
  });
  while (!started) std::this_thread::yield();
  EXPECT_FALSE(returned.load());
  triggered = true;
  trigger();
  t.join();
}

// BaseQueueTestMixin.simple_queue_test
template <class Q>
void simple_queue_test(Q& q, Order order) {
  ASSERT_TRUE(q.empty());
  q.put(111);
  q.put(333);
  q.put(222);
  std::vector<int> target = order == Order::fifo   ? std::vector<int>{111, 333, 222}
                            : order == Order::lifo ? std::vector<int>{222, 333, 111}
                                                   : std::vector<int>{111, 222, 333};
  std::vector<int> actual;
  for (int i = 0; i < 3; ++i) actual.push_back(q.get());
  EXPECT_EQ(actual, target) << "Didn't seem to queue the correct data!";
  for (int i = 0; i < QUEUE_SIZE - 1; ++i) {
    q.put(i);
    EXPECT_TRUE(q.qsize()) << "Queue should not be empty";
  }
  EXPECT_FALSE(q.full()) << "Queue should not be full";
  int last = 2 * QUEUE_SIZE, full = 3 * 2 * QUEUE_SIZE;
  q.put(last);
  EXPECT_TRUE(q.full()) << "Queue should be full";
  EXPECT_FALSE(q.empty());
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait(full), tandem::Full);
  EXPECT_THROW(q.put(full, 10ms), tandem::Full);
  // Test a blocking put
  do_blocking_test([&] { q.put(full); }, [&] { q.get(); });
  do_blocking_test([&] { q.put(full, 10s); }, [&] { q.get(); });
  // Empty it
  for (int i = 0; i < QUEUE_SIZE; ++i) q.get();
  EXPECT_FALSE(q.qsize()) << "Queue should be empty";
  EXPECT_THROW(q.get_nowait(), tandem::Empty);
  EXPECT_THROW(q.get(10ms), tandem::Empty);
  // Test a blocking get
  do_blocking_test([&] { q.get(); }, [&] { q.put(0); });
  do_blocking_test([&] { q.get(10s); }, [&] { q.put(0); });
}

// BaseQueueTestMixin.queue_join_test
template <class Q>
void queue_join_test(Q& q) {
  std::atomic<long> cum{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i)
    workers.emplace_back([&] {
      for (;;) {
        int x = q.get();
        if (x < 0) {
          q.task_done();
          return;
        }
        cum += x;
        q.task_done();
      }
    });
  for (int i = 0; i < 100; ++i) q.put(i);
  q.join();
  EXPECT_EQ(cum.load(), 4950) << "q.join() did not block until all tasks were done";
  for (int i = 0; i < 2; ++i) q.put(-1);
  q.join();
  for (auto& t : workers) t.join();
}

}  // namespace

// BaseQueueTestMixin.test_basic
TYPED_TEST(QueueTest, Basic) {
  typename TestFixture::Q q(QUEUE_SIZE);
  simple_queue_test(q, TypeParam::order);
  simple_queue_test(q, TypeParam::order);
}

// BaseQueueTestMixin.test_negative_timeout_raises_exception
TYPED_TEST(QueueTest, NegativeTimeoutRaisesException) {
  typename TestFixture::Q q(QUEUE_SIZE);
  EXPECT_THROW(q.put(1, -1s), tandem::ValueError);
  EXPECT_THROW(q.get(-1s), tandem::ValueError);
  q.put(1);
  try {
    q.get(-1s);  // even with an item queued
    FAIL();
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "'timeout' must be a non-negative number");
  }
  EXPECT_THROW(q.try_get(-1s), tandem::ValueError);
  EXPECT_EQ(q.qsize(), 1u);
  // Python quirk kept (docs/queue.md#timeouts): an unbounded put ignores its timeout.
  typename TestFixture::Q unbounded;
  EXPECT_NO_THROW(unbounded.put(1, -1s));
  EXPECT_EQ(unbounded.get(), 1);
}

// BaseQueueTestMixin.test_nowait
TYPED_TEST(QueueTest, Nowait) {
  typename TestFixture::Q q(QUEUE_SIZE);
  for (int i = 0; i < QUEUE_SIZE; ++i) q.put_nowait(1);
  EXPECT_THROW(q.put_nowait(1), tandem::Full);
  for (int i = 0; i < QUEUE_SIZE; ++i) q.get_nowait();
  EXPECT_THROW(q.get_nowait(), tandem::Empty);
}

// BaseQueueTestMixin.test_queue_task_done
TYPED_TEST(QueueTest, TaskDone) {
  typename TestFixture::Q q;
  try {
    q.task_done();
    FAIL() << "Did not detect task count going negative";
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "task_done() called too many times");
  }
  q.put(1);
  q.task_done();
  EXPECT_THROW(q.task_done(), tandem::ValueError);
  EXPECT_EQ(q.unfinished_tasks(), 0u);
}

// BaseQueueTestMixin.test_queue_join
TYPED_TEST(QueueTest, Join) {
  typename TestFixture::Q q;
  queue_join_test(q);
  queue_join_test(q);
  EXPECT_THROW(q.task_done(), tandem::ValueError);
  typename TestFixture::Q bounded(3);
  queue_join_test(bounded);
}

// join(timeout), not in Python
TYPED_TEST(QueueTest, JoinTimeout) {
  typename TestFixture::Q q;
  EXPECT_TRUE(q.join(0s));
  q.put(1);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(q.join(20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  q.get();
  q.task_done();
  EXPECT_TRUE(q.join(0s));
}

// try_get, not in Python
TYPED_TEST(QueueTest, TryGet) {
  typename TestFixture::Q q(2);
  EXPECT_FALSE(q.try_get().has_value());
  EXPECT_FALSE(q.try_get(1ms).has_value());
  q.put(7);
  auto v = q.try_get(1s);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(int(*v), 7);
  q.put(8);
  q.shutdown();
  EXPECT_EQ(int(*q.try_get()), 8);
  EXPECT_FALSE(q.try_get().has_value());     // shut down and drained: no ShutDown exception
  EXPECT_FALSE(q.try_get(1s).has_value());   // returns at once
}

// Python's test_shrinking_queue does not apply: maxsize is fixed at construction.
TYPED_TEST(QueueTest, Maxsize) {
  typename TestFixture::Q q(3), u;
  EXPECT_EQ(q.maxsize(), 3u);
  EXPECT_EQ(u.maxsize(), 0u);
  EXPECT_FALSE(u.full());
}

// test_shutdown_empty
TYPED_TEST(QueueTest, ShutdownEmpty) {
  typename TestFixture::Q q;
  q.shutdown();
  EXPECT_THROW(q.put(1), tandem::ShutDown);
  EXPECT_THROW(q.get(), tandem::ShutDown);
}

// test_shutdown_nonempty
TYPED_TEST(QueueTest, ShutdownNonempty) {
  typename TestFixture::Q q;
  q.put(1);
  q.shutdown();
  EXPECT_EQ(q.get(), 1);
  EXPECT_THROW(q.get(), tandem::ShutDown);
}

// test_shutdown_immediate
TYPED_TEST(QueueTest, ShutdownImmediate) {
  typename TestFixture::Q q;
  q.put(1);
  q.shutdown(true);
  EXPECT_THROW(q.get(), tandem::ShutDown);
}

// test_shutdown_allowed_transitions
TYPED_TEST(QueueTest, ShutdownAllowedTransitions) {
  typename TestFixture::Q q;
  EXPECT_FALSE(q.is_shutdown());
  q.shutdown();
  EXPECT_TRUE(q.is_shutdown());
  q.shutdown(true);
  EXPECT_TRUE(q.is_shutdown());
  q.shutdown(false);
  EXPECT_TRUE(q.is_shutdown());
}

// _shutdown_all_methods_in_one_thread (test_shutdown_all_methods_in_one_thread and
// test_shutdown_immediate_all_methods_in_one_thread)
template <class Q>
void shutdown_all_methods_in_one_thread(bool immediate) {
  Q q(2);
  q.put(1);
  q.put_nowait(2);
  q.shutdown(immediate);
  EXPECT_THROW(q.put(3), tandem::ShutDown);
  EXPECT_THROW(q.put_nowait(4), tandem::ShutDown);
  EXPECT_THROW(q.put(5, 1s), tandem::ShutDown);
  if (immediate) {
    EXPECT_THROW(q.get(), tandem::ShutDown);
    EXPECT_THROW(q.get_nowait(), tandem::ShutDown);
    EXPECT_THROW(q.task_done(), tandem::ValueError);
    q.join();
  } else {
    EXPECT_EQ(q.get() + q.get(), 3);
    q.task_done();
    q.task_done();
    q.join();
    EXPECT_THROW(q.get(), tandem::ShutDown);
    EXPECT_THROW(q.get_nowait(), tandem::ShutDown);
    EXPECT_THROW(q.get(1s), tandem::ShutDown);
  }
}
TYPED_TEST(QueueTest, ShutdownAllMethodsInOneThread) {
  shutdown_all_methods_in_one_thread<typename TestFixture::Q>(false);
}
TYPED_TEST(QueueTest, ShutdownImmediateAllMethodsInOneThread) {
  shutdown_all_methods_in_one_thread<typename TestFixture::Q>(true);
}

// test_shutdown_immediate: items already taken still count; queued ones are released
// (docs/queue.md#shutdown; probed on CPython: 1 in flight + 1 queued leaves
// unfinished_tasks == 1).
TYPED_TEST(QueueTest, ShutdownImmediateKeepsTakenItems) {
  typename TestFixture::Q q;
  q.put(1);
  q.put(2);
  q.get();
  q.shutdown(true);
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_FALSE(q.join(10ms));
  q.task_done();
  q.join();
  EXPECT_THROW(q.task_done(), tandem::ValueError);
}

// test_shutdown_pending_get (gh-117531): a blocked getter wakes with ShutDown.
TYPED_TEST(QueueTest, ShutdownPendingGet) {
  for (bool immediate : {false, true}) {
    typename TestFixture::Q q;
    std::atomic<bool> started{false};
    std::thread t([&] {
      started = true;
      EXPECT_THROW(q.get(), tandem::ShutDown);
    });
    while (!started) std::this_thread::yield();
    q.shutdown(immediate);
    t.join();
  }
}

// test_shutdown_put_join / _shutdown_put_join: blocked putters raise ShutDown; join waits
// for the items put before (non-immediate) or returns once they are removed (immediate).
TYPED_TEST(QueueTest, ShutdownPutJoin) {
  for (bool immediate : {false, true}) {
    typename TestFixture::Q q(2);
    q.put(1);
    q.put(2);
    std::atomic<int> entered{0};
    std::vector<std::thread> putters;
    for (int i = 0; i < 3; ++i)
      putters.emplace_back([&] {
        ++entered;
        EXPECT_THROW(q.put(3), tandem::ShutDown);
      });
    while (entered < 3) std::this_thread::yield();
    std::atomic<bool> joined{false};
    std::thread joiner([&] {
      q.join();
      joined = true;
    });
    q.shutdown(immediate);
    for (auto& t : putters) t.join();
    if (!immediate) {
      EXPECT_FALSE(joined.load());
      EXPECT_EQ(q.get() + q.get(), 3);
      q.task_done();
      q.task_done();
    }
    joiner.join();
    EXPECT_TRUE(joined.load());
    EXPECT_THROW(q.get_nowait(), tandem::ShutDown);
  }
}

// test_shutdown_get_join / _shutdown_get_join: getters drain (non-immediate) or raise at
// once (immediate); join returns after the task_done of every item taken.
TYPED_TEST(QueueTest, ShutdownGetJoin) {
  for (bool immediate : {false, true}) {
    typename TestFixture::Q q(2);
    q.put(1);
    q.put(2);
    int taken = q.get();
    q.shutdown(immediate);
    std::atomic<bool> joined{false};
    std::thread joiner([&] {
      q.join();
      joined = true;
    });
    if (!immediate) {
      q.task_done();
      EXPECT_NE(q.get(), taken);
      q.task_done();
    } else {
      EXPECT_THROW(q.get(), tandem::ShutDown);
      q.task_done();
    }
    joiner.join();
    EXPECT_TRUE(joined.load());
    EXPECT_THROW(q.get(), tandem::ShutDown);
  }
}

// _shutdown_all_methods_in_many_threads: putters, getters (blocking, timed, nowait) and
// joiners on a small queue; shutdown in the middle. Nobody hangs, nothing is returned twice,
// and after draining join() returns.
template <class Q>
void shutdown_all_methods_in_many_threads(bool immediate) {
  Q q(2);
  constexpr int kThreads = 3;
  std::atomic<int> put_ok{0}, got{0}, started{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i) {
    ts.emplace_back([&, i] {  // putters
      ++started;
      try {
        for (int k = 0;; ++k) {
          if (k % 3 == 0) q.put(i);
          else if (k % 3 == 1) q.put(i, 1s);
          else {
            try { q.put_nowait(i); } catch (const tandem::Full&) { continue; }
          }
          ++put_ok;
        }
      } catch (const tandem::ShutDown&) {
      } catch (const tandem::Full&) {
      }
    });
    ts.emplace_back([&] {  // getters
      ++started;
      for (int k = 0;; ++k) {
        try {
          if (k % 3 == 0) q.get();
          else if (k % 3 == 1) q.get(1s);
          else q.get_nowait();
          ++got;
          q.task_done();
        } catch (const tandem::ShutDown&) {
          return;
        } catch (const tandem::Empty&) {
        }
      }
    });
  }
  while (started < 2 * kThreads || got < 50) std::this_thread::yield();
  q.shutdown(immediate);
  for (auto& t : ts) t.join();
  q.join();  // every item was taken and task_done'd, or removed by the immediate shutdown
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  if (!immediate) {
    EXPECT_EQ(got.load(), put_ok.load());
  } else {
    EXPECT_LE(got.load(), put_ok.load());
  }
  EXPECT_THROW(q.get_nowait(), tandem::ShutDown);
}
TYPED_TEST(QueueTest, ShutdownAllMethodsInManyThreads) {
  shutdown_all_methods_in_many_threads<typename TestFixture::Q>(false);
}
TYPED_TEST(QueueTest, ShutdownImmediateAllMethodsInManyThreads) {
  shutdown_all_methods_in_many_threads<typename TestFixture::Q>(true);
}

// Range-for, not in Python: takes items until shut down and drained.
TYPED_TEST(QueueTest, RangeFor) {
  typename TestFixture::Q q(4);
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) q.put(i);
    q.shutdown();
  });
  long sum = 0;
  int n = 0;
  for (int item : q) {
    sum += item;
    ++n;
    q.task_done();
  }
  producer.join();
  EXPECT_EQ(n, 100);
  EXPECT_EQ(sum, 4950);
  q.join();
}

// Move-only items through every engine.
TEST(QueueMoveOnly, UniquePtr) {
  tandem::Queue<std::unique_ptr<int>> ring(2), deque;
  tandem::LifoQueue<std::unique_ptr<int>> lifo;
  auto cmp = [](const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) { return *a < *b; };
  tandem::PriorityQueue<std::unique_ptr<int>, decltype(cmp)> prio(0, cmp);
  for (int i : {3, 1, 2}) {
    ring.put_nowait(std::make_unique<int>(i));
    if (ring.full()) {
      EXPECT_EQ(*ring.get(), i == 1 ? 3 : 1);
    }
    deque.put(std::make_unique<int>(i));
    lifo.put(std::make_unique<int>(i));
    prio.put(std::make_unique<int>(i));
  }
  EXPECT_EQ(*ring.try_get().value(), 2);
  EXPECT_FALSE(ring.try_get().has_value());
  EXPECT_EQ(*deque.get(), 3);
  EXPECT_EQ(*lifo.get(), 2);
  EXPECT_EQ(*prio.get(), 1);
  EXPECT_EQ(*prio.get(), 2);
  EXPECT_EQ(*prio.get(), 3);
  ring.put(std::make_unique<int>(9));
  ring.shutdown();
  int n = 0;
  for (std::unique_ptr<int> p : ring) n += *p;
  EXPECT_EQ(n, 9);
}

// PriorityQueue: heap order over many items, with a custom Compare (largest first).
TEST(PriorityQueue, HeapOrder) {
  tandem::PriorityQueue<int> q;
  tandem::PriorityQueue<int, std::greater<int>> g;
  std::vector<int> in;
  for (int i = 0; i < 500; ++i) in.push_back((i * 7919) % 503);
  for (int v : in) {
    q.put(v);
    g.put(v);
  }
  std::vector<int> out, gout;
  while (!q.empty()) out.push_back(q.get());
  while (!g.empty()) gout.push_back(g.get());
  auto sorted = in;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(out, sorted);
  std::reverse(sorted.begin(), sorted.end());
  EXPECT_EQ(gout, sorted);
}

// Queue with strings (non-trivial nothrow-movable T through the ring) and capacity not a
// power of two, wrapping many times.
TEST(QueueRing, StringsWrapAround) {
  tandem::Queue<std::string> q(3);
  for (int i = 0; i < 1000; ++i) {
    q.put(std::string(40, char('a' + i % 26)));
    if (q.full()) {
      EXPECT_EQ(q.get().size(), 40u);
      EXPECT_EQ(q.get().size(), 40u);
    }
  }
  EXPECT_LE(q.qsize(), 3u);
}
