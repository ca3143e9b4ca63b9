// SPDX-License-Identifier: MIT
// The waiting layer (<tandem/detail/wait.hpp>, <tandem/detail/eventcount.hpp>,
// <tandem/detail/futex_mutex.hpp>): what each building block costs on its own, and the
// wait layer's overhead over futex(2) called directly.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "peers/raw_futex.hpp"
#include "ping_pong.hpp"
#include "tandem/detail/eventcount.hpp"
#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/wait.hpp"

namespace {

using namespace tandem::detail;

// A system call that finds nobody to wake: the price of an unconditional wake.
void BM_FutexWake_NoWaiter(benchmark::State& state) {
  std::atomic<std::uint32_t> word{0};
  for (auto _ : state) benchmark::DoNotOptimize(futex_wake(word, 1));
}
BENCHMARK(BM_FutexWake_NoWaiter);

// The kernel sees the value already changed and returns EAGAIN: a system call, no sleep.
void BM_FutexWait_ValueChanged(benchmark::State& state) {
  std::atomic<std::uint32_t> word{0};
  for (auto _ : state) benchmark::DoNotOptimize(futex_wait(word, 1));
}
BENCHMARK(BM_FutexWait_ValueChanged);

// A deadline already passed is caught before the system call.
void BM_FutexWait_DeadlinePassed(benchmark::State& state) {
  std::atomic<std::uint32_t> word{0};
  auto past = Deadline::at(steady::time_point{});
  for (auto _ : state) benchmark::DoNotOptimize(futex_wait(word, 0, past));
}
BENCHMARK(BM_FutexWait_DeadlinePassed);

void BM_Deadline_After(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Deadline::after(std::chrono::seconds(1)));
}
BENCHMARK(BM_Deadline_After);

void BM_Deadline_Never(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Deadline::never());
}
BENCHMARK(BM_Deadline_Never);

void BM_FutexMutex_Uncontended(benchmark::State& state) {
  FutexMutex m;
  for (auto _ : state) {
    m.lock();
    m.unlock();
  }
}
BENCHMARK(BM_FutexMutex_Uncontended);

// The notifier's fast path when nobody sleeps: a fence and a load.
void BM_EventCount_NotifyNoWaiters(benchmark::State& state) {
  EventCount ec;
  for (auto _ : state) ec.notify_one();
}
BENCHMARK(BM_EventCount_NotifyNoWaiters);

// A waiter that finds its condition true on the second check.
void BM_EventCount_PrepareCancel(benchmark::State& state) {
  EventCount ec;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ec.prepare_wait());
    ec.cancel_wait();
  }
}
BENCHMARK(BM_EventCount_PrepareCancel);

// Ping-pong through the wait layer (futex_wait/futex_wake, private) vs futex(2) directly.
struct WaitLayerFlag {
  std::atomic<std::uint32_t> word{0};
  void raise() noexcept {
    word.store(1, std::memory_order_release);
    futex_wake(word, 1);
  }
  void wait_and_lower() noexcept {
    while (word.load(std::memory_order_acquire) == 0) futex_wait(word, 0);
    word.store(0, std::memory_order_relaxed);
  }
};

// An EventCount-based flag: the notifier skips the system call when nobody sleeps.
struct EventCountFlag {
  std::atomic<std::uint32_t> word{0};
  EventCount ec;
  void raise() noexcept {
    word.store(1, std::memory_order_release);
    ec.notify_one();
  }
  void wait_and_lower() noexcept {
    await(ec, [&] { return word.load(std::memory_order_acquire) != 0; });
    word.store(0, std::memory_order_relaxed);
  }
};

void BM_PingPong_RawFutex(benchmark::State& state) {
  tandem_bench::ping_pong<tandem_bench::RawFutexFlag>(state);
}
BENCHMARK(BM_PingPong_RawFutex)->UseRealTime();

void BM_PingPong_WaitLayer(benchmark::State& state) {
  tandem_bench::ping_pong<WaitLayerFlag>(state);
}
BENCHMARK(BM_PingPong_WaitLayer)->UseRealTime();

void BM_PingPong_EventCount(benchmark::State& state) {
  tandem_bench::ping_pong<EventCountFlag>(state);
}
BENCHMARK(BM_PingPong_EventCount)->UseRealTime();

}  // namespace
