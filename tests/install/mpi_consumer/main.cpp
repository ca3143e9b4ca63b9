// SPDX-License-Identifier: MIT
// Uses the installed tandem::mpi: a map over an MpiPoolExecutor. Started without mpirun (world
// size 1), its tasks run on a local process pool: the shipped-task path, without a cluster.
#include <tandem/mpi.hpp>

#include <cstdio>
#include <vector>

namespace {
long square(long x) { return x * x; }
}  // namespace

int main(int argc, char** argv) {
  tandem::mpi::init(argc, argv);  // under mpirun, worker ranks serve tasks in here
  std::vector<long> xs;
  for (long x = 1; x <= 100; ++x) xs.push_back(x);
  long sum = 0;
  {
    tandem::MpiPoolExecutor ex(tandem::MpiPoolOptions{.local_workers = 2});
    for (long y : ex.map(square, xs, tandem::MapOptions{.chunksize = 10})) sum += y;
  }
  std::printf("mpi consumer ok %ld\n", sum);  // 1² + … + 100² = 338350
  return sum == 338350 ? 0 : 1;
}
