// SPDX-License-Identifier: MIT
// mp::Queue throughput between processes: 1 producer process → 1 consumer process, 64-byte
// messages (the workload; CPython's multiprocessing.Queue does ~230 k msgs/s here,
// bench/multiprocessing/mp_queue_python.py measures it in the same run).
//
// Each benchmark iteration forks a producer that puts kBatch messages; the parent gets them
// all; the time covers the whole stream (fork and exit of the producer included, ~0.2 ms,
// well under 1% of a batch). Items/s is messages per second.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <string>

#include "tandem/multiprocessing.hpp"

namespace mp = tandem::mp;

namespace {

constexpr int kBatch = 1'000'000;

struct Msg64 {  // 64 bytes, trivially copyable: the codec's memcpy path
  std::array<char, 64> bytes;
};

template <class Q, class Make>
void stream(benchmark::State& state, Q& q, Make make) {
  for (auto _ : state) {
    const pid_t child = ::fork();
    if (child == 0) {
      for (int i = 0; i < kBatch; ++i) q.put(make(i));
      ::_exit(0);
    }
    long check = 0;
    for (int i = 0; i < kBatch; ++i) {
      auto m = q.get();
      benchmark::DoNotOptimize(m);
      ++check;
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    if (check != kBatch || !WIFEXITED(status)) state.SkipWithError("lost messages");
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void BM_MpQueue_Struct64(benchmark::State& state) {
  mp::Queue<Msg64> q(static_cast<std::size_t>(state.range(0)));
  stream(state, q, [](int i) {
    Msg64 m{};
    m.bytes[0] = static_cast<char>(i);
    return m;
  });
}
BENCHMARK(BM_MpQueue_Struct64)->Arg(0)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_MpQueue_String64(benchmark::State& state) {
  mp::Queue<std::string> q(static_cast<std::size_t>(state.range(0)));
  const std::string payload(64, 'x');
  stream(state, q, [&](int) -> const std::string& { return payload; });
}
BENCHMARK(BM_MpQueue_String64)->Arg(0)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_MpSimpleQueue_String64(benchmark::State& state) {
  mp::SimpleQueue<std::string> q;
  const std::string payload(64, 'x');
  stream(state, q, [&](int) -> const std::string& { return payload; });
}
BENCHMARK(BM_MpSimpleQueue_String64)->UseRealTime()->Unit(benchmark::kMillisecond);

// Uncontended cost of one put + get in one process (no cache-line transfer).
void BM_MpQueue_PutGetSameProcess(benchmark::State& state) {
  mp::Queue<std::string> q;
  const std::string payload(64, 'x');
  for (auto _ : state) {
    q.put(payload);
    benchmark::DoNotOptimize(q.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MpQueue_PutGetSameProcess);

}  // namespace
