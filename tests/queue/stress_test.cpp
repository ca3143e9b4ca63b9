// SPDX-License-Identifier: MIT
// Stress: many producers and consumers, a random mix of blocking, timed and non-blocking
// operations, capacities 1..1024 (ring and locked engines), every item received exactly once
// (count + sum + xor checksums), task_done/join, shutdown during traffic, move-only items.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "tandem/queue.hpp"

using namespace std::chrono_literals;

namespace {

struct Sums {
  std::atomic<long> count{0}, sum{0}, xr{0};
  void add(long v) {
    count += 1;
    sum += v;
    xr ^= v;
  }
};

long value_of(long v) { return v; }
long value_of(const std::unique_ptr<long>& p) { return *p; }
template <class T>
T make(long v) {
  if constexpr (std::is_same_v<T, long>) {
    return v;
  } else {
    return std::make_unique<long>(v);
  }
}

// Puts `per_producer` items each with a random mix of put / put(timeout) / put_nowait.
template <class Q>
void mixed_traffic(Q& q, int producers, int consumers, long per_producer) {
  Sums sent, got;
  std::vector<std::thread> ts;
  std::atomic<int> producers_left{producers};
  for (int p = 0; p < producers; ++p)
    ts.emplace_back([&, p] {
      std::mt19937 rnd(p);
      for (long i = 0; i < per_producer; ++i) {
        long v = p * per_producer + i + 1;
        for (;;) {
          try {
            switch (rnd() % 3) {
              case 0: q.put(make<typename Q::value_type>(v)); break;
              case 1: q.put(make<typename Q::value_type>(v), 1ms); break;
              default: q.put_nowait(make<typename Q::value_type>(v)); break;
            }
            break;
          } catch (const tandem::Full&) {
            std::this_thread::yield();
          }
        }
        sent.add(v);
      }
      if (--producers_left == 0) q.shutdown();  // consumers drain, then see ShutDown
    });
  for (int c = 0; c < consumers; ++c)
    ts.emplace_back([&, c] {
      std::mt19937 rnd(100 + c);
      for (;;) {
        try {
          switch (rnd() % 4) {
            case 0: got.add(value_of(q.get())); break;
            case 1: got.add(value_of(q.get(1ms))); break;
            case 2: got.add(value_of(q.get_nowait())); break;
            default: {
              auto v = q.try_get(1ms);
              if (!v) {
                if (q.is_shutdown() && q.empty()) continue;  // get() decides below
                continue;
              }
              got.add(value_of(*v));
            }
          }
          q.task_done();
        } catch (const tandem::Empty&) {
          std::this_thread::yield();
        } catch (const tandem::ShutDown&) {
          return;
        }
      }
    });
  for (auto& t : ts) t.join();
  q.join();
  EXPECT_EQ(got.count.load(), sent.count.load());
  EXPECT_EQ(got.sum.load(), sent.sum.load());
  EXPECT_EQ(got.xr.load(), sent.xr.load());
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  EXPECT_EQ(q.qsize(), 0u);
}

}  // namespace

TEST(QueueStress, MixedOpsAllCapacities) {
  for (std::size_t cap : {1, 2, 3, 7, 64, 1000, 1024}) {
    tandem::Queue<long> q(cap);
    mixed_traffic(q, 4, 4, 5000);
  }
}

TEST(QueueStress, MixedOpsLockedEngines) {
  tandem::Queue<long> unbounded;
  mixed_traffic(unbounded, 3, 3, 5000);
  tandem::LifoQueue<long> lifo(5);
  mixed_traffic(lifo, 3, 3, 5000);
  tandem::PriorityQueue<long> prio(16);
  mixed_traffic(prio, 3, 3, 5000);
}

TEST(QueueStress, MoveOnly) {
  for (std::size_t cap : {1, 5, 256}) {
    tandem::Queue<std::unique_ptr<long>> q(cap);
    mixed_traffic(q, 3, 3, 3000);
  }
  tandem::Queue<std::unique_ptr<long>> unbounded;
  mixed_traffic(unbounded, 2, 2, 3000);
}

// Shutdown (plain and immediate) while producers and consumers are busy: every put that
// returned normally is either received exactly once or (immediate) discarded; nothing is
// received twice or invented; join() returns; nobody hangs.
TEST(QueueStress, ShutdownDuringTraffic) {
  for (int round = 0; round < 40; ++round) {
    bool immediate = round % 2 == 1;
    tandem::Queue<long> q(round % 3 == 0 ? 1 : round % 3 == 1 ? 8 : 1024);
    constexpr int P = 3, C = 3;
    Sums sent, got;
    std::vector<std::thread> ts;
    for (int p = 0; p < P; ++p)
      ts.emplace_back([&, p] {
        try {
          for (long i = 1;; ++i) {
            long v = (i << 2) | p;
            q.put(v);
            sent.add(v);
          }
        } catch (const tandem::ShutDown&) {
        }
      });
    for (int c = 0; c < C; ++c)
      ts.emplace_back([&] {
        for (long v : q) {
          got.add(v);
          q.task_done();
        }
      });
    while (got.count.load() < 200 * (round % 5 + 1)) std::this_thread::yield();
    q.shutdown(immediate);
    for (auto& t : ts) t.join();
    q.join();
    EXPECT_EQ(q.unfinished_tasks(), 0u);
    EXPECT_EQ(q.qsize(), 0u);
    if (!immediate) {
      EXPECT_EQ(got.count.load(), sent.count.load());
      EXPECT_EQ(got.sum.load(), sent.sum.load());
      EXPECT_EQ(got.xr.load(), sent.xr.load());
    } else {
      EXPECT_LE(got.count.load(), sent.count.load());
      EXPECT_LE(got.sum.load(), sent.sum.load());
    }
  }
}

// Joiners and task_done racing: join() returns only once every put has been task_done'd.
TEST(QueueStress, JoinNeverEarly) {
  tandem::Queue<long> q(16);
  std::atomic<long> done{0};
  constexpr long N = 20000;
  std::vector<std::thread> ts;
  for (int c = 0; c < 2; ++c)
    ts.emplace_back([&] {
      for (long v : q) {
        (void)v;
        done.fetch_add(1);
        q.task_done();
      }
    });
  for (long round = 0; round < 20; ++round) {
    for (long i = 0; i < N / 20; ++i) q.put(i);
    q.join();
    EXPECT_EQ(done.load(), (round + 1) * (N / 20));
  }
  q.shutdown();
  for (auto& t : ts) t.join();
}

// task_done() racing with puts and with other task_done() calls, without gets in step:
// the count never goes below zero (no task_done succeeds before its put has started), no
// success is lost, and "too many" is still ValueError once everything is done. (The ring
// derives unfinished_tasks from its own position counter, so this checks that bound.)
template <class Q>
void task_done_races_puts(Q& q) {
  constexpr int P = 2, M = 3;
  constexpr long per_producer = 20000;
  std::atomic<long> started{0}, done{0};
  std::atomic<bool> producing{true}, overcount{false};
  std::vector<std::thread> ts;
  for (int p = 0; p < P; ++p)
    ts.emplace_back([&] {
      for (long i = 0; i < per_producer; ++i) {
        started.fetch_add(1);
        q.put(i);
      }
    });
  std::thread drainer([&] {  // keeps the bounded queue moving; never calls task_done
    long got = 0;
    while (got < P * per_producer) {
      if (q.try_get(10ms)) ++got;
    }
  });
  for (int m = 0; m < M; ++m)
    ts.emplace_back([&] {
      for (;;) {
        try {
          q.task_done();
          long d = done.fetch_add(1) + 1;
          if (d > started.load()) overcount = true;
        } catch (const tandem::ValueError&) {
          if (!producing.load() && done.load() >= P * per_producer) return;
          std::this_thread::yield();
        }
      }
    });
  for (int p = 0; p < P; ++p) ts[p].join();
  producing = false;
  drainer.join();
  for (std::size_t i = P; i < ts.size(); ++i) ts[i].join();
  EXPECT_FALSE(overcount.load());
  EXPECT_EQ(done.load(), P * per_producer);
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  EXPECT_THROW(q.task_done(), tandem::ValueError);
  EXPECT_TRUE(q.join(0s));
}

TEST(QueueStress, TaskDoneRacesPuts) {
  tandem::Queue<long> ring(64);
  task_done_races_puts(ring);
  tandem::Queue<long> unbounded;
  task_done_races_puts(unbounded);
}

// shutdown(immediate=True) while task_done() calls race: discarded items lower the count
// once each, never below zero, and join() returns.
TEST(QueueStress, ImmediateShutdownWithPendingTaskDone) {
  for (int round = 0; round < 50; ++round) {
    tandem::Queue<long> q(round % 2 ? 16 : 1024);
    for (long i = 0; i < 10; ++i) q.put(i);
    for (int i = 0; i < 3; ++i) (void)q.get();  // 3 taken, not yet done
    std::atomic<int> ok{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&] {
        for (int i = 0; i < 3; ++i) {
          try {
            q.task_done();
            ++ok;
          } catch (const tandem::ValueError&) {
          }
        }
      });
    q.shutdown(true);
    for (auto& t : ts) t.join();
    // 10 puts; the 7 discarded and the task_done calls together reach 10 and stop there.
    EXPECT_EQ(q.unfinished_tasks(), 0u);
    EXPECT_LE(ok.load(), 10);
    EXPECT_GE(ok.load(), 3);
    EXPECT_TRUE(q.join(0s));
    EXPECT_THROW(q.task_done(), tandem::ValueError);
  }
}
