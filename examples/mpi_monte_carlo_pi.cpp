// SPDX-License-Identifier: MIT
// A parallel Monte Carlo estimate of pi over MPI ranks with tandem::MpiPoolExecutor.
//
//   mpirun --oversubscribe -n 3 ./mpi_monte_carlo_pi [--samples N] [--tasks T]
//   mpirun --hostfile hosts -n 16 ./mpi_monte_carlo_pi --samples 10000000000
//   srun -n 16 ./mpi_monte_carlo_pi
//
// Rank 0 splits N samples into T tasks, each with its own seed; worker ranks draw points in
// the unit square and count those inside the quarter circle. Results arrive through
// as_completed, shown by tandem::progress (a bar on a terminal, a line per 10% of the tasks
// in a log), then pi ≈ 4 · hits / samples.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "tandem/futures/progress.hpp"
#include "tandem/mpi.hpp"

namespace {

struct Tally {
  std::uint64_t hits = 0, samples = 0;
  int rank = 0;
};

// Runs on a worker rank: only its arguments and result cross the wire.
Tally count_hits(std::uint64_t seed, std::uint64_t samples) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Tally t{0, samples, tandem::mpi::rank()};
  for (std::uint64_t i = 0; i < samples; ++i) {
    const double x = u(rng), y = u(rng);
    t.hits += (x * x + y * y <= 1.0);
  }
  return t;
}

void usage() {
  std::puts(
      "usage: mpirun -n RANKS mpi_monte_carlo_pi [--samples N] [--tasks T] [--help]\n"
      "Estimates pi by Monte Carlo with tandem::MpiPoolExecutor: rank 0 submits T tasks, the\n"
      "other ranks draw the N points between them.\n"
      "  --samples N  points drawn in all (default 20000000)\n"
      "  --tasks T    tasks the points are split into (default 40)\n"
      "  --help       this text\n"
      "Without mpirun (world size 1) the tasks run on a local process pool.");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      usage();  // before init: no MPI needed to read it
      return 0;
    }
  tandem::mpi::init(argc, argv);  // worker ranks serve tasks in here until rank 0 is done
  // Line by line even into mpirun's pipe, so that stdout and the progress lines on stderr
  // stay in the order they were written.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::uint64_t samples = 20'000'000, tasks = 40;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--samples")) samples = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--tasks")) tasks = std::strtoull(argv[i + 1], nullptr, 10);
  }
  if (tasks == 0) tasks = 1;
  const auto t0 = std::chrono::steady_clock::now();
  tandem::MpiPoolExecutor ex;
  std::printf("estimating pi with %llu samples in %llu tasks on %zu worker rank(s)\n",
              static_cast<unsigned long long>(samples), static_cast<unsigned long long>(tasks),
              ex.num_workers());
  std::vector<tandem::Future<Tally>> fs;
  for (std::uint64_t k = 0; k < tasks; ++k) {
    const std::uint64_t n = samples / tasks + (k < samples % tasks ? 1 : 0);
    fs.push_back(ex.submit(count_hits, 0x9e3779b97f4a7c15ULL * (k + 1), n));
  }
  std::uint64_t hits = 0, done = 0;
  std::vector<std::uint64_t> per_rank(static_cast<std::size_t>(tandem::mpi::world_size()));
  for (tandem::Future<Tally>& f : tandem::progress(tandem::as_completed(fs), {.desc = "tasks"})) {
    const Tally t = f.result();
    hits += t.hits;
    done += t.samples;
    per_rank[static_cast<std::size_t>(t.rank)] += t.samples;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (std::size_t r = 0; r < per_rank.size(); ++r)
    if (per_rank[r]) std::printf("rank %zu drew %llu samples\n", r, static_cast<unsigned long long>(per_rank[r]));
  std::printf("pi ~= %.6f (%llu samples, %.2f s, %.1f M samples/s)\n",
              4.0 * static_cast<double>(hits) / static_cast<double>(done),
              static_cast<unsigned long long>(done), secs, static_cast<double>(done) / secs / 1e6);
  return 0;
}
