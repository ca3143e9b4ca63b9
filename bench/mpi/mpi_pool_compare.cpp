// SPDX-License-Identifier: MIT
// MpiPoolExecutor throughput, the tandem half of bench/mpi/run (the other half is
// bench/mpi/mpi4py_pool.py, the same workloads on mpi4py.futures). Run under mpirun:
//
//   mpirun --oversubscribe -n 3 ./mpi_pool_compare [--rounds R] [--scale X]
//                                [--max-in-flight N] [--max-batch N]   (MpiPoolOptions)
//
// Workloads (rank 0 submits; ranks 1..N-1 run the tasks), each reported as the median over
// R rounds, one line `workload<TAB>tasks/s`:
//   submit_result  submit N trivial tasks (add(i, 1)), then collect every result
//   map_chunk1000  map(add_one, range of N ints, chunksize 1000)
//   map_chunk10000 the same, chunksize 10000
//   round_trip     submit one task and wait for it, N times (latency-bound: tasks/s = 1/RTT)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "tandem/mpi.hpp"

namespace {

int add(int a, int b) { return a + b; }
int add_one(int a) { return a + 1; }

using clk = std::chrono::steady_clock;

double submit_result(tandem::MpiPoolExecutor& ex, int n) {
  auto t0 = clk::now();
  std::vector<tandem::Future<int>> fs;
  fs.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) fs.push_back(ex.submit(add, i, 1));
  long long s = 0;
  for (auto& f : fs) s += f.result();
  double secs = std::chrono::duration<double>(clk::now() - t0).count();
  if (s != static_cast<long long>(n) * (n + 1) / 2) std::abort();
  return n / secs;
}

double map_chunks(tandem::MpiPoolExecutor& ex, int n, std::size_t chunk) {
  std::vector<int> xs(static_cast<std::size_t>(n));
  std::iota(xs.begin(), xs.end(), 0);
  auto t0 = clk::now();
  long long s = 0;
  for (int y : ex.map(add_one, xs, tandem::MapOptions{.chunksize = chunk})) s += y;
  double secs = std::chrono::duration<double>(clk::now() - t0).count();
  if (s != static_cast<long long>(n) * (n + 1) / 2) std::abort();
  return n / secs;
}

double round_trip(tandem::MpiPoolExecutor& ex, int n) {
  auto t0 = clk::now();
  for (int i = 0; i < n; ++i)
    if (ex.submit(add, i, 1).result() != i + 1) std::abort();
  return n / std::chrono::duration<double>(clk::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  tandem::mpi::init(argc, argv);
  int rounds = 5;
  double scale = 1.0;
  tandem::MpiPoolOptions opts;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--max-in-flight")) opts.max_in_flight = std::strtoul(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--max-batch")) opts.max_batch = std::strtoul(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::max(1, std::atoi(argv[i + 1]));
    if (!std::strcmp(argv[i], "--scale")) scale = std::atof(argv[i + 1]);
  }
  auto n_of = [&](double base) { return std::max(1000, static_cast<int>(base * scale)); };
  tandem::MpiPoolExecutor ex(opts);
  std::vector<double> sr, m1, m10, rt;
  submit_result(ex, 10000);  // warm-up: workers awake, allocator primed
  for (int r = 0; r < rounds; ++r) {
    sr.push_back(submit_result(ex, n_of(200000)));
    m1.push_back(map_chunks(ex, n_of(4000000), 1000));
    m10.push_back(map_chunks(ex, n_of(20000000), 10000));
    rt.push_back(round_trip(ex, n_of(5000)));
  }
  std::printf("submit_result\t%.0f\nmap_chunk1000\t%.0f\nmap_chunk10000\t%.0f\nround_trip\t%.0f\n",
              median(sr), median(m1), median(m10), median(rt));
  return 0;
}
