// SPDX-License-Identifier: MIT
// ThreadPoolExecutor shutdown — ports of CPython Lib/test/test_concurrent_futures/
// test_shutdown.py (ExecutorShutdownTest, ThreadPoolShutdownTest) that apply to a thread
// pool, plus what Python leaves unsafe: shutdown(wait=true) and the destructor called from
// one of the pool's own tasks, submitting threads that come and go (more than the pool's
// private submit deques), and a pool inherited by a fork()ed child.
//
// Already in thread_pool_test.cpp, not repeated here: test_run_after_shutdown
// (SubmitAfterShutdown, with the exact message) and test_thread_names_default (ThreadNames).
// Not applicable: test_interpreter_shutdown / test_submit_after_interpreter_shutdown (no
// interpreter: the destructor is the exit hook, as ShutdownWaitsForWork shows).
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "detail/sanitizers.hpp"  // TANDEM_ASAN, TANDEM_TSAN
#include "tandem/futures.hpp"
#include "tandem/threading.hpp"

using namespace std::chrono_literals;
using tandem::Future;
using tandem::ThreadPoolExecutor;

namespace {
// A one-shot gate that really blocks its worker (a Future would let the worker help run
// other tasks while it waits). Declare it before the executor.
struct Gate {
  std::atomic<bool> flag{false};
  void open() {
    flag.store(true);
    flag.notify_all();
  }
  void wait() { flag.wait(false); }
};
// A counting semaphore for tests (threading.Semaphore(0) in the CPython tests).
struct Sem {
  std::atomic<int> n{0};
  void release() {
    n.fetch_add(1);
    n.notify_all();
  }
  void acquire() {
    for (;;) {
      int v = n.load();
      if (v > 0 && n.compare_exchange_weak(v, v - 1)) return;
      if (v == 0) n.wait(0);
    }
  }
};
// Waits for a child and returns its exit code (-signal when killed).
int wait_child(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return WIFSIGNALED(st) ? -WTERMSIG(st) : -1000;
}
// A thread_local (at namespace scope, so that each thread constructs and destroys its own
// on first use) whose destructor runs after the thread's function has returned.
struct ExitSignal {
  std::atomic<bool>* flag = nullptr;
  ~ExitSignal() {
    if (flag) {
      flag->store(true);
      flag->notify_all();
    }
  }
};
thread_local ExitSignal t_exit_signal;
std::vector<int> minus5_to_5() { return {-5, -4, -3, -2, -1, 0, 1, 2, 3, 4}; }
const std::vector<int> kAbs{5, 4, 3, 2, 1, 0, 1, 2, 3, 4};
}  // namespace

// test_shutdown.ExecutorShutdownTest.test_hang_issue12364
TEST(ThreadPoolShutdown, HangIssue12364) {
  ThreadPoolExecutor ex(5);
  std::vector<Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(ex.submit([i] { return i; }));
  ex.shutdown();
  for (auto& f : fs) EXPECT_TRUE(f.done());
  int sum = 0;
  for (auto& f : fs) sum += f.result();
  EXPECT_EQ(sum, 49 * 50 / 2);
}

// test_shutdown.ExecutorShutdownTest.test_cancel_futures (5 workers, 50 tasks; the running
// ones are held on a gate instead of sleeping 0.1 s)
TEST(ThreadPoolShutdown, CancelFutures) {
  Gate g;
  std::atomic<int> started{0};
  ThreadPoolExecutor ex(5);
  std::vector<Future<void>> fs;
  for (int i = 0; i < 50; ++i)
    fs.push_back(ex.submit([&] {
      started++;
      g.wait();
    }));
  ex.shutdown(false, true);  // cancel what has not started, while the workers are held
  g.open();
  ex.shutdown(true);
  int cancelled = 0;
  for (auto& f : fs) cancelled += f.cancelled();
  EXPECT_GT(cancelled, 20);
  int others = 0;
  for (auto& f : fs) {
    if (f.cancelled()) continue;
    ++others;
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.exception(), nullptr);
  }
  EXPECT_EQ(others, started.load());
  EXPECT_EQ(cancelled + others, 50);
}

// test_shutdown.ThreadPoolShutdownTest.test_cancel_futures_wait_false: shutdown(wait=false,
// cancel_futures=true) right after a submit; the task either ran or was cancelled, and the
// destructor (Python's exit) neither hangs nor reports anything.
TEST(ThreadPoolShutdown, CancelFuturesWaitFalse) {
  std::atomic<int> ran{0};
  Future<void> f;
  {
    ThreadPoolExecutor ex;
    f = ex.submit([&] { ran++; });
    ex.shutdown(false, true);
  }
  EXPECT_TRUE(f.done());
  EXPECT_EQ(ran.load(), f.cancelled() ? 0 : 1);
}

// test_shutdown.ExecutorShutdownTest.test_hang_gh83386: shutdown(wait=false) with a task
// still running returns at once; the task finishes and the exit (destructor) waits for it.
TEST(ThreadPoolShutdown, HangGh83386) {
  Gate g;
  std::string out;
  Future<void> f;
  {
    ThreadPoolExecutor ex(3);
    f = ex.submit([&] {
      g.wait();
      out = "apple";
    });
    while (!f.running()) std::this_thread::yield();
    ex.shutdown(false);  // must not wait for the gate
    EXPECT_FALSE(f.done());
    g.open();
  }
  EXPECT_TRUE(f.done());
  EXPECT_EQ(out, "apple");
}

// test_shutdown.ExecutorShutdownTest.test_hang_gh94440: a future submitted and cancelled
// right before shutdown(wait=true) does not hang it.
TEST(ThreadPoolShutdown, HangGh94440) {
  ThreadPoolExecutor ex(1);
  ex.submit([] { return 0; }).result();
  ex.submit([] { return 0; }).cancel();
  ex.shutdown(true);
}

// test_shutdown.ThreadPoolShutdownTest.test_threads_terminate
TEST(ThreadPoolShutdown, ThreadsTerminate) {
  Sem sem;
  ThreadPoolExecutor ex(5);
  for (int i = 0; i < 3; ++i) ex.submit([&] { sem.acquire(); });
  EXPECT_EQ(ex.stats().workers, 3u);
  for (int i = 0; i < 3; ++i) sem.release();
  ex.shutdown();
  EXPECT_EQ(ex.stats().workers_busy, 0u);
  EXPECT_EQ(ex.stats().completed, 3u);
}

// test_shutdown.ThreadPoolShutdownTest.test_context_manager_shutdown
TEST(ThreadPoolShutdown, ContextManagerShutdown) {
  std::vector<int> got;
  {
    ThreadPoolExecutor e(5);
    for (int v : e.map([](int x) { return x < 0 ? -x : x; }, minus5_to_5())) got.push_back(v);
  }
  EXPECT_EQ(got, kAbs);
}

// test_shutdown.ThreadPoolShutdownTest.test_del_shutdown: an eager map (every item
// submitted at the call) may be read after the executor is gone.
TEST(ThreadPoolShutdown, DelShutdown) {
  auto executor = std::make_unique<ThreadPoolExecutor>(5);
  auto res = executor->map([](int x) { return x < 0 ? -x : x; }, minus5_to_5());
  executor.reset();
  std::vector<int> got;
  for (int v : res) got.push_back(v);
  EXPECT_EQ(got, kAbs);
}

// test_shutdown.ThreadPoolShutdownTest.test_shutdown_no_wait
TEST(ThreadPoolShutdown, ShutdownNoWait) {
  ThreadPoolExecutor executor(5);
  auto res = executor.map([](int x) { return x < 0 ? -x : x; }, minus5_to_5());
  executor.shutdown(false);
  std::vector<int> got;
  for (int v : res) got.push_back(v);
  EXPECT_EQ(got, kAbs);
}

// test_shutdown.ThreadPoolShutdownTest.test_thread_names_assigned: every worker is
// "SpecialPool_0" .. "SpecialPool_4" (five workers forced by five tasks held together).
TEST(ThreadPoolShutdown, ThreadNamesAssigned) {
  std::latch all(5);
  std::set<std::string> names;
  {
    ThreadPoolExecutor executor(
        tandem::ThreadPoolOptions{.max_workers = 5, .thread_name_prefix = "SpecialPool"});
    std::vector<Future<std::string>> fs;
    for (int i = 0; i < 5; ++i)
      fs.push_back(executor.submit([&] {
        all.arrive_and_wait();
        return tandem::current_thread_name();
      }));
    for (auto& f : fs) names.insert(f.result());
  }
  EXPECT_EQ(names, (std::set<std::string>{"SpecialPool_0", "SpecialPool_1", "SpecialPool_2",
                                          "SpecialPool_3", "SpecialPool_4"}));
}

// executor.ExecutorTest.test_shutdown_race_issue12456
TEST(ThreadPoolShutdown, ShutdownRaceIssue12456) {
  ThreadPoolExecutor ex(5);
  std::vector<int> twos(6, 2);
  auto r = ex.map([](int x) { return std::to_string(x); }, twos);
  ex.shutdown();
  std::size_t n = 0;
  for (auto& s : r) n += s == "2";
  EXPECT_EQ(n, 6u);
}

// ---- shutdown from inside the pool (Python: RuntimeError "cannot join current thread") ----

// shutdown(wait=true) from a task waits for everything else, then returns in the task.
TEST(ThreadPoolShutdown, ShutdownWaitFromOwnTask) {
  Gate go;
  std::atomic<int> done{0};
  ThreadPoolExecutor ex(2);
  auto self = ex.submit([&] {
    go.wait();
    ex.shutdown(true);
    return done.load();  // every other task has finished by now
  });
  for (int i = 0; i < 200; ++i) ex.submit([&] { done++; });
  go.open();
  EXPECT_EQ(self.result(60s), 200);
  EXPECT_THROW(ex.submit([] {}), tandem::RuntimeError);
  ex.shutdown(true);  // and again from outside: waits for the worker that called it
}

// The executor destroyed by one of its own tasks: the worker finishes its task and leaves
// without touching freed memory (ASan), the pool's state freed by the last worker out.
TEST(ThreadPoolShutdown, DestructorFromOwnTask) {
  std::atomic<bool> worker_gone{false};
  std::atomic<int> done{0};
  auto ex = std::make_unique<ThreadPoolExecutor>(2);
  Gate go;
  for (int i = 0; i < 100; ++i) ex->submit([&] { done++; });
  auto killer = ex->submit([&] {
    go.wait();
    t_exit_signal.flag = &worker_gone;
    ex.reset();  // ~ThreadPoolExecutor inside its own task
    return done.load();
  });
  go.open();
  EXPECT_EQ(killer.result(60s), 100);
  worker_gone.wait(false);  // the worker thread has exited (and freed the pool)
  EXPECT_EQ(ex, nullptr);
}

// Two tasks calling shutdown(wait=true) at once do not wait for each other.
TEST(ThreadPoolShutdown, TwoTasksShutdownWaitTogether) {
  std::latch both(2);
  ThreadPoolExecutor ex(2);
  auto a = ex.submit([&] {
    both.arrive_and_wait();
    ex.shutdown(true);
    return 1;
  });
  auto b = ex.submit([&] {
    both.arrive_and_wait();
    ex.shutdown(true);
    return 2;
  });
  EXPECT_EQ(a.result(60s) + b.result(60s), 3);
}

// An outside shutdown(wait=true) also waits for a worker whose task called shutdown itself
// (Python's shutdown joins every thread).
TEST(ThreadPoolShutdown, OutsideShutdownWaitsForSelfShutdownTask) {
  Gate gate;
  std::atomic<bool> inner_returned{false}, finished{false};
  ThreadPoolExecutor ex(2);
  ex.submit([&] {
    ex.shutdown(true);
    inner_returned.store(true);
    inner_returned.notify_all();
    gate.wait();
    finished.store(true);
  });
  inner_returned.wait(false);
  std::thread opener([&] { gate.open(); });
  ex.shutdown(true);
  EXPECT_TRUE(finished.load());
  opener.join();
}

// ---- outside submitting threads come and go ----

// More short-lived submitting threads than the pool has private deques: each returns its
// deque on exit, every task runs, nothing leaks (LeakSanitizer).
TEST(ThreadPoolShutdown, ShortLivedSubmittersReclaimSlots) {
  constexpr int kRounds = 25, kThreads = 8, kTasks = 40;  // 200 threads > 64 slots
  std::atomic<long> ran{0};
  std::atomic<int> had_private{0};
  ThreadPoolExecutor ex(2);
  for (int r = 0; r < kRounds; ++r) {
    std::vector<std::thread> ts;
    for (int i = 0; i < kThreads; ++i)
      ts.emplace_back([&] {
        std::vector<Future<void>> fs;
        for (int k = 0; k < kTasks; ++k) fs.push_back(ex.submit([&] { ran++; }));
        if (ex.stats().submitters >= 1) had_private++;
        // Exit with the tasks still queued or running: the deque goes back with them in it.
      });
    for (auto& t : ts) t.join();
    EXPECT_EQ(ex.stats().submitters, 0u) << "round " << r;
  }
  EXPECT_EQ(had_private.load(), kRounds * kThreads);
  ex.shutdown();
  EXPECT_EQ(ran.load(), long{kRounds} * kThreads * kTasks);
  auto st = ex.stats();
  EXPECT_EQ(st.submitted, st.completed);
  EXPECT_EQ(st.queued, 0u);
}

// A thread that outlives the pools it submitted to (and keeps using new ones).
TEST(ThreadPoolShutdown, SubmitterOutlivesPools) {
  for (int i = 0; i < 100; ++i) {
    ThreadPoolExecutor ex(1);
    EXPECT_EQ(ex.submit([i] { return i; }).result(), i);
    EXPECT_EQ(ex.stats().submitters, 1u);
  }
}

// ---- fork() ----

// A pool inherited by a fork()ed child: submit raises BrokenThreadPool, shutdown fails the
// queued tasks with it and returns (never joins the parent's threads). The parent's pool
// is untouched.
TEST(ThreadPoolFork, InheritedPoolIsBroken) {
  Gate g;
  ThreadPoolExecutor ex(1);
  auto running = ex.submit([&] {
    g.wait();
    return 1;
  });
  while (!running.running()) std::this_thread::yield();
  std::vector<Future<int>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(ex.submit([i] { return i; }));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(60);  // a hang becomes SIGALRM, which the parent reports
    int code = 0;
    try {
      ex.submit([] { return 0; });
      code = 1;
    } catch (const tandem::BrokenThreadPool& e) {
      if (!std::strstr(e.what(), "fork()")) code = 2;
    } catch (...) {
      code = 3;
    }
    ex.shutdown(true);
    for (auto& f : queued) {
      if (!f.done()) code = 4;
      try {
        f.result(0s);
        code = 5;
      } catch (const tandem::BrokenThreadPool&) {
      } catch (...) {
        code = 6;
      }
    }
    if (running.done()) code = 7;  // its thread is not here: it never completes
    ::_exit(code);
  }
  EXPECT_EQ(wait_child(pid), 0);
  g.open();
  EXPECT_EQ(running.result(60s), 1);
  int sum = 0;
  for (auto& f : queued) sum += f.result(60s);
  EXPECT_EQ(sum, 10);
  EXPECT_EQ(ex.submit([] { return 7; }).result(60s), 7);
}

// fork() while other threads submit and workers run: the child never finds a pool lock
// held (the atfork handlers hold them across fork()), so its shutdown returns.
TEST(ThreadPoolFork, ForkWhileSubmitting) {
#if defined(TANDEM_ASAN) || defined(TANDEM_TSAN)
  // GCC 12's ASan and TSan allocators are not fork-safe: a child blocks forever in
  // malloc/free when a parent thread held an allocator lock at fork() (seen here with
  // both; glibc's malloc is fork-safe). InheritedPoolIsBroken covers the handlers there.
  GTEST_SKIP() << "the sanitizer's allocator is not fork-safe while other threads allocate";
#endif
  std::atomic<bool> stop{false};
  std::atomic<long> ran{0};
  ThreadPoolExecutor ex(2);
  std::vector<std::thread> subs;
  // Each submitter waits for every 256th task, so the backlog stays bounded: unbounded, it
  // grew to millions of tasks on a loaded machine, and a child failing all of them (one COW
  // page fault after another) outlived its 60 s alarm.
  for (int i = 0; i < 2; ++i)
    subs.emplace_back([&] {
      while (!stop.load()) {
        Future<void> last;
        for (int j = 0; j < 256; ++j) last = ex.submit([&] { ran++; });
        last.result();
      }
    });
  for (int k = 0; k < 10; ++k) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::alarm(60);
      int code = 0;
      try {
        ex.submit([] {});
        code = 1;
      } catch (const tandem::BrokenThreadPool&) {
      }
      ex.shutdown(true, k % 2 == 1);
      ::_exit(code);
    }
    EXPECT_EQ(wait_child(pid), 0) << "fork " << k;
  }
  stop.store(true);
  for (auto& t : subs) t.join();
  ex.shutdown();
  EXPECT_EQ(ex.stats().submitted, ex.stats().completed);
}

#ifndef TANDEM_TSAN  // TSan does not support starting threads in a multi-threaded fork child
// The child may build and use a fresh pool.
TEST(ThreadPoolFork, ChildCanUseFreshPool) {
  ThreadPoolExecutor parent(2);
  parent.submit([] { return 1; }).result();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(60);
    int code = 0;
    {
      ThreadPoolExecutor fresh(2);
      std::vector<Future<int>> fs;
      for (int i = 0; i < 100; ++i) fs.push_back(fresh.submit([i] { return i; }));
      int sum = 0;
      for (auto& f : fs) sum += f.result();
      if (sum != 4950) code = 1;
    }
    parent.shutdown(true);
    ::_exit(code);
  }
  EXPECT_EQ(wait_child(pid), 0);
  EXPECT_EQ(parent.submit([] { return 2; }).result(60s), 2);
}
#endif
