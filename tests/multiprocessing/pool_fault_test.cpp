// SPDX-License-Identifier: MIT
// mp::Pool under faults (<tandem/multiprocessing/pool.hpp>): a task that SIGKILLs its worker
// fails only its own result with WorkerDied — where Python's Pool leaves that result hanging
// forever (bpo-22393) — and the pool keeps serving; terminate() with running tasks leaves no
// process and no zombie. Own main(): mp::init(argc, argv) first.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <vector>

#include "support/fault_support.hpp"
#include "support/pool_test_support.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing.hpp"

namespace {

using namespace std::chrono_literals;
using tandem::mp::AsyncResult;
using tandem::mp::Pool;
using faulttest::count_children;

constexpr int kVictim = 3;

/// x * x, but the item kVictim SIGKILLs its own worker.
int sqr_or_die(int x) {
  if (x == kVictim) raise(SIGKILL);
  return x * x;
}
int sqr(int x) { return x * x; }

/// Writes one byte to `fd` (a pipe inherited through fork), then blocks until killed.
int signal_then_block(int fd) {
  const char c = 'r';
  if (write(fd, &c, 1) != 1) return -1;
  for (;;) pause();
}

/// Reads `n` bytes from `fd`, waiting at most 60 s in all.
bool read_bytes(int fd, int n) {
  char c;
  for (int got = 0; got < n;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 60000) != 1) return false;
    if (read(fd, &c, 1) == 1) ++got;
  }
  return true;
}

// A batch of apply_async: the victim's result is WorkerDied, every other one exact.
TEST(MpPoolFault, ApplyAsyncVictimFailsAlone) {
  Pool pool(2);
  std::vector<AsyncResult<int>> rs;
  for (int i = 0; i < 8; ++i) rs.push_back(pool.apply_async(sqr_or_die, i));
  for (int i = 0; i < 8; ++i) {
    if (i == kVictim) {
      EXPECT_THROW(rs[static_cast<std::size_t>(i)].get(60s), tandem::WorkerDied);
      EXPECT_FALSE(rs[static_cast<std::size_t>(i)].successful());
    } else {
      EXPECT_EQ(rs[static_cast<std::size_t>(i)].get(60s), i * i) << "item " << i;
    }
  }
  EXPECT_EQ(pool.apply(sqr, 9), 81);  // the pool keeps serving
}

// imap, item by item: the victim's position raises WorkerDied, the others are exact.
TEST(MpPoolFault, ImapVictimFailsAlone) {
  Pool pool(2);
  std::vector<int> in{0, 1, 2, 3, 4, 5, 6, 7};
  auto it = pool.imap(sqr_or_die, in);
  for (int i = 0; i < 8; ++i) {
    if (i == kVictim)
      EXPECT_THROW(it.next(60s), tandem::WorkerDied);
    else
      EXPECT_EQ(it.next(60s), i * i) << "item " << i;
  }
  EXPECT_EQ(it.next(60s), std::nullopt);
  EXPECT_EQ(pool.map(sqr, in), (std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49}));
}

// map_async: the whole result raises WorkerDied (Python's map raises the first error), its
// error_callback runs, and the pool keeps serving.
TEST(MpPoolFault, MapAsyncRaisesWorkerDied) {
  Pool pool(2);
  int errors = 0;
  auto r = pool.map_async(sqr_or_die, std::vector<int>{0, 1, 2, 3, 4, 5}, 2,
                          tandem::mp::AsyncCallbacks<std::vector<int>>{
                              .error_callback = [&](std::exception_ptr) { ++errors; }});
  EXPECT_THROW(r.get(60s), tandem::WorkerDied);
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(pool.map(sqr, std::vector<int>{5, 6}), (std::vector<int>{25, 36}));
}

// terminate() with running tasks: every result completes, no process or zombie is left.
TEST(MpPoolFault, TerminateLeavesNoProcess) {
  const int before = count_children();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    Pool pool(2);
    std::vector<AsyncResult<int>> rs;
    for (int i = 0; i < 4; ++i) rs.push_back(pool.apply_async(signal_then_block, fds[1]));
    ASSERT_TRUE(read_bytes(fds[0], 2));  // both workers run a task
    pool.terminate();
    for (auto& r : rs) {
      ASSERT_TRUE(r.ready());
      EXPECT_FALSE(r.successful());
    }
    EXPECT_EQ(count_children(), before);
    pool.join();
  }
  EXPECT_EQ(count_children(), before);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
