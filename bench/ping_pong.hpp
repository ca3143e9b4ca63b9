// SPDX-License-Identifier: MIT
// A round-trip helper for the Google Benchmark suites: the benchmark thread is side A, a
// partner thread is side B; one benchmark iteration is one round trip (A raises "ping",
// waits for "pong"; B waits for "ping", raises "pong"). Flags are any type with
// raise() / wait_and_lower().
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

namespace tandem_bench {

template <class Flag>
void ping_pong(benchmark::State& state) {
  Flag ping, pong;
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    for (;;) {
      ping.wait_and_lower();
      if (stop.load(std::memory_order_acquire)) return;
      pong.raise();
    }
  });
  for (auto _ : state) {
    ping.raise();
    pong.wait_and_lower();
  }
  stop.store(true, std::memory_order_release);
  ping.raise();
  partner.join();
  state.SetLabel("1 iteration = 1 round trip");
}

}  // namespace tandem_bench
