// SPDX-License-Identifier: MIT
// The block pool behind every future's state (tandem/futures/detail/block_pool.hpp): sizes and
// alignment, blocks that move between threads, thread exit (the cache goes to the central
// lists, and a state freed after that still finds a home), and fork while other threads
// allocate. (Under ASan the pool steps aside for plain operator new: the tests of its lists
// are skipped there; the others still run.)
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "tandem/futures.hpp"
#include "tandem/futures/detail/block_pool.hpp"

namespace td = tandem::detail;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif
#else
constexpr bool kTsan = false;
#endif

// Fills a block with a pattern naming its owner; check() finds any overlap with another live
// block (two owners writing the same bytes).
void fill(void* p, std::size_t n, std::uint8_t tag) { std::memset(p, tag, n); }
bool check(const void* p, std::size_t n, std::uint8_t tag) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != tag) return false;
  return true;
}

}  // namespace

TEST(BlockPool, EverySizeIsClassAlignedAndWholeAndDistinct) {
  std::vector<std::pair<void*, std::size_t>> live;
  for (std::size_t n = 1; n <= td::kMaxBytes + 200; n += 7) {
    void* p = td::block_alloc(n);
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % td::kClassBytes, 0u) << n;
    fill(p, n, static_cast<std::uint8_t>(n));
    live.emplace_back(p, n);
  }
  for (auto [p, n] : live) {
    EXPECT_TRUE(check(p, n, static_cast<std::uint8_t>(n))) << "block of " << n << " overwritten";
    td::block_free(p, n);
  }
}

// A million live futures cost a million states of fresh memory: the core stays at 32 bytes
// (the callback list is out of line), and a state whose value or task is over-aligned gets
// its alignment (FutureCore's aligned operator new) even though pool blocks are 16-aligned.
TEST(BlockPool, FutureStatesAreSmallAndKeepTheirAlignment) {
  if constexpr (sizeof(void*) == 8 && sizeof(std::exception_ptr) == 8) {
    EXPECT_EQ(sizeof(td::FutureCore), 32u);
    EXPECT_EQ(sizeof(td::FutureState<long>), 40u);
  }
  struct alignas(128) Wide {
    long v[4];
  };
  tandem::ThreadPoolExecutor ex(1);
  std::vector<tandem::Future<Wide>> fs;
  for (int i = 0; i < 64; ++i) fs.push_back(ex.submit([i] { return Wide{{i, i, i, i}}; }));
  for (int i = 0; i < 64; ++i) {
    const Wide& w = fs[static_cast<std::size_t>(i)].result();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&w) % 128, 0u);
    EXPECT_EQ(w.v[3], i);
  }
  tandem::Future<long> f;
  std::atomic<int> calls{0};
  f.add_done_callback([&](tandem::Future<long>) { calls.fetch_add(1); });
  f.add_done_callback([&](tandem::Future<long>) { calls.fetch_add(1); });
  f.set_result(7);
  EXPECT_EQ(calls.load(), 2);
  f.add_done_callback([&](tandem::Future<long>) { calls.fetch_add(1); });  // done: at once
  EXPECT_EQ(calls.load(), 3);
}

// A thread's cache goes to the central list when the thread exits: the blocks are not lost
// with the thread.
TEST(BlockPool, ThreadExitReturnsItsCache) {
  if (!td::block_pool_active()) GTEST_SKIP() << "AddressSanitizer build: no pool";
  constexpr std::size_t kBytes = 29 * td::kClassBytes - 3;  // a class nothing else here uses
  constexpr int kBlocks = 1000;
  const std::size_t before = td::block_pool_central_count(kBytes);
  std::thread([] {
    std::vector<void*> v;
    for (int i = 0; i < kBlocks; ++i) v.push_back(td::block_alloc(kBytes));
    for (void* p : v) td::block_free(p, kBytes);
  }).join();
  const std::size_t after = td::block_pool_central_count(kBytes);
  EXPECT_GE(after, before);
  EXPECT_GE(after, static_cast<std::size_t>(kBlocks));  // all 1000 were alive at once
}

// A block freed by a thread_local destructor that runs after the cache's flush (destruction
// is in reverse order of construction) goes straight to the central list.
TEST(BlockPool, FreeAfterTheThreadsCacheIsGone) {
  if (!td::block_pool_active()) GTEST_SKIP() << "AddressSanitizer build: no pool";
  constexpr std::size_t kBytes = 30 * td::kClassBytes;
  const std::size_t before = td::block_pool_central_count(kBytes);
  std::thread([] {
    struct Late {
      void* p = nullptr;
      ~Late() { td::block_free(p, kBytes); }
    };
    thread_local Late late;  // constructed before the pool's flusher: destroyed after it
    late.p = td::block_alloc(kBytes);
    fill(late.p, kBytes, 0x5a);
  }).join();
  EXPECT_GE(td::block_pool_central_count(kBytes), before + 1);
}

// Blocks allocated in one thread and freed in another (a future dropped by whoever holds the
// last reference), many threads at once: no block is ever handed to two owners.
TEST(BlockPool, CrossThreadFreesNeverHandOutABlockTwice) {
  constexpr int kPairs = 4;
  constexpr int kPerProducer = 50000;
  struct Item {
    void* p;
    std::size_t n;
    std::uint8_t tag;
  };
  struct Handoff {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Item> q;
  };
  std::vector<Handoff> hs(kPairs);
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int k = 0; k < kPairs; ++k) {
    ts.emplace_back([&, k] {  // producer
      for (int i = 0; i < kPerProducer; ++i) {
        const std::size_t n = 40 + static_cast<std::size_t>((i * 37 + k) % 200);
        void* p = td::block_alloc(n);
        const auto tag = static_cast<std::uint8_t>(i * 13 + k);
        fill(p, 40, tag);
        auto& h = hs[static_cast<std::size_t>(k)];
        {
          std::lock_guard l(h.mu);
          h.q.push_back(Item{p, n, tag});
        }
        h.cv.notify_one();
      }
    });
    ts.emplace_back([&, k] {  // consumer: checks, then frees (with its own allocations mixed in)
      auto& h = hs[static_cast<std::size_t>(k)];
      int freed = 0;
      std::vector<void*> mine;
      while (freed < kPerProducer) {
        Item item{};
        {
          std::unique_lock l(h.mu);
          h.cv.wait(l, [&] { return !h.q.empty(); });
          item = h.q.front();
          h.q.pop_front();
        }
        if (!check(item.p, 40, item.tag)) bad.fetch_add(1);
        td::block_free(item.p, item.n);
        ++freed;
        if (freed % 3 == 0) mine.push_back(td::block_alloc(64));
        if (mine.size() > 100) {
          for (void* p : mine) td::block_free(p, 64);
          mine.clear();
        }
      }
      for (void* p : mine) td::block_free(p, 64);
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// fork() while other threads allocate and free: the child can allocate (the central lists
// were not inherited mid-update or locked).
TEST(BlockPool, ForkWhileOtherThreadsAllocate) {
  // Under ASan the pool is not in use, and ASan's own allocator is not safe to fork while
  // other threads allocate (its child can hang on an inherited lock): nothing of ours to test.
  if (!td::block_pool_active()) GTEST_SKIP() << "AddressSanitizer build: no pool";
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int k = 0; k < 2; ++k)
    ts.emplace_back([&] {
      std::vector<void*> v;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 600; ++i) v.push_back(td::block_alloc(100));
        for (void* p : v) td::block_free(p, 100);
        v.clear();
      }
    });
  struct Joiner {  // the threads stop on every way out of the test, failed asserts included
    std::atomic<bool>& stop;
    std::vector<std::thread>& ts;
    ~Joiner() {
      stop = true;
      for (auto& t : ts) t.join();
    }
  } joiner{stop, ts};
  for (int round = 0; round < 20; ++round) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::vector<void*> v;
      for (int i = 0; i < 2000; ++i) v.push_back(td::block_alloc(100));
      for (void* p : v) td::block_free(p, 100);
      // And a real future, whose state comes from the pool (not under TSan, which refuses to
      // start threads in the child of a multi-threaded process).
      if (kTsan) _exit(0);
      tandem::ThreadPoolExecutor ex(1);
      _exit(ex.submit([] { return 7; }).result() == 7 ? 0 : 1);
    }
    // A child stuck on an inherited lock would never exit: wait with a generous deadline.
    const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    ASSERT_GE(pfd, 0);
    pollfd p{pfd, POLLIN, 0};
    const int r = ::poll(&p, 1, 60'000);
    ::close(pfd);
    if (r != 1) ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_EQ(r, 1) << "the child of round " << round << " hung";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
}
