// SPDX-License-Identifier: MIT
// mp::Queue's batch calls (tandem extensions, no CPython counterpart): put_many /
// put_many(timeout) / put_many_nowait and get_many / get_many(timeout) / get_many_nowait —
// ordering, partial batches, timeouts, maxsize, wrap-around, shutdown, errors in the middle of
// a batch, a stream across processes mixing single and batch calls, and a producer SIGKILLed
// in the middle of a batch (a prefix of it stays queued, the queue keeps working).
//
// Children never use gtest macros: they report through their exit code (0 = ok).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "support/manager_test_support.hpp"  // spawn, join
#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;
using mptest::Shared;
using mptest::SharedEvent;
using mgrtest::join;
using mgrtest::spawn;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int> iota(int from, int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(from + i);
  return v;
}

// Set in a child only: encoding an item whose head is "stall" signals, then stops until
// the child is killed (a producer frozen in the middle of a batch, holding the lock).
SharedEvent* g_stall = nullptr;
struct Stall {
  std::string head;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(head);
    if constexpr (std::is_same_v<Ar, tandem::OutArchive>) {
      if (g_stall != nullptr && head == "stall") {
        g_stall->set();
        for (;;) ::pause();
      }
    }
  }
};

// Encoding fails for "bad" (a valueless variant cannot be encoded).
struct MaybeBad {
  std::string s;
  template <class Ar>
  void serialize(Ar& ar) {
    if constexpr (std::is_same_v<Ar, tandem::OutArchive>)
      if (s == "bad") throw tandem::ValueError("cannot encode bad");
    ar(s);
  }
};

class MpQueueBatch : public mptest::ProcessFixture {};

}  // namespace

TEST_F(MpQueueBatch, PutManyGetManyKeepOrder) {
  mp::Queue<int> q;
  EXPECT_EQ(q.put_many(iota(0, 100)), 100u);
  q.put(100);
  EXPECT_EQ(q.put_many(std::array<int, 3>{101, 102, 103}), 3u);
  EXPECT_EQ(q.qsize(), 104u);
  std::vector<int> out;
  EXPECT_EQ(q.get_many(out, 10), 10u);
  EXPECT_EQ(out, iota(0, 10));
  EXPECT_EQ(q.get(), 10);
  EXPECT_EQ(q.get_many(out, 1000), 93u);  // a partial batch: what is queued
  std::vector<int> want = iota(0, 10);
  for (int i = 11; i < 104; ++i) want.push_back(i);
  EXPECT_EQ(out, want);
  EXPECT_TRUE(q.empty());
}

TEST_F(MpQueueBatch, EmptyBatchesAndZeroMax) {
  mp::Queue<std::string> q;
  EXPECT_EQ(q.put_many(std::vector<std::string>{}), 0u);
  q.put("x");
  std::vector<std::string> out;
  EXPECT_EQ(q.get_many(out, 0), 0u);
  EXPECT_EQ(q.get_many_nowait(out, 5), 1u);
  EXPECT_EQ(q.get_many_nowait(out, 5), 0u);
  EXPECT_EQ(out, std::vector<std::string>{"x"});
}

TEST_F(MpQueueBatch, GetManyTimeoutReturnsZero) {
  mp::Queue<int> q;
  std::vector<int> out;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(q.get_many(out, 8, 100ms), 0u);
  EXPECT_GE(seconds_since(t0), 0.09);
  EXPECT_EQ(q.get_many(out, 8, -1s), 0u);  // negative counts as 0 (multiprocessing)
  EXPECT_TRUE(out.empty());
}

// maxsize bounds a batch: put_many_nowait queues what fits; a timed put_many returns the
// prefix queued when the timeout passes (at least the timeout later).
TEST_F(MpQueueBatch, PartialPutOnBoundedQueue) {
  mp::Queue<int> q(5);
  EXPECT_EQ(q.put_many_nowait(iota(0, 8)), 5u);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.put_many_nowait(iota(5, 3)), 0u);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(q.put_many(iota(5, 3), 100ms), 0u);
  EXPECT_GE(seconds_since(t0), 0.09);
  std::vector<int> out;
  EXPECT_EQ(q.get_many(out, 2), 2u);
  EXPECT_EQ(q.put_many(iota(5, 3), 0s), 2u);
  EXPECT_EQ(q.get_many(out, 100), 5u);
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
}

// A batch larger than maxsize blocks until a consumer in another process makes room, and
// arrives whole and in order; the consumer mixes get() and get_many().
TEST_F(MpQueueBatch, BlockingBatchAcrossProcesses) {
  constexpr int kN = 20000;
  mp::Queue<int> q(64, 4096);
  const pid_t consumer = spawn([&] {
    int next = 0;
    std::vector<int> out;
    while (next < kN) {
      if (next % 3 == 0) {
        if (q.get() != next++) return 2;
        continue;
      }
      out.clear();
      const std::size_t k = q.get_many(out, 50);
      if (k == 0 || k > 50 || out.size() != k) return 3;
      for (int v : out)
        if (v != next++) return 4;
    }
    return 0;
  });
  for (int i = 0; i < kN;) {
    const int n = std::min(kN - i, 1 + i % 300);
    if (q.put_many(iota(i, n)) != static_cast<std::size_t>(n)) FAIL();
    i += n;
  }
  EXPECT_EQ(join(consumer), 0);
  EXPECT_TRUE(q.empty());
}

// Variable sizes across the ring's end (pads), batches straddling wrap-around.
TEST_F(MpQueueBatch, WrapAroundVariableSizes) {
  mp::Queue<std::string> q(0, 4096);
  std::vector<std::string> out;
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> batch;
    for (int i = 0; i < 7; ++i)
      batch.push_back(std::string(static_cast<std::size_t>((round * 37 + i * 11) % 300), 'a' + i));
    ASSERT_EQ(q.put_many(batch), batch.size());
    out.clear();
    ASSERT_EQ(q.get_many(out, 100), batch.size());
    ASSERT_EQ(out, batch);
  }
}

TEST_F(MpQueueBatch, ShutdownRaisesAndDrains) {
  mp::Queue<int> q;
  q.put_many(iota(0, 3));
  q.shutdown();
  EXPECT_THROW(q.put_many(iota(0, 3)), tandem::ShutDown);
  std::vector<int> out;
  EXPECT_EQ(q.get_many(out, 10), 3u);
  EXPECT_THROW(q.get_many(out, 10), tandem::ShutDown);
  EXPECT_THROW(q.get_many_nowait(out, 10), tandem::ShutDown);
}

// A getter blocked in get_many in another process wakes and raises at shutdown.
TEST_F(MpQueueBatch, ShutdownWakesBlockedGetMany) {
  mp::Queue<int> q;
  Shared<SharedEvent> started;
  const pid_t child = spawn([&] {
    std::vector<int> out;
    started->set();
    try {
      q.get_many(out, 10);
    } catch (const tandem::ShutDown&) {
      return 0;
    }
    return 1;
  });
  ASSERT_TRUE(started->wait());
  q.shutdown();
  EXPECT_EQ(join(child), 0);
}

TEST_F(MpQueueBatch, OversizedItemRaisesAfterThePrefix) {
  mp::Queue<std::string> q(0, 4096);
  std::vector<std::string> batch{"a", "b", std::string(5000, 'x'), "c"};
  EXPECT_THROW(q.put_many(batch), tandem::ValueError);
  std::vector<std::string> out;
  EXPECT_EQ(q.get_many_nowait(out, 10), 2u);
  EXPECT_EQ(out, (std::vector<std::string>{"a", "b"}));
}

TEST_F(MpQueueBatch, EncodingErrorRaisesAfterThePrefix) {
  mp::Queue<MaybeBad> q;
  std::vector<MaybeBad> batch{{"a"}, {"b"}, {"bad"}, {"c"}};
  EXPECT_THROW(q.put_many(batch), tandem::ValueError);
  EXPECT_EQ(q.qsize(), 2u);
  q.put({"d"});
  std::vector<MaybeBad> out;
  EXPECT_EQ(q.get_many(out, 10), 3u);
  EXPECT_EQ(out[0].s, "a");
  EXPECT_EQ(out[1].s, "b");
  EXPECT_EQ(out[2].s, "d");
}

// A producer killed while encoding the 3rd item of a batch (holding the producers' lock):
// the items before it may or may not be published (a prefix), the half-written one never
// is, and the next put takes the lock over.
TEST_F(MpQueueBatch, ProducerKilledMidBatch) {
  mp::Queue<Stall> q;
  std::vector<Stall> batch;
  for (int i = 0; i < 200; ++i) batch.push_back({std::to_string(i)});
  batch[150].head = "stall";
  Shared<SharedEvent> stalled;
  const pid_t child = spawn([&] {
    g_stall = stalled.get();
    q.put_many(batch);
    return 1;  // never reached
  });
  ASSERT_TRUE(stalled->wait());
  ::kill(child, SIGKILL);
  EXPECT_EQ(join(child), -SIGKILL);
  // Published in runs of 64: 128 of the 150 items before the stall are visible.
  const std::size_t queued = q.qsize();
  EXPECT_LE(queued, 150u);
  q.put({"after"});  // takes the lock over from the dead producer
  std::vector<Stall> out;
  EXPECT_EQ(q.get_many(out, 1000), queued + 1);
  for (std::size_t i = 0; i < queued; ++i) ASSERT_EQ(out[i].head, std::to_string(i));
  EXPECT_EQ(out.back().head, "after");
  // Keeps working in batches across many wrap-arounds of the ring.
  for (int round = 0; round < 500; ++round) {
    std::vector<Stall> b(17, Stall{std::to_string(round)});
    ASSERT_EQ(q.put_many(b), 17u);
    out.clear();
    ASSERT_EQ(q.get_many(out, 100), 17u);
    ASSERT_EQ(out[16].head, std::to_string(round));
  }
}

// Batches from 3 producer processes, consumed by 2 consumer processes with get_many: every
// item exactly once, each producer's items in order.
TEST_F(MpQueueBatch, ManyProducersManyConsumersExactlyOnce) {
  constexpr int kProducers = 3, kPerProducer = 30000, kConsumers = 2;
  mp::Queue<std::uint32_t> q(0, 1 << 14);
  struct Tally {
    std::atomic<std::uint64_t> sum{0};
    std::atomic<std::uint64_t> count{0};
    std::atomic<int> disorder{0};
  };
  Shared<Tally> tally;
  std::vector<pid_t> consumers, producers;
  for (int c = 0; c < kConsumers; ++c)
    consumers.push_back(spawn([&] {
      std::array<std::uint32_t, kProducers> last{};
      std::vector<std::uint32_t> out;
      for (;;) {
        out.clear();
        try {
          q.get_many(out, 97);
        } catch (const tandem::ShutDown&) {
          return 0;
        }
        for (std::uint32_t v : out) {
          const std::uint32_t p = v >> 24, seq = v & 0xffffff;
          if (p >= kProducers) return 5;
          if (seq + 1 <= last[p]) tally->disorder.fetch_add(1);
          last[p] = seq + 1;
          tally->sum.fetch_add(v);
          tally->count.fetch_add(1);
        }
      }
    }));
  for (int p = 0; p < kProducers; ++p)
    producers.push_back(spawn([&, p] {
      std::vector<std::uint32_t> b;
      for (int i = 0; i < kPerProducer;) {
        b.clear();
        const int n = std::min(kPerProducer - i, 1 + (i * 7 + p) % 150);
        for (int k = 0; k < n; ++k) b.push_back(static_cast<std::uint32_t>(p) << 24 | static_cast<std::uint32_t>(i + k));
        if (q.put_many(b) != b.size()) return 6;
        i += n;
      }
      return 0;
    }));
  std::uint64_t want = 0;
  for (int p = 0; p < kProducers; ++p)
    for (int i = 0; i < kPerProducer; ++i) want += static_cast<std::uint64_t>(p) << 24 | static_cast<std::uint64_t>(i);
  for (pid_t pid : producers) EXPECT_EQ(join(pid), 0);
  q.shutdown();
  for (pid_t pid : consumers) EXPECT_EQ(join(pid), 0);
  EXPECT_EQ(tally->count.load(), static_cast<std::uint64_t>(kProducers) * kPerProducer);
  EXPECT_EQ(tally->sum.load(), want);
  EXPECT_EQ(tally->disorder.load(), 0);
}

// JoinableQueue: a batch counts one unfinished task per item.
TEST_F(MpQueueBatch, JoinableQueueCountsEveryItem) {
  mp::JoinableQueue<int> q;
  q.put_many(iota(0, 10));
  EXPECT_EQ(q.unfinished_tasks(), 10u);
  std::vector<int> out;
  q.get_many(out, 10);
  for (int i = 0; i < 10; ++i) q.task_done();
  EXPECT_TRUE(q.join(0s));
}
