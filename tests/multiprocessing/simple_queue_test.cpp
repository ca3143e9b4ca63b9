// SPDX-License-Identifier: MIT
// tandem::mp::SimpleQueue — the timed and non-blocking puts (put(item, timeout),
// put_nowait), which Python's SimpleQueue lacks: Full when the ring has no room, the item
// then not queued, and a timed put in another process released by a get.
// (The Python ports of _TestSimpleQueue are in queue_test.cpp.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;
using mptest::Shared;
using mptest::SharedEvent;

namespace {

class MpSimpleQueue : public mptest::ProcessFixture {};

constexpr std::size_t kRing = 4096;  // the smallest ring: a few 1000-byte items fill it

std::string item(char c) { return std::string(1000, c); }

/// Fills `q` with put_nowait until Full; returns how many items went in.
int fill(mp::SimpleQueue<std::string>& q) {
  for (int n = 0; n < 64; ++n) {
    try {
      q.put_nowait(item(static_cast<char>('a' + n)));
    } catch (const tandem::Full&) {
      return n;
    }
  }
  return -1;  // never full: the test fails
}

}  // namespace

TEST_F(MpSimpleQueue, PutNowaitRaisesFullWhenTheRingIsFull) {
  mp::SimpleQueue<std::string> q(kRing);
  const int n = fill(q);
  ASSERT_GT(n, 0);
  EXPECT_EQ(q.qsize(), static_cast<std::size_t>(n));
  EXPECT_THROW(q.put_nowait(item('z')), tandem::Full);
  EXPECT_EQ(q.qsize(), static_cast<std::size_t>(n));  // the failed put queued nothing
  EXPECT_EQ(q.get(), item('a'));
  q.put_nowait(item('z'));  // room again
  for (int i = 1; i < n; ++i) EXPECT_EQ(q.get(), item(static_cast<char>('a' + i)));
  EXPECT_EQ(q.get(), item('z'));
  EXPECT_TRUE(q.empty());
}

TEST_F(MpSimpleQueue, TimedPutRaisesFullAfterTheTimeout) {
  mp::SimpleQueue<std::string> q(kRing);
  const int n = fill(q);
  ASSERT_GT(n, 0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(q.put(item('z'), 50ms), tandem::Full);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_THROW(q.put(item('z'), 0s), tandem::Full);
  EXPECT_THROW(q.put(item('z'), -1s), tandem::Full);  // negative counts as 0
  EXPECT_EQ(q.qsize(), static_cast<std::size_t>(n));
  EXPECT_EQ(q.get(), item('a'));
  q.put(item('z'), 30s);  // room again: the timed put succeeds
  EXPECT_EQ(q.qsize(), static_cast<std::size_t>(n));
}

TEST_F(MpSimpleQueue, TimedPutOnAnEmptyQueueSucceeds) {
  mp::SimpleQueue<int> q;
  q.put(1, 0s);
  q.put_nowait(2);
  q.put(3, -5ms);
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get(), 2);
  EXPECT_EQ(q.get(), 3);
}

// A child's timed put blocked on the full ring is released by the parent's get.
TEST_F(MpSimpleQueue, TimedPutInAChildReleasedByGet) {
  mp::SimpleQueue<std::string> q(kRing);
  const int n = fill(q);
  ASSERT_GT(n, 0);
  Shared<SharedEvent> putting;
  const pid_t child = mptest::spawn([&] {
    putting->set();
    q.put(item('z'), 60s);  // Full (exit 98) if never released
    return 0;
  });
  ASSERT_TRUE(putting->wait());
  EXPECT_EQ(q.get(), item('a'));
  EXPECT_EQ(mptest::join(child), 0);
  for (int i = 1; i < n; ++i) EXPECT_EQ(q.get(), item(static_cast<char>('a' + i)));
  EXPECT_EQ(q.get(30s), item('z'));
}

TEST_F(MpSimpleQueue, ClosedHandleRejectsTimedPuts) {
  mp::SimpleQueue<int> q;
  q.close();
  EXPECT_THROW(q.put_nowait(1), tandem::ValueError);
  EXPECT_THROW(q.put(1, 1s), tandem::ValueError);
}
