// SPDX-License-Identifier: MIT
// tandem::shipping::KnownFunctions — when a worker that batches its results must send them.
//
// Pool workers (a ProcessPoolExecutor worker process, an MpiPoolExecutor worker rank) run the
// tasks of a batch in order and send results in batches too: one send per ~100 µs of quick
// tasks instead of one per task. A finished task's result must still not wait behind a long
// task that follows it in the same batch: wait(FIRST_COMPLETED) and as_completed would see it
// late by that task's whole duration, where CPython's workers send every result on its own.
// The worker cannot know a task's length before running it, but it knows each function's
// history: before a task whose function is not known to be quick -- never run by this worker,
// or seen to take >= kSlowNs once -- it sends what it has.
//
// Guarantees: a result waits at most for tasks of functions that always ran in < kSlowNs in
// this worker (plus the batching interval). The first slow run of a function that was
// always quick before is not foreseen here: the worker's Watchdog thread sends what is
// pending while it runs (process_pool/worker.cpp), about 1 ms late. One worker thread uses an instance; no synchronisation.
// Cost: find() is one compare for repeated calls of one function (map chunks, bursts of one
// submit), a linear scan over the distinct functions seen otherwise.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tandem::shipping {

class KnownFunctions {
 public:
  static constexpr std::uint64_t kSlowNs = 100000;

  /// The entry of (trampoline, function, check), added as "not known" on first sight.
  std::size_t find(std::uint64_t t, std::uint64_t f, std::uint64_t c) {
    if (last_ < known_.size() && known_[last_].is(t, f, c)) return last_;
    for (last_ = 0; last_ < known_.size(); ++last_)
      if (known_[last_].is(t, f, c)) return last_;
    known_.push_back({t, f, c, kUnknown});
    return last_;
  }
  /// Whether a task of entry k may run long: send pending results before it.
  bool maybe_slow(std::size_t k) const noexcept { return known_[k].max_ns >= kSlowNs; }
  /// Records a run of entry k that took `ns`.
  void ran(std::size_t k, std::uint64_t ns) noexcept {
    auto& m = known_[k].max_ns;
    m = m == kUnknown ? ns : std::max(m, ns);
  }

 private:
  static constexpr std::uint64_t kUnknown = ~std::uint64_t{0};
  struct Entry {
    std::uint64_t t, f, c, max_ns;
    bool is(std::uint64_t t2, std::uint64_t f2, std::uint64_t c2) const noexcept {
      return t == t2 && f == f2 && c == c2;
    }
  };
  std::vector<Entry> known_;
  std::size_t last_ = 0;
};

}  // namespace tandem::shipping
