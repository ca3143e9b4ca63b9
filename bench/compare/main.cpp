// SPDX-License-Identifier: MIT
// tandem_compare — tandem against its C++ peers, side by side, in one process.
//
//   tandem_compare [--rounds R] [--first-round K] [--scale X] [--only WORKLOAD]
//                  [--contender SUBSTRING] [--list]
//
// Runs every contender of every workload once per round; round r starts with contender
// (r mod n) of each workload, so the order rotates and slow phases of a noisy machine fall
// on all contenders alike. Before the first round each contender runs once at 1/20 size,
// untimed (page faults, thread stacks, lazy binding). Prints "R\tworkload\tcontender\tvalue\t
// unit" lines (see harness.hpp); bench/compare/compare.py (scripts/bench) makes the table.
// --contender keeps the contenders whose name contains SUBSTRING (for strace, valgrind).
// --only WORKLOAD keeps one workload, or a group: "--only mp" keeps every "mp ..." workload.
//
// The multiprocessing workloads (mp_*_workload.cpp) need mp::init(argc, argv) first: a
// child started with StartMethod::spawn is a fresh exec of this program that mp::init takes
// over, and the fork server must start while this process is single-threaded. A workload is
// warmed up right before its first timed run (not all before the first round), so that with
// --rounds 1 (how compare.py calls us) the "mp" workloads fork before any peer that leaves
// threads behind (oneTBB's workers) has run.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "compare/harness.hpp"
#include "tandem/multiprocessing/process.hpp"

namespace {

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: tandem_compare [--rounds R] [--first-round K] [--scale X] "
               "[--only WORKLOAD] [--contender SUBSTRING] [--list]\n");
  std::exit(64);
}

}  // namespace

int main(int argc, char** argv) {
  tandem::mp::init(argc, argv);  // a spawned child never returns from here
  using namespace tandem_bench;
  int rounds = 1, first_round = 0;
  Sizes sizes;
  std::string only, contender;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    auto arg = [&] {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(arg());
    else if (!std::strcmp(argv[i], "--first-round")) first_round = std::atoi(arg());
    else if (!std::strcmp(argv[i], "--scale")) sizes.scale = std::atof(arg());
    else if (!std::strcmp(argv[i], "--only")) only = arg();
    else if (!std::strcmp(argv[i], "--contender")) contender = arg();
    else if (!std::strcmp(argv[i], "--list")) list = true;
    else usage();
  }
  if (rounds < 1 || !(sizes.scale > 0)) usage();

  // Workloads in registration-independent order, contenders in registration order.
  std::map<std::string, std::vector<const Contender*>> workloads;
  for (const auto& c : registry())
    if ((only.empty() || c.workload == only || c.workload.rfind(only + " ", 0) == 0) &&
        (contender.empty() || c.name.find(contender) != std::string::npos))
      workloads[c.workload].push_back(&c);
  if (list) {
    for (auto& [w, cs] : workloads)
      for (auto* c : cs) std::printf("%s\t%s\t%s\n", w.c_str(), c->name.c_str(), c->unit.c_str());
    return 0;
  }

  Sizes warm = sizes;
  warm.scale = sizes.scale / 20;
  for (int r = first_round; r < first_round + rounds; ++r) {
    for (auto& [w, cs] : workloads) {
      const std::size_t n = cs.size();
      if (r == first_round)
        for (auto* c : cs) c->run(warm);
      for (std::size_t k = 0; k < n; ++k) {
        const Contender* c = cs[(static_cast<std::size_t>(r) + k) % n];
        double v = c->run(sizes);
        std::printf("R\t%s\t%s\t%.6g\t%s\n", w.c_str(), c->name.c_str(), v, c->unit.c_str());
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
