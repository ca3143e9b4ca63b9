// SPDX-License-Identifier: MIT
// SharedMemoryManager when its owner is SIGKILLed: its tracker unlinks every segment and
// exits. (CPython's test_shared_memory_cleaned_after_process_termination, made stronger:
// there the segment is the resource tracker's, here the owner dies without any cleanup.)
//
// The test process becomes a child subreaper for the test, so the orphaned tracker is
// re-parented to it: the test can see it exit and reap it (no zombie, no stray process).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "support/fault_support.hpp"
#include "support/fork_helper.hpp"
#include "support/shm_test_support.hpp"
#include "tandem/multiprocessing/shared_memory_manager.hpp"

namespace mp = tandem::mp;
using shmtest::shm_exists;

namespace {

struct Report {
  int tracker = -1;
  std::vector<std::string> names;
};

// Forks an owner that starts a manager, makes two segments and a list, reports the
// tracker's pid and the names on `pipe`, then waits to be killed (or kills itself).
mptest::Child fork_owner(const mptest::Pipe& pipe, bool kill_itself) {
  return mptest::fork_child([&pipe, kill_itself] {
    mp::SharedMemoryManager smm;
    smm.start();
    auto a = smm.SharedMemory(100);
    auto b = smm.SharedMemory(5000);
    auto sl = smm.ShareableList({std::int64_t{1}, std::string("two"), 3.0});
    const std::vector<int> kids = shmtest::children_of(::getpid());
    if (kids.size() != 1) return 3;
    std::string line = std::to_string(kids[0]) + " " + a.name() + " " + b.name() + " " +
                       sl.shm().name() + "\n";
    if (::write(pipe.fd[1], line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      return 4;
    if (kill_itself) ::raise(SIGKILL);
    ::pause();
    return 5;
  });
}

Report read_report(const mptest::Pipe& pipe) {
  std::string line;
  char c = 0;
  while (::read(pipe.fd[0], &c, 1) == 1 && c != '\n') line += c;
  std::istringstream in(line);
  Report r;
  in >> r.tracker;
  for (std::string n; in >> n;) r.names.push_back(n);
  return r;
}

void expect_cleaned_up(const Report& r) {
  ASSERT_GT(r.tracker, 0);
  ASSERT_EQ(r.names.size(), 3u);
  for (const auto& n : r.names)
    EXPECT_TRUE(shmtest::wait_until([&] { return !shm_exists(n); })) << n << " left behind";
  int status = 0;
  EXPECT_TRUE(shmtest::wait_until(
      [&] { return ::waitpid(r.tracker, &status, WNOHANG) == r.tracker; }))
      << "the tracker did not exit";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(faulttest::process_exists(r.tracker));
}

class SharedMemoryManagerFault : public ::testing::Test {
 protected:
  void SetUp() override {
    children_ = faulttest::count_children();
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  }
  void TearDown() override {
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    EXPECT_EQ(faulttest::count_children(), children_);
  }
  int children_ = 0;
};

}  // namespace

TEST_F(SharedMemoryManagerFault, SegmentsUnlinkedAfterOwnerKillsItself) {
  mptest::Pipe pipe;
  auto owner = fork_owner(pipe, true);
  const Report r = read_report(pipe);
  EXPECT_EQ(owner.join(), -SIGKILL);
  expect_cleaned_up(r);
}

// The tracker ignores SIGINT, SIGTERM, SIGHUP and SIGQUIT (sent to a whole group), so the
// cleanup still happens when the owner is then killed. (CPython's
// test_shared_memory_SharedMemoryServer_ignores_sigint, for the tracker.)
TEST_F(SharedMemoryManagerFault, TrackerOutlivesInterruptsToCleanUp) {
  mptest::Pipe pipe;
  auto owner = fork_owner(pipe, false);
  const Report r = read_report(pipe);
  ASSERT_GT(r.tracker, 0);
  // Down to its two descriptors, the tracker has set its signal dispositions already.
  const std::string fds = "/proc/" + std::to_string(r.tracker) + "/fd";
  ASSERT_TRUE(shmtest::wait_until([&] { return faulttest::count_entries(fds.c_str()) == 2; }));
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::kill(r.tracker, sig);
  for (const auto& n : r.names) EXPECT_TRUE(shm_exists(n)) << n;
  owner.kill(SIGKILL);
  EXPECT_EQ(owner.join(), -SIGKILL);
  expect_cleaned_up(r);
}
