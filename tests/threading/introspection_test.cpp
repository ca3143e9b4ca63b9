// SPDX-License-Identifier: MIT
// enumerate(), active_count(), main_thread(), get_ident(), get_native_id(), stack_size() —
// ports of the parts of CPython Lib/test/test_threading.py about them (ThreadTests), each
// naming its CPython test, plus tandem's own: pool workers, renames, daemon flags.
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tandem/futures.hpp"
#include "tandem/threading/event.hpp"
#include "tandem/threading/introspection.hpp"
#include "tandem/threading/thread.hpp"

namespace {

bool listed(const std::vector<tandem::ThreadInfo>& all, const std::string& name) {
  return std::any_of(all.begin(), all.end(), [&](const auto& t) { return t.name == name; });
}

// Restores the default stack size when a test ends.
struct StackSizeGuard {
  ~StackSizeGuard() { tandem::stack_size(0); }
};

// test_main_thread
TEST(Introspection, MainThread) {
  tandem::ThreadInfo main = tandem::main_thread();
  EXPECT_EQ(main.name, "MainThread");
  EXPECT_EQ(main.ident, std::this_thread::get_id());  // gtest runs tests on the main thread
  EXPECT_EQ(main.ident, tandem::get_ident());
  EXPECT_EQ(main.native_id, static_cast<long>(::getpid()));
  EXPECT_FALSE(main.daemon);
  bool differs = false;
  tandem::Thread th([&] { differs = tandem::main_thread().ident != tandem::get_ident(); });
  th.start();
  th.join();
  EXPECT_TRUE(differs);
}

// test_various_ops (its native-id part): every thread has its own native id, and a
// Thread's ident / native_id are what get_ident() / get_native_id() say inside it.
TEST(Introspection, NativeIdsAreDistinct) {
  constexpr int kThreads = 10;
  tandem::Event release;
  std::vector<std::unique_ptr<tandem::Thread>> threads;
  std::vector<long> inside(kThreads);
  std::vector<std::thread::id> ident_inside(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.push_back(std::make_unique<tandem::Thread>([&, i] {
      inside[static_cast<std::size_t>(i)] = tandem::get_native_id();
      ident_inside[static_cast<std::size_t>(i)] = tandem::get_ident();
      release.wait();
    }));
    threads.back()->start();
  }
  std::set<long> ids{tandem::get_native_id()};
  for (auto& t : threads) ids.insert(t->native_id().value());
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads + 1));
  release.set();
  for (int i = 0; i < kThreads; ++i) {
    threads[static_cast<std::size_t>(i)]->join();
    EXPECT_EQ(inside[static_cast<std::size_t>(i)], threads[static_cast<std::size_t>(i)]->native_id());
    EXPECT_EQ(ident_inside[static_cast<std::size_t>(i)], threads[static_cast<std::size_t>(i)]->ident());
  }
  EXPECT_EQ(tandem::get_native_id(), static_cast<long>(::gettid()));
}

// test_enumerate_after_join: a joined thread is never listed.
TEST(Introspection, EnumerateAfterJoin) {
  for (int i = 0; i < 100; ++i) {
    tandem::Thread t([] {}, tandem::ThreadOptions{.name = "enum-after-join"});
    t.start();
    t.join();
    auto all = tandem::enumerate();
    ASSERT_FALSE(listed(all, "enum-after-join")) << "trial " << i;
  }
}

// active_count() / enumerate() list running Threads with their current name, ident,
// native id and daemon flag; the main thread comes first.
TEST(Introspection, EnumerateListsLiveThreads) {
  std::size_t base = tandem::active_count();
  tandem::Event release;
  tandem::Thread a([&] { release.wait(); }, tandem::ThreadOptions{.name = "intro-a"});
  tandem::Thread b([&] { release.wait(); }, tandem::ThreadOptions{.name = "intro-b", .daemon = true});
  a.start();
  b.start();
  a.set_name("intro-a2");
  auto all = tandem::enumerate();
  EXPECT_EQ(tandem::active_count(), base + 2);
  EXPECT_EQ(all.size(), base + 2);
  EXPECT_EQ(all.front().name, "MainThread");
  auto find = [&](const std::string& n) {
    return *std::find_if(all.begin(), all.end(), [&](const auto& t) { return t.name == n; });
  };
  ASSERT_TRUE(listed(all, "intro-a2"));
  ASSERT_TRUE(listed(all, "intro-b"));
  EXPECT_FALSE(listed(all, "intro-a"));
  EXPECT_EQ(find("intro-a2").ident, a.ident());
  EXPECT_EQ(find("intro-a2").native_id, a.native_id());
  EXPECT_FALSE(find("intro-a2").daemon);
  EXPECT_TRUE(find("intro-b").daemon);
  release.set();
  a.join();
  b.join();
  EXPECT_EQ(tandem::active_count(), base);
}

// Pool workers are listed under their Python names while the pool lives.
TEST(Introspection, PoolWorkersAreListed) {
  std::size_t base = tandem::active_count();
  {
    tandem::ThreadPoolExecutor pool(tandem::ThreadPoolOptions{2, "intro_pool", {}});
    std::string name = pool.submit([] { return tandem::current_thread_name(); }).result();
    EXPECT_EQ(name.rfind("intro_pool_", 0), 0u) << name;
    auto all = tandem::enumerate();
    EXPECT_TRUE(listed(all, name));
    for (const auto& t : all) {
      if (t.name == name) {
        EXPECT_FALSE(t.daemon);
      }
    }
  }
  EXPECT_EQ(tandem::active_count(), base);  // shutdown(wait) joined the workers
}

// test_various_ops_small_stack / _large_stack: stack_size(n) applies to later starts and
// returns the previous size; below 32 KiB (but not 0) is a ValueError.
TEST(Introspection, StackSize) {
  StackSizeGuard guard;
  EXPECT_EQ(tandem::stack_size(), 0u);
  for (std::size_t size : {std::size_t{262144}, std::size_t{0x100000}}) {
    std::size_t previous = tandem::stack_size();
    EXPECT_EQ(tandem::stack_size(size), previous);
    EXPECT_EQ(tandem::stack_size(), size);
    std::size_t seen = 0;
    tandem::Thread t([&] {
      pthread_attr_t attr;
      ASSERT_EQ(::pthread_getattr_np(::pthread_self(), &attr), 0);
      ::pthread_attr_getstacksize(&attr, &seen);
      ::pthread_attr_destroy(&attr);
    });
    t.start();
    t.join();
#if defined(__SANITIZE_THREAD__)
    EXPECT_GE(seen, size);  // TSan's pthread_create adds room for its own bookkeeping
#else
    EXPECT_EQ(seen, size);
#endif
  }
  try {
    tandem::stack_size(1000);
    ADD_FAILURE() << "no ValueError";
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "size not valid: 1000 bytes");
  }
  EXPECT_EQ(tandem::stack_size(), 0x100000u);  // unchanged by the failed call
  EXPECT_EQ(tandem::stack_size(0), 0x100000u);
  EXPECT_EQ(tandem::stack_size(32 * 1024), 0u);
}

}  // namespace
