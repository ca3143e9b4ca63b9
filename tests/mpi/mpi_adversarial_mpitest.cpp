// SPDX-License-Identifier: MIT
// MpiPoolExecutor at world size 1 (started without mpirun: a local ProcessPoolExecutor stands
// in for the worker ranks) under the adversarial mix of tests/support/adversarial_tasks.hpp:
// the exact outcome of every future, and the executor serves on (issue 10). Not run under
// mpirun: there a crashing task takes its rank down with MPI (docs/mpi.md).
#include <gtest/gtest.h>

#include <string>

#include "support/adversarial_tasks.hpp"
#include "support/fault_support.hpp"
#include "tandem/mpi.hpp"

namespace {

TEST(MpiAdversarialWorld1, RandomMixEveryOutcomeExact) {
  ASSERT_EQ(tandem::mpi::world_size(), 1);
  const int fds_before = faulttest::count_fds();
  const int children_before = faulttest::count_children();
  const unsigned seeds = adversarial::kSanitized ? 1 : 2;
  for (unsigned seed = 1; seed <= seeds; ++seed) {
    tandem::MpiPoolExecutor ex(tandem::MpiPoolOptions{.local_workers = 2});
    adversarial::run_mix<tandem::MpiTaskOptions>(
        ex, adversarial::draw(100 + seed, adversarial::kSanitized ? 120 : 300),
        "seed " + std::to_string(seed));
  }
  EXPECT_EQ(faulttest::count_children(), children_before);
  EXPECT_EQ(faulttest::count_fds(), fds_before);
}

}  // namespace

int main(int argc, char** argv) {
  tandem::mpi::init(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
