// SPDX-License-Identifier: MIT
// tandem_compare's harness: workloads register their contenders here; main() runs them in
// rounds, rotating the order each round so that noise on this shared machine hits every
// contender alike, and prints one machine-readable line per measurement:
//
//   R <tab> workload <tab> contender <tab> value <tab> unit
//
// bench/compare/compare.py collects these lines (and those of bench/python/workloads.py,
// which prints the same format) and turns them into medians and ratios.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace tandem_bench {

/// Sizes of the workloads; `scale` multiplies all of them (--scale).
struct Sizes {
  double scale = 1.0;
  std::size_t lock_ops() const { return scaled(10'000'000); }
  std::size_t event_round_trips() const { return scaled(50'000); }
  std::size_t queue_items() const { return scaled(1'000'000); }
  std::size_t scaled(double n) const {
    auto v = static_cast<std::size_t>(n * scale);
    return v < 100 ? 100 : v - v % 4;  // divisible among 2 or 4 threads
  }
};

/// A contender measures one run and returns its figure in the workload's unit.
struct Contender {
  std::string workload;
  std::string name;
  std::string unit;  // "ops/s", "items/s" (higher is better) or "us/rt" (lower is better)
  std::function<double(const Sizes&)> run;
};

inline std::vector<Contender>& registry() {
  static std::vector<Contender> r;
  return r;
}

struct Register {
  Register(std::string workload, std::string name, std::string unit,
           std::function<double(const Sizes&)> run) {
    registry().push_back({std::move(workload), std::move(name), std::move(unit), std::move(run)});
  }
};

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Releases a group of threads at once so that thread creation stays out of the timing:
/// each thread calls arrive_and_wait(); the timer starts in open(), after all have arrived.
class StartGate {
 public:
  explicit StartGate(int parties) : parties_(parties) {}
  void arrive_and_wait() {
    arrived_.fetch_add(1, std::memory_order_acq_rel);
    while (!open_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  /// Waits until every party has arrived, then lets them all go; returns the start time.
  Clock::time_point open() {
    while (arrived_.load(std::memory_order_acquire) < parties_) std::this_thread::yield();
    auto t0 = Clock::now();
    open_.store(true, std::memory_order_release);
    return t0;
  }

 private:
  int parties_;
  std::atomic<int> arrived_{0};
  std::atomic<bool> open_{false};
};

/// A wrong result means a broken benchmark (or primitive); never print a figure for it.
[[noreturn]] inline void fail(const char* workload, const char* contender, const char* what) {
  std::fprintf(stderr, "tandem_compare: %s / %s: %s\n", workload, contender, what);
  std::exit(2);
}

}  // namespace tandem_bench
