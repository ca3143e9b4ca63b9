// SPDX-License-Identifier: MIT
// ThreadPoolExecutor runs each task in a copy of the submitter's contextvars context
// (docs/contextvars.md), as asyncio does for its tasks: the cases follow CPython's
// test_context.py (ContextTest.test_context_run_*, "copy_context in a task") applied to submit,
// map, call_later and nested submits.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "tandem/contextvars.hpp"
#include "tandem/futures.hpp"
#include "tandem/threading/event.hpp"

using namespace std::chrono_literals;

namespace {
tandem::ContextVar<std::string> request_id{"request_id", "-"};
tandem::ContextVar<int> depth{"depth", 0};
}  // namespace

TEST(ContextPropagation, SubmitSeesTheSubmittersValueAndChangesDoNotLeakBack) {
  tandem::ThreadPoolExecutor ex(2);
  auto tok = request_id.set("r-1");
  auto seen = ex.submit([] {
    std::string before = request_id.get();
    request_id.set("changed-inside");
    return before + "/" + request_id.get();
  });
  EXPECT_EQ(seen.result(60s), "r-1/changed-inside");
  EXPECT_EQ(request_id.get(), "r-1");
  // A later task does not see the earlier task's change, nor the worker's leftovers.
  request_id.reset(tok);
  EXPECT_EQ(ex.submit([] { return request_id.get(); }).result(60s), "-");
}

TEST(ContextPropagation, CapturedAtTheCallNotAtTheRun) {
  tandem::ThreadPoolExecutor ex(1);
  auto tok = request_id.set("at-call");
  auto later = ex.call_later(30ms, [] { return request_id.get(); });
  request_id.set("after-call");
  EXPECT_EQ(later.result(60s), "at-call");
  request_id.reset(tok);
}

TEST(ContextPropagation, CallEveryTicksRunInTheCallersContext) {
  tandem::ThreadPoolExecutor ex(2);
  auto tok = request_id.set("periodic");
  std::atomic<int> right{0}, wrong{0};
  tandem::Event three;
  auto h = ex.call_every(5ms, [&] {
    (request_id.get() == "periodic" ? right : wrong)++;
    request_id.set("changed-in-tick");  // each tick starts from the caller's copy again
    if (right == 3) three.set();
  });
  request_id.reset(tok);
  ASSERT_TRUE(three.wait(60s));
  h.cancel();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ContextPropagation, MapAndNestedSubmits) {
  tandem::ThreadPoolExecutor ex(3);
  auto tok = request_id.set("outer");
  std::vector<int> xs{1, 2, 3, 4, 5, 6};
  std::vector<std::string> got;
  for (auto& s : ex.map([](int x) { return request_id.get() + std::to_string(x); }, xs))
    got.push_back(s);
  EXPECT_EQ(got.front(), "outer1");
  EXPECT_EQ(got.back(), "outer6");
  auto nested = ex.submit([&ex] {
    depth.set(1);
    return ex.submit([] { return request_id.get() + ":" + std::to_string(depth.get()); })
        .result();
  });
  EXPECT_EQ(nested.result(60s), "outer:1");
  EXPECT_EQ(depth.get(), 0);
  request_id.reset(tok);
}

TEST(ContextPropagation, TasksWithOptionsAndExplicitContextRun) {
  tandem::ThreadPoolExecutor ex(2);
  auto tok = request_id.set("opt");
  auto f = ex.submit(tandem::TaskOptions{.priority = 3}, [](std::stop_token) {
    return request_id.get();
  });
  EXPECT_EQ(f.result(60s), "opt");
  tandem::Context other;  // empty: the task sees the default, whatever the submitter has
  auto g = ex.submit([other]() mutable { return other.run([] { return request_id.get(); }); });
  EXPECT_EQ(g.result(60s), "-");
  request_id.reset(tok);
}
