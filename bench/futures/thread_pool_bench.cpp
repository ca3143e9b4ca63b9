// SPDX-License-Identifier: MIT
// Google Benchmark suite for tandem::ThreadPoolExecutor (the side-by-side comparison with
// oneTBB, Boost.Asio, a mutex pool, std::async and CPython is bench/compare/thread_pool_workload.cpp).
//   SubmitCollect   submit N trivial tasks to 2 workers, keep the futures, collect the results
//   MapChunked      map over N items with chunksize 1 / 64 / 1024 (items/s)
//   WakeUp          an idle pool (workers asleep) gets one task: submit -> task start
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tandem/futures.hpp"

namespace {

long task(long a, long b, long c) { return a * b * 10 - c * 2; }

void SubmitCollect(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  tandem::ThreadPoolExecutor ex(2);
  std::vector<tandem::Future<long>> fs;
  fs.reserve(n);
  for (auto _ : state) {
    fs.clear();
    for (std::size_t i = 0; i < n; ++i) fs.push_back(ex.submit(task, static_cast<long>(i), 3L, 7L));
    long sum = 0;
    for (auto& f : fs) sum += f.result();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(SubmitCollect)->Arg(100'000)->UseRealTime()->Unit(benchmark::kMillisecond);

void MapChunked(benchmark::State& state) {
  const int n = 200'000;
  std::vector<long> in(n);
  for (int i = 0; i < n; ++i) in[static_cast<std::size_t>(i)] = i;
  tandem::ThreadPoolExecutor ex(2);
  for (auto _ : state) {
    long sum = 0;
    for (long v : ex.map([](long x) { return task(x, 3, 7); }, in,
                         tandem::MapOptions{.chunksize = static_cast<std::size_t>(state.range(0))}))
      sum += v;
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(MapChunked)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

void WakeUp(benchmark::State& state) {
  tandem::ThreadPoolExecutor ex(2);
  ex.submit([] {}).result();
  for (auto _ : state) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // workers fall asleep
    std::atomic<bool> started{false};
    auto t0 = std::chrono::steady_clock::now();
    ex.submit([&] { started.store(true, std::memory_order_release); });
    // yield: on 2 CPUs a pure spin can hold the CPU the woken worker was queued on
    while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}
BENCHMARK(WakeUp)->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(500);

}  // namespace
