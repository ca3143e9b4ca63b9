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
