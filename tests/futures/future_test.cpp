// SPDX-License-Identifier: MIT
// tandem::Future — ports of CPython Lib/test/test_concurrent_futures/test_future.py
// (FutureTests), plus move-only / void / then / co_await cases.
#include <gtest/gtest.h>

#include <atomic>
#include <coroutine>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tandem/futures.hpp"

using namespace std::chrono_literals;
using tandem::Future;

namespace {

Future<int> pending() { return {}; }
Future<int> running() {
  Future<int> f;
  f.set_running_or_notify_cancel();
  return f;
}
Future<int> cancelled() {
  Future<int> f;
  f.cancel();
  return f;
}
Future<int> cancelled_and_notified() {
  Future<int> f;
  f.cancel();
  f.set_running_or_notify_cancel();
  return f;
}
Future<int> exception_future() {
  Future<int> f;
  f.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
  return f;
}
Future<int> successful(int v = 42) {
  Future<int> f;
  f.set_result(v);
  return f;
}

}  // namespace

// test_future.FutureTests.test_done_callback_with_result
TEST(Future, DoneCallbackWithResult) {
  int seen = 0;
  Future<int> f;
  f.add_done_callback([&](Future<int> g) { seen = g.result(); });
  f.set_result(5);
  EXPECT_EQ(seen, 5);
}

// test_future.FutureTests.test_done_callback_with_exception
TEST(Future, DoneCallbackWithException) {
  std::string seen;
  Future<int> f;
  f.add_done_callback([&](Future<int> g) {
    try {
      std::rethrow_exception(g.exception());
    } catch (const std::exception& e) {
      seen = e.what();
    }
  });
  f.set_exception(std::make_exception_ptr(std::runtime_error("test")));
  EXPECT_EQ(seen, "test");
}

// test_future.FutureTests.test_done_callback_with_cancel
TEST(Future, DoneCallbackWithCancel) {
  bool was_cancelled = false;
  Future<int> f;
  f.add_done_callback([&](Future<int> g) { was_cancelled = g.cancelled(); });
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(was_cancelled);
}

// test_future.FutureTests.test_done_callback_raises
TEST(Future, DoneCallbackRaisesIsReportedNotPropagated) {
  bool raising_was_called = false, fn_was_called = false;
  Future<int> f;
  f.add_done_callback([&](Future<int>) {
    raising_was_called = true;
    throw std::runtime_error("doh!");
  });
  f.add_done_callback([&](Future<int>) { fn_was_called = true; });
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(f.set_result(5));
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(raising_was_called);
  EXPECT_TRUE(fn_was_called);
  EXPECT_NE(err.find("exception calling callback for"), std::string::npos);
  EXPECT_NE(err.find("doh!"), std::string::npos);
}

// test_future.FutureTests.test_done_callback_already_successful
TEST(Future, DoneCallbackAlreadySuccessful) {
  int seen = 0;
  Future<int> f = successful(5);
  f.add_done_callback([&](Future<int> g) { seen = g.result(); });
  EXPECT_EQ(seen, 5);
}

// test_future.FutureTests.test_done_callback_already_failed
TEST(Future, DoneCallbackAlreadyFailed) {
  bool got = false;
  Future<int> f = exception_future();
  f.add_done_callback([&](Future<int> g) { got = g.exception() != nullptr; });
  EXPECT_TRUE(got);
}

// test_future.FutureTests.test_done_callback_already_cancelled
TEST(Future, DoneCallbackAlreadyCancelled) {
  bool was_cancelled = false;
  Future<int> f = cancelled();
  f.add_done_callback([&](Future<int> g) { was_cancelled = g.cancelled(); });
  EXPECT_TRUE(was_cancelled);
}

// test_future.FutureTests.test_done_callback_raises_already_succeeded
TEST(Future, DoneCallbackRaisesAlreadySucceeded) {
  Future<int> f = successful(5);
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(f.add_done_callback([](Future<int>) { throw std::runtime_error("doh!"); }));
  EXPECT_NE(testing::internal::GetCapturedStderr().find("doh!"), std::string::npos);
}

TEST(Future, CallbacksRunInRegistrationOrderAndMayAddCallbacks) {
  std::vector<int> order;
  Future<int> f;
  for (int i = 0; i < 5; ++i) f.add_done_callback([&, i](Future<int>) { order.push_back(i); });
  f.add_done_callback([&](Future<int> g) {
    g.add_done_callback([&](Future<int>) { order.push_back(99); });  // runs at once
  });
  f.set_result(1);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 99}));
}

// test_future.FutureTests.test_cancel
TEST(Future, Cancel) {
  auto f1 = pending(), f2 = running(), f3 = cancelled(), f4 = cancelled_and_notified(),
       f5 = exception_future(), f6 = successful();
  EXPECT_TRUE(f1.cancel());
  EXPECT_TRUE(f1.cancelled());
  EXPECT_FALSE(f2.cancel());
  EXPECT_FALSE(f2.cancelled());
  EXPECT_TRUE(f3.cancel());
  EXPECT_TRUE(f4.cancel());
  EXPECT_FALSE(f5.cancel());
  EXPECT_FALSE(f6.cancel());
}

// test_future.FutureTests.test_cancelled / test_done / test_running
TEST(Future, StatePredicates) {
  EXPECT_FALSE(pending().cancelled());
  EXPECT_FALSE(running().cancelled());
  EXPECT_TRUE(cancelled().cancelled());
  EXPECT_TRUE(cancelled_and_notified().cancelled());
  EXPECT_FALSE(exception_future().cancelled());
  EXPECT_FALSE(successful().cancelled());

  EXPECT_FALSE(pending().done());
  EXPECT_FALSE(running().done());
  EXPECT_TRUE(cancelled().done());
  EXPECT_TRUE(cancelled_and_notified().done());
  EXPECT_TRUE(exception_future().done());
  EXPECT_TRUE(successful().done());

  EXPECT_FALSE(pending().running());
  EXPECT_TRUE(running().running());
  EXPECT_FALSE(cancelled().running());
  EXPECT_FALSE(exception_future().running());
  EXPECT_FALSE(successful().running());
}

// test_future.FutureTests.test_result_with_timeout
TEST(Future, ResultWithTimeout) {
  EXPECT_THROW(pending().result(0s), tandem::TimeoutError);
  EXPECT_THROW(running().result(0s), tandem::TimeoutError);
  EXPECT_THROW(cancelled().result(0s), tandem::CancelledError);
  EXPECT_THROW(cancelled_and_notified().result(0s), tandem::CancelledError);
  EXPECT_THROW(exception_future().result(0s), std::runtime_error);
  EXPECT_EQ(successful(42).result(0s), 42);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(pending().result(50ms), tandem::TimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_THROW(pending().result(tandem::duration(-1)), tandem::TimeoutError);
}

// test_future.FutureTests.test_result_with_success
TEST(Future, ResultWithSuccess) {
  Future<int> f;
  std::thread t([f]() mutable { f.set_result(42); });
  EXPECT_EQ(f.result(60s), 42);
  t.join();
}

// test_future.FutureTests.test_result_with_cancel
TEST(Future, ResultWithCancel) {
  Future<int> f;
  std::thread t([f]() mutable { f.cancel(); });
  EXPECT_THROW(f.result(60s), tandem::CancelledError);
  t.join();
}

// test_future.FutureTests.test_exception_with_timeout
TEST(Future, ExceptionWithTimeout) {
  EXPECT_THROW(pending().exception(0s), tandem::TimeoutError);
  EXPECT_THROW(running().exception(0s), tandem::TimeoutError);
  EXPECT_THROW(cancelled().exception(0s), tandem::CancelledError);
  EXPECT_NE(exception_future().exception(0s), nullptr);
  EXPECT_EQ(successful().exception(0s), nullptr);
}

// test_future.FutureTests.test_exception_with_success
TEST(Future, ExceptionWithSuccess) {
  Future<int> f;
  std::thread t([f]() mutable {
    f.set_exception(std::make_exception_ptr(std::out_of_range("x")));
  });
  EXPECT_THROW(std::rethrow_exception(f.exception(60s)), std::out_of_range);
  t.join();
}

// test_future.FutureTests.test_multiple_set_result
TEST(Future, MultipleSetResult) {
  Future<int> f;
  f.set_result(1);
  try {
    f.set_result(2);
    FAIL();
  } catch (const tandem::InvalidStateError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("FINISHED: <Future", 0), 0u);
  }
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 1);
  auto c = cancelled();
  try {
    c.set_result(2);
    FAIL();
  } catch (const tandem::InvalidStateError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("CANCELLED: <Future", 0), 0u);
  }
}

// test_future.FutureTests.test_multiple_set_exception
TEST(Future, MultipleSetException) {
  Future<int> f;
  f.set_exception(std::make_exception_ptr(std::runtime_error("a")));
  EXPECT_THROW(f.set_exception(std::make_exception_ptr(std::runtime_error("b"))),
               tandem::InvalidStateError);
  EXPECT_STREQ([&] {
    try {
      f.result();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  }().c_str(), "a");
}

// Future.set_running_or_notify_cancel (docs/futures.md#future)
TEST(Future, SetRunningOrNotifyCancel) {
  EXPECT_TRUE(pending().set_running_or_notify_cancel());
  EXPECT_FALSE(cancelled().set_running_or_notify_cancel());
  EXPECT_THROW(running().set_running_or_notify_cancel(), tandem::RuntimeError);
  EXPECT_THROW(successful().set_running_or_notify_cancel(), tandem::RuntimeError);
}

// The same exception object is re-raised each time (Python raises self._exception).
TEST(Future, RethrowsSameExceptionObject) {
  auto f = exception_future();
  const void* first = nullptr;
  for (int i = 0; i < 2; ++i) {
    try {
      f.result();
    } catch (const std::runtime_error& e) {
      if (i == 0) first = &e;
      else EXPECT_EQ(first, &e);
    }
  }
}

TEST(Future, VoidFuture) {
  Future<void> f;
  EXPECT_FALSE(f.done());
  f.set_result();
  EXPECT_NO_THROW(f.result());
  EXPECT_THROW(f.set_result(), tandem::InvalidStateError);
}

TEST(Future, MoveOnlyResultIsConstReference) {
  Future<std::unique_ptr<int>> f;
  f.set_result(std::make_unique<int>(7));
  static_assert(std::is_same_v<decltype(f.result()), const std::unique_ptr<int>&>);
  EXPECT_EQ(*f.result(), 7);
  auto g = f;  // copies share the state
  EXPECT_EQ(f.result().get(), g.result().get());
}

TEST(Future, CopiesShareState) {
  Future<std::string> f;
  Future<std::string> g = f;
  EXPECT_TRUE(f == g);
  f.set_result("hello");
  EXPECT_EQ(g.result(), "hello");
}

TEST(Future, ThenChainsAndPropagatesExceptions) {
  Future<int> f;
  auto g = f.then([](int x) { return x * 2; }).then([](int x) { return std::to_string(x); });
  auto h = f.then([](int) -> int { throw std::out_of_range("no"); });
  auto k = h.then([](int x) { return x + 1; });
  f.set_result(21);
  EXPECT_EQ(g.result(), "42");
  EXPECT_THROW(h.result(), std::out_of_range);
  EXPECT_THROW(k.result(), std::out_of_range);
  Future<void> v;
  auto w = v.then([] { return 3; });
  v.set_result();
  EXPECT_EQ(w.result(), 3);
  Future<int> c;
  auto cc = c.then([](int x) { return x; });
  c.cancel();
  EXPECT_THROW(cc.result(), tandem::CancelledError);
}

namespace {
struct Task {
  struct promise_type {
    Task get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};
Task add_later(Future<int> a, Future<int> b, Future<int> out) {
  int x = co_await a;
  int y = co_await b;
  out.set_result(x + y);
}
}  // namespace

TEST(Future, CoAwait) {
  Future<int> a, b, out;
  add_later(a, b, out);
  EXPECT_FALSE(out.done());
  std::thread t([a, b]() mutable {
    a.set_result(40);
    b.set_result(2);
  });
  EXPECT_EQ(out.result(60s), 42);
  t.join();
  Future<int> ready = successful(1), ready2 = successful(2), out2;
  add_later(ready, ready2, out2);  // no suspension at all
  EXPECT_EQ(out2.result(0s), 3);
}

TEST(Future, ManyWaitersWokenByOneSetResult) {
  Future<int> f;
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] { ok += f.result(60s) == 9; });
  f.set_result(9);
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 8);
}

// The callback list is made by the first registration (a CAS on its pointer): threads that
// register on a fresh future at the same moment, while another completes it, must each see
// their callback run exactly once — by the completer, or at once in their own thread when
// they came too late — and none may be lost with a list that lost the race.
TEST(Future, RacingFirstRegistrationsAndCompletionRunEveryCallbackOnce) {
  constexpr int kRounds = 300;
  constexpr int kThreads = 4;
  constexpr int kPer = 8;
  for (int round = 0; round < kRounds; ++round) {
    Future<int> f;
    std::vector<std::atomic<int>> runs(kThreads * kPer);
    // A latch says everyone is there; the start is a flag they poll, so that threads on
    // different CPUs begin within nanoseconds of each other (a futex wake-up is microseconds
    // apart for each), which is what makes their first registrations overlap.
    std::latch there(kThreads);
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, t] {
        there.count_down();
        while (!go.load(std::memory_order_acquire)) tandem::detail::cpu_relax();
        for (int k = 0; k < kPer; ++k)
          f.add_done_callback([&runs, i = t * kPer + k](Future<int> g) {
            EXPECT_EQ(g.result(), 5);
            runs[static_cast<std::size_t>(i)].fetch_add(1);
          });
      });
    there.wait();
    go.store(true, std::memory_order_release);
    f.set_result(5);
    for (auto& th : ts) th.join();
    for (std::size_t i = 0; i < runs.size(); ++i)
      ASSERT_EQ(runs[i].load(), 1) << "round " << round << ", callback " << i;
  }
}
