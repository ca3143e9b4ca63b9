// SPDX-License-Identifier: MIT
// A program that never calls mp::init(): StartMethod::spawn must fail at once, in the parent,
// with a clear RuntimeError (the child would run main() and never be taken over), and
// StartMethod::forkserver starts its server lazily. Uses gtest_main: no mp::init here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/threading/event.hpp"

namespace mp = tandem::mp;

namespace {

void exit_with(int code) { std::exit(code); }

TEST(WithoutInit, SpawnIsRefusedClearly) {
  mp::Process p(exit_with, std::tuple{0}, {.start_method = mp::StartMethod::spawn});
  try {
    p.start();
    FAIL() << "spawn started without mp::init";
  } catch (const tandem::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("mp::init(argc, argv)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(p.pid(), 0);
  EXPECT_FALSE(p.is_alive());
}

// The lazily started server warns when the process has threads by then; it works anyway.
TEST(WithoutInit, ForkserverStartsLazily) {
  tandem::Event started, stop;
  std::thread other([&] {
    started.set();
    stop.wait();
  });
  // Fork only once the thread is up: a thread still starting may hold the sanitizer
  // allocator's lock (GCC 12's ASan takes no lock around fork), and the fork server's child
  // would inherit it locked and hang in LeakSanitizer's check at exit.
  ASSERT_TRUE(started.wait(std::chrono::seconds(60)));
  testing::internal::CaptureStderr();
  mp::Process p(exit_with, std::tuple{6}, {.start_method = mp::StartMethod::forkserver});
  p.start();
  p.join();
  const std::string err = testing::internal::GetCapturedStderr();
  stop.set();
  other.join();
  EXPECT_EQ(p.exitcode(), 6);
  EXPECT_NE(err.find("fork server was started from a multi-threaded process"), std::string::npos)
      << err;
  mp::Process q(exit_with, std::tuple{7}, {.start_method = mp::StartMethod::forkserver});
  q.start();
  q.join();
  EXPECT_EQ(q.exitcode(), 7);
}

}  // namespace
