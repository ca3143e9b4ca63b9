// SPDX-License-Identifier: MIT
// Workload "thread pool": submit N trivial tasks (a*b*10 - c*2, the seed's ch11_08 formula)
// to a pool of 2 workers, keep every future, then collect every result (checksummed).
// Timed from the first submit to the last result; pool start-up is outside the timing
// (each pool first runs one task per worker). Peers:
//   oneTBB task_group in a 2-thread task_arena, results written into a vector (no futures);
//   Boost.Asio thread_pool(2) + std::packaged_task / std::future per task;
//   a mutex + condvar + deque pool of 2 threads + std::packaged_task (the textbook pool);
//   std::async(std::launch::async) per task — a thread per task, so N/50 tasks.
// Targets (issue 3): >= 10 M tasks/s, >= 1.2x tbb::task_group, >= 100x CPython.
//
// Workload "pool wake-up": an idle pool (workers asleep) gets one task; the time from
// submit() to the task's first instruction, in us (lower is better). One round trip per
// sample: the main thread waits for the result, then lets the workers fall asleep again.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "compare/harness.hpp"

#include "tandem/futures.hpp"
#if __has_include(<boost/asio/thread_pool.hpp>)
#define TANDEM_BENCH_HAVE_ASIO 1
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#endif
#ifdef TANDEM_BENCH_HAVE_TBB
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#endif

namespace tandem_bench {
namespace {

inline long task(long a, long b, long c) { return a * b * 10 - c * 2; }
long expected(std::size_t n) {
  long sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += task(static_cast<long>(i), 3, 7);
  return sum;
}
std::size_t pool_tasks(const Sizes& s) { return s.scaled(1'000'000); }

// The textbook pool: one mutex, one condvar, one deque of std::function.
class MutexPool {
 public:
  explicit MutexPool(int n) {
    for (int i = 0; i < n; ++i)
      ts_.emplace_back([this] {
        for (;;) {
          std::function<void()> job;
          {
            std::unique_lock l(mu_);
            cv_.wait(l, [&] { return stop_ || !q_.empty(); });
            if (q_.empty()) return;
            job = std::move(q_.front());
            q_.pop_front();
          }
          job();
        }
      });
  }
  ~MutexPool() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : ts_) t.join();
  }
  template <class F>
  auto submit(F f) {
    using R = decltype(f());
    auto pt = std::make_shared<std::packaged_task<R()>>(std::move(f));
    auto fut = pt->get_future();
    {
      std::lock_guard l(mu_);
      q_.emplace_back([pt] { (*pt)(); });
    }
    cv_.notify_one();
    return fut;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool stop_ = false;
  std::vector<std::thread> ts_;
};

template <class Fut, class Submit>
double futures_run(const char* name, std::size_t n, Submit submit) {
  std::vector<Fut> fs;
  fs.reserve(n);
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i) fs.push_back(submit(static_cast<long>(i)));
  long sum = 0;
  for (auto& f : fs) sum += f.get();
  double secs = seconds_since(t0);
  if (sum != expected(n)) fail("thread pool", name, "wrong checksum");
  return static_cast<double>(n) / secs;
}

Register tandem_pool("thread pool", "tandem::ThreadPoolExecutor", "tasks/s", [](const Sizes& s) {
  const std::size_t n = pool_tasks(s);
  tandem::ThreadPoolExecutor ex(2);
  ex.submit([] { return 0; }).result();
  ex.submit([] { return 0; }).result();
  std::vector<tandem::Future<long>> fs;
  fs.reserve(n);
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i) fs.push_back(ex.submit(task, static_cast<long>(i), 3L, 7L));
  long sum = 0;
  for (auto& f : fs) sum += f.result();
  double secs = seconds_since(t0);
  if (sum != expected(n)) fail("thread pool", "tandem", "wrong checksum");
  return static_cast<double>(n) / secs;
});

#ifdef TANDEM_BENCH_HAVE_TBB
Register tbb_group("thread pool", "tbb::task_group", "tasks/s", [](const Sizes& s) {
  const std::size_t n = pool_tasks(s);
  tbb::task_arena arena(2);
  std::vector<long> out(n);
  tbb::task_group g;
  arena.execute([&] {
    g.run([] {});
    g.wait();
  });
  auto t0 = Clock::now();
  arena.execute([&] {
    for (std::size_t i = 0; i < n; ++i)
      g.run([&out, i] { out[i] = task(static_cast<long>(i), 3, 7); });
    g.wait();
  });
  long sum = 0;
  for (long v : out) sum += v;
  double secs = seconds_since(t0);
  if (sum != expected(n)) fail("thread pool", "tbb", "wrong checksum");
  return static_cast<double>(n) / secs;
});
#endif

#ifdef TANDEM_BENCH_HAVE_ASIO
Register asio_pool("thread pool", "boost::asio::thread_pool+packaged_task", "tasks/s",
                   [](const Sizes& s) {
                     boost::asio::thread_pool pool(2);
                     double r = futures_run<std::future<long>>(
                         "asio", pool_tasks(s), [&](long i) {
                           std::packaged_task<long()> pt([i] { return task(i, 3, 7); });
                           auto f = pt.get_future();
                           boost::asio::post(pool, std::move(pt));
                           return f;
                         });
                     pool.join();
                     return r;
                   });
#endif

Register mutex_pool("thread pool", "mutex+condvar pool+packaged_task", "tasks/s",
                    [](const Sizes& s) {
                      MutexPool pool(2);
                      return futures_run<std::future<long>>("mutex pool", pool_tasks(s), [&](long i) {
                        return pool.submit([i] { return task(i, 3, 7); });
                      });
                    });

Register std_async("thread pool", "std::async (N/50 tasks)", "tasks/s", [](const Sizes& s) {
  return futures_run<std::future<long>>("std::async", pool_tasks(s) / 50, [](long i) {
    return std::async(std::launch::async, [i] { return task(i, 3, 7); });
  });
});

// ---- pool wake-up ----------------------------------------------------------------------

std::size_t wakeups(const Sizes& s) { return s.scaled(300); }
// Long enough for every pool's workers to stop spinning and sleep in the kernel.
void let_sleep() { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }

template <class Submit>
double wake_run(const Sizes& s, Submit submit) {
  const std::size_t n = wakeups(s);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    let_sleep();
    std::atomic<long long> started{0};
    auto t0 = Clock::now();
    submit([&] {
      started.store(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(),
                    std::memory_order_release);
    });
    long long ns;
    while ((ns = started.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
    total += static_cast<double>(ns) / 1e3;
  }
  return total / static_cast<double>(n);
}

Register tandem_wake("pool wake-up", "tandem::ThreadPoolExecutor", "us/rt", [](const Sizes& s) {
  tandem::ThreadPoolExecutor ex(2);
  ex.submit([] {}).result();
  return wake_run(s, [&](auto fn) { ex.submit(fn); });
});
#ifdef TANDEM_BENCH_HAVE_ASIO
Register asio_wake("pool wake-up", "boost::asio::thread_pool", "us/rt", [](const Sizes& s) {
  boost::asio::thread_pool pool(2);
  double r = wake_run(s, [&](auto fn) { boost::asio::post(pool, fn); });
  pool.join();
  return r;
});
#endif
#ifdef TANDEM_BENCH_HAVE_TBB
Register tbb_wake("pool wake-up", "tbb::task_arena::enqueue", "us/rt", [](const Sizes& s) {
  tbb::task_arena arena(2);
  double r = wake_run(s, [&](auto fn) { arena.enqueue(fn); });
  return r;
});
#endif
Register mutex_wake("pool wake-up", "mutex+condvar pool", "us/rt", [](const Sizes& s) {
  MutexPool pool(2);
  return wake_run(s, [&](auto fn) { pool.submit(fn); });
});

}  // namespace
}  // namespace tandem_bench
