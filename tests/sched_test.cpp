// SPDX-License-Identifier: MIT
// tandem::scheduler — a port of CPython's Lib/test/test_sched.py (each test names its
// original), plus what tandem adds: a blocked run() wakes for an earlier event or a cancel
// entered by another thread, several runners share one queue, and a stress of entries and
// cancels from many threads in which every event runs exactly once or is cancelled.
#include "tandem/sched.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/queue.hpp"
#include "tandem/threading.hpp"

using namespace std::chrono_literals;

namespace {

using tp = tandem::scheduler::time_point;
constexpr tandem::duration kTimeout = 60s;

/// test_sched.Timer: a fake clock; its delay function (Python's time.sleep stand-in) waits on
/// a Condition until advance() lets the fake time move on — no real time passes.
class FakeTimer {
 public:
  tp time() {
    std::lock_guard<tandem::Condition> g(cond_);
    return origin_ + to_d(time_);
  }
  void delay(tandem::duration t) {
    std::lock_guard<tandem::Condition> g(cond_);
    ASSERT_GE(t.count(), 0);
    double target = time_ + t.count();
    while (stop_ < target) {
      time_ = stop_;
      cond_.wait();
    }
    time_ = target;
  }
  void advance(double t) {
    std::lock_guard<tandem::Condition> g(cond_);
    stop_ += t;
    cond_.notify_all();
  }
  double now_seconds() {
    std::lock_guard<tandem::Condition> g(cond_);
    return time_;
  }

 private:
  static std::chrono::steady_clock::duration to_d(double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
  }
  tandem::Condition cond_;
  double time_ = 0, stop_ = 0;
  const tp origin_ = std::chrono::steady_clock::now();
};

// scheduler is not movable (it owns a lock); tests build it in place.
struct Fake {
  FakeTimer timer;
  tandem::scheduler s{[this] { return timer.time(); },
                      [this](tandem::duration d) { timer.delay(d); }};
};

// test_sched.test_enter
TEST(Sched, Enter) {
  std::vector<double> l;
  tandem::scheduler s;
  for (double x : {0.5, 0.4, 0.3, 0.2, 0.1})
    s.enter(tandem::duration(x / 10), 1, [&l](double v) { l.push_back(v); }, x);
  EXPECT_EQ(s.run(), std::nullopt);
  EXPECT_EQ(l, (std::vector<double>{0.1, 0.2, 0.3, 0.4, 0.5}));
}

// test_sched.test_enterabs
TEST(Sched, Enterabs) {
  std::vector<double> l;
  tandem::scheduler s;
  const tp now = std::chrono::steady_clock::now();
  for (double x : {0.05, 0.04, 0.03, 0.02, 0.01})
    s.enterabs(now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(x)),
               1, [&l, x] { l.push_back(x); });
  s.run();
  EXPECT_EQ(l, (std::vector<double>{0.01, 0.02, 0.03, 0.04, 0.05}));
}

// test_sched.test_enter_concurrent (the fake clock of test_sched.Timer)
TEST(Sched, EnterConcurrent) {
  tandem::Queue<int> q;
  Fake f;
  auto put = [&q](int x) { q.put(x); };
  f.s.enter(1s, 1, put, 1);
  f.s.enter(3s, 1, put, 3);
  tandem::Thread t([&] { f.s.run(); });
  t.start();
  f.timer.advance(1);
  EXPECT_EQ(q.get(kTimeout), 1);
  EXPECT_TRUE(q.empty());
  for (int x : {4, 5, 2}) f.s.enter(tandem::duration(x - 1), 1, put, x);
  f.timer.advance(2);
  EXPECT_EQ(q.get(kTimeout), 2);
  EXPECT_EQ(q.get(kTimeout), 3);
  EXPECT_TRUE(q.empty());
  f.timer.advance(1);
  EXPECT_EQ(q.get(kTimeout), 4);
  EXPECT_TRUE(q.empty());
  f.timer.advance(1);
  EXPECT_EQ(q.get(kTimeout), 5);
  EXPECT_TRUE(q.empty());
  f.timer.advance(1000);
  ASSERT_TRUE(t.join(kTimeout));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(f.timer.now_seconds(), 5);
}

// test_sched.test_priority
TEST(Sched, Priority) {
  std::vector<int> l;
  tandem::scheduler s;
  const std::vector<std::pair<std::vector<int>, std::vector<int>>> cases = {
      {{1, 2, 3, 4, 5}, {1, 2, 3, 4, 5}},
      {{5, 4, 3, 2, 1}, {1, 2, 3, 4, 5}},
      {{2, 5, 3, 1, 4}, {1, 2, 3, 4, 5}},
      {{1, 2, 3, 2, 1}, {1, 1, 2, 2, 3}},
  };
  for (const auto& [priorities, expected] : cases) {
    const tp at = std::chrono::steady_clock::now() + 10ms;
    for (int p : priorities) s.enterabs(at, p, [&l, p] { l.push_back(p); });
    s.run();
    EXPECT_EQ(l, expected);
    EXPECT_TRUE(s.empty());
    l.clear();
  }
}

// test_sched.test_cancel
TEST(Sched, Cancel) {
  std::vector<int> l;
  tandem::scheduler s;
  const tp now = std::chrono::steady_clock::now();
  std::vector<tandem::EventHandle> e;
  for (int i = 1; i <= 5; ++i) e.push_back(s.enterabs(now + i * 10ms, 1, [&l, i] { l.push_back(i); }));
  s.cancel(e[0]);
  s.cancel(e[4]);
  s.run();
  EXPECT_EQ(l, (std::vector<int>{2, 3, 4}));
  // Python's list.remove: cancelling what is no longer queued is a ValueError.
  EXPECT_THROW(s.cancel(e[0]), tandem::ValueError);
  EXPECT_THROW(s.cancel(e[2]), tandem::ValueError);
}

// test_sched.test_cancel_concurrent
TEST(Sched, CancelConcurrent) {
  tandem::Queue<int> q;
  Fake f;
  auto put = [&q](int x) { q.put(x); };
  const tp now = f.timer.time();
  f.s.enterabs(now + 1s, 1, put, 1);
  auto e2 = f.s.enterabs(now + 2s, 1, put, 2);
  f.s.enterabs(now + 4s, 1, put, 4);
  auto e5 = f.s.enterabs(now + 5s, 1, put, 5);
  f.s.enterabs(now + 3s, 1, put, 3);
  tandem::Thread t([&] { f.s.run(); });
  t.start();
  f.timer.advance(1);
  EXPECT_EQ(q.get(kTimeout), 1);
  EXPECT_TRUE(q.empty());
  f.s.cancel(e2);
  f.s.cancel(e5);
  f.timer.advance(1);
  EXPECT_TRUE(q.empty());
  f.timer.advance(1);
  EXPECT_EQ(q.get(kTimeout), 3);
  EXPECT_TRUE(q.empty());
  f.timer.advance(1);
  EXPECT_EQ(q.get(kTimeout), 4);
  EXPECT_TRUE(q.empty());
  f.timer.advance(1000);
  ASSERT_TRUE(t.join(kTimeout));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(f.timer.now_seconds(), 4);
}

// test_sched.test_cancel_correct_event (bpo-19270)
TEST(Sched, CancelCorrectEvent) {
  std::string events;
  tandem::scheduler s;
  const tp at = std::chrono::steady_clock::now();
  s.enterabs(at, 1, [&] { events += "a"; });
  auto b = s.enterabs(at, 1, [&] { events += "b"; });
  s.enterabs(at, 1, [&] { events += "c"; });
  s.cancel(b);
  s.run();
  EXPECT_EQ(events, "ac");
}

// test_sched.test_empty
TEST(Sched, Empty) {
  tandem::scheduler s;
  EXPECT_TRUE(s.empty());
  for (int i = 5; i >= 1; --i) s.enter(i * 1ms, 1, [] {});
  EXPECT_FALSE(s.empty());
  s.run();
  EXPECT_TRUE(s.empty());
}

// test_sched.test_queue
TEST(Sched, Queue) {
  tandem::scheduler s;
  const tp now = std::chrono::steady_clock::now();
  auto e5 = s.enterabs(now + 50ms, 1, [] {});
  auto e1 = s.enterabs(now + 10ms, 1, [] {});
  auto e2 = s.enterabs(now + 20ms, 1, [] {});
  auto e4 = s.enterabs(now + 40ms, 1, [] {});
  auto e3 = s.enterabs(now + 30ms, 1, [] {});
  EXPECT_EQ(s.queue(), (std::vector<tandem::EventHandle>{e1, e2, e3, e4, e5}));
}

// test_sched.test_args_kwargs (C++ has no kwargs: arguments, copied at entry)
TEST(Sched, Args) {
  std::vector<std::string> seq;
  tandem::scheduler s;
  const tp now = std::chrono::steady_clock::now();
  s.enterabs(now, 1, [&] { seq.push_back("()"); });
  s.enterabs(now, 1, [&](int a, int b) { seq.push_back(std::to_string(a) + std::to_string(b)); }, 1, 2);
  std::string a = "a";
  s.enterabs(now, 1, [&](const std::string& x, const char* y) { seq.push_back(x + y); }, a, "b");
  a = "changed";  // copied at entry
  s.run();
  std::sort(seq.begin(), seq.end());
  EXPECT_EQ(seq, (std::vector<std::string>{"()", "12", "ab"}));
}

// test_sched.test_run_non_blocking
TEST(Sched, RunNonBlocking) {
  std::vector<int> l;
  tandem::scheduler s;
  for (int x : {10, 9, 8, 7, 6}) s.enter(tandem::duration(x), 1, [&l, x] { l.push_back(x); });
  const auto d = s.run(false);
  EXPECT_TRUE(l.empty());
  ASSERT_TRUE(d.has_value());
  EXPECT_GT(d->count(), 5.0);
  EXPECT_LE(d->count(), 6.0);
  tandem::scheduler empty;
  EXPECT_EQ(empty.run(false), std::nullopt);
}

// sched.py's run(): an action's exception propagates, the event is gone, run() goes on later.
TEST(Sched, ActionExceptionPropagatesAndRunCanResume) {
  std::vector<int> l;
  tandem::scheduler s;
  const tp now = std::chrono::steady_clock::now();
  s.enterabs(now, 1, [] { throw tandem::ValueError("bad event"); });
  s.enterabs(now, 2, [&l] { l.push_back(2); });
  EXPECT_THROW(s.run(), tandem::ValueError);
  EXPECT_EQ(s.queue().size(), 1u);
  s.run();
  EXPECT_EQ(l, (std::vector<int>{2}));
}

// An action may enter events (a periodic task re-entering itself).
TEST(Sched, ActionEntersEvents) {
  int ticks = 0;
  tandem::scheduler s;
  std::function<void()> tick = [&] {
    if (++ticks < 5) s.enter(1ms, 1, tick);
  };
  s.enter(0s, 1, tick);
  s.run();
  EXPECT_EQ(ticks, 5);
}

// Beyond Python: a run() blocked on a far event wakes for an earlier one entered by another
// thread (Python sleeps its whole delay first).
TEST(Sched, BlockedRunWakesForAnEarlierEvent) {
  tandem::scheduler s;
  tandem::Event ran_early;
  auto far = s.enter(3600s, 1, [] {});
  tandem::Thread runner([&] { s.run(); });
  runner.start();
  s.enter(0s, 1, [&] { ran_early.set(); });
  EXPECT_TRUE(ran_early.wait(kTimeout));
  // And a cancel of the event it waits for ends the wait too (the queue is then empty).
  s.cancel(far);
  EXPECT_TRUE(runner.join(kTimeout));
  EXPECT_TRUE(s.empty());
}

// Several runners share one queue: each event runs exactly once.
TEST(Sched, SeveralRunnersRunEachEventOnce) {
  constexpr int kEvents = 2000;
  tandem::scheduler s;
  std::vector<std::atomic<int>> runs(kEvents);
  const tp now = std::chrono::steady_clock::now();
  for (int i = 0; i < kEvents; ++i)
    s.enterabs(now + (i % 50) * 100us, i % 7, [&runs, i] { runs[i].fetch_add(1); });
  std::vector<std::unique_ptr<tandem::Thread>> runners;
  for (int r = 0; r < 4; ++r) {
    runners.push_back(std::make_unique<tandem::Thread>([&] { s.run(); }));
    runners.back()->start();
  }
  for (auto& r : runners) ASSERT_TRUE(r->join(kTimeout));
  for (int i = 0; i < kEvents; ++i) EXPECT_EQ(runs[i].load(), 1) << "event " << i;
}

// Stress: 4 threads enter events with random delays and cancel half of them at random while
// 2 runners run; every event either ran exactly once or was cancelled (cancel succeeded), never
// both, never neither.
TEST(Sched, StressEnterCancelRun) {
  constexpr int kThreads = 4, kEach = 2000;
  tandem::scheduler s;
  std::vector<std::atomic<int>> ran(kThreads * kEach);
  std::vector<std::atomic<int>> cancelled(kThreads * kEach);
  std::atomic<int> entering{kThreads};
  // A sentinel keeps the runners in run() until every producer is done.
  auto sentinel = s.enter(3600s, 1, [] {});
  std::vector<std::unique_ptr<tandem::Thread>> threads;
  for (int r = 0; r < 2; ++r) threads.push_back(std::make_unique<tandem::Thread>([&] { s.run(); }));
  for (int t = 0; t < kThreads; ++t)
    threads.push_back(std::make_unique<tandem::Thread>([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1);
      std::vector<std::pair<int, tandem::EventHandle>> mine;
      for (int i = 0; i < kEach; ++i) {
        const int id = t * kEach + i;
        mine.emplace_back(id, s.enter(std::chrono::microseconds(rng() % 2000), static_cast<int>(rng() % 3),
                                      [&ran, id] { ran[id].fetch_add(1); }));
        if (rng() % 2 == 0) {
          auto& [cid, h] = mine[rng() % mine.size()];
          try {
            s.cancel(h);
            cancelled[cid].fetch_add(1);
          } catch (const tandem::ValueError&) {  // ran already, or cancelled before
          }
        }
      }
      if (entering.fetch_sub(1) == 1) s.cancel(sentinel);
    }));
  for (auto& t : threads) t->start();
  for (auto& t : threads) ASSERT_TRUE(t->join(kTimeout));
  EXPECT_TRUE(s.empty());
  int n_ran = 0, n_cancelled = 0;
  for (int id = 0; id < kThreads * kEach; ++id) {
    EXPECT_EQ(ran[id].load() + cancelled[id].load(), 1) << "event " << id;
    n_ran += ran[id].load();
    n_cancelled += cancelled[id].load();
  }
  EXPECT_GT(n_cancelled, 0);
  EXPECT_GT(n_ran, 0);
}

}  // namespace
