// SPDX-License-Identifier: MIT
// Google Benchmark suite for tandem::ProcessPoolExecutor (the side-by-side comparison with
// CPython's ProcessPoolExecutor is bench/compare/process_pool_workload.cpp).
//   SubmitResult      submit N trivial tasks to 2 workers, keep the futures, collect (tasks/s)
//   SubmitTimeout     the same, every task with TaskOptions{.timeout}: arg 0 none, 1 a 60 s
//                     timeout (the difference is the per-task cost of a timeout)
//   MapChunked        map over N items with chunksize 100 / 1000 / 10000 (items/s)
//   RoundTrip         one task on an idle pool: submit -> result (latency)
//   CrashReplacement  SIGKILL the only worker, then submit one task and wait for its result;
//                     arg 1 with the spare worker (each round starts at full strength: the
//                     spare ready, waited for outside the timing), arg 0 without
// Every pool is warmed up (one task per worker) outside the timing; start method fork (the
// default, which needs no mp::init).
#include <benchmark/benchmark.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "tandem/process_pool.hpp"

namespace {

using Clock = std::chrono::steady_clock;

long task(long a, long b, long c) { return a * b * 10 - c * 2; }
long triple(long a) { return a * 3; }

void warm_up(tandem::ProcessPoolExecutor& ex) {
  std::vector<tandem::Future<long>> fs;
  for (std::size_t i = 0; i < ex.max_workers(); ++i) fs.push_back(ex.submit(task, 0L, 0L, 0L));
  for (auto& f : fs) f.result();
}

void submit_collect(benchmark::State& state, const tandem::TaskOptions& o) {
  const auto n = static_cast<std::size_t>(state.range(0));
  tandem::ProcessPoolExecutor ex(2);
  warm_up(ex);
  std::vector<tandem::Future<long>> fs;
  fs.reserve(n);
  for (auto _ : state) {
    fs.clear();
    for (std::size_t i = 0; i < n; ++i) fs.push_back(ex.submit(o, task, static_cast<long>(i), 3L, 7L));
    long sum = 0;
    for (auto& f : fs) sum += f.result();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void SubmitResult(benchmark::State& state) { submit_collect(state, {}); }
BENCHMARK(SubmitResult)->Arg(100'000)->UseRealTime()->Unit(benchmark::kMillisecond);

void SubmitTimeout(benchmark::State& state) {
  tandem::TaskOptions o;
  if (state.range(1) != 0) o.timeout = tandem::duration(60);
  submit_collect(state, o);
}
BENCHMARK(SubmitTimeout)
    ->Args({100'000, 0})
    ->Args({100'000, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void MapChunked(benchmark::State& state) {
  const std::size_t n = 2'000'000;
  std::vector<long> in(n);
  for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<long>(i);
  tandem::ProcessPoolExecutor ex(2);
  warm_up(ex);
  const auto chunk = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    long sum = 0;
    for (long v : ex.map(triple, in, tandem::MapOptions{.chunksize = chunk})) sum += v;
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(MapChunked)->Arg(100)->Arg(1000)->Arg(10000)->UseRealTime()->Unit(benchmark::kMillisecond);

void RoundTrip(benchmark::State& state) {
  tandem::ProcessPoolExecutor ex(1);
  warm_up(ex);
  for (auto _ : state) benchmark::DoNotOptimize(ex.submit(task, 1L, 2L, 3L).result());
}
BENCHMARK(RoundTrip)->UseRealTime()->Unit(benchmark::kMicrosecond);

void CrashReplacement(benchmark::State& state) {
  tandem::ProcessPoolOptions o;
  o.max_workers = 1;
  o.spare_worker = state.range(0) != 0;
  tandem::ProcessPoolExecutor ex(o);
  warm_up(ex);
  for (auto _ : state) {
    if (o.spare_worker)
      while (ex.spare_pid() == 0) usleep(100);  // full strength: the spare is ready
    const int victim = ex.worker_pids().at(0);
    const auto t0 = Clock::now();
    ::kill(victim, SIGKILL);
    for (;;) {
      try {
        benchmark::DoNotOptimize(ex.submit(task, 1L, 2L, 3L).result());
        break;
      } catch (const tandem::WorkerDied&) {  // not expected: the task had not started
      }
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
  }
}
BENCHMARK(CrashReplacement)
    ->Arg(1)
    ->Arg(0)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(200);

}  // namespace
