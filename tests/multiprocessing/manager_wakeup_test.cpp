// SPDX-License-Identifier: MIT
// A thread asleep in a Manager proxy's blocking call when the manager shuts down, or when its
// server process dies, wakes and raises RuntimeError (manager.hpp, "Blocked calls never
// outlive the manager") — for every proxy kind that can block: Event.wait(), Lock/RLock/
// Semaphore/Condition acquire(), Condition.wait()/wait_for(), Queue get()/put()/join(), with
// and without timeouts, in this process and in a child process started before the object.
// No CPython counterpart: Python's proxies raise EOFError/BrokenPipeError from the dead
// connection; ours share memory, so the wake-up is explicit.
//
// Synchronisation: the test waits until the blocked thread (or child) is asleep in the
// kernel (its /proc state is 'S'), then shuts down / kills the server. If it looked before
// the call went to sleep, the call still raises the same error at entry or at its next
// slice: the assertion holds either way.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "support/manager_test_support.hpp"
#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing/manager.hpp"
#include "tandem/serialize.hpp"

namespace mp = tandem::mp;
using namespace std::chrono_literals;
using namespace mgrtest;

namespace {

class ManagerWakeup : public mptest::ProcessFixture {};

constexpr const char* kShut = "the manager was shut down";
constexpr const char* kDied = "server process died";

char proc_state(const std::string& stat_path) {
  std::ifstream f(stat_path);
  std::string line;
  std::getline(f, line);
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

/// Until the task is asleep (state S) — a bounded poll with yields, 30 s at most.
void wait_sleeping(const std::string& stat_path) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (proc_state(stat_path) != 'S' && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
}

enum class End { shutdown, kill_server };

/// Runs `block` in a thread of this process, ends the manager while it sleeps, and returns
/// the message of the RuntimeError it raised ("returned" if it returned).
std::string woken(mp::Manager& m, End end, const std::function<void()>& block) {
  std::atomic<long> tid{0};
  std::string msg = "not run";
  std::thread t([&] {
    tid.store(::syscall(SYS_gettid));
    try {
      block();
      msg = "returned";
    } catch (const tandem::RuntimeError& e) {
      msg = e.what();
    } catch (const std::exception& e) {
      msg = std::string("other exception: ") + e.what();
    }
  });
  while (tid.load() == 0) std::this_thread::yield();
  wait_sleeping("/proc/self/task/" + std::to_string(tid.load()) + "/stat");
  if (end == End::shutdown) {
    m.shutdown();
  } else {
    const int server = m.pid();
    ::kill(server, SIGKILL);
  }
  t.join();
  m.shutdown();  // reaps a killed server
  return msg;
}

bool has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

}  // namespace

TEST_F(ManagerWakeup, EventWait) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto e = m.Event();
    const auto msg = woken(m, end, [&] { e.wait(); });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
  }
}

TEST_F(ManagerWakeup, EventTimedWait) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto e = m.Event();
    const auto msg = woken(m, end, [&] { e.wait(600s); });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
  }
}

TEST_F(ManagerWakeup, LockAcquire) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto l = m.Lock();
    l.acquire();
    const auto msg = woken(m, end, [&] { l.acquire(); });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
    l.release();  // still works after shutdown
  }
}

TEST_F(ManagerWakeup, RLockTimedAcquire) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto l = m.RLock();
    l.acquire();
    const auto msg = woken(m, end, [&] { l.acquire(600s); });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
    l.release();
  }
}

TEST_F(ManagerWakeup, SemaphoreAcquire) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto s = m.Semaphore(0);
    const auto msg = woken(m, end, [&] { s.acquire(); });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
  }
}

// The waiter raises with the Condition's lock held again: its unique_lock releases it.
TEST_F(ManagerWakeup, ConditionWait) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto c = m.Condition();
    bool released_by_guard = false;
    const auto msg = woken(m, end, [&] {
      std::unique_lock g(c);
      try {
        c.wait();
      } catch (...) {
        released_by_guard = g.owns_lock();
        throw;
      }
    });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
    EXPECT_TRUE(released_by_guard);
  }
}

TEST_F(ManagerWakeup, ConditionWaitForPredicate) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto c = m.Condition();
    const auto msg = woken(m, end, [&] {
      std::unique_lock g(c);
      c.wait_for([] { return false; }, 600s);
    });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
  }
}

// A Condition is still a working condition with slices: a notify reaches a waiter that has
// slept through several slices.
TEST_F(ManagerWakeup, ConditionNotifyAfterSeveralSlices) {
  mp::Manager m;
  auto c = m.Condition();
  auto e = m.Event();
  std::atomic<bool> woke{false};
  std::atomic<long> tid{0};
  std::thread t([&] {
    std::unique_lock g(c);
    tid.store(::syscall(SYS_gettid));
    woke.store(c.wait(60s));
  });
  while (tid.load() == 0) std::this_thread::yield();
  // Three slices pass (lower bound only): the waiter re-waited at least twice.
  e.wait(3 * mp::detail::kManagerRecheck);
  {
    std::lock_guard g(c);
    c.notify();
  }
  t.join();
  EXPECT_TRUE(woke.load());
}

TEST_F(ManagerWakeup, QueueGet) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto q = m.Queue<std::string>();
    const auto msg = woken(m, end, [&] { q.get(); });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
  }
}

TEST_F(ManagerWakeup, QueueTimedGetAndRangeFor) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto q = m.Queue<int>();
    auto msg = woken(m, end, [&] { q.get(600s); });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
  }
  mp::Manager m;
  auto q = m.Queue<int>();
  const auto msg = woken(m, End::kill_server, [&] {
    for (int v : q) (void)v;
  });
  EXPECT_TRUE(has(msg, kDied)) << msg;
}

TEST_F(ManagerWakeup, QueuePutOnFullQueue) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto q = m.Queue<int>(1);
    q.put(1);
    const auto msg = woken(m, end, [&] { q.put(2); });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
  }
}

TEST_F(ManagerWakeup, JoinableQueueJoin) {
  for (End end : {End::shutdown, End::kill_server}) {
    mp::Manager m;
    auto q = m.JoinableQueue<int>();
    q.put(1);
    const auto msg = woken(m, end, [&] { q.join(); });
    EXPECT_TRUE(has(msg, end == End::shutdown ? kShut : kDied)) << msg;
  }
}

// After the server's death, calls that need not sleep still work; a timed wait that expires
// before the next check returns false as usual.
TEST_F(ManagerWakeup, NonBlockingCallsSurviveTheServer) {
  mp::Manager m;
  auto l = m.Lock();
  auto e = m.Event();
  auto q = m.Queue<int>();
  const int server = m.pid();
  ASSERT_EQ(::kill(server, SIGKILL), 0);
  // The kernel reports the death to a pidfd once the process is gone: wait for that.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (::kill(server, 0) == 0 && proc_state("/proc/" + std::to_string(server) + "/stat") != 'Z' &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_TRUE(l.acquire());  // free: taken without sleeping
  EXPECT_FALSE(l.acquire(0s));
  l.release();
  e.set();
  EXPECT_TRUE(e.wait());
  q.put(7);
  EXPECT_EQ(q.get(), 7);
  e.clear();
  EXPECT_THROW(e.wait(), tandem::RuntimeError);
  EXPECT_THROW(q.get(), tandem::RuntimeError);
  m.shutdown();
}

// A child process started before the Event existed sleeps in wait() on the received handle;
// the owner shuts the manager down / the server is killed: the child wakes and raises.
TEST_F(ManagerWakeup, ChildProcessWaiter) {
  for (End end : {End::shutdown, End::kill_server}) {
    mptest::Pipe p, attached;
    const pid_t child = spawn([&] {
      p.close_write();
      attached.close_read();
      auto e = recv_handle<mp::EventProxy>(p.r);
      send_bytes(attached.w, {});
      try {
        e.wait();
        return 1;
      } catch (const tandem::RuntimeError& ex) {
        return has(ex.what(), end == End::shutdown ? kShut : kDied) ? 0 : 2;
      }
    });
    p.close_read();
    attached.close_write();
    mp::Manager m;
    auto e = m.Event();
    send_bytes(p.w, tandem::serialize(e));
    recv_bytes(attached.r);  // the child holds the object now; next it waits on it
    wait_sleeping("/proc/" + std::to_string(child) + "/stat");
    if (end == End::shutdown) {
      m.shutdown();
    } else {
      ::kill(m.pid(), SIGKILL);
    }
    EXPECT_EQ(join(child), 0);
    m.shutdown();
  }
}
