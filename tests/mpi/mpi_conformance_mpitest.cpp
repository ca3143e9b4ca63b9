// SPDX-License-Identifier: MIT
// The executor conformance suite (tests/support/executor_conformance.hpp) — the same test
// bodies the thread and process pools pass — against MpiPoolExecutor, run under
// `mpirun --oversubscribe -n 3` (two worker ranks).
#include "support/executor_conformance.hpp"

#include "tandem/mpi.hpp"

namespace {

struct MpiPool {
  using Executor = tandem::MpiPoolExecutor;
  static std::unique_ptr<Executor> make() { return std::make_unique<Executor>(); }
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Mpi, ExecutorConformance, ::testing::Types<MpiPool>);

int main(int argc, char** argv) {
  tandem::mpi::init(argc, argv);  // worker ranks serve here and never return
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
