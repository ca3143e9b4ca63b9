// SPDX-License-Identifier: MIT
// A tour of time, priority and context on tandem's executors (docs/futures.md#timers):
//   1. a periodic health check (call_every), stopped with its handle
//   2. a delayed retry with exponential backoff (call_later), each attempt a Future
//   3. a prioritised queue of jobs (TaskOptions::priority) on a one-worker pool
//   4. a request id (ContextVar) that follows the work into the pool, and a deadline
//      (TaskOptions::timeout) that a task sees through its std::stop_token
#include <tandem/contextvars.hpp>
#include <tandem/futures.hpp>
#include <tandem/threading/event.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "common/demo.hpp"

using namespace std::chrono_literals;

namespace {
tandem::ContextVar<std::string> request_id{"request_id", "-"};

// A flaky service: fails the first two calls.
std::atomic<int> calls{0};
std::string fetch() {
  if (++calls < 3) throw tandem::RuntimeError("service unavailable");
  return "payload";
}

// Retries fetch() on the pool with delays 10 ms, 20 ms, 40 ms ... (a delayed retry).
std::string fetch_with_backoff(tandem::ThreadPoolExecutor& ex, int attempts) {
  std::chrono::milliseconds wait{0}, next{10};
  for (int i = 1;; ++i) {
    try {
      return ex.call_later(wait, fetch).result();
    } catch (const tandem::RuntimeError& e) {
      std::printf("   attempt %d failed (%s); retrying in %lld ms\n", i, e.what(),
                  static_cast<long long>(next.count()));
      if (i == attempts) throw;
      wait = next;
      next *= 2;
    }
  }
}
}  // namespace

int main(int argc, char** argv) {
  demo::init(argc, argv, "a tour of timers, priorities and context on tandem's executors");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  tandem::ThreadPoolExecutor ex(2);

  std::puts("1. periodic health check every 20 ms");
  {
    std::atomic<int> checks{0};
    tandem::Event three;
    tandem::PeriodicHandle h = ex.call_every(20ms, [&] {
      if (++checks == 3) three.set();
    });
    three.wait(30s);
    h.cancel();
    std::printf("   %d checks, then cancelled\n", checks.load() >= 3 ? 3 : checks.load());
  }

  std::puts("2. delayed retry with backoff");
  const std::string got = fetch_with_backoff(ex, 5);
  std::printf("   got %s after %d calls\n", got.c_str(), calls.load());

  std::puts("3. prioritised jobs on one worker (higher first)");
  {
    tandem::ThreadPoolExecutor one(1);
    tandem::Event gate;
    one.submit([&] { gate.wait(); });  // busy: the jobs below queue up
    std::mutex mu;
    std::vector<std::string> order;
    std::vector<tandem::Future<void>> jobs;
    const std::pair<const char*, int> specs[] = {{"report", 0}, {"alert", 10}, {"cleanup", -5},
                                                 {"email", 5}};
    for (auto [name, prio] : specs)
      jobs.push_back(one.submit(tandem::TaskOptions{.priority = prio}, [&, name = name] {
        std::lock_guard g(mu);
        order.push_back(name);
      }));
    gate.set();
    for (auto& j : jobs) j.result();
    std::string line;
    for (auto& o : order) line += " " + o;
    std::printf("   ran:%s\n", line.c_str());
  }

  std::puts("4. context and deadlines");
  {
    request_id.set("req-42");
    auto seen = ex.submit([] { return request_id.get(); }).result();
    std::printf("   the task saw request_id=%s\n", seen.c_str());
    auto slow = ex.submit(tandem::TaskOptions{.timeout = 50ms}, [](std::stop_token stop) {
      tandem::Event stopped;
      std::stop_callback cb(stop, [&] { stopped.set(); });
      stopped.wait(30s);  // a long job that honours its stop token
      return stop.stop_requested();
    });
    try {
      slow.result();
    } catch (const tandem::TimeoutError&) {
      std::puts("   the slow task passed its 50 ms deadline: TimeoutError, stop requested");
    }
  }
  std::puts("timers tour done");
  return 0;
}
