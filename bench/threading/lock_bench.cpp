// SPDX-License-Identifier: MIT
// tandem::Lock (<tandem/threading/lock.hpp>) against std::mutex: the uncontended fast
// paths, the failing try, and 2 threads incrementing under one lock.
#include <benchmark/benchmark.h>

#include <chrono>
#include <mutex>

#include "tandem/threading/lock.hpp"

namespace {

using namespace std::chrono_literals;

void BM_Lock_AcquireRelease(benchmark::State& state) {
  tandem::Lock lock;
  for (auto _ : state) {
    lock.acquire();
    lock.release();
  }
}
BENCHMARK(BM_Lock_AcquireRelease);

void BM_Lock_LockGuard(benchmark::State& state) {
  tandem::Lock lock;
  for (auto _ : state) std::lock_guard g(lock);
}
BENCHMARK(BM_Lock_LockGuard);

void BM_StdMutex_LockUnlock(benchmark::State& state) {
  std::mutex m;
  for (auto _ : state) {
    m.lock();
    m.unlock();
  }
}
BENCHMARK(BM_StdMutex_LockUnlock);

// acquire(False) on a held lock: one failed compare-exchange.
void BM_Lock_TryAcquireHeld(benchmark::State& state) {
  tandem::Lock lock;
  lock.acquire();
  for (auto _ : state) benchmark::DoNotOptimize(lock.acquire(false));
  lock.release();
}
BENCHMARK(BM_Lock_TryAcquireHeld);

void BM_StdMutex_TryLockHeld(benchmark::State& state) {
  std::mutex m;
  m.lock();
  for (auto _ : state) benchmark::DoNotOptimize(m.try_lock());
  m.unlock();
}
BENCHMARK(BM_StdMutex_TryLockHeld);

// acquire(timeout=0) on a held lock: the timeout path must not sleep nor spin long.
void BM_Lock_AcquireTimeout0Held(benchmark::State& state) {
  tandem::Lock lock;
  lock.acquire();
  for (auto _ : state) benchmark::DoNotOptimize(lock.acquire(0s));
  lock.release();
}
BENCHMARK(BM_Lock_AcquireTimeout0Held);

// acquire(timeout) on a free lock: the timeout overload's fast path.
void BM_Lock_AcquireTimeoutFree(benchmark::State& state) {
  tandem::Lock lock;
  for (auto _ : state) {
    lock.acquire(1s);
    lock.release();
  }
}
BENCHMARK(BM_Lock_AcquireTimeoutFree);

void BM_Lock_Locked(benchmark::State& state) {
  tandem::Lock lock;
  for (auto _ : state) benchmark::DoNotOptimize(lock.locked());
}
BENCHMARK(BM_Lock_Locked);

// Contended: every benchmark thread increments one counter under one lock.
tandem::Lock g_lock;
std::mutex g_mutex;
long g_counter = 0;

void BM_Lock_Contended(benchmark::State& state) {
  for (auto _ : state) {
    g_lock.acquire();
    ++g_counter;
    g_lock.release();
  }
}
BENCHMARK(BM_Lock_Contended)->Threads(1)->Threads(2)->UseRealTime();

void BM_StdMutex_Contended(benchmark::State& state) {
  for (auto _ : state) {
    g_mutex.lock();
    ++g_counter;
    g_mutex.unlock();
  }
}
BENCHMARK(BM_StdMutex_Contended)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
