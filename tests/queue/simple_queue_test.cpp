// SPDX-License-Identifier: MIT
// tandem::SimpleQueue — ports of CPython Lib/test/test_queue.py BaseSimpleQueueTest.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "tandem/queue.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int kSentinel = -1;

// BaseSimpleQueueTest.feed: the shared input is popped under a mutex (Python's list.pop is
// atomic under the GIL); occasional yields instead of Python's random sleeps.
struct Feed {
  std::mutex m;
  std::vector<int> seq;
  std::mt19937 rnd{42};
};

void feed(tandem::SimpleQueue<int>& q, Feed& f) {
  for (;;) {
    int val;
    bool yield;
    {
      std::lock_guard g(f.m);
      if (f.seq.empty()) {
        q.put(kSentinel);
        return;
      }
      val = f.seq.back();
      f.seq.pop_back();
      yield = f.rnd() % 2 == 0;
    }
    q.put(val);
    if (yield) std::this_thread::yield();
  }
}

enum class Consume { block, nonblock, timeout };

void consume(tandem::SimpleQueue<int>& q, std::vector<int>& results, std::mutex& rm,
             Consume how) {
  for (;;) {
    int val;
    if (how == Consume::block) {
      val = q.get();
    } else {
      for (;;) {
        try {
          val = how == Consume::nonblock ? q.get_nowait() : q.get(10us);
          break;
        } catch (const tandem::Empty&) {
          std::this_thread::yield();
        }
      }
    }
    if (val == kSentinel) return;
    std::lock_guard g(rm);
    results.push_back(val);
  }
}

// BaseSimpleQueueTest.run_threads
std::vector<int> run_threads(int n_threads, tandem::SimpleQueue<int>& q, std::vector<int> inputs,
                             Consume how) {
  Feed f;
  f.seq = inputs;
  std::reverse(f.seq.begin(), f.seq.end());
  std::vector<int> results;
  std::mutex rm;
  std::vector<std::thread> ts;
  for (int i = 0; i < n_threads; ++i) ts.emplace_back([&] { feed(q, f); });
  for (int i = 0; i < n_threads; ++i) ts.emplace_back([&] { consume(q, results, rm, how); });
  for (auto& t : ts) t.join();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
  return results;
}

std::vector<int> range(int n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace

// BaseSimpleQueueTest.test_basic
TEST(SimpleQueue, Basic) {
  tandem::SimpleQueue<int> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
  q.put(1);
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.qsize(), 1u);
  q.put(2);
  q.put_nowait(3);
  q.put(4);
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.qsize(), 4u);
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.qsize(), 3u);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_EQ(q.try_get().value(), 3);
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get(100ms), 4);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_THROW(q.get_nowait(), tandem::Empty);
  EXPECT_THROW(q.get(1ms), tandem::Empty);
  EXPECT_FALSE(q.try_get().has_value());
  EXPECT_FALSE(q.try_get(1ms).has_value());
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
}

// BaseSimpleQueueTest.test_negative_timeout_raises_exception
TEST(SimpleQueue, NegativeTimeoutRaisesException) {
  tandem::SimpleQueue<int> q;
  q.put(1);
  try {
    q.get(-1s);
    FAIL();
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "'timeout' must be a non-negative number");
  }
  EXPECT_THROW(q.try_get(-1ms), tandem::ValueError);
  EXPECT_EQ(q.qsize(), 1u);
}

// BaseSimpleQueueTest.test_order
TEST(SimpleQueue, Order) {
  tandem::SimpleQueue<int> q;
  auto inputs = range(100);
  EXPECT_EQ(run_threads(1, q, inputs, Consume::block), inputs);
}

// BaseSimpleQueueTest.test_many_threads
TEST(SimpleQueue, ManyThreads) {
  tandem::SimpleQueue<int> q;
  auto inputs = range(10000);
  auto results = run_threads(50, q, inputs, Consume::block);
  std::sort(results.begin(), results.end());
  EXPECT_EQ(results, inputs);
}

// BaseSimpleQueueTest.test_many_threads_nonblock
TEST(SimpleQueue, ManyThreadsNonblock) {
  tandem::SimpleQueue<int> q;
  auto inputs = range(10000);
  auto results = run_threads(50, q, inputs, Consume::nonblock);
  std::sort(results.begin(), results.end());
  EXPECT_EQ(results, inputs);
}

// BaseSimpleQueueTest.test_many_threads_timeout
TEST(SimpleQueue, ManyThreadsTimeout) {
  tandem::SimpleQueue<int> q;
  auto inputs = range(1000);
  auto results = run_threads(50, q, inputs, Consume::timeout);
  std::sort(results.begin(), results.end());
  EXPECT_EQ(results, inputs);
}

// BaseSimpleQueueTest.test_references: the queue lets go of each item as it leaves.
TEST(SimpleQueue, References) {
  tandem::SimpleQueue<std::shared_ptr<int>> q;
  constexpr int N = 20;
  for (int i = 0; i < N; ++i) q.put(std::make_shared<int>(i));
  for (int i = 0; i < N; ++i) {
    std::weak_ptr<int> wr = q.get();
    EXPECT_TRUE(wr.expired());
  }
}

// test_references for Queue too: the ring destroys the moved-from slot at once.
TEST(SimpleQueue, QueueReferences) {
  tandem::Queue<std::shared_ptr<int>> ring(4), deque;
  for (auto* q : {&ring, &deque}) {
    q->put(std::make_shared<int>(1));
    std::weak_ptr<int> wr = q->get();
    EXPECT_TRUE(wr.expired());
    auto sp = std::make_shared<int>(2);
    std::weak_ptr<int> w2 = sp;
    q->put(std::move(sp));
    q->shutdown(true);  // discarded items are destroyed
    EXPECT_TRUE(w2.expired());
  }
}

// Move-only items, and a blocked getter woken by a put.
TEST(SimpleQueue, MoveOnlyAndBlockingGet) {
  tandem::SimpleQueue<std::unique_ptr<int>> q;
  std::atomic<bool> started{false};
  std::thread t([&] {
    started = true;
    EXPECT_EQ(*q.get(), 5);
  });
  while (!started) std::this_thread::yield();
  q.put(std::make_unique<int>(5));
  t.join();
}
