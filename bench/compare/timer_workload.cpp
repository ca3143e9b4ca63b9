// SPDX-License-Identifier: MIT
// Workload "timers": N = 1,000,000 timers with random delays in [0, 100 ms] (the same
// sequence for every contender), made from one thread; timed from the first until every
// callable has run (each increments a counter; the last sets an event). Peers:
//   tandem: ThreadPoolExecutor(2).call_later(delay, fn), every future kept (the callable runs
//     on a pool worker, never on the timer thread);
//   the textbook timer thread: std::priority_queue<(time, std::function)> under a std::mutex,
//     a std::condition_variable notified on every push, the callable run on the timer thread;
//   CPython: sched.scheduler, enter() N times, then run() (bench/python/workloads.py).
// Workload "timer lateness": 2,000 timers due at random times over 200 ms on an otherwise
// idle process; the 99th percentile of (time run - time due), in us (lower is better).
// Targets (issue 14): >= 2x the textbook timer thread, >= 50x CPython's sched; p99 lateness
// <= 2 ms at idle.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <random>
#include <thread>
#include <vector>

#include "compare/harness.hpp"

#include "tandem/futures.hpp"
#include "tandem/threading/event.hpp"

namespace tandem_bench {
namespace {

std::vector<std::chrono::microseconds> delays(std::size_t n, int max_us) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> d(0, max_us);
  std::vector<std::chrono::microseconds> v(n);
  for (auto& x : v) x = std::chrono::microseconds(d(rng));
  return v;
}

// The textbook timer thread.
class TextbookTimers {
 public:
  TextbookTimers() : t_([this] { loop(); }) {}
  ~TextbookTimers() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    t_.join();
  }
  void call_later(std::chrono::microseconds d, std::function<void()> fn) {
    {
      std::lock_guard l(mu_);
      q_.push(Item{Clock::now() + d, seq_++, std::move(fn)});
    }
    cv_.notify_one();
  }

 private:
  struct Item {
    Clock::time_point when;
    std::uint64_t seq;
    std::function<void()> fn;
    bool operator<(const Item& o) const {  // priority_queue: the top is the "largest"
      return when != o.when ? when > o.when : seq > o.seq;
    }
  };
  void loop() {
    std::unique_lock l(mu_);
    for (;;) {
      if (stop_) return;
      if (q_.empty()) {
        cv_.wait(l);
        continue;
      }
      if (q_.top().when > Clock::now()) {
        cv_.wait_until(l, q_.top().when);
        continue;
      }
      std::function<void()> fn = std::move(const_cast<Item&>(q_.top()).fn);
      q_.pop();
      l.unlock();
      fn();
      l.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Item> q_;
  std::uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread t_;
};

std::size_t timer_count(const Sizes& s) { return s.scaled(1'000'000); }

Register tandem_timers("timers", "tandem::ThreadPoolExecutor::call_later", "timers/s",
                       [](const Sizes& s) {
  const std::size_t n = timer_count(s);
  const auto ds = delays(n, 100'000);
  tandem::ThreadPoolExecutor ex(2);
  ex.submit([] {}).result();
  std::atomic<std::size_t> left{n};
  tandem::Event all;
  std::vector<tandem::Future<void>> fs;
  fs.reserve(n);
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i)
    fs.push_back(ex.call_later(ds[i], [&] {
      if (left.fetch_sub(1, std::memory_order_relaxed) == 1) all.set();
    }));
  all.wait();
  const double secs = seconds_since(t0);
  return static_cast<double>(n) / secs;
});

Register textbook_timers("timers", "priority_queue+condvar timer thread", "timers/s",
                         [](const Sizes& s) {
  const std::size_t n = timer_count(s);
  const auto ds = delays(n, 100'000);
  std::atomic<std::size_t> left{n};
  tandem::Event all;
  TextbookTimers tt;
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i)
    tt.call_later(ds[i], [&] {
      if (left.fetch_sub(1, std::memory_order_relaxed) == 1) all.set();
    });
  all.wait();
  return static_cast<double>(n) / seconds_since(t0);
});

template <class Schedule>
double p99_lateness_us(Schedule schedule) {
  constexpr std::size_t kN = 2000;
  const auto ds = delays(kN, 200'000);
  std::vector<double> late(kN);
  std::atomic<std::size_t> left{kN};
  tandem::Event all;
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < kN; ++i) {
    const auto due = t0 + ds[i];
    schedule(ds[i] - std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0),
             [&, i, due] {
               late[i] = std::chrono::duration<double, std::micro>(Clock::now() - due).count();
               if (left.fetch_sub(1) == 1) all.set();
             });
  }
  all.wait();
  std::sort(late.begin(), late.end());
  return late[kN * 99 / 100];
}

Register tandem_lateness("timer lateness", "tandem::ThreadPoolExecutor::call_later", "us/rt",
                         [](const Sizes&) {
  tandem::ThreadPoolExecutor ex(2);
  ex.submit([] {}).result();
  std::vector<tandem::Future<void>> fs;
  return p99_lateness_us([&](auto d, auto fn) { fs.push_back(ex.call_later(d, fn)); });
});

Register textbook_lateness("timer lateness", "priority_queue+condvar timer thread", "us/rt",
                           [](const Sizes&) {
  TextbookTimers tt;
  return p99_lateness_us([&](auto d, auto fn) { tt.call_later(d, fn); });
});

}  // namespace
}  // namespace tandem_bench
