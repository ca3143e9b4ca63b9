// SPDX-License-Identifier: MIT
// tandem::MapRange (futures/map_range.hpp) on its own: the one lazy, ordered map range that
// ThreadPoolExecutor, ProcessPoolExecutor and MpiPoolExecutor share. Most tests give it a
// Submit that records each chunk and returns a hand-completed Future, so the order of
// completion, the chunks in flight and the failures are chosen by the test, not by a pool.
// The last tests run it through a real ThreadPoolExecutor.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/map_test_ranges.hpp"
#include "tandem/futures.hpp"
#include "tandem/futures/map_range.hpp"

using namespace std::chrono_literals;
using tandem::Future;
using tandem::MapOptions;
using tandem::detail::MapChunk;

namespace {

using tandem_test::Count;

using Item = std::tuple<int>;

// Records every chunk it is given; each gets a PENDING future the test completes by hand.
struct Recorder {
  std::vector<std::vector<int>> chunks;
  std::vector<Future<MapChunk<int>>> futures;
};

struct RecordingSubmit {
  Recorder* rec;
  Future<MapChunk<int>> operator()(std::vector<Item> items) {
    std::vector<int> xs;
    for (auto& [x] : items) xs.push_back(x);
    rec->chunks.push_back(xs);
    rec->futures.emplace_back();
    return rec->futures.back();
  }
};

// Completes chunk i with f(x) for each of its items.
void complete(Recorder& r, std::size_t i, int (*f)(int) = [](int x) { return x * 10; }) {
  MapChunk<int> c;
  for (int x : r.chunks[i]) c.values.push_back(f(x));
  r.futures[i].set_running_or_notify_cancel();
  r.futures[i].set_result(std::move(c));
}

template <class Range>
auto record(Recorder& r, MapOptions opts, Range&& range) {
  return tandem::make_map_range<int, Item>(RecordingSubmit{&r}, opts, std::forward<Range>(range));
}

}  // namespace

// executor.ExecutorTest.test_map: results in input order, whatever order the chunks finish in.
TEST(MapRange, ResultsInInputOrderWhateverTheCompletionOrder) {
  Recorder r;
  std::vector<int> in{0, 1, 2, 3, 4};
  auto m = record(r, MapOptions{.chunksize = 2}, in);
  ASSERT_EQ(r.chunks.size(), 3u);  // buffersize 0: everything submitted at the call
  EXPECT_EQ(r.chunks[0], (std::vector<int>{0, 1}));
  EXPECT_EQ(r.chunks[1], (std::vector<int>{2, 3}));
  EXPECT_EQ(r.chunks[2], (std::vector<int>{4}));
  for (std::size_t i = 3; i-- > 0;) complete(r, i);
  std::vector<int> out;
  for (int v : m) out.push_back(v);
  EXPECT_EQ(out, (std::vector<int>{0, 10, 20, 30, 40}));
}

TEST(MapRange, EmptyInputSubmitsNothingAndEndsAtOnce) {
  Recorder r;
  std::vector<int> in;
  auto m = record(r, MapOptions{.chunksize = 3, .buffersize = 2}, in);
  EXPECT_TRUE(r.chunks.empty());
  EXPECT_TRUE(m.begin() == m.end());
}

TEST(MapRange, ZipStopsAtTheShortestRangeAndMovesTemporariesIn) {
  std::vector<std::string> words{"a", "bb", "ccc"};
  auto m = tandem::make_map_range<std::string, std::tuple<std::string, int>>(
      [](std::vector<std::tuple<std::string, int>> items) {
        Future<MapChunk<std::string>> f;
        MapChunk<std::string> c;
        for (auto& [w, n] : items) c.values.push_back(w + std::to_string(n));
        f.set_result(std::move(c));
        return f;
      },
      MapOptions{.chunksize = 2}, words, std::vector<int>{7, 8, 9, 10, 11});
  std::vector<std::string> out;
  for (auto& s : m) out.push_back(s);
  EXPECT_EQ(out, (std::vector<std::string>{"a7", "bb8", "ccc9"}));
}

// executor.ExecutorTest.test_map_buffersize_on_infinite_iterable and
// test_map_buffersize_on_multiple_infinite_iterables: the input is read lazily, and at most
// buffersize + 1 chunks are ever submitted and not yet consumed.
TEST(MapRange, BuffersizeBoundsTheChunksInFlightOnAnInfiniteInput) {
  for (std::size_t chunksize : {1u, 3u}) {
    for (std::size_t n : {1u, 2u, 5u}) {
      std::size_t submitted = 0, consumed_chunks = 0, items_seen = 0;
      std::size_t worst = 0;
      auto m = tandem::make_map_range<int, std::tuple<int, int>>(
          [&](std::vector<std::tuple<int, int>> items) {
            ++submitted;
            worst = std::max(worst, submitted - consumed_chunks);
            Future<MapChunk<int>> f;
            MapChunk<int> c;
            for (auto& [a, b] : items) c.values.push_back(a + b);
            f.set_result(std::move(c));
            return f;
          },
          MapOptions{.chunksize = chunksize, .buffersize = n}, Count{}, Count{100});
      EXPECT_EQ(submitted, n);
      int expect = 100;
      for (int v : m) {
        ASSERT_EQ(v, expect);
        expect += 2;
        ++items_seen;
        consumed_chunks = (items_seen + chunksize - 1) / chunksize;
        // While a chunk's values are handed out, at most n chunks beyond it are submitted.
        ASSERT_LE(submitted, consumed_chunks + n);
        if (items_seen == 200) break;
      }
      EXPECT_LE(worst, n + 1);
      EXPECT_GE(worst, n);
    }
  }
}

// executor.ExecutorTest.test_map_exception: the exception comes at its position, after the
// values before it; the iteration ends there and the later chunks are cancelled.
TEST(MapRange, ExceptionAtItsPositionEndsTheIterationAndCancelsTheRest) {
  Recorder r;
  auto m = record(r, MapOptions{.chunksize = 3}, Count{0, 12});
  ASSERT_EQ(r.chunks.size(), 4u);
  complete(r, 0);
  MapChunk<int> bad;
  bad.values = {30, 40};  // items 3 and 4; item 5 threw
  bad.error = std::make_exception_ptr(std::out_of_range("item 5"));
  r.futures[1].set_result(std::move(bad));
  std::vector<int> out;
  auto it = m.begin();
  try {
    for (; it != m.end(); ++it) out.push_back(*it);
    FAIL() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "item 5");
  }
  EXPECT_EQ(out, (std::vector<int>{0, 10, 20, 30, 40}));
  EXPECT_TRUE(it == m.end());
  EXPECT_TRUE(r.futures[2].cancelled());
  EXPECT_TRUE(r.futures[3].cancelled());
}

// A failed chunk future (a broken pool, a dead worker) and a chunk cancelled from outside.
TEST(MapRange, AChunkFutureThatFailsOrIsCancelledRaisesAtItsFirstPosition) {
  {
    Recorder r;
    auto m = record(r, MapOptions{}, Count{0, 3});
    complete(r, 0);
    r.futures[1].set_exception(std::make_exception_ptr(tandem::BrokenThreadPool("broken")));
    auto it = m.begin();
    EXPECT_EQ(*it, 0);
    EXPECT_THROW(++it, tandem::BrokenThreadPool);
    EXPECT_TRUE(it == m.end());
    EXPECT_TRUE(r.futures[2].cancelled());
  }
  {
    Recorder r;
    auto m = record(r, MapOptions{}, Count{0, 3});
    r.futures[0].cancel();
    EXPECT_THROW(m.begin(), tandem::CancelledError);
    EXPECT_TRUE(r.futures[1].cancelled());
    EXPECT_TRUE(r.futures[2].cancelled());
  }
}

// executor.ExecutorTest.test_map_timeout: TimeoutError from the iterator when a result is not
// there in time; the waiting chunk and the later ones are cancelled.
TEST(MapRange, TimeoutRaisesTimeoutErrorAndCancelsTheRest) {
  Recorder r;
  const auto t0 = std::chrono::steady_clock::now();
  auto m = record(r, MapOptions{.timeout = 50ms}, Count{0, 4});
  complete(r, 0);
  auto it = m.begin();
  EXPECT_EQ(*it, 0);
  EXPECT_THROW(++it, tandem::TimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_TRUE(it == m.end());
  for (std::size_t i = 1; i < 4; ++i) EXPECT_TRUE(r.futures[i].cancelled()) << i;
}

// The timeout is one deadline fixed at the map call, not a fresh wait per item: once it has
// passed, reaching a chunk that is not done raises at once.
TEST(MapRange, TimeoutIsMeasuredFromTheMapCall) {
  Recorder r;
  constexpr auto kTimeout = 3s;
  auto m = record(r, MapOptions{.timeout = kTimeout}, Count{0, 3});
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  complete(r, 0);
  auto it = m.begin();
  std::this_thread::sleep_until(deadline + 10ms);  // lets the deadline pass; syncs nothing
  complete(r, 1);
  ++it;  // done chunks are still delivered after the deadline
  EXPECT_EQ(*it, 10);
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_THROW(++it, tandem::TimeoutError);
  // A per-item timeout would have waited kTimeout again here.
  EXPECT_LT(std::chrono::steady_clock::now() - t1, kTimeout);
  EXPECT_TRUE(r.futures[2].cancelled());
}

TEST(MapRange, DestroyingTheRangeEarlyCancelsTheRestWithoutWaiting) {
  Recorder r;
  {
    auto m = record(r, MapOptions{.chunksize = 2}, Count{0, 10});
    ASSERT_EQ(r.chunks.size(), 5u);
    complete(r, 0);
    ASSERT_TRUE(r.futures[1].set_running_or_notify_cancel());  // running: cannot be cancelled
    auto it = m.begin();
    EXPECT_EQ(*it, 0);
  }  // would hang here if the destructor waited for the running chunk
  EXPECT_FALSE(r.futures[1].cancelled());
  for (std::size_t i = 2; i < 5; ++i) EXPECT_TRUE(r.futures[i].cancelled()) << i;
  {
    Recorder r2;
    { auto m = record(r2, MapOptions{}, Count{0, 3}); }  // never iterated
    for (auto& f : r2.futures) EXPECT_TRUE(f.cancelled());
  }
}

TEST(MapRange, AnExceptionFromSubmitCancelsWhatWasSubmittedAndPropagates) {
  Recorder r;
  int calls = 0;
  auto submit = [&](std::vector<Item> items) {
    if (++calls == 3) throw tandem::RuntimeError("cannot schedule new futures after shutdown");
    return RecordingSubmit{&r}(std::move(items));
  };
  EXPECT_THROW((tandem::make_map_range<int, Item>(submit, MapOptions{}, Count{0, 5})),
               tandem::RuntimeError);
  ASSERT_EQ(r.futures.size(), 2u);
  EXPECT_TRUE(r.futures[0].cancelled());
  EXPECT_TRUE(r.futures[1].cancelled());
}

TEST(MapRange, MoveOnlyResultsAreMovedOut) {
  auto m = tandem::make_map_range<std::unique_ptr<int>, Item>(
      [](std::vector<Item> items) {
        Future<MapChunk<std::unique_ptr<int>>> f;
        MapChunk<std::unique_ptr<int>> c;
        for (auto& [x] : items) c.values.push_back(std::make_unique<int>(x));
        f.set_result(std::move(c));
        return f;
      },
      MapOptions{.chunksize = 4, .buffersize = 1}, Count{0, 10});
  int expect = 0;
  for (std::unique_ptr<int>& p : m) {
    std::unique_ptr<int> mine = std::move(p);
    ASSERT_TRUE(mine);
    EXPECT_EQ(*mine, expect++);
  }
  EXPECT_EQ(expect, 10);
}

TEST(MapRange, MayBeMovedBeforeIterationAndOwnsATemporaryInput) {
  auto make = [] {
    return tandem::make_map_range<int, Item>(
        [](std::vector<Item> items) {
          Future<MapChunk<int>> f;
          MapChunk<int> c;
          for (auto& [x] : items) c.values.push_back(x * 10);
          f.set_result(std::move(c));
          return f;
        },
        MapOptions{.buffersize = 1}, std::vector<int>{5, 6, 7});
  };
  auto m1 = make();
  auto m2 = std::move(m1);
  std::vector<int> out;
  for (int v : m2) out.push_back(v);
  EXPECT_EQ(out, (std::vector<int>{50, 60, 70}));
}

// Through a real pool: random chunksize/buffersize, an exception at a random position, and the
// range dropped at a random point; results must come in order and every step must match.
TEST(MapRangeStress, ThreadPoolMapRandomOptionsExceptionsAndEarlyDrops) {
  tandem::ThreadPoolExecutor ex(4);
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    const int n = static_cast<int>(rng() % 300);
    const int bad = static_cast<int>(rng() % 400);  // >= n: no exception
    const int stop = static_cast<int>(rng() % 400);
    MapOptions o{.chunksize = 1 + rng() % 17, .buffersize = rng() % 4};
    auto m = ex.map(
        [bad](int x) {
          if (x == bad) throw std::invalid_argument(std::to_string(x));
          return std::make_unique<int>(x * 3);
        },
        Count{0, n}, o);
    int expect = 0;
    try {
      for (auto& p : m) {
        ASSERT_EQ(*p, expect * 3);
        if (++expect == stop) break;
      }
      EXPECT_TRUE(expect == n || expect == stop) << round;
      EXPECT_TRUE(bad >= n || bad >= expect) << round;
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(expect, bad) << round;
      EXPECT_EQ(std::string(e.what()), std::to_string(bad));
    }
  }
}
