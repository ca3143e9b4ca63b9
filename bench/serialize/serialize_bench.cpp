// SPDX-License-Identifier: MIT
// tandem's codec: serialize + deserialize round trips (ANCHORS.md: a small struct costs
// ~70 ns with memcpy, ~300 ns with msgpack, 400-600 ns with cereal).
#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

#include "tandem/serialize.hpp"

namespace {

struct Small {  // a few ints and a short string: the typical task argument
  int id;
  int priority;
  std::int64_t deadline;
  std::string name;
};

struct Pod {
  int a, b, c, d;
};

void BM_RoundTrip_SmallStruct(benchmark::State& state) {
  const Small s{42, 7, 1234567890123, "resize-image"};
  for (auto _ : state) {
    auto bytes = tandem::serialize(s);
    auto back = tandem::deserialize<Small>(bytes);
    benchmark::DoNotOptimize(back);
  }
}
BENCHMARK(BM_RoundTrip_SmallStruct);

// Reusing the buffers (what a queue does): no allocation but the string's.
void BM_RoundTrip_SmallStruct_Reuse(benchmark::State& state) {
  const Small s{42, 7, 1234567890123, "resize-image"};
  std::vector<std::byte> buf(256);
  Small back{};
  for (auto _ : state) {
    const std::size_t n = tandem::serialize_to(buf, s);
    tandem::deserialize_into(std::span(buf).first(n), back);
    benchmark::DoNotOptimize(back);
  }
}
BENCHMARK(BM_RoundTrip_SmallStruct_Reuse);

void BM_RoundTrip_Pod(benchmark::State& state) {
  const Pod p{1, 2, 3, 4};
  for (auto _ : state) {
    auto bytes = tandem::serialize(p);
    auto back = tandem::deserialize<Pod>(bytes);
    benchmark::DoNotOptimize(back);
  }
}
BENCHMARK(BM_RoundTrip_Pod);

void BM_RoundTrip_VectorInt1000(benchmark::State& state) {
  std::vector<int> v(1000);
  for (int i = 0; i < 1000; ++i) v[i] = i * 31;
  for (auto _ : state) {
    auto bytes = tandem::serialize(v);
    auto back = tandem::deserialize<std::vector<int>>(bytes);
    benchmark::DoNotOptimize(back);
  }
  state.SetBytesProcessed(state.iterations() * 1000 * sizeof(int));
}
BENCHMARK(BM_RoundTrip_VectorInt1000);

void BM_RoundTrip_MapStringInt(benchmark::State& state) {
  std::map<std::string, int> m;
  for (int i = 0; i < state.range(0); ++i) m["key-" + std::to_string(i)] = i;
  for (auto _ : state) {
    auto bytes = tandem::serialize(m);
    auto back = tandem::deserialize<std::map<std::string, int>>(bytes);
    benchmark::DoNotOptimize(back);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RoundTrip_MapStringInt)->Arg(10)->Arg(1000);

void BM_Serialize_SmallStruct(benchmark::State& state) {
  const Small s{42, 7, 1234567890123, "resize-image"};
  for (auto _ : state) {
    auto bytes = tandem::serialize(s);
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_Serialize_SmallStruct);

}  // namespace
