// SPDX-License-Identifier: MIT
// Crash safety of mp::Manager's containers (manager_containers.hpp, "Crash safety"): a process
// SIGKILLed at an arbitrary point of a stream of modifications leaves the list either intact
// (its lock recovered) or marked broken — every later call raises RuntimeError — never torn.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support/manager_test_support.hpp"
#include "support/mp_test_support.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/manager.hpp"

namespace mp = tandem::mp;

namespace {
class ManagerList : public mptest::ProcessFixture {};
}  // namespace

// Small items: the kill mostly lands outside a modification (the list stays intact); items of
// 64 KiB: every insert(0) moves megabytes, so it mostly lands inside one (broken). Either
// outcome is checked whichever happens.
TEST_F(ManagerList, WriterKilledMidStreamLeavesItIntactOrBroken) {
  mp::Manager m;
  int intact = 0, broken = 0;
  for (int round = 0; round < 6; ++round) {
    const std::size_t pad = round % 2 == 0 ? 0 : 64 * 1024;
    auto l = m.list<std::string>(16u << 20);
    auto done = m.Value<int>(0);  // inserts done: watched without the list's lock
    const pid_t child = mgrtest::spawn([&] {
      for (int i = 0;; ++i) {
        l.insert(0, std::to_string(i) + std::string(pad, '.'));
        std::atomic_ref<int>(done.value()).store(i + 1, std::memory_order_relaxed);
      }
      return 0;
    });
    const int target = pad == 0 ? 300 : 60;
    while (std::atomic_ref<int>(done.value()).load(std::memory_order_relaxed) < target)
      std::this_thread::yield();
    ::kill(child, SIGKILL);
    EXPECT_EQ(mgrtest::join(child), -SIGKILL);
    try {
      const std::vector<std::string> s = l.snapshot();
      ASSERT_GE(s.size(), static_cast<std::size_t>(target));
      for (std::size_t j = 0; j < s.size(); ++j)
        ASSERT_EQ(s[j], std::to_string(s.size() - 1 - j) + std::string(pad, '.')) << round;
      l.append("x");  // the lock was recovered: the list still works
      EXPECT_EQ(l.get(-1), "x");
      ++intact;
    } catch (const tandem::RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("is broken"), std::string::npos) << e.what();
      EXPECT_THROW(l.size(), tandem::RuntimeError);  // and stays so
      ++broken;
    }
  }
  EXPECT_EQ(intact + broken, 6);
  RecordProperty("intact", intact);
  RecordProperty("broken", broken);
}
