// SPDX-License-Identifier: MIT
// ProcessPoolExecutor: when the pool gives up instead of restarting workers forever. A worker
// of another binary (build-id mismatch) breaks it at once; fresh workers that fail their
// handshake, or are SIGKILLed in their initializer (the out-of-memory killer's victims),
// again and again break it after a few tries. Every pending future and every later submit
// then fail with BrokenProcessPool and a message that says why. CPython's executor.py
// FailingInitializerMixin is the model (Python breaks the pool on the first failure).
// Own main(): mp::init(argc, argv) first.
#include <dirent.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "support/pool_test_support.hpp"
#include "tandem/errors.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/shipping/build_id.hpp"

namespace {

using namespace std::chrono_literals;

int add(int a, int b) { return a + b; }

/// Submits `n` tasks and then more until submit() itself refuses (the pool is broken); every
/// failure, of a future or of submit(), must be a BrokenProcessPool whose message contains
/// every string of `want`. Returns whether the pool broke within a generous deadline.
bool breaks_with(tandem::ProcessPoolExecutor& ex, int n, const std::vector<std::string>& want) {
  auto check = [&](const tandem::BrokenProcessPool& e) {
    for (const std::string& w : want)
      EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what() << "\nlacks: " << w;
  };
  std::vector<tandem::Future<int>> fs;
  for (int i = 0; i < n; ++i) {
    try {
      fs.push_back(ex.submit(add, i, 1));
    } catch (const tandem::BrokenProcessPool& e) {
      check(e);
    }
  }
  for (auto& f : fs) {  // every future completes, none with a value
    try {
      f.result(120s);
      ADD_FAILURE() << "a task ran";
    } catch (const tandem::BrokenProcessPool& e) {
      check(e);
    }
  }
  const auto until = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < until) {
    // The future outlives the handler: libstdc++'s exception refcount is invisible to TSan.
    std::optional<tandem::Future<int>> f;
    try {
      f = ex.submit(add, 1, 1);
    } catch (const tandem::BrokenProcessPool& e) {
      check(e);
      return true;
    }
    try {
      f->result(120s);
      ADD_FAILURE() << "a task ran";
    } catch (const tandem::BrokenProcessPool& e) {
      check(e);
    }
  }
  return false;
}

// --- a worker of another binary --------------------------------------------------------
// No second build of this program is at hand, so a fork worker is made to look like one: a
// pthread_atfork child handler (armed only inside the test) changes the child's copy of its
// build-id before the worker says hello. The parent's check is the same for every start
// method; only fork lets a test reach into the child that early.
std::atomic<bool> g_other_build{false};
void pretend_other_build() {
  if (!g_other_build.load()) return;
  // The bytes live in the vector's heap buffer (not a const object): the child's copy only.
  auto* p = const_cast<std::byte*>(tandem::shipping::build_id().bytes().data());
  p[0] = ~p[0];
}

TEST(BuildId, MismatchBreaksThePoolAtOnce) {
  const tandem::shipping::BuildId& mine = tandem::shipping::build_id();  // computed before any fork
  ASSERT_FALSE(mine.bytes().empty());
  std::vector<std::byte> other_bytes = mine.bytes();
  other_bytes[0] = ~other_bytes[0];
  const std::string other = tandem::shipping::BuildId(other_bytes, mine.source()).hex();
  static const int registered = pthread_atfork(nullptr, nullptr, pretend_other_build);
  ASSERT_EQ(registered, 0);
  g_other_build = true;
  {
    tandem::ProcessPoolOptions o;
    o.max_workers = 2;
    o.start_method = tandem::mp::StartMethod::fork;
    tandem::ProcessPoolExecutor ex(o);
    EXPECT_TRUE(breaks_with(ex, 8, {"another binary", mine.hex(), other}));
  }
  g_other_build = false;
}

class Breaking : public tandem_test::PoolByStartMethod {};

// --- a corrupt handshake, again and again -----------------------------------------------
/// Initializer: writes a frame of an unknown type into this worker's channel to the pool (the
/// connected UNIX socket whose peer is the pool's abstract "tandem-pool-..." address), as a
/// worker with a broken handshake would, then waits to be killed.
void init_sends_garbage() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) std::abort();
  while (dirent* e = readdir(d)) {
    const int fd = std::atoi(e->d_name);
    if (fd <= 2) continue;
    sockaddr_un a{};
    socklen_t len = sizeof a;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sun_family != AF_UNIX)
      continue;
    if (len > offsetof(sockaddr_un, sun_path) + 12 && a.sun_path[0] == '\0' &&
        std::memcmp(a.sun_path + 1, "tandem-pool-", 12) == 0) {
      const std::uint32_t frame[2] = {0, 99};  // length 0, type 99: no such frame
      if (::write(fd, frame, sizeof frame) != sizeof frame) std::abort();
    }
  }
  closedir(d);
  for (;;) pause();
}

TEST_P(Breaking, RepeatedCorruptHandshakesBreakThePool) {
  auto o = opts(2);
  o.initializer = init_sends_garbage;
  tandem::ProcessPoolExecutor ex(o);
  EXPECT_TRUE(breaks_with(ex, 4, {"corrupt"}));
}

// --- an initializer SIGKILLed every time (the out-of-memory killer) ----------------------
void init_killed() { raise(SIGKILL); }

TEST_P(Breaking, InitializerKilledBySigkillBreaksThePool) {
  auto o = opts(2);
  o.initializer = init_killed;
  tandem::ProcessPoolExecutor ex(o);
  EXPECT_TRUE(breaks_with(ex, 6, {"initializer", "SIGKILL", "out-of-memory"}));
}

INSTANTIATE_TEST_SUITE_P(All, Breaking, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

}  // namespace

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
