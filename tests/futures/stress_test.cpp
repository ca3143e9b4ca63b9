// SPDX-License-Identifier: MIT
// Stress tests for <tandem/futures.hpp>: many submitters, cancel races, shutdown during
// submit, callbacks adding callbacks, lazy worker start under contention, helping waits.
// Each finishes in a few seconds on a loaded 2-core machine; none sleeps to synchronise.
// A test that would hang on a bug waits with a generous timeout and fails instead.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <latch>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tandem/futures.hpp"
#include "tandem/threading/event.hpp"

using namespace std::chrono_literals;
using tandem::Future;
using tandem::ThreadPoolExecutor;

namespace {

// n tasks that each block their worker (no helping: an Event is not a Future) until all n
// run at the same time, or until the timeout; met() says whether they all met.
struct Rendezvous {
  explicit Rendezvous(int n) : n_(n) {}
  void arrive() {
    if (arrived_.fetch_add(1) + 1 == n_) all_.set();
    if (!all_.wait(20s)) timed_out_.store(true);
  }
  bool met() const { return !timed_out_.load(); }

 private:
  const int n_;
  std::atomic<int> arrived_{0};
  std::atomic<bool> timed_out_{false};
  tandem::Event all_;
};

}  // namespace

// Lazy worker start (Python's idle-semaphore rule) under contention. Before the fix, every
// finished task left an "idle token" behind; later submits consumed stale tokens instead of
// starting threads, so n tasks that must run together on a max_workers = n pool found fewer
// than n threads and hung. Here a warm-up of sequential tasks leaves a pool with one or two
// workers, then n rendezvous tasks are submitted by n racing threads: all n must meet.
TEST(FuturesStress, LazyStartRendezvousUnderContention) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 60; ++iter) {
    const int n = 2 + static_cast<int>(rng() % 4);
    ThreadPoolExecutor ex(static_cast<std::size_t>(n));
    const int warm = static_cast<int>(rng() % 40);
    for (int i = 0; i < warm; ++i) ex.submit([i] { return i; }).result();
    if (rng() % 2) {  // a few concurrent ones too, so that two workers may exist
      auto a = ex.submit([] { return 1; });
      auto b = ex.submit([] { return 2; });
      ASSERT_EQ(a.result() + b.result(), 3);
    }
    Rendezvous rv(n);
    std::latch go(n);
    std::vector<std::thread> submitters;
    std::vector<Future<void>> fs(static_cast<std::size_t>(n));
    for (int s = 0; s < n; ++s)
      submitters.emplace_back([&, s] {
        go.arrive_and_wait();
        fs[static_cast<std::size_t>(s)] = ex.submit([&] { rv.arrive(); });
      });
    for (auto& t : submitters) t.join();
    for (auto& f : fs) f.result(60s);
    ASSERT_TRUE(rv.met()) << "iteration " << iter << ": " << n
                          << " tasks never ran together; workers: " << ex.stats().workers;
    EXPECT_LE(ex.stats().workers, static_cast<std::size_t>(n));
  }
}

// The same from a fresh pool each time: n racing first submits start n workers.
TEST(FuturesStress, LazyStartFromColdPool) {
  for (int iter = 0; iter < 100; ++iter) {
    const int n = 2 + iter % 3;
    ThreadPoolExecutor ex(static_cast<std::size_t>(n));
    Rendezvous rv(n);
    std::latch go(n);
    std::vector<std::thread> ts;
    for (int s = 0; s < n; ++s)
      ts.emplace_back([&] {
        go.arrive_and_wait();
        ex.submit([&] { rv.arrive(); });
      });
    for (auto& t : ts) t.join();
    ex.shutdown(true);
    ASSERT_TRUE(rv.met()) << "iteration " << iter;
    EXPECT_EQ(ex.stats().workers, static_cast<std::size_t>(n));
  }
}

// Many outside submitters, a mix of values, exceptions, void tasks and tasks that submit and
// wait on subtasks (helping); every result is checked and the counters add up.
TEST(FuturesStress, ManySubmittersMixedTasks) {
  ThreadPoolExecutor ex(3);
  constexpr int kThreads = 6, kPer = 3000;
  std::atomic<long> voids{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::vector<std::pair<int, Future<long>>> fs;
      std::vector<Future<void>> vs;
      for (int i = 0; i < kPer; ++i) {
        switch (rng() % 4) {
          case 0:
            fs.emplace_back(0, ex.submit([i](long a) { return a * i; }, long{t}));
            break;
          case 1:
            fs.emplace_back(1, ex.submit([]() -> long { throw std::range_error("bad"); }));
            break;
          case 2:
            vs.push_back(ex.submit([&] { voids++; }));
            break;
          default:
            fs.emplace_back(2, ex.submit([&ex, i] {
              auto a = ex.submit([i] { return long{i}; });
              auto b = ex.submit([i] { return long{2 * i}; });
              return a.result() + b.result();
            }));
        }
        if (i % 500 == 499 && !vs.empty()) vs.back().result();  // interleave some waits
      }
      for (auto& [kind, f] : fs) {
        if (kind == 1) {
          try {
            f.result(60s);
            ADD_FAILURE();
          } catch (const std::range_error&) {
            errors++;
          }
        } else {
          EXPECT_GE(f.result(60s), 0);
        }
      }
      for (auto& v : vs) v.result(60s);
    });
  for (auto& t : ts) t.join();
  ex.shutdown();
  auto st = ex.stats();
  EXPECT_EQ(st.submitted, st.completed);
  EXPECT_EQ(st.queued, 0u);
  EXPECT_EQ(st.workers_busy, 0u);
  EXPECT_GT(errors.load(), 0);
  EXPECT_GT(voids.load(), 0);
}

// Cancel races: one thread submits, another cancels at random. Every future ends either
// cancelled (its task never ran) or finished (it ran exactly once), and nothing else.
TEST(FuturesStress, CancelRaces) {
  for (int round = 0; round < 20; ++round) {
    ThreadPoolExecutor ex(2);
    constexpr int kN = 2000;
    std::vector<std::atomic<int>> ran(kN);
    std::vector<Future<int>> fs(kN);
    std::atomic<int> published{0};
    std::thread canceller([&] {
      std::mt19937 rng(static_cast<unsigned>(round));
      for (int i = 0; i < kN; ++i) {
        while (published.load(std::memory_order_acquire) <= i) std::this_thread::yield();
        if (rng() % 2) fs[static_cast<std::size_t>(i)].cancel();
      }
    });
    for (int i = 0; i < kN; ++i) {
      fs[static_cast<std::size_t>(i)] = ex.submit([&ran, i] {
        ran[static_cast<std::size_t>(i)]++;
        return i;
      });
      published.store(i + 1, std::memory_order_release);
    }
    canceller.join();
    ex.shutdown(true);
    for (int i = 0; i < kN; ++i) {
      auto& f = fs[static_cast<std::size_t>(i)];
      ASSERT_TRUE(f.done());
      if (f.cancelled()) {
        EXPECT_EQ(ran[static_cast<std::size_t>(i)].load(), 0) << i;
        EXPECT_THROW(f.result(), tandem::CancelledError);
      } else {
        EXPECT_EQ(ran[static_cast<std::size_t>(i)].load(), 1) << i;
        EXPECT_EQ(f.result(), i);
      }
    }
    EXPECT_TRUE(tandem::wait(fs, 10s).not_done.empty());
  }
}

// Shutdown during submit: several threads submit until they are refused while the main
// thread shuts down (wait or not, cancelling or not). Every accepted task either runs
// exactly once or is cancelled; no future is left pending; submit after the refusal keeps
// failing with Python's message.
TEST(FuturesStress, ShutdownDuringSubmit) {
  std::mt19937 rng(11);
  for (int round = 0; round < 40; ++round) {
    const bool wait = rng() % 2, cancel = rng() % 2;
    auto ex = std::make_unique<ThreadPoolExecutor>(1 + rng() % 3);
    constexpr int kThreads = 3;
    std::atomic<long> ran{0};
    std::vector<std::vector<Future<int>>> accepted(kThreads);
    constexpr long kCap = 3000;  // per submitter: bounded work whatever the interleaving
    std::atomic<long> submitted{0};
    std::latch started(kThreads + 1);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, t] {
        started.arrive_and_wait();
        for (long i = 0; i < kCap; ++i) {
          try {
            accepted[static_cast<std::size_t>(t)].push_back(ex->submit([&ran] {
              ran++;
              return 1;
            }));
            submitted.fetch_add(1, std::memory_order_relaxed);
          } catch (const tandem::RuntimeError& e) {
            EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
            EXPECT_THROW(ex->submit([] { return 0; }), tandem::RuntimeError);
            break;
          }
        }
      });
    started.arrive_and_wait();
    const long shut_at = static_cast<long>(rng() % (kThreads * kCap));
    while (submitted.load(std::memory_order_relaxed) < shut_at) std::this_thread::yield();
    ex->shutdown(wait, cancel);
    for (auto& t : ts) t.join();
    long total = 0, cancelled = 0;
    for (auto& v : accepted)
      for (auto& f : v) {
        ++total;
        try {
          EXPECT_EQ(f.result(60s), 1);
        } catch (const tandem::CancelledError&) {
          ++cancelled;
        }
      }
    ex.reset();  // the destructor joins: every accepted task has run or was cancelled
    EXPECT_EQ(ran.load(), total - cancelled) << "round " << round;
    if (!cancel) {
      EXPECT_EQ(cancelled, 0);
    }
  }
}

// Callbacks that add callbacks (which run at once: the future is done), callbacks that
// submit more work from the completing worker, and callbacks that throw (reported, never
// propagated). Every callback runs exactly once.
TEST(FuturesStress, CallbacksAddingCallbacks) {
  testing::internal::CaptureStderr();
  std::atomic<long> calls{0}, chained{0};
  {
    ThreadPoolExecutor ex(3);
    constexpr int kN = 3000;
    std::vector<Future<int>> fs;
    std::vector<Future<int>> follow(kN);
    std::atomic<int> follow_ready{0};
    for (int i = 0; i < kN; ++i) {
      fs.push_back(ex.submit([i] { return i; }));
      fs.back().add_done_callback([&, i](Future<int> f) {
        calls++;
        f.add_done_callback([&](Future<int>) { calls++; });  // runs at once, nested
        if (i % 3 == 0) {
          // A callback submitting work from the worker that completed the future.
          follow[static_cast<std::size_t>(i)] = ex.submit([&] {
            chained++;
            return 0;
          });
          follow_ready.fetch_add(1, std::memory_order_release);
        }
        if (i % 7 == 0) throw std::runtime_error("callback failure");
      });
      fs.back().add_done_callback([&](Future<int>) { calls++; });
    }
    for (auto& f : fs) f.result(60s);
    // Callbacks run before result() returns only for the completer's thread; wait for all.
    while (follow_ready.load(std::memory_order_acquire) < (kN + 2) / 3) std::this_thread::yield();
    for (int i = 0; i < kN; i += 3) follow[static_cast<std::size_t>(i)].result(60s);
    EXPECT_EQ(chained.load(), (kN + 2) / 3);
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(calls.load(), 3L * 3000);
  EXPECT_NE(err.find("exception calling callback for <Future at"), std::string::npos);
}

// A worker that waits (helping) on a future completed by an outside thread, with the pool
// destroyed right after: the helping wait's done callback must be finished with the pool
// before the pool can go away (ASan catches a late callback).
TEST(FuturesStress, HelpingWaitCallbackOutlivesNothing) {
  for (int iter = 0; iter < 300; ++iter) {
    Future<int> outside;
    std::atomic<bool> waiting{false};
    std::thread completer;
    {
      ThreadPoolExecutor ex(1);
      auto f = ex.submit([&] {
        waiting.store(true, std::memory_order_release);
        return outside.result(60s) + 1;
      });
      completer = std::thread([&] {
        while (!waiting.load(std::memory_order_acquire)) std::this_thread::yield();
        outside.set_result(iter);
      });
      EXPECT_EQ(f.result(60s), iter + 1);
    }
    completer.join();
  }
}

// Random trees of tasks that submit children and wait for them on a small pool (helping):
// no deadlock whatever the shape, and the sums are right.
TEST(FuturesStress, NestedWaitTrees) {
  ThreadPoolExecutor ex(2);
  std::function<long(int, unsigned)> tree = [&](int depth, unsigned seed) -> long {
    if (depth == 0) return 1;
    std::mt19937 rng(seed);
    int kids = 1 + static_cast<int>(rng() % 3);
    std::vector<Future<long>> fs;
    for (int k = 0; k < kids; ++k) fs.push_back(ex.submit(tree, depth - 1, static_cast<unsigned>(rng())));
    long sum = 1;
    const unsigned how = rng() % 3;
    if (how == 0) {
      for (auto& f : tandem::as_completed(fs, 60s)) sum += f.result();
    } else if (how == 1) {
      auto r = tandem::wait(fs, 60s);
      EXPECT_TRUE(r.not_done.empty());
      for (auto& f : r.done) sum += f.result();
    } else {
      for (auto& f : fs) sum += f.result(60s);
    }
    return sum;
  };
  for (unsigned seed = 0; seed < 30; ++seed) {
    // The same tree computed inline gives the expected count.
    std::function<long(int, unsigned)> count = [&](int depth, unsigned s) -> long {
      if (depth == 0) return 1;
      std::mt19937 rng(s);
      int kids = 1 + static_cast<int>(rng() % 3);
      long sum = 1;
      for (int k = 0; k < kids; ++k) sum += count(depth - 1, static_cast<unsigned>(rng()));
      return sum;
    };
    EXPECT_EQ(ex.submit(tree, 6, seed).result(60s), count(6, seed)) << seed;
  }
}

// Shutdown from everywhere at once: random rounds in which tasks call shutdown(true) (or
// destroy the executor) from inside the pool while outside threads — short-lived ones,
// more than the pool's private submit deques over the test — submit and call shutdown
// themselves. Every accepted task runs (or is cancelled), nothing hangs, nothing is freed
// under a worker (ASan) and no race is reported (TSan).
TEST(FuturesStress, ShutdownFromInsideAndOutside) {
  std::mt19937 rng(23);
  for (int round = 0; round < 60; ++round) {
    const int workers = 1 + static_cast<int>(rng() % 3);
    const bool destroy_inside = rng() % 2;
    auto ex = std::make_unique<ThreadPoolExecutor>(static_cast<std::size_t>(workers));
    ThreadPoolExecutor* raw = ex.get();
    std::atomic<long> ran{0}, accepted{0};
    std::atomic<bool> inside_done{false};
    std::latch go(3), subs_done(2);
    // A task that shuts the pool down (or destroys it, once nobody else uses the object)
    // from inside.
    auto killer = raw->submit([&] {
      go.arrive_and_wait();
      if (destroy_inside) {
        subs_done.wait();
        ex.reset();
      } else {
        raw->shutdown(true);
      }
      inside_done.store(true);
      inside_done.notify_all();
    });
    std::vector<std::thread> subs;
    for (int t = 0; t < 2; ++t)
      subs.emplace_back([&] {
        go.arrive_and_wait();
        for (int i = 0; i < 500; ++i) {
          try {
            raw->submit([&ran] { ran++; });
            accepted++;
          } catch (const tandem::RuntimeError&) {
            break;  // shut down from inside
          }
        }
        subs_done.count_down();
      });
    for (auto& t : subs) t.join();
    killer.result(60s);
    inside_done.wait(false);
    if (!destroy_inside) {
      if (rng() % 2) raw->shutdown(true, rng() % 2);  // a second shutdown from outside
      ex.reset();
    }
    EXPECT_EQ(ran.load(), accepted.load()) << "round " << round;
  }
}
