// SPDX-License-Identifier: MIT
// Another executable, for mpi_build_id_mismatch: `mpirun -n 1 mpi_pool_mpitest : -n 1
// mpi_other_binary` must be refused by tandem::mpi::init's build-id check on every rank.
#include <cstdio>

#include "tandem/mpi.hpp"

int main(int argc, char** argv) {
  tandem::mpi::init(argc, argv);
  std::puts("mpi_other_binary: init returned on rank 0 (the check did not refuse the job)");
  return 0;
}
