// SPDX-License-Identifier: MIT
// <tandem/contextvars.hpp> — ports of CPython Lib/test/test_context.py (ContextTest; the
// HAMT tests test CPython's map, not the API), each naming its CPython test, plus tandem's
// own: the propagation contract (copies, threads, moves) and Thread(context=...).
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/contextvars.hpp"
#include "tandem/threading/event.hpp"
#include "tandem/threading/thread.hpp"

namespace {

using tandem::Context;
using tandem::ContextVar;

// CPython's @isolated_context: the body runs in a fresh empty Context, so the main
// thread's base context carries nothing from one test to the next.
template <class F>
void isolated(F f) {
  Context().run(f);
}

// assertRaisesRegex(E, text): f() throws E whose message contains `text`.
template <class E, class F>
void expect_raises(F f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "nothing thrown; expected " << text;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

// test_context_var_new_1
TEST(ContextVar, New1) {
  ContextVar<int> c("aaa");
  EXPECT_EQ(c.name(), "aaa");
  EXPECT_FALSE(c.default_value().has_value());
  ContextVar<int> d("aaa", 123);
  EXPECT_EQ(d.default_value(), 123);
}

// test_context_get_context_1 / test_context_new_1: a fresh Context is empty
TEST(Context, New1) {
  isolated([] {
    Context ctx = tandem::copy_context();
    EXPECT_EQ(ctx.size(), 0u);
    EXPECT_TRUE(Context().empty());
  });
}

// test_context_run_2: arguments are forwarded and the result returned
TEST(Context, Run2) {
  Context ctx;
  auto f = [](std::vector<int> args, int extra) {
    args.push_back(extra);
    return args;
  };
  EXPECT_EQ(ctx.run(f, std::vector<int>{}, 0), (std::vector<int>{0}));
  EXPECT_EQ(ctx.run(f, std::vector<int>{1}, 2), (std::vector<int>{1, 2}));
  int x = 5;
  int& r = ctx.run([&x]() -> int& { return x; });  // references pass through decltype(auto)
  EXPECT_EQ(&r, &x);
}

// test_context_run_3: an exception passes through run()
TEST(Context, Run3) {
  Context ctx;
  auto func = [](int, int) -> int { throw std::domain_error("division by zero"); };
  EXPECT_THROW(ctx.run(func, 1, 2), std::domain_error);
  EXPECT_THROW(ctx.run(func, 1, 2), std::domain_error);  // and the context was left
}

// test_context_run_4
TEST(Context, Run4) {
  isolated([] {
    Context ctx1, ctx2;
    ContextVar<std::string> var("var");
    auto func2 = [&] { EXPECT_EQ(var.get("none"), "none"); };
    auto func1 = [&] {
      EXPECT_EQ(var.get("none"), "none");
      var.set("spam");
      ctx2.run(func2);
      EXPECT_EQ(var.get("none"), "spam");
      Context cur = tandem::copy_context();
      EXPECT_EQ(cur.size(), 1u);
      EXPECT_EQ(cur.get(var), "spam");
      return cur;
    };
    Context returned = ctx1.run(func1);
    EXPECT_EQ(returned.get(var), "spam");
    EXPECT_TRUE(returned.contains(var));
    EXPECT_EQ(ctx1.get(var), "spam");
  });
}

// test_context_run_5: a set() before an exception stays in the Context, not outside it
TEST(Context, Run5) {
  isolated([] {
    Context ctx;
    ContextVar<std::string> var("var");
    EXPECT_THROW(ctx.run([&] {
      EXPECT_EQ(var.get("none"), "none");
      var.set("spam");
      throw std::domain_error("x");
    }),
                 std::domain_error);
    EXPECT_EQ(var.get("none"), "none");
    EXPECT_EQ(ctx.get(var), "spam");
  });
}

// test_context_run_6
TEST(Context, Run6) {
  Context ctx;
  ContextVar<int> c("a", 0);
  ctx.run([&] {
    EXPECT_EQ(c.get(), 0);
    EXPECT_EQ(ctx.get(c), std::nullopt);
    c.set(42);
    EXPECT_EQ(c.get(), 42);
    EXPECT_EQ(ctx.get(c), 42);
  });
}

// test_context_run_7: entering an entered Context is a RuntimeError
TEST(Context, Run7) {
  Context ctx;
  bool raised = false;
  ctx.run([&] {
    try {
      ctx.run([] {});
    } catch (const tandem::RuntimeError& e) {
      raised = true;
      std::string what = e.what();
      EXPECT_EQ(what.rfind("cannot enter context: <tandem.Context object at 0x", 0), 0u) << what;
      EXPECT_NE(what.find("> is already entered"), std::string::npos) << what;
    }
  });
  EXPECT_TRUE(raised);
  ctx.run([] {});  // left cleanly: may be entered again
}

// The rvalue run() (a task's private Context) still detects recursion.
TEST(Context, RunRvalueDetectsRecursion) {
  Context ctx;
  std::move(ctx).run([&] { EXPECT_THROW(ctx.run([] {}), tandem::RuntimeError); });
  ctx.run([] {});
}

// test_context_getset_1
TEST(ContextVar, Getset1) {
  isolated([] {
    ContextVar<std::string> c("c");
    EXPECT_THROW(c.get(), tandem::LookupError);
    EXPECT_EQ(c.get("none"), "none");

    auto t0 = c.set("42");
    EXPECT_EQ(c.get(), "42");
    EXPECT_EQ(t0.old_value(), std::nullopt);  // Token.MISSING
    EXPECT_EQ(&t0.var(), &c);

    auto t = c.set("spam");
    EXPECT_EQ(c.get(), "spam");
    EXPECT_EQ(t.old_value(), "42");
    c.reset(t);
    EXPECT_EQ(c.get(), "42");

    c.set("spam2");
    expect_raises<tandem::RuntimeError>([&] { c.reset(t); }, "has already been used");
    EXPECT_EQ(c.get(), "spam2");

    Context ctx1 = tandem::copy_context();
    EXPECT_TRUE(ctx1.contains(c));

    auto t0_copy = t0;  // copies share the used flag
    c.reset(t0);
    EXPECT_THROW(c.reset(t0_copy), tandem::RuntimeError);
    EXPECT_EQ(c.get("none"), "none");

    EXPECT_TRUE(ctx1.contains(c));
    EXPECT_EQ(ctx1.get(c), "spam2");
    EXPECT_EQ(ctx1.get(c, std::string("aa")), "spam2");
    EXPECT_EQ(ctx1.size(), 1u);

    Context ctx2 = tandem::copy_context();
    EXPECT_FALSE(ctx2.contains(c));
    EXPECT_EQ(ctx2.get(c), std::nullopt);
    EXPECT_EQ(ctx2.get(c, std::string("aa")), "aa");
    EXPECT_EQ(ctx2.size(), 0u);
  });
}

// test_context_getset_2
TEST(ContextVar, Getset2) {
  isolated([] {
    ContextVar<int> v1("v1"), v2("v2");
    auto t1 = v1.set(42);
    expect_raises<tandem::ValueError>([&] { v2.reset(t1); }, "by a different");
  });
}

// test_context_getset_3
TEST(ContextVar, Getset3) {
  isolated([] {
    ContextVar<int> c("c", 42);
    Context ctx;
    ctx.run([&] {
      EXPECT_EQ(c.get(), 42);
      EXPECT_EQ(ctx.get(c), std::nullopt);
      EXPECT_EQ(ctx.get(c, -1), -1);
      EXPECT_FALSE(ctx.contains(c));
      EXPECT_EQ(ctx.size(), 0u);
      auto t = c.set(1);
      EXPECT_EQ(ctx.size(), 1u);
      EXPECT_EQ(ctx.get(c), 1);
      c.reset(t);
      EXPECT_EQ(ctx.size(), 0u);
      EXPECT_EQ(ctx.get(c), std::nullopt);
    });
  });
}

// test_context_getset_4: a token made inside ctx.run is foreign outside it
TEST(ContextVar, Getset4) {
  isolated([] {
    ContextVar<int> c("c", 42);
    Context ctx;
    auto tok = ctx.run([&] { return c.set(1); });
    expect_raises<tandem::ValueError>([&] { c.reset(tok); }, "different Context");
  });
}

// test_context_getset_5: a copy's changes never reach the original
TEST(ContextVar, Getset5) {
  isolated([] {
    using List = std::shared_ptr<std::vector<int>>;
    ContextVar<List> c("c", nullptr);
    c.set(std::make_shared<std::vector<int>>());
    tandem::copy_context().run([&] {
      c.set(std::make_shared<std::vector<int>>());
      c.get()->push_back(42);
      EXPECT_EQ(*c.get(), std::vector<int>{42});
    });
    EXPECT_TRUE(c.get()->empty());
  });
}

// test_context_copy_1
TEST(Context, Copy1) {
  Context ctx1;
  ContextVar<int> c("c", 42);
  Context ctx2;
  ctx1.run([&] {
    c.set(10);
    ctx2 = ctx1.copy();
    EXPECT_EQ(ctx2.get(c), 10);
    c.set(20);
    EXPECT_EQ(ctx1.get(c), 20);
    EXPECT_EQ(ctx2.get(c), 10);
    ctx2.run([&] {
      EXPECT_EQ(c.get(), 10);
      c.set(30);
      EXPECT_EQ(c.get(), 30);
    });
    EXPECT_EQ(ctx1.get(c), 20);
    EXPECT_EQ(ctx2.get(c), 30);
  });
}

// test_context_threads_1 (with tandem::Thread instead of a pool): each thread's sets stay
// in that thread.
TEST(Context, Threads1) {
  ContextVar<int> cvar("cvar");
  std::vector<int> results(10, -1);
  std::vector<std::unique_ptr<tandem::Thread>> threads;
  tandem::Event go;
  for (int num = 0; num < 10; ++num) {
    threads.push_back(std::make_unique<tandem::Thread>([&, num] {
      go.wait();
      bool ok = true;
      for (int i = 0; i < 1000; ++i) {
        cvar.set(num * 1000 + i);
        ok = ok && cvar.get() == num * 1000 + i;
      }
      results[num] = ok ? num : -2;
    }));
    threads.back()->start();
  }
  go.set();
  for (auto& t : threads) t->join();
  for (int num = 0; num < 10; ++num) EXPECT_EQ(results[num], num);
}

// ---- tandem's own --------------------------------------------------------------------------

// A copied Context runs on another thread with the values of the copying thread, and what
// it sets there is seen in that Context object afterwards, never in the copier's context.
TEST(Context, RunOnAnotherThread) {
  isolated([] {
    ContextVar<std::string> rid("request_id", "-");
    rid.set("r-42");
    Context ctx = tandem::copy_context();
    std::string seen;
    tandem::Thread t([&] {
      EXPECT_EQ(rid.get(), "-");  // the thread's own context is empty
      seen = ctx.run([&] {
        std::string v = rid.get();
        rid.set("changed");
        return v;
      });
      EXPECT_EQ(rid.get(), "-");
    });
    t.start();
    t.join();
    EXPECT_EQ(seen, "r-42");
    EXPECT_EQ(ctx.get(rid), "changed");
    EXPECT_EQ(rid.get(), "r-42");
  });
}

// copy_context() of an empty context is an empty Context; moves keep the values.
TEST(Context, EmptyCopyAndMove) {
  isolated([] {
    Context e = tandem::copy_context();
    EXPECT_TRUE(e.empty());
    ContextVar<int> v("v");
    v.set(1);
    Context a = tandem::copy_context();
    Context b = std::move(a);
    EXPECT_EQ(b.get(v), 1);
    Context c;
    c = b;
    EXPECT_EQ(c.get(v), 1);
    EXPECT_EQ(std::move(c).run([&] { return v.get(); }), 1);
  });
}

// Setting a variable back to nothing through reset() empties the context again.
TEST(ContextVar, ResetToMissingEmptiesTheContext) {
  isolated([] {
    ContextVar<int> v("v");
    auto t = v.set(1);
    EXPECT_EQ(tandem::copy_context().size(), 1u);
    v.reset(t);
    EXPECT_EQ(tandem::copy_context().size(), 0u);
    EXPECT_THROW(v.get(), tandem::LookupError);
  });
}

// Thread(context=...): the thread runs in the given Context; by default in an empty one.
TEST(ThreadContext, ThreadRunsInGivenContext) {
  isolated([] {
    ContextVar<int> v("v", 0);
    v.set(7);
    int by_default = -1, given = -1;
    tandem::Thread plain([&] { by_default = v.get(); });
    tandem::Thread with([&] {
      given = v.get();
      v.set(8);
    }, tandem::ThreadOptions{.context = tandem::copy_context()});
    plain.start();
    with.start();
    plain.join();
    with.join();
    EXPECT_EQ(by_default, 0);
    EXPECT_EQ(given, 7);
    EXPECT_EQ(v.get(), 7);
  });
}

}  // namespace
