// SPDX-License-Identifier: MIT
// tandem::mp::Process — the pool of stop words of fork-started Processes
// (src/multiprocessing/process_support.cpp):
// every live Process has a word of its own, also past the first page of 1024; a recycled
// word starts clear; and a fork child's Processes take words from a pool of the child's own,
// never from the parent's shared page (where they would stop the parent's Processes).
// tandem's own tests: CPython's Process has no shared stop flag.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing.hpp"

using namespace std::chrono_literals;
using mptest::Board;
using mptest::Shared;
namespace mp = tandem::mp;

namespace {

class ProcessStopWord : public mptest::ProcessFixture {};

TEST_F(ProcessStopWord, EveryLiveProcessHasItsOwnWordAcrossPages) {
  constexpr int kN = 2500;  // more than two pages of 1024 words
  std::vector<std::unique_ptr<mp::Process>> ps;
  for (int i = 0; i < kN; ++i) ps.push_back(std::make_unique<mp::Process>([] {}));
  for (int i = 0; i < kN; i += 2) ps[static_cast<std::size_t>(i)]->request_stop();
  for (int i = 0; i < kN; ++i)
    ASSERT_EQ(ps[static_cast<std::size_t>(i)]->stop_token().stop_requested(), i % 2 == 0) << i;
  ps.clear();
  // Every word is recycled now, half of them set: new Processes must all start clear.
  for (int i = 0; i < kN; ++i) ps.push_back(std::make_unique<mp::Process>([] {}));
  for (int i = 0; i < kN; ++i)
    ASSERT_FALSE(ps[static_cast<std::size_t>(i)]->stop_token().stop_requested()) << i;
}

TEST_F(ProcessStopWord, RecycledWordStartsClearInTheChild) {
  for (int round = 0; round < 20; ++round) {
    {
      mp::Process stopped([](mp::StopToken token) { mp::sleep(100s, token); });
      stopped.start();
      stopped.request_stop();
      stopped.join();
      ASSERT_EQ(stopped.exitcode(), 0);
    }
    Shared<Board> board;
    mp::Process p([&board](mp::StopToken token) { board->value = token.stop_requested() ? 2 : 1; });
    ASSERT_FALSE(p.stop_token().stop_requested());
    p.start();
    p.join();
    ASSERT_EQ(p.exitcode(), 0);
    ASSERT_EQ(board->value.load(), 1) << "round " << round;
  }
}

TEST_F(ProcessStopWord, ChildProcessesDoNotTakeTheParentsWords) {
  Shared<Board> board;
  mp::Process p([&board] {
    // In the child, once the parent has made more Processes: Processes made here draw from
    // the child's own pool. Were it the inherited page and bitmap, they would take exactly
    // the words the parent has handed out since fork(), and stop those Processes.
    if (!board->go.wait()) return;
    std::vector<std::unique_ptr<mp::Process>> qs;
    for (int i = 0; i < 8; ++i) {
      qs.push_back(std::make_unique<mp::Process>([] {}));
      qs.back()->request_stop();
    }
    mp::Process q([](mp::StopToken token) { mp::sleep(100s, token); });
    q.start();
    q.request_stop();
    q.join();
    board->value = q.exitcode() == 0 ? 1 : 2;
  });
  p.start();
  std::vector<std::unique_ptr<mp::Process>> later;
  for (int i = 0; i < 8; ++i) later.push_back(std::make_unique<mp::Process>([] {}));
  board->go.set();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(board->value.load(), 1);
  EXPECT_FALSE(p.stop_token().stop_requested());
  for (const auto& l : later) EXPECT_FALSE(l->stop_token().stop_requested());
}

}  // namespace
