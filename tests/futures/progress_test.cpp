// SPDX-License-Identifier: MIT
// tandem::progress — progress output around a range (beyond Python). Output goes to a pipe,
// which is not a terminal: by default whole lines, one per 10% of the total; the terminal's
// bar is asked for with ProgressOptions::style. Rates and times depend on the machine, so
// they are matched by pattern; counts, percentages and the number of lines are exact.

// g++ 12 at -O2 (the sanitizer builds) warns inside libstdc++'s std::regex that a
// std::function "may be used uninitialized" — a known false positive of that compiler in
// <regex>, which -Werror would turn into a failed build. For this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <list>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tandem/futures.hpp"
#include "tandem/process_pool.hpp"

using namespace std::chrono_literals;

namespace {
struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    EXPECT_EQ(::pipe(fd), 0);
    ::fcntl(fd[0], F_SETFL, O_NONBLOCK);
  }
  ~Pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  std::string drain() {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
};
// A range without size(): the total is unknown unless given.
struct Countdown {
  struct It {
    int v;
    int operator*() const { return v; }
    It& operator++() {
      --v;
      return *this;
    }
    bool operator==(const It&) const = default;
  };
  int n;
  It begin() const { return It{n}; }
  It end() const { return It{0}; }
};

std::vector<std::string> lines_of(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// The parts of a line that depend on time, as patterns.
const std::string kRate = R"([0-9]+(\.[0-9]+)?[kMG]?/s)";
const std::string kTime = R"(([0-9]\.[0-9]s|[0-9]+:[0-9]{2}(:[0-9]{2})?))";
const std::string kEta = "ETA (" + kTime + R"(|\?))";

// Expects `out` to be exactly the lines matching `patterns`, in order.
void expect_lines(const std::string& out, const std::vector<std::string>& patterns) {
  const std::vector<std::string> lines = lines_of(out);
  ASSERT_EQ(lines.size(), patterns.size()) << out;
  EXPECT_EQ(out.back(), '\n') << out;
  for (std::size_t i = 0; i < lines.size(); ++i)
    EXPECT_TRUE(std::regex_match(lines[i], std::regex(patterns[i])))
        << "line " << i << ": \"" << lines[i] << "\" !~ " << patterns[i];
}

// The ten lines of a run of `total` items whose count reaches each tenth exactly.
std::vector<std::string> tenths(const std::string& desc, std::size_t total) {
  std::vector<std::string> p;
  for (std::size_t k = 1; k <= 10; ++k)
    p.push_back(desc + ": " + std::to_string(k * 10) + "% " + std::to_string(k * total / 10) + "/" +
                std::to_string(total) + " " + kRate + " " + (k < 10 ? kEta : "in " + kTime));
  return p;
}

int twice(int x) { return 2 * x; }
}  // namespace

TEST(Progress, LinePerTenthWhenNotATerminal) {
  Pipe p;
  std::vector<int> v(1000, 1);
  int sum = 0;
  for (int& x : tandem::progress(v, {.desc = "desc", .fd = p.fd[1]})) sum += x;
  EXPECT_EQ(sum, 1000);
  expect_lines(p.drain(), tenths("desc", 1000));
}

TEST(Progress, SmallTotalOneLinePerItemAtMost) {
  // 3 items: each crosses one or more tenths, and draws one line for the count it reached.
  Pipe p;
  std::vector<int> v{1, 2, 3};
  for (int x : tandem::progress(v, {.desc = "d", .fd = p.fd[1]})) (void)x;
  expect_lines(p.drain(), {"d: 33% 1/3 " + kRate + " " + kEta, "d: 66% 2/3 " + kRate + " " + kEta,
                           "d: 100% 3/3 " + kRate + " in " + kTime});
}

TEST(Progress, NoDescLineStartsAtThePercentage) {
  Pipe p;
  std::vector<int> v(10);
  for (int x : tandem::progress(v, {.fd = p.fd[1]})) (void)x;
  const auto lines = lines_of(p.drain());
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_TRUE(std::regex_match(lines[0], std::regex("10% 1/10 " + kRate + " " + kEta))) << lines[0];
}

TEST(Progress, ExplicitTotalWins) {
  Pipe p;
  std::vector<int> v(10);  // size() says 10; the caller says 20 (more will follow, say)
  auto range = tandem::progress(v, {.desc = "t", .total = 20, .fd = p.fd[1]});
  EXPECT_EQ(range.total(), 20u);
  for (int x : range) (void)x;
  std::vector<std::string> want = tenths("t", 20);
  want.resize(5);
  want.push_back("t: 50% 10/20 " + kRate + " stopped after " + kTime);
  expect_lines(p.drain(), want);
}

TEST(Progress, ExplicitTotalForARangeWithoutSize) {
  Pipe p;
  for (int x : tandem::progress(Countdown{10}, {.desc = "c", .total = 10, .fd = p.fd[1]})) (void)x;
  expect_lines(p.drain(), tenths("c", 10));
}

TEST(Progress, EarlyEndGetsAFinalLine) {
  Pipe p;
  std::vector<int> v(10);
  {
    int n = 0;
    for (int x : tandem::progress(v, {.desc = "e", .fd = p.fd[1]})) {
      (void)x;
      if (++n == 5) break;  // count 4 when the loop leaves (the 5th item is not stepped past)
    }
  }
  auto lines = lines_of(p.drain());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(std::regex_match(lines[3], std::regex("e: 40% 4/10 .* " + kEta))) << lines[3];
  EXPECT_TRUE(std::regex_match(lines[4], std::regex("e: 40% 4/10 " + kRate + " stopped after " + kTime)))
      << "the end repeats the count with how long it ran: " << lines[4];
}

TEST(Progress, TotalTooSmallEndsWithTheRealCount) {
  Pipe p;
  std::vector<int> v(12);
  for (int x : tandem::progress(v, {.desc = "o", .total = 10, .fd = p.fd[1]})) (void)x;
  auto lines = lines_of(p.drain());
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_TRUE(std::regex_match(lines[10], std::regex("o: 120% 12/10 " + kRate + " in " + kTime)))
      << lines[10];
}

TEST(Progress, AutomaticTotalFromAVector) {
  std::vector<int> v(7);
  EXPECT_EQ(tandem::progress(v, {.enabled = false}).total(), 7u);
  EXPECT_EQ(tandem::progress(std::vector<int>(3), {.enabled = false}).total(), 3u);
  EXPECT_EQ(tandem::progress(Countdown{3}, {.enabled = false}).total(), std::nullopt);
}

TEST(Progress, AutomaticTotalFromThreadPoolMap) {
  tandem::ThreadPoolExecutor ex(2);
  std::vector<int> v(50);
  for (int i = 0; i < 50; ++i) v[i] = i;
  Pipe p;
  long sum = 0;
  {
    auto range = tandem::progress(ex.map([](int x) { return 2 * x; }, v, tandem::MapOptions{.chunksize = 4}),
                                  {.desc = "map", .fd = p.fd[1]});
    EXPECT_EQ(range.total(), 50u);
    for (int r : range) sum += r;
  }
  EXPECT_EQ(sum, 2 * 49 * 50 / 2);
  expect_lines(p.drain(), tenths("map", 50));
}

TEST(Progress, MapSizeHint) {
  tandem::ThreadPoolExecutor ex(1);
  std::vector<int> a(5);
  std::list<int> b(3);
  auto id = [](int x, int) { return x; };
  EXPECT_EQ(ex.map(id, a, b).size_hint(), 3u) << "zip: the shortest";
  EXPECT_EQ(ex.map([](int x) { return x; }, std::vector<int>(4)).size_hint(), 4u) << "a temporary";
  EXPECT_EQ(ex.map(id, a, Countdown{9}).size_hint(), std::nullopt) << "an input without a size";
  int arr[6] = {};
  EXPECT_EQ(ex.map([](int x) { return x; }, arr).size_hint(), 6u);
}

TEST(Progress, AutomaticTotalFromProcessPoolMap) {
  tandem::ProcessPoolExecutor ex(2);
  std::vector<int> v(20);
  for (int i = 0; i < 20; ++i) v[i] = i;
  Pipe p;
  int sum = 0;
  {
    auto range = tandem::progress(ex.map(twice, v, tandem::MapOptions{.chunksize = 3}),
                                  {.desc = "pmap", .fd = p.fd[1]});
    EXPECT_EQ(range.total(), 20u);
    for (int r : range) sum += r;
  }
  EXPECT_EQ(sum, 2 * 19 * 20 / 2);
  expect_lines(p.drain(), tenths("pmap", 20));
}

TEST(Progress, SilentWhenDisabled) {
  Pipe p;
  std::vector<int> v{1, 2, 3};
  int sum = 0;
  for (int& x : tandem::progress(v, {.fd = p.fd[1], .enabled = false})) sum += x;
  for (int x : tandem::progress(Countdown{3}, {.fd = p.fd[1], .enabled = false, .style = tandem::ProgressStyle::bar}))
    sum += x;
  EXPECT_EQ(sum, 12);
  EXPECT_EQ(p.drain(), "");
}

TEST(Progress, UnknownTotalLinesEndWithTheCount) {
  // line_interval 0: no lines on the way, only the end's, whatever the machine's speed.
  Pipe p;
  int seen = 0;
  for (int x : tandem::progress(Countdown{5}, {.desc = "u", .fd = p.fd[1], .line_interval = 0ms}))
    seen += x > 0;
  EXPECT_EQ(seen, 5);
  expect_lines(p.drain(), {"u: 5 done " + kRate + " in " + kTime});
}

TEST(Progress, UnknownTotalDefaultIntervalStillEndsWithTheCount) {
  // The default 10 s interval may or may not pass during the run on a loaded machine; the
  // last line is the end's either way.
  Pipe p;
  for (int x : tandem::progress(Countdown{100}, {.desc = "u", .fd = p.fd[1]})) (void)x;
  const auto lines = lines_of(p.drain());
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(std::regex_match(lines.back(), std::regex("u: 100 done " + kRate + " in " + kTime)))
      << lines.back();
}

TEST(Progress, EmptyRangeWithTotalZero) {
  Pipe p;
  std::vector<int> v;
  for (int x : tandem::progress(v, {.desc = "z", .fd = p.fd[1]})) (void)x;
  expect_lines(p.drain(), {"z: 100% 0/0 " + kRate + " in " + kTime});
}

TEST(Progress, NotIteratedWritesNothing) {
  Pipe p;
  std::vector<int> v(3);
  { auto range = tandem::progress(v, {.fd = p.fd[1]}); }
  EXPECT_EQ(p.drain(), "");
}

TEST(Progress, BarDrawsCountRateAndEtaOverAsCompleted) {
  Pipe p;
  tandem::ThreadPoolExecutor ex(2);
  std::vector<tandem::Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex.submit([i] { return i; }));
  int sum = 0, n = 0;
  for (auto& f : tandem::progress(tandem::as_completed(fs),
                                  {.desc = "work", .fd = p.fd[1], .interval = 0ms,
                                   .style = tandem::ProgressStyle::bar})) {
    sum += f.result();
    ++n;
  }
  EXPECT_EQ(n, 20);
  EXPECT_EQ(sum, 190);
  const std::string out = p.drain();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line, redrawn with \\r";
  // The first drawing (0 of 20) has an ETA; the last says how long the whole run took.
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(^\rwork \[\.+\]   0% 0/20 )" + kRate + " " + kEta)))
      << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\rwork \[#+\] 100% 20/20 )" + kRate + " in " +
                                                kTime + "\x1b\\[K\n$")))
      << out;
}

TEST(Progress, BarWithoutTotalShowsCount) {
  Pipe p;
  int seen = 0;
  for (int x : tandem::progress(Countdown{5}, {.fd = p.fd[1], .style = tandem::ProgressStyle::bar}))
    seen += x > 0;
  EXPECT_EQ(seen, 5);
  const std::string out = p.drain();
  EXPECT_TRUE(std::regex_search(out, std::regex("\r5 done " + kRate + " in " + kTime + "\x1b\\[K\n$")))
      << out;
}

TEST(Progress, ElementsAreTheRangesOwn) {
  std::list<int> l{1, 2, 3};
  for (int& x : tandem::progress(l, {.enabled = false})) x *= 10;
  EXPECT_EQ(l, (std::list<int>{10, 20, 30}));
}

TEST(Progress, TimeoutPropagates) {
  Pipe p;
  tandem::Future<int> never;
  std::vector<tandem::Future<int>> fs{never};
  auto run = [&] {
    for (auto& f : tandem::progress(tandem::as_completed(fs, 10ms), {.fd = p.fd[1]})) (void)f;
  };
  EXPECT_THROW(run(), tandem::TimeoutError);
  never.cancel();
  expect_lines(p.drain(), {"0% 0/1 " + kRate + " stopped after " + kTime});
}
