// SPDX-License-Identifier: MIT
// Stress tests for the synchronisation primitives of <tandem/threading.hpp>: many threads ×
// many iterations with timeouts mixed in and random interleavings. Each finishes in a few
// seconds on a loaded 2-core machine; none sleeps to synchronise.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <thread>
#include <vector>

#include "tandem/threading/barrier.hpp"
#include "tandem/threading/condition.hpp"
#include "tandem/threading/event.hpp"
#include "tandem/threading/rlock.hpp"
#include "tandem/threading/semaphore.hpp"

using namespace std::chrono_literals;

// Condition as a bounded buffer: producers and consumers with timed and untimed waits,
// notify() and notify_all() mixed, over an RLock taken recursively. Every item is consumed
// exactly once; the sums prove it.
TEST(SyncStress, ConditionProducerConsumer) {
  tandem::RLock rlock;
  tandem::Condition not_empty(rlock), not_full(rlock);
  std::deque<std::int64_t> buf;  // guarded by rlock
  constexpr std::size_t kCap = 8;
  constexpr int kProducers = 3, kConsumers = 3, kPerProducer = 4000;
  std::atomic<std::int64_t> consumed_sum{0}, consumed_count{0}, timeouts{0};
  std::int64_t produced_sum = 0;
  for (int p = 0; p < kProducers; ++p)
    for (int i = 0; i < kPerProducer; ++i) produced_sum += std::int64_t{p} * kPerProducer + i;
  bool done = false;  // guarded by rlock

  std::vector<std::thread> ts;
  for (int p = 0; p < kProducers; ++p)
    ts.emplace_back([&, p] {
      std::mt19937 rng(p);
      for (int i = 0; i < kPerProducer; ++i) {
        std::lock_guard g(not_full);
        std::lock_guard g2(rlock);  // recursion: wait() must release both levels
        if (rng() % 4 == 0) {
          while (!not_full.wait_for([&] { return buf.size() < kCap; }, 200us)) ++timeouts;
        } else {
          not_full.wait_for([&] { return buf.size() < kCap; });
        }
        buf.push_back(std::int64_t{p} * kPerProducer + i);
        if (rng() % 8 == 0) {
          not_empty.notify_all();
        } else {
          not_empty.notify();
        }
      }
    });
  for (int c = 0; c < kConsumers; ++c)
    ts.emplace_back([&, c] {
      std::mt19937 rng(100 + c);
      for (;;) {
        std::lock_guard g(not_empty);
        while (buf.empty() && !done) {
          if (rng() % 3 == 0) {
            if (!not_empty.wait(100us)) ++timeouts;
          } else {
            not_empty.wait();
          }
        }
        if (buf.empty()) return;  // done and drained
        consumed_sum += buf.front();
        ++consumed_count;
        buf.pop_front();
        not_full.notify();
      }
    });
  for (int p = 0; p < kProducers; ++p) ts[p].join();
  {
    std::lock_guard g(not_empty);
    done = true;
    not_empty.notify_all();
  }
  for (std::size_t i = kProducers; i < ts.size(); ++i) ts[i].join();
  EXPECT_EQ(consumed_count.load(), std::int64_t{kProducers} * kPerProducer);
  EXPECT_EQ(consumed_sum.load(), produced_sum);
  EXPECT_FALSE(rlock.locked());
}

// Condition without spurious wake-ups under load: every true return of wait() is matched
// by exactly one notify that chose a waiter (count them both).
TEST(SyncStress, ConditionNoSpuriousWakeups) {
  tandem::Lock lock;
  tandem::Condition cond(lock);
  std::int64_t waiting = 0, notified = 0, woke = 0;  // guarded by lock
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] {
      std::mt19937 rng(i);
      while (!stop.load()) {
        std::lock_guard g(cond);
        ++waiting;
        bool r = cond.wait(std::chrono::microseconds(rng() % 300));
        --waiting;
        if (r) ++woke;
      }
    });
  std::thread notifier([&] {
    std::mt19937 rng(42);
    for (int k = 0; k < 5000; ++k) {
      std::this_thread::yield();
      std::lock_guard g(cond);
      // notify(n) chooses at most n queued waiters; only chosen ones may return true.
      auto n = static_cast<std::int64_t>(rng() % 3);
      if (waiting > 0) {
        cond.notify(n);
        notified += n;
      }
    }
    stop = true;
  });
  notifier.join();
  {
    std::lock_guard g(cond);
    cond.notify_all();
    notified += waiting;  // notify_all chooses at most the threads inside wait()
  }
  for (auto& t : ts) t.join();
  EXPECT_LE(woke, notified);  // never more wake-ups than notifications
  EXPECT_GT(woke, 0);
}

// Semaphore as a counting limit: never more than kLimit threads inside, with timed
// acquires, try-acquires and multi-releases mixed in.
TEST(SyncStress, SemaphoreCountingLimit) {
  constexpr int kLimit = 3, kThreads = 8, kIters = 20000;
  tandem::BoundedSemaphore sem(kLimit);
  std::atomic<int> inside{0}, max_inside{0};
  std::atomic<std::int64_t> entries{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kIters; ++i) {
        bool got;
        switch (rng() % 3) {
          case 0: got = sem.acquire(); break;
          case 1: got = sem.acquire(false); break;
          default: got = sem.acquire(std::chrono::microseconds(rng() % 200)); break;
        }
        if (!got) continue;
        int now = ++inside;
        int prev = max_inside.load();
        while (now > prev && !max_inside.compare_exchange_weak(prev, now)) {
        }
        ++entries;
        --inside;
        sem.release();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_LE(max_inside.load(), kLimit);
  EXPECT_GT(entries.load(), 0);
  EXPECT_EQ(sem.value(), kLimit);
}

// Semaphore hand-off with release(n): n units released at once reach n sleepers; nothing
// is lost or duplicated.
TEST(SyncStress, SemaphoreMultiReleaseHandoff) {
  tandem::Semaphore sem(0);
  constexpr int kConsumers = 6, kUnits = 30000;
  std::atomic<int> taken{0};
  std::vector<std::thread> ts;
  for (int c = 0; c < kConsumers; ++c)
    ts.emplace_back([&] {
      while (taken.load() < kUnits) {
        if (sem.acquire(1ms)) ++taken;
      }
    });
  std::mt19937 rng(7);
  int released = 0;
  while (released < kUnits) {
    int n = 1 + static_cast<int>(rng() % 5);
    if (released + n > kUnits) n = kUnits - released;
    sem.release(n);
    released += n;
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(taken.load(), kUnits);
  EXPECT_EQ(sem.value(), 0);
}

// Event storms: one thread sets and clears in a loop while others wait with and without
// timeouts; a final set() releases everyone.
TEST(SyncStress, EventSetClearStorm) {
  tandem::Event evt;
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> trues{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 6; ++i)
    ts.emplace_back([&, i] {
      while (!stop.load()) {
        if (i % 3 == 0 ? evt.wait() : evt.wait(std::chrono::microseconds(50 * i))) ++trues;
      }
    });
  std::vector<std::thread> stormers;
  for (int s = 0; s < 2; ++s)
    stormers.emplace_back([&] {
      for (int k = 0; k < 50000; ++k) {
        evt.set();
        evt.clear();
      }
    });
  for (auto& t : stormers) t.join();
  stop = true;
  evt.set();
  for (auto& t : ts) t.join();
  EXPECT_GT(trues.load(), 0);
}

// Barrier, many cycles, with random abort()/reset() by a controller thread: every wait()
// either returns a valid index or throws BrokenBarrierError; after the storm the barrier
// is reset and a clean cycle passes.
TEST(SyncStress, BarrierCyclesWithAbortAndReset) {
  constexpr int kParties = 4, kCycles = 3000;
  std::atomic<std::int64_t> actions{0};
  tandem::Barrier b(kParties, [&] { ++actions; });
  std::atomic<std::int64_t> passes{0}, breaks{0}, bad_index{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < kParties; ++t)
    ts.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int c = 0; c < kCycles; ++c) {
        try {
          std::int64_t i = (rng() % 4 == 0) ? b.wait(std::chrono::milliseconds(50)) : b.wait();
          if (i < 0 || i >= kParties) ++bad_index;
          ++passes;
        } catch (const tandem::BrokenBarrierError&) {
          ++breaks;
          if (b.broken() && rng() % 2 == 0) b.reset();
        }
      }
    });
  std::thread controller([&] {
    std::mt19937 rng(99);
    while (!stop.load()) {
      switch (rng() % 64) {
        case 0: b.abort(); break;
        case 1: b.reset(); break;
        default: std::this_thread::yield(); break;
      }
    }
  });
  // A worker stuck in an untimed wait() after the others finished is freed by the
  // controller's next abort(), which keeps coming until every worker is through.
  for (auto& t : ts) t.join();
  stop = true;
  controller.join();
  EXPECT_EQ(bad_index.load(), 0);
  EXPECT_EQ(passes.load() + breaks.load(), std::int64_t{kParties} * kCycles);
  EXPECT_GT(passes.load(), 0);
  // Usable again after reset.
  b.reset();
  std::vector<std::thread> clean;
  std::atomic<std::int64_t> sum{0};
  for (int t = 0; t < kParties; ++t) clean.emplace_back([&] { sum += b.wait(30s); });
  for (auto& t : clean) t.join();
  EXPECT_EQ(sum.load(), 0 + 1 + 2 + 3);
  EXPECT_FALSE(b.broken());
}
