// SPDX-License-Identifier: MIT
// tandem::Queue (<tandem/queue/queue.hpp>) on one thread — the cost of the machinery with
// no contention and nobody asleep: put+get round trips (blocking, _nowait, with a timeout,
// with task_done), a failing try_get, qsize — next to the same round trip through the
// peers (mutex+condvar+deque, oneTBB, moodycamel). The multi-threaded 2x2 workload lives
// in tandem_compare (bench/compare/queue_workload.cpp).
#include <benchmark/benchmark.h>

#include <chrono>

#include "peers/mutex_queue.hpp"

#include "tandem/queue/queue.hpp"
#ifdef TANDEM_BENCH_HAVE_TBB
#include <tbb/concurrent_queue.h>
#endif
#ifdef TANDEM_BENCH_HAVE_MOODYCAMEL
#include <blockingconcurrentqueue.h>
#endif

namespace {

using namespace std::chrono_literals;
constexpr std::size_t kCapacity = 1024;

void BM_Queue_PutGet(benchmark::State& state) {
  tandem::Queue<int> q(kCapacity);
  int v = 0;
  for (auto _ : state) {
    q.put(v);
    benchmark::DoNotOptimize(v = q.get());
  }
}
BENCHMARK(BM_Queue_PutGet);

void BM_Queue_PutGetTaskDone(benchmark::State& state) {
  tandem::Queue<int> q(kCapacity);
  int v = 0;
  for (auto _ : state) {
    q.put(v);
    benchmark::DoNotOptimize(v = q.get());
    q.task_done();
  }
}
BENCHMARK(BM_Queue_PutGetTaskDone);

void BM_Queue_PutGetNowait(benchmark::State& state) {
  tandem::Queue<int> q(kCapacity);
  int v = 0;
  for (auto _ : state) {
    q.put_nowait(v);
    benchmark::DoNotOptimize(v = q.get_nowait());
  }
}
BENCHMARK(BM_Queue_PutGetNowait);

void BM_Queue_PutGetTimeout(benchmark::State& state) {
  tandem::Queue<int> q(kCapacity);
  int v = 0;
  for (auto _ : state) {
    q.put(v, 1s);
    benchmark::DoNotOptimize(v = q.get(1s));
  }
}
BENCHMARK(BM_Queue_PutGetTimeout);

// Half full: put+get in the middle of a queue that already holds 512 items.
void BM_Queue_PutGetHalfFull(benchmark::State& state) {
  tandem::Queue<int> q(kCapacity);
  for (int i = 0; i < static_cast<int>(kCapacity / 2); ++i) q.put(i);
  int v = 0;
  for (auto _ : state) {
    q.put(v);
    benchmark::DoNotOptimize(v = q.get());
  }
}
BENCHMARK(BM_Queue_PutGetHalfFull);

void BM_Queue_TryGetEmpty(benchmark::State& state) {
  tandem::Queue<int> q(kCapacity);
  for (auto _ : state) benchmark::DoNotOptimize(q.try_get());
}
BENCHMARK(BM_Queue_TryGetEmpty);

void BM_Queue_Qsize(benchmark::State& state) {
  tandem::Queue<int> q(kCapacity);
  q.put(1);
  for (auto _ : state) benchmark::DoNotOptimize(q.qsize());
}
BENCHMARK(BM_Queue_Qsize);

void BM_MutexQueue_PutGet(benchmark::State& state) {
  tandem_bench::MutexQueue<int> q(kCapacity);
  int v = 0;
  for (auto _ : state) {
    q.put(v);
    benchmark::DoNotOptimize(v = q.get());
  }
}
BENCHMARK(BM_MutexQueue_PutGet);

void BM_MutexQueue_PutGetTaskDone(benchmark::State& state) {
  tandem_bench::MutexQueue<int> q(kCapacity);
  int v = 0;
  for (auto _ : state) {
    q.put(v);
    benchmark::DoNotOptimize(v = q.get());
    q.task_done();
  }
}
BENCHMARK(BM_MutexQueue_PutGetTaskDone);

#ifdef TANDEM_BENCH_HAVE_TBB
void BM_TbbBoundedQueue_PushPop(benchmark::State& state) {
  tbb::concurrent_bounded_queue<int> q;
  q.set_capacity(kCapacity);
  int v = 0;
  for (auto _ : state) {
    q.push(v);
    q.pop(v);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_TbbBoundedQueue_PushPop);
#endif

#ifdef TANDEM_BENCH_HAVE_MOODYCAMEL
void BM_Moodycamel_EnqueueWaitDequeue(benchmark::State& state) {
  moodycamel::BlockingConcurrentQueue<int> q;
  int v = 0;
  for (auto _ : state) {
    q.enqueue(v);
    q.wait_dequeue(v);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_Moodycamel_EnqueueWaitDequeue);
#endif

}  // namespace
