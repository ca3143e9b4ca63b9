// SPDX-License-Identifier: MIT
// tandem::progress — the progress bar helper (beyond Python). Output goes to a pipe, which
// is not a terminal: silent by default, drawn when forced with ProgressOptions::enabled.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <list>
#include <string>
#include <vector>

#include "tandem/futures.hpp"

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
// A range without size(): the bar shows a count, no total.
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
}  // namespace

TEST(Progress, SilentWhenNotATerminal) {
  Pipe p;
  std::vector<int> v{1, 2, 3};
  int sum = 0;
  for (int& x : tandem::progress(v, {.fd = p.fd[1]})) sum += x;
  EXPECT_EQ(sum, 6);
  EXPECT_EQ(p.drain(), "");
}

TEST(Progress, DrawsCountRateAndEtaOverAsCompleted) {
  Pipe p;
  tandem::ThreadPoolExecutor ex(2);
  std::vector<tandem::Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex.submit([i] { return i; }));
  int sum = 0, n = 0;
  for (auto& f : tandem::progress(tandem::as_completed(fs),
                                  {.desc = "work", .fd = p.fd[1], .enabled = true, .interval = 0ms})) {
    sum += f.result();
    ++n;
  }
  EXPECT_EQ(n, 20);
  EXPECT_EQ(sum, 190);
  std::string out = p.drain();
  EXPECT_NE(out.find("work ["), std::string::npos) << out;
  EXPECT_NE(out.find(" 20/20 "), std::string::npos) << out;
  EXPECT_NE(out.find("/s"), std::string::npos) << out;
  EXPECT_NE(out.find("ETA"), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line, redrawn with \\r";
}

TEST(Progress, UnknownTotalShowsCount) {
  Pipe p;
  int seen = 0;
  for (int x : tandem::progress(Countdown{5}, {.fd = p.fd[1], .enabled = true})) seen += x > 0;
  EXPECT_EQ(seen, 5);
  std::string out = p.drain();
  EXPECT_NE(out.find("5 done"), std::string::npos) << out;
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
    for (auto& f : tandem::progress(tandem::as_completed(fs, 10ms), {.fd = p.fd[1], .enabled = true}))
      (void)f;
  };
  EXPECT_THROW(run(), tandem::TimeoutError);
  never.cancel();
}
