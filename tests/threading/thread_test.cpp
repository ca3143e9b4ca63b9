// SPDX-License-Identifier: MIT
// tandem::Thread — ports of CPython Lib/test/test_threading.py (ThreadTests,
// ThreadingExceptionTests, ExceptHookTests) plus tandem's own: OS thread names, stop tokens,
// the destructor, stress and faults.
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tandem/threading/lock.hpp"
#include "tandem/threading/thread.hpp"

using namespace std::chrono_literals;

namespace {

// A one-shot gate for tests: open() releases every waiter (no sleeps to synchronise).
struct Gate {
  std::atomic<bool> is_open{false};
  void open() {
    is_open.store(true);
    is_open.notify_all();
  }
  void wait() const { is_open.wait(false); }
};

// "PREFIX<digits>" → the number, or -1. (No std::regex: it trips g++ 12's
// -Wmaybe-uninitialized under -O2 + sanitizers.)
inline long numbered(const std::string& s, const std::string& prefix) {
  if (s.rfind(prefix, 0) != 0 || s.size() == prefix.size()) return -1;
  for (std::size_t i = prefix.size(); i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return -1;
  return std::stol(s.substr(prefix.size()));
}

std::string os_thread_name() {
  char buf[64] = {};
  ::pthread_getname_np(::pthread_self(), buf, sizeof buf);
  return buf;
}

// Restores the default excepthook when a test ends, like test_threading's
// restore_default_excepthook().
struct HookGuard {
  tandem::ExceptHook saved;
  explicit HookGuard(tandem::ExceptHook h) : saved(tandem::set_excepthook(std::move(h))) {}
  ~HookGuard() { tandem::set_excepthook(saved); }
};

}  // namespace

// test_threading.ThreadTests.test_various_ops: 10 subclassed threads, at most 3 inside the
// semaphore at once, native ids unique among live threads.
class CountingThread : public tandem::Thread {
 public:
  CountingThread(std::string name, std::counting_semaphore<3>& sema, tandem::Lock& mutex,
                 int& running, Gate& gate)
      : Thread(tandem::ThreadOptions{std::move(name)}),
        sema_(sema), mutex_(mutex), running_(running), gate_(gate) {}
  ~CountingThread() override {
    request_stop();
    if (is_alive()) join();
  }
  int max_seen = 0;

 protected:
  void run() override {
    gate_.wait();
    sema_.acquire();
    {
      std::lock_guard g(mutex_);
      ++running_;
      max_seen = running_;
    }
    std::this_thread::yield();
    {
      std::lock_guard g(mutex_);
      --running_;
    }
    sema_.release();
  }

 private:
  std::counting_semaphore<3>& sema_;
  tandem::Lock& mutex_;
  int& running_;
  Gate& gate_;
};

TEST(Thread, VariousOps) {
  constexpr int kTasks = 10;
  std::counting_semaphore<3> sema(3);
  tandem::Lock mutex;
  int running = 0;
  Gate gate;
  std::vector<std::unique_ptr<CountingThread>> threads;
  for (int i = 0; i < kTasks; ++i) {
    threads.push_back(std::make_unique<CountingThread>("<thread " + std::to_string(i) + ">",
                                                       sema, mutex, running, gate));
    EXPECT_FALSE(threads.back()->ident().has_value());
    EXPECT_FALSE(threads.back()->native_id().has_value());
    threads.back()->start();
  }
  // All are alive (blocked at the gate): their native ids must differ, and from ours.
  std::set<long> native_ids{static_cast<long>(::gettid())};
  for (auto& t : threads) {
    ASSERT_TRUE(t->native_id().has_value());
    native_ids.insert(*t->native_id());
  }
  EXPECT_EQ(native_ids.size(), static_cast<std::size_t>(kTasks + 1));
  gate.open();
  for (auto& t : threads) {
    t->join();
    EXPECT_FALSE(t->is_alive());
    ASSERT_TRUE(t->ident().has_value());
    EXPECT_NE(*t->ident(), std::thread::id{});
    EXPECT_LE(t->max_seen, 3);
    EXPECT_GE(t->max_seen, 1);
  }
  EXPECT_EQ(running, 0);
}

// test_threading.ThreadTests.test_ident_of_no_threading_threads / test_foreign_thread:
// threads not made by tandem still get a name.
TEST(Thread, CurrentThreadNameOfForeignAndMainThreads) {
  EXPECT_EQ(tandem::current_thread_name(), "MainThread");
  std::string foreign, again;
  std::thread([&] {
    foreign = tandem::current_thread_name();
    again = tandem::current_thread_name();
  }).join();
  EXPECT_GT(numbered(foreign, "Dummy-"), 0) << foreign;
  EXPECT_EQ(foreign, again);  // one name per thread
  std::string inside;
  tandem::Thread t([&] { inside = tandem::current_thread_name(); }, {.name = "worker"});
  t.start();
  t.join();
  EXPECT_EQ(inside, "worker");
}

// test_threading.ThreadTests.test_join_from_multiple_threads
TEST(Thread, JoinFromMultipleThreads) {
  for (int n = 2; n < 20; ++n) {
    Gate gate;
    tandem::Thread worker([&] { gate.wait(); });
    std::atomic<int> errors{0};
    std::vector<std::unique_ptr<tandem::Thread>> joiners;
    for (int i = 0; i < n; ++i)
      joiners.push_back(std::make_unique<tandem::Thread>([&] {
        try {
          worker.join();
          if (worker.is_alive()) ++errors;
        } catch (...) {
          ++errors;
        }
      }));
    worker.start();
    for (auto& j : joiners) j->start();
    gate.open();
    for (auto& j : joiners) j->join();
    worker.join();  // and once more: join may be repeated
    EXPECT_EQ(errors.load(), 0);
  }
}

// test_threading.ThreadTests.test_daemon_param
TEST(Thread, DaemonParam) {
  EXPECT_FALSE(tandem::Thread().daemon());
  EXPECT_FALSE(tandem::Thread([] {}, {.daemon = false}).daemon());
  EXPECT_TRUE(tandem::Thread([] {}, {.daemon = true}).daemon());
  tandem::Thread t;
  t.set_daemon(true);
  EXPECT_TRUE(t.daemon());
}

// test_threading.ThreadTests.test_name
TEST(Thread, Name) {
  EXPECT_EQ(tandem::Thread(tandem::ThreadOptions{"myname1"}).name(), "myname1");
  EXPECT_EQ(tandem::Thread([] {}, {.name = "myname2"}).name(), "myname2");
  std::string a = tandem::Thread().name(), b = tandem::Thread([] {}, {.name = ""}).name();
  ASSERT_GT(numbered(a, "Thread-"), 0) << a;
  ASSERT_GT(numbered(b, "Thread-"), 0) << b;
  EXPECT_GT(numbered(b, "Thread-"), numbered(a, "Thread-"));  // one global counter
  tandem::Thread t;
  t.set_name("renamed");
  EXPECT_EQ(t.name(), "renamed");
}

// test_threading.ThreadTests.test_args_argument: in C++ arguments are bound into the target.
TEST(Thread, ArgsArgument) {
  int seen_int = 0;
  std::string seen_str;
  auto target = [&](int i, std::string s) {
    seen_int = i;
    seen_str = std::move(s);
  };
  tandem::Thread t1(std::bind_front(target, 1, std::string("str")));
  t1.start();
  t1.join();
  EXPECT_EQ(seen_int, 1);
  EXPECT_EQ(seen_str, "str");
  // A move-only target works too (std::function could not hold it).
  auto p = std::make_unique<int>(7);
  tandem::Thread t2([p = std::move(p), &seen_int] { seen_int = *p; });
  t2.start();
  t2.join();
  EXPECT_EQ(seen_int, 7);
}

// test_threading.ThreadingExceptionTests.test_start_thread_again
TEST(Thread, StartTwice) {
  Gate gate;
  tandem::Thread t([&] { gate.wait(); });
  t.start();
  try {
    t.start();
    FAIL() << "no exception";
  } catch (const tandem::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "threads can only be started once");
  }
  gate.open();
  t.join();
  EXPECT_THROW(t.start(), tandem::RuntimeError);  // also after it finished
}

// test_threading.ThreadingExceptionTests.test_joining_inactive_thread
TEST(Thread, JoinBeforeStart) {
  tandem::Thread t([] {});
  try {
    t.join();
    FAIL() << "no exception";
  } catch (const tandem::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot join thread before it is started");
  }
  EXPECT_THROW(t.join(1s), tandem::RuntimeError);
}

// test_threading.ThreadingExceptionTests.test_joining_current_thread
TEST(Thread, JoinCurrentThread) {
  std::string message;
  tandem::Thread* self = nullptr;
  tandem::Thread t([&] {
    try {
      self->join();
    } catch (const tandem::RuntimeError& e) {
      message = e.what();
    }
  });
  self = &t;
  t.start();
  t.join();
  EXPECT_EQ(message, "cannot join current thread");
}

// test_threading.ThreadingExceptionTests.test_daemonize_active_thread
TEST(Thread, DaemonizeActiveThread) {
  Gate gate;
  tandem::Thread t([&] { gate.wait(); });
  t.start();
  try {
    t.set_daemon(true);
    FAIL() << "no exception";
  } catch (const tandem::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot set daemon status of active thread");
  }
  gate.open();
  t.join();
  EXPECT_THROW(t.set_daemon(true), tandem::RuntimeError);
  EXPECT_FALSE(t.daemon());
}

// Thread.start() waits for the thread (docs/threading.md#thread): alive and identified at once.
TEST(Thread, StartReturnsWhenRunning) {
  Gate gate;
  long tid_inside = 0;
  std::latch got_tid(1);
  tandem::Thread t([&] {
    tid_inside = static_cast<long>(::gettid());
    got_tid.count_down();
    gate.wait();
  });
  EXPECT_FALSE(t.is_alive());
  t.start();
  EXPECT_TRUE(t.is_alive());
  ASSERT_TRUE(t.ident().has_value());
  ASSERT_TRUE(t.native_id().has_value());
  got_tid.wait();
  EXPECT_EQ(*t.native_id(), tid_inside);
  gate.open();
  t.join();
  EXPECT_FALSE(t.is_alive());
  EXPECT_EQ(*t.native_id(), tid_inside);  // kept after exit
}

// Thread.join(timeout): false while running (waited at least the timeout), negative = 0.
TEST(Thread, JoinTimeout) {
  Gate gate;
  tandem::Thread t([&] { gate.wait(); });
  t.start();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(t.join(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_FALSE(t.join(-1s));
  EXPECT_FALSE(t.join(0s));
  EXPECT_TRUE(t.is_alive());
  gate.open();
  EXPECT_TRUE(t.join(60s));
  EXPECT_FALSE(t.is_alive());
  EXPECT_TRUE(t.join(0s));
}

// Everything the thread wrote happens-before join() returns (checked by TSan).
TEST(Thread, JoinPublishesWrites) {
  for (int i = 0; i < 50; ++i) {
    std::vector<int> data;
    tandem::Thread t([&] { data.assign(100, i); });
    t.start();
    if (i % 2)
      t.join();
    else
      while (!t.join(10ms)) {
      }
    EXPECT_EQ(data.size(), 100u);
    EXPECT_EQ(data[99], i);
  }
}

// Python 3.14 sets the OS thread name from Thread.name, truncated to 15 bytes.
TEST(Thread, OsThreadName) {
  std::string at_start, after_rename, long_name, utf8;
  tandem::Thread t(
[&] { at_start = os_thread_name(); }, {.name = "my-worker"});
  t.start();
  t.join();
  EXPECT_EQ(at_start, "my-worker");

  tandem::Thread* me = nullptr;
  tandem::Thread r([&] {
    me->set_name("renamed-inside");
    after_rename = os_thread_name();
  });
  me = &r;
  r.start();
  r.join();
  EXPECT_EQ(after_rename, "renamed-inside");
  EXPECT_EQ(r.name(), "renamed-inside");

  tandem::Thread l([&] { long_name = os_thread_name(); }, {.name = "abcdefghijklmnopqrstuvwxyz"});
  l.start();
  l.join();
  EXPECT_EQ(long_name, "abcdefghijklmno");
  EXPECT_EQ(l.name(), "abcdefghijklmnopqrstuvwxyz");

  // 14 ASCII bytes then a 2-byte "é": cut before it, never inside it.
  tandem::Thread u([&] { utf8 = os_thread_name(); }, {.name = "abcdefghijklmn\xc3\xa9z"});
  u.start();
  u.join();
  EXPECT_EQ(utf8, "abcdefghijklmn");
}

// Cooperative stop: a target taking a stop_token ends when request_stop() is called.
TEST(Thread, StopTokenTarget) {
  std::atomic<int> loops{0};
  tandem::Thread t([&](std::stop_token st) {
    while (!st.stop_requested()) {
      ++loops;
      loops.notify_all();
      tandem::sleep(60s, st);  // woken at once by the stop request
    }
  });
  t.start();
  loops.wait(0);
  EXPECT_FALSE(t.stop_token().stop_requested());
  t.request_stop();
  EXPECT_TRUE(t.stop_token().stop_requested());
  EXPECT_TRUE(t.join(30s));
  EXPECT_GE(loops.load(), 1);
}

// ~Thread of a running non-daemon thread: request_stop() then join().
TEST(Thread, DestructorStopsAndJoins) {
  std::atomic<bool> finished{false};
  {
    tandem::Thread t([&](std::stop_token st) {
      tandem::sleep(60s, st);
      finished = true;
    });
    t.start();
  }
  EXPECT_TRUE(finished.load());
}

// ~Thread of a running daemon built from a target: detached, it keeps running safely.
TEST(Thread, DaemonDestructorDetaches) {
  auto gate = std::make_shared<Gate>();
  auto done = std::make_shared<Gate>();
  auto name = std::make_shared<std::string>();
  {
    tandem::Thread t(
        [gate, done, name] {
          gate->wait();
          *name = tandem::current_thread_name();  // its state outlives the Thread object
          done->open();
        },
        {.name = "detached", .daemon = true});
    t.start();
  }
  gate->open();
  done->wait();
  EXPECT_EQ(*name, "detached");
}

// A Thread deleted by its own thread detaches itself instead of joining itself.
TEST(Thread, DeletedByItsOwnThread) {
  Gate done, go;
  tandem::Thread* self = nullptr;
  self = new tandem::Thread([&] {
    go.wait();
    delete self;
    done.open();
  });
  self->start();
  go.open();
  done.wait();
}

// A subclass that stops and joins in its own destructor (the documented pattern).
class Ticker : public tandem::Thread {
 public:
  ~Ticker() override {
    request_stop();
    if (is_alive()) join();
  }
  std::atomic<int> ticks{0};

 protected:
  void run() override {
    auto st = stop_token();
    while (!st.stop_requested()) {
      ++ticks;
      ticks.notify_all();
      tandem::sleep(60s, st);
    }
  }
};

TEST(Thread, SubclassStopsInItsDestructor) {
  auto t = std::make_unique<Ticker>();
  t->start();
  t->ticks.wait(0);
  t.reset();  // returns promptly: the stop request wakes the sleep
}

// Fault: exception() keeps what escaped run(); the joiner never sees it thrown.
TEST(Thread, ExceptionEscapingRun) {
  HookGuard quiet([](const tandem::ExceptHookArgs&) {});
  Gate gate;
  tandem::Thread t([&] {
    gate.wait();
    throw std::out_of_range("index 7");
  });
  EXPECT_EQ(t.exception(), nullptr);
  t.start();
  EXPECT_EQ(t.exception(), nullptr);  // still running
  gate.open();
  EXPECT_NO_THROW(t.join());
  ASSERT_NE(t.exception(), nullptr);
  try {
    std::rethrow_exception(t.exception());
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "index 7");
  }
  tandem::Thread ok([] {});
  ok.start();
  ok.join();
  EXPECT_EQ(ok.exception(), nullptr);
}

// test_threading.ExceptHookTests.test_excepthook / test_custom_excepthook
TEST(ExceptHook, CustomHookSeesTheException) {
  std::string type, what, name;
  const tandem::Thread* thread = nullptr;
  std::string current;
  HookGuard guard([&](const tandem::ExceptHookArgs& args) {
    type = args.exc_type;
    name = args.name;
    thread = args.thread;
    current = tandem::current_thread_name();  // the hook runs in the failing thread
    try {
      std::rethrow_exception(args.exc_value);
    } catch (const std::exception& e) {
      what = e.what();
    }
  });
  tandem::Thread t([] { throw tandem::ValueError("run failed"); }, {.name = "excepthook thread"});
  t.start();
  t.join();
  EXPECT_EQ(type, "tandem::ValueError");
  EXPECT_EQ(what, "run failed");
  EXPECT_EQ(name, "excepthook thread");
  EXPECT_EQ(current, "excepthook thread");
  EXPECT_EQ(thread, &t);
}

// test_threading.ExceptHookTests.test_excepthook (the default hook's output)
TEST(ExceptHook, DefaultHookPrints) {
  HookGuard guard(tandem::default_excepthook);
  testing::internal::CaptureStderr();
  tandem::Thread t([] { throw std::runtime_error("bug"); }, {.name = "excepthook thread"});
  t.start();
  t.join();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "Exception in thread excepthook thread:\nstd::runtime_error: bug\n");
  testing::internal::CaptureStderr();
  tandem::Thread u([] { throw 42; }, {.name = "int"});
  u.start();
  u.join();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "Exception in thread int:\nint\n");
}

// test_threading.ExceptHookTests.test_custom_excepthook_fail
TEST(ExceptHook, HookThatThrows) {
  HookGuard guard([](const tandem::ExceptHookArgs&) {
    throw tandem::ValueError("threading_hook failed");
  });
  testing::internal::CaptureStderr();
  tandem::Thread t([] { throw std::runtime_error("run failed"); });
  t.start();
  t.join();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "Exception in threading.excepthook:\ntandem::ValueError: threading_hook failed\n");
  EXPECT_NE(t.exception(), nullptr);
}

// test_threading.ExceptHookTests.test_original_excepthook
TEST(ExceptHook, SetReturnsPreviousAndRestores) {
  auto run_thread = [] {
    testing::internal::CaptureStderr();
    tandem::Thread t([] { throw std::runtime_error("x"); }, {.name = "excepthook thread"});
    t.start();
    t.join();
    return testing::internal::GetCapturedStderr();
  };
  std::string default_output = run_thread();
  auto previous = tandem::set_excepthook(
      [](const tandem::ExceptHookArgs&) { std::fputs("Running a thread failed\n", stderr); });
  std::string custom_output = run_thread();
  tandem::set_excepthook(previous);
  std::string recovered_output = run_thread();
  EXPECT_EQ(default_output, recovered_output);
  EXPECT_EQ(custom_output, "Running a thread failed\n");
  EXPECT_NE(default_output, custom_output);
}

// Fault: a detached daemon's Thread is gone when its run() throws: the hook gets no pointer.
TEST(ExceptHook, DetachedDaemonHasNoThreadPointer) {
  auto gate = std::make_shared<Gate>();
  auto hooked = std::make_shared<Gate>();
  auto seen_thread = std::make_shared<std::atomic<const tandem::Thread*>>(nullptr);
  auto seen_name = std::make_shared<std::string>();
  HookGuard guard([=](const tandem::ExceptHookArgs& args) {
    seen_thread->store(args.thread);
    *seen_name = args.name;
    hooked->open();
  });
  {
    tandem::Thread t(
        [gate] {
          gate->wait();
          throw std::logic_error("late");
        },
        {.name = "orphan", .daemon = true});
    t.start();
    seen_thread->store(&t);  // must be overwritten with nullptr by the hook
  }
  gate->open();
  hooked->wait();
  EXPECT_EQ(seen_thread->load(), nullptr);
  EXPECT_EQ(*seen_name, "orphan");
}

// Stress: threads fail while another thread keeps swapping the hook; every failure is
// reported exactly once, by one of the hooks.
TEST(ExceptHook, SwappingHooksWhileThreadsFail) {
  std::atomic<int> reports{0};
  auto counting = [&](const tandem::ExceptHookArgs&) { ++reports; };
  HookGuard guard(counting);
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    while (!stop.load()) tandem::set_excepthook(counting);
  });
  constexpr int kThreads = 64;
  std::vector<std::unique_ptr<tandem::Thread>> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.push_back(std::make_unique<tandem::Thread>([] { throw std::runtime_error("x"); }));
    threads.back()->start();
  }
  for (auto& t : threads) t->join();
  stop = true;
  swapper.join();
  EXPECT_EQ(reports.load(), kThreads);
}

// time.sleep: lower bounds only; the stop-aware sleep returns early on request.
TEST(Sleep, SleepsAtLeast) {
  auto t0 = std::chrono::steady_clock::now();
  tandem::sleep(30ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  tandem::sleep(0s);
  EXPECT_THROW(tandem::sleep(-1ms), tandem::ValueError);
  std::stop_source none;
  t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(tandem::sleep(30ms, none.get_token()));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  EXPECT_TRUE(tandem::sleep(10ms, std::stop_token{}));  // a token without stop state
}

TEST(Sleep, StopWakesSleep) {
  std::stop_source src;
  src.request_stop();
  EXPECT_FALSE(tandem::sleep(60s, src.get_token()));  // already requested
  std::stop_source src2;
  std::atomic<bool> result{true};
  tandem::Thread sleeper([&] { result = tandem::sleep(60s, src2.get_token()); });
  sleeper.start();
  src2.request_stop();
  EXPECT_TRUE(sleeper.join(30s));
  EXPECT_FALSE(result.load());
}

// Stress: many threads started and joined, concurrent joiners and stop requests.
TEST(ThreadStress, ManyStartJoin) {
  std::atomic<int> ran{0};
  for (int round = 0; round < 300; ++round) {
    tandem::Thread t([&] { ++ran; });
    t.start();
    t.join();
  }
  EXPECT_EQ(ran.load(), 300);
}

TEST(ThreadStress, BatchesWithRacingJoinersAndStops) {
  std::atomic<int> ran{0};
  for (int round = 0; round < 40; ++round) {
    std::vector<std::unique_ptr<tandem::Thread>> batch;
    for (int i = 0; i < 8; ++i) {
      batch.push_back(std::make_unique<tandem::Thread>([&, i](std::stop_token st) {
        ++ran;
        if (i % 2) tandem::sleep(60s, st);
      }));
      batch.back()->start();
    }
    // Two extra threads join everything while this one stops the sleepers.
    auto joiner = [&] {
      for (auto& t : batch) t->join();
    };
    tandem::Thread j1(joiner), j2(joiner);
    j1.start();
    j2.start();
    for (auto& t : batch) t->request_stop();
    j1.join();
    j2.join();
    for (auto& t : batch) EXPECT_FALSE(t->is_alive());
  }
  EXPECT_EQ(ran.load(), 40 * 8);
}
