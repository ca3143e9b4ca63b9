// SPDX-License-Identifier: MIT
// <tandem/log.hpp>: every message tandem prints reaches the installed handler with its level
// and source — from threads, pools, done-callbacks, and forked children (which inherit the
// handler) — the default writes to stderr exactly as before, and swapping handlers while other
// threads log loses or duplicates no message.
#include "tandem/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/fork_helper.hpp"
#include "tandem/errors.hpp"
#include "tandem/futures.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/threading.hpp"

namespace {

struct Record {
  tandem::LogLevel level;
  std::string source, message;
};

/// Installs a collecting handler for the test's scope, then restores the previous one.
class Collect {
 public:
  Collect()
      : prev_(tandem::set_log_handler(
            [this](tandem::LogLevel l, std::string_view s, std::string_view m) {
              std::lock_guard<std::mutex> g(mu_);
              records_.push_back({l, std::string(s), std::string(m)});
            })) {}
  ~Collect() { tandem::set_log_handler(std::move(prev_)); }
  std::vector<Record> records() {
    std::lock_guard<std::mutex> g(mu_);
    return records_;
  }

 private:
  std::mutex mu_;
  std::vector<Record> records_;
  tandem::LogHandler prev_;
};

/// A handler that writes "source|LEVEL|message\n" to `fd`: what a forked child logs comes
/// back to the parent through a pipe.
tandem::LogHandler to_fd(int fd) {
  return [fd](tandem::LogLevel l, std::string_view s, std::string_view m) {
    std::string line = std::string(s) + "|" + std::string(tandem::level_name(l)) + "|" +
                       std::string(m) + "\n";
    if (::write(fd, line.data(), line.size()) < 0) std::abort();
  };
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

TEST(Log, DefaultWritesTheMessageAndANewlineToStderr) {
  testing::internal::CaptureStderr();
  tandem::log(tandem::LogLevel::warning, "test", "two\nlines");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "two\nlines\n");
}

TEST(Log, SetReturnsThePreviousAndEmptyRestoresTheDefault) {
  int first = 0, second = 0;
  EXPECT_FALSE(tandem::set_log_handler([&](auto, auto, auto) { ++first; }));
  tandem::LogHandler prev = tandem::set_log_handler([&](auto, auto, auto) { ++second; });
  ASSERT_TRUE(prev);
  prev(tandem::LogLevel::info, "x", "y");  // the returned handler is the first one
  tandem::log(tandem::LogLevel::info, "x", "y");
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  EXPECT_TRUE(tandem::set_log_handler({}));
  testing::internal::CaptureStderr();
  tandem::log(tandem::LogLevel::info, "x", "back to stderr");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "back to stderr\n");
  EXPECT_EQ(second, 1);
}

TEST(Log, AThrowingHandlerFallsBackToStderr) {
  tandem::LogHandler prev =
      tandem::set_log_handler([](auto, auto, auto) { throw std::runtime_error("handler bug"); });
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(tandem::log(tandem::LogLevel::error, "x", "not lost"));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "not lost\n");
  tandem::set_log_handler(std::move(prev));
}

TEST(Log, LevelNamesArePythons) {
  EXPECT_EQ(tandem::level_name(tandem::LogLevel::debug), "DEBUG");
  EXPECT_EQ(tandem::level_name(tandem::LogLevel::warning), "WARNING");
  EXPECT_EQ(tandem::level_name(tandem::LogLevel::critical), "CRITICAL");
  EXPECT_EQ(static_cast<int>(tandem::LogLevel::error), 40);
}

// The default excepthook's report (test_threading.ExceptHookTests.test_excepthook's text).
TEST(Log, ThreadExceptionReportGoesToTheHandler) {
  Collect c;
  testing::internal::CaptureStderr();
  tandem::Thread t([] { throw tandem::ValueError("boom"); }, {.name = "logged thread"});
  t.start();
  t.join();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");  // nothing bypasses the handler
  const auto r = c.records();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].level, tandem::LogLevel::error);
  EXPECT_EQ(r[0].source, "threading");
  EXPECT_EQ(r[0].message, "Exception in thread logged thread:\ntandem::ValueError: boom");
}

TEST(Log, SilencingHandlerSilences) {
  tandem::LogHandler prev = tandem::set_log_handler([](auto, auto, auto) {});
  testing::internal::CaptureStderr();
  tandem::Thread t([] { throw std::runtime_error("quiet"); });
  t.start();
  t.join();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  tandem::set_log_handler(std::move(prev));
}

TEST(Log, ThreadPoolInitializerFailure) {
  Collect c;
  {
    tandem::ThreadPoolExecutor ex(tandem::ThreadPoolOptions{
        .max_workers = 1, .initializer = [] { throw std::runtime_error("no db"); }});
    auto f = ex.submit([] { return 1; });
    EXPECT_THROW(f.result(std::chrono::seconds(60)), tandem::BrokenThreadPool);
  }
  const auto r = c.records();
  ASSERT_GE(r.size(), 1u);
  EXPECT_EQ(r[0].level, tandem::LogLevel::error);
  EXPECT_EQ(r[0].source, "futures");
  EXPECT_EQ(r[0].message, "Exception in initializer: no db");
}

TEST(Log, DoneCallbackException) {
  Collect c;
  tandem::Future<int> f;
  f.add_done_callback([](tandem::Future<int>) { throw std::runtime_error("doh!"); });
  f.set_result(5);
  const auto r = c.records();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].source, "futures");
  EXPECT_EQ(r[0].message.rfind("exception calling callback for <Future at ", 0), 0u)
      << r[0].message;
  EXPECT_NE(r[0].message.find(">: doh!"), std::string::npos) << r[0].message;
}

// A fork-started Process keeps the handler: its target's report is logged in the child.
TEST(Log, ForkedProcessInheritsTheHandler) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  tandem::LogHandler prev = tandem::set_log_handler(to_fd(p[1]));
  tandem::mp::Process proc([] { throw tandem::ValueError("in the child"); },
                           {.name = "Logged-1", .start_method = tandem::mp::StartMethod::fork});
  proc.start();
  proc.join();
  tandem::set_log_handler(std::move(prev));
  ::close(p[1]);
  EXPECT_EQ(proc.exitcode(), 1);
  // Where this process has other threads (a sanitizer's, an earlier test's), the parent also
  // logs Python's fork warning first, through the same handler.
  std::string out = read_all(p[0]);
  ::close(p[0]);
  const std::string warning = "multiprocessing|WARNING|tandem: This process (pid=";
  if (out.rfind(warning, 0) == 0) out.erase(0, out.find('\n') + 1);
  EXPECT_EQ(out, "multiprocessing|ERROR|Process Logged-1:\ntandem::ValueError: in the child\n");
}

void init_fails() { throw tandem::ValueError("cannot init"); }

// A process pool worker's report of its failed initializer is logged in the worker (fork).
TEST(Log, ProcessPoolWorkerInitializerFailure) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  tandem::LogHandler prev = tandem::set_log_handler(to_fd(p[1]));
  {
    tandem::ProcessPoolExecutor ex(tandem::ProcessPoolOptions{
        .max_workers = 1, .initializer = init_fails, .spare_worker = false});
    auto f = ex.submit([](int x) { return x; }, 1);
    EXPECT_THROW(f.result(std::chrono::seconds(60)), tandem::BrokenProcessPool);
  }
  tandem::set_log_handler(std::move(prev));
  ::close(p[1]);
  const std::string out = read_all(p[0]);
  ::close(p[0]);
  EXPECT_NE(out.find("process_pool|ERROR|Exception in initializer:\ntandem::ValueError: "
                     "cannot init\n"),
            std::string::npos)
      << out;
}

// Handlers swapped while four threads log: every message reaches exactly one handler, whole.
TEST(Log, SwappingHandlersWhileLoggingLosesNothing) {
  constexpr int kThreads = 4, kEach = 5000;
  std::atomic<int> a{0}, b{0}, torn{0};
  auto counting = [&torn](std::atomic<int>& n) {
    return [&n, &torn](tandem::LogLevel, std::string_view s, std::string_view m) {
      if (s != "stress" || m != "message") torn.fetch_add(1);
      n.fetch_add(1, std::memory_order_relaxed);
    };
  };
  tandem::LogHandler prev = tandem::set_log_handler(counting(a));
  std::atomic<bool> done{false};
  std::thread swapper([&] {
    // Bounded: each set keeps its handler alive for the process's life (<tandem/log.hpp>).
    for (int i = 0; !done.load() && i < 20000; ++i)
      tandem::set_log_handler(counting(i % 2 ? a : b));
  });
  std::vector<std::thread> loggers;
  for (int t = 0; t < kThreads; ++t)
    loggers.emplace_back([] {
      for (int i = 0; i < kEach; ++i) tandem::log(tandem::LogLevel::info, "stress", "message");
    });
  for (auto& t : loggers) t.join();
  done = true;
  swapper.join();
  tandem::set_log_handler(std::move(prev));
  EXPECT_EQ(a.load() + b.load(), kThreads * kEach);
  EXPECT_EQ(torn.load(), 0);
}

}  // namespace
