// SPDX-License-Identifier: MIT
// tandem::Event (<tandem/threading/event.hpp>): the fast paths the header promises
// (is_set a load, set on a set Event a load, set with nobody waiting no system call, wait
// on a set Event a load), the timeout path, and the ping-pong round trip against futex(2)
// called directly and std::binary_semaphore.
#include <benchmark/benchmark.h>

#include <chrono>
#include <semaphore>

#include "peers/raw_futex.hpp"
#include "ping_pong.hpp"
#include "tandem/threading/event.hpp"

namespace {

using namespace std::chrono_literals;

void BM_Event_IsSetClear(benchmark::State& state) {
  tandem::Event e;
  for (auto _ : state) benchmark::DoNotOptimize(e.is_set());
}
BENCHMARK(BM_Event_IsSetClear);

void BM_Event_IsSetSet(benchmark::State& state) {
  tandem::Event e;
  e.set();
  for (auto _ : state) benchmark::DoNotOptimize(e.is_set());
}
BENCHMARK(BM_Event_IsSetSet);

void BM_Event_SetAlreadySet(benchmark::State& state) {
  tandem::Event e;
  e.set();
  for (auto _ : state) e.set();
}
BENCHMARK(BM_Event_SetAlreadySet);

// set() + clear() with nobody waiting: no system call may appear here.
void BM_Event_SetClearNoWaiters(benchmark::State& state) {
  tandem::Event e;
  for (auto _ : state) {
    e.set();
    e.clear();
  }
}
BENCHMARK(BM_Event_SetClearNoWaiters);

void BM_Event_WaitOnSet(benchmark::State& state) {
  tandem::Event e;
  e.set();
  for (auto _ : state) benchmark::DoNotOptimize(e.wait());
}
BENCHMARK(BM_Event_WaitOnSet);

void BM_Event_WaitTimeoutOnSet(benchmark::State& state) {
  tandem::Event e;
  e.set();
  for (auto _ : state) benchmark::DoNotOptimize(e.wait(1s));
}
BENCHMARK(BM_Event_WaitTimeoutOnSet);

// wait(0) on a clear Event: returns false at once (a poll).
void BM_Event_WaitZeroOnClear(benchmark::State& state) {
  tandem::Event e;
  for (auto _ : state) benchmark::DoNotOptimize(e.wait(0s));
}
BENCHMARK(BM_Event_WaitZeroOnClear);

struct EventFlag {
  tandem::Event e;
  void raise() noexcept { e.set(); }
  void wait_and_lower() noexcept {
    e.wait();
    e.clear();
  }
};

void BM_PingPong_Event(benchmark::State& state) {
  tandem_bench::ping_pong<EventFlag>(state);
}
BENCHMARK(BM_PingPong_Event)->UseRealTime();


struct SemaphoreFlag {
  std::binary_semaphore s{0};
  void raise() noexcept { s.release(); }
  void wait_and_lower() noexcept { s.acquire(); }
};

void BM_PingPong_RawFutex(benchmark::State& state) {
  tandem_bench::ping_pong<tandem_bench::RawFutexFlag>(state);
}
BENCHMARK(BM_PingPong_RawFutex)->UseRealTime();

void BM_PingPong_BinarySemaphore(benchmark::State& state) {
  tandem_bench::ping_pong<SemaphoreFlag>(state);
}
BENCHMARK(BM_PingPong_BinarySemaphore)->UseRealTime();

}  // namespace
