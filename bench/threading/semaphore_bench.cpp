// SPDX-License-Identifier: MIT
// tandem::Semaphore and tandem::RLock (<tandem/threading/semaphore.hpp>,
// <tandem/threading/rlock.hpp>): uncontended fast paths, against std::counting_semaphore
// and std::recursive_mutex, and a semaphore hand-off between two threads.
#include <benchmark/benchmark.h>

#include <mutex>
#include <semaphore>

#include "ping_pong.hpp"
#include "tandem/threading/rlock.hpp"
#include "tandem/threading/semaphore.hpp"

namespace {

void BM_Semaphore_AcquireRelease(benchmark::State& state) {
  tandem::Semaphore s(1);
  for (auto _ : state) {
    s.acquire();
    s.release();
  }
}
BENCHMARK(BM_Semaphore_AcquireRelease);

void BM_StdCountingSemaphore_AcquireRelease(benchmark::State& state) {
  std::counting_semaphore<> s(1);
  for (auto _ : state) {
    s.acquire();
    s.release();
  }
}
BENCHMARK(BM_StdCountingSemaphore_AcquireRelease);

void BM_Semaphore_TryAcquireEmpty(benchmark::State& state) {
  tandem::Semaphore s(0);
  for (auto _ : state) benchmark::DoNotOptimize(s.acquire(false));
}
BENCHMARK(BM_Semaphore_TryAcquireEmpty);

void BM_BoundedSemaphore_AcquireRelease(benchmark::State& state) {
  tandem::BoundedSemaphore s(1);
  for (auto _ : state) {
    s.acquire();
    s.release();
  }
}
BENCHMARK(BM_BoundedSemaphore_AcquireRelease);

void BM_RLock_AcquireRelease(benchmark::State& state) {
  tandem::RLock lock;
  for (auto _ : state) {
    lock.acquire();
    lock.release();
  }
}
BENCHMARK(BM_RLock_AcquireRelease);

// Re-entry: the owner acquires a lock it already holds (a count increment).
void BM_RLock_Reenter(benchmark::State& state) {
  tandem::RLock lock;
  lock.acquire();
  for (auto _ : state) {
    lock.acquire();
    lock.release();
  }
  lock.release();
}
BENCHMARK(BM_RLock_Reenter);

void BM_StdRecursiveMutex_LockUnlock(benchmark::State& state) {
  std::recursive_mutex m;
  for (auto _ : state) {
    m.lock();
    m.unlock();
  }
}
BENCHMARK(BM_StdRecursiveMutex_LockUnlock);

struct SemaphoreFlag {
  tandem::Semaphore s{0};
  void raise() { s.release(); }
  void wait_and_lower() { s.acquire(); }
};

void BM_PingPong_Semaphore(benchmark::State& state) {
  tandem_bench::ping_pong<SemaphoreFlag>(state);
}
BENCHMARK(BM_PingPong_Semaphore)->UseRealTime();

}  // namespace
