// SPDX-License-Identifier: MIT
// The executor conformance suite (executor_conformance.hpp) against the local executors:
// ThreadPoolExecutor, and ProcessPoolExecutor with each start method.
#include "support/executor_conformance.hpp"

#include "tandem/multiprocessing/process.hpp"
#include "tandem/process_pool.hpp"

namespace {

struct ThreadPool {
  using Executor = tandem::ThreadPoolExecutor;
  static std::unique_ptr<Executor> make() { return std::make_unique<Executor>(2); }
};

template <tandem::mp::StartMethod M>
struct ProcessPool {
  using Executor = tandem::ProcessPoolExecutor;
  static std::unique_ptr<Executor> make() {
    return std::make_unique<Executor>(
        tandem::ProcessPoolOptions{.max_workers = 2, .start_method = M});
  }
};

using Executors =
    ::testing::Types<ThreadPool, ProcessPool<tandem::mp::StartMethod::fork>,
                     ProcessPool<tandem::mp::StartMethod::forkserver>,
                     ProcessPool<tandem::mp::StartMethod::spawn>>;

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Local, ExecutorConformance, Executors);

// spawn and forkserver workers enter through mp::init.
int main(int argc, char** argv) {
  tandem::mp::init(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
