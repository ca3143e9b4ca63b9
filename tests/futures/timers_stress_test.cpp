// SPDX-License-Identifier: MIT
// Stress for issue 14's pieces under load: a million call_laters with random delays made by 8
// threads while others cancel some (each fires exactly once or never, and a successful cancel
// means never), priorities mixed with nested submits under work stealing (every task runs
// exactly once), and context propagation through nested submits from many threads. Sized down
// under the sanitizers (several times slower); label "stress".
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tandem/contextvars.hpp"
#include "tandem/futures.hpp"

using namespace std::chrono_literals;
using tandem::Future;

namespace {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kTimers = 100'000;
constexpr int kTasks = 20'000;
#else
constexpr int kTimers = 1'000'000;
constexpr int kTasks = 200'000;
#endif
constexpr int kThreads = 8;
tandem::ContextVar<int> owner{"owner", -1};
}  // namespace

TEST(TimersStress, MillionTimersFireExactlyOnceOrNever) {
  tandem::ThreadPoolExecutor ex(2);
  const int per = kTimers / kThreads;
  auto fired = std::make_unique<std::atomic<std::uint8_t>[]>(kTimers);
  std::vector<std::vector<Future<void>>> futs(kThreads);
  std::vector<std::vector<std::uint8_t>> cancelled(kThreads, std::vector<std::uint8_t>(per, 0));
  std::vector<std::thread> makers;
  for (int t = 0; t < kThreads; ++t) {
    makers.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::uniform_int_distribution<int> delay_us(0, 100'000);
      futs[t].reserve(per);
      for (int i = 0; i < per; ++i) {
        const int id = t * per + i;
        futs[t].push_back(ex.call_later(std::chrono::microseconds(delay_us(rng)),
                                        [&fired, id] { fired[id].fetch_add(1); }));
        // Cancel every 4th a little later (racing with its firing when its delay is short).
        if (i >= 16 && i % 4 == 0) cancelled[t][i - 16] = futs[t][i - 16].cancel();
      }
    });
  }
  for (auto& m : makers) m.join();
  long fired_total = 0, cancelled_total = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < per; ++i) {
      Future<void>& f = futs[t][i];
      const int id = t * per + i;
      if (cancelled[t][i]) {
        ASSERT_TRUE(f.cancelled()) << id;
        ++cancelled_total;
      } else {
        ASSERT_NO_THROW(f.result(120s)) << id;
      }
      // Cancelled before it ran: never called; otherwise exactly once.
      ASSERT_EQ(fired[id].load(), cancelled[t][i] ? 0 : 1) << id;
      fired_total += fired[id].load();
    }
  }
  EXPECT_EQ(fired_total + cancelled_total, static_cast<long>(per) * kThreads);
  EXPECT_GT(cancelled_total, 0);
}

TEST(TimersStress, PrioritiesWithNestedSubmitsRunEveryTaskOnce) {
  tandem::ThreadPoolExecutor ex(4);
  auto ran = std::make_unique<std::atomic<std::uint8_t>[]>(2 * kTasks);
  std::vector<std::thread> subs;
  std::vector<std::vector<Future<int>>> futs(kThreads);
  const int per = kTasks / kThreads;
  for (int t = 0; t < kThreads; ++t) {
    subs.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      std::uniform_int_distribution<int> prio(-3, 3);
      for (int i = 0; i < per; ++i) {
        const int id = t * per + i;
        futs[t].push_back(ex.submit(tandem::TaskOptions{.priority = prio(rng)}, [&ex, &ran, id] {
          ran[id].fetch_add(1);
          if (id % 8 == 0) {  // a nested submit: to the worker's own deque (priority 0)
            return ex.submit([&ran, id] {
                       ran[kTasks + id].fetch_add(1);
                       return id;
                     })
                .result();
          }
          return id;
        }));
      }
    });
  }
  for (auto& s : subs) s.join();
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < per; ++i) ASSERT_EQ(futs[t][i].result(120s), t * per + i);
  for (int id = 0; id < per * kThreads; ++id) {
    ASSERT_EQ(ran[id].load(), 1) << id;
    ASSERT_EQ(ran[kTasks + id].load(), id % 8 == 0 ? 1 : 0) << id;
  }
}

TEST(TimersStress, ContextPropagatesThroughNestedSubmitsFromManyThreads) {
  tandem::ThreadPoolExecutor ex(4);
  std::atomic<int> wrong{0}, checked{0};
  std::vector<std::thread> subs;
  for (int t = 0; t < kThreads; ++t) {
    subs.emplace_back([&, t] {
      owner.set(t);
      std::vector<Future<void>> fs;
      for (int i = 0; i < kTasks / kThreads / 8; ++i) {
        fs.push_back(ex.submit([&, t] {
          if (owner.get() != t) ++wrong;
          owner.set(1000 + t);  // a child sees this, the submitter never does
          ex.submit([&, t] {
              if (owner.get() != 1000 + t) ++wrong;
              ++checked;
            }).result();
        }));
      }
      for (auto& f : fs) f.result(120s);
      if (owner.get() != t) ++wrong;
    });
  }
  for (auto& s : subs) s.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(checked.load(), kThreads * (kTasks / kThreads / 8));
}
