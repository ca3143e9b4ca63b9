// SPDX-License-Identifier: MIT
// Workload "lock": 2 threads, each doing N/2 locked increments of one shared counter
// (ANCHORS.md: std::mutex ~40-157 M ops/s, Python's threading.Lock ~4 M ops/s).
// Target: tandem::Lock >= 1.0x std::mutex.
#include <pthread.h>

#include <mutex>
#include <thread>

#include "compare/harness.hpp"
#include "tandem/threading/lock.hpp"

namespace tandem_bench {
namespace {

template <class Acquire, class Release>
double locked_increments(const Sizes& s, const char* name, Acquire acquire, Release release) {
  const std::size_t n = s.lock_ops();
  std::size_t counter = 0;
  StartGate gate(2);
  auto body = [&] {
    gate.arrive_and_wait();
    for (std::size_t i = 0; i < n / 2; ++i) {
      acquire();
      ++counter;
      release();
    }
  };
  std::thread a(body), b(body);
  auto t0 = gate.open();
  a.join();
  b.join();
  double secs = seconds_since(t0);
  if (counter != n) fail("lock", name, "lost increments");
  return static_cast<double>(n) / secs;
}

const Register tandem_lock("lock", "tandem::Lock", "ops/s", [](const Sizes& s) {
  tandem::Lock lock;
  return locked_increments(s, "tandem::Lock", [&] { lock.acquire(); }, [&] { lock.release(); });
});

const Register std_mutex("lock", "std::mutex", "ops/s", [](const Sizes& s) {
  std::mutex m;
  return locked_increments(s, "std::mutex", [&] { m.lock(); }, [&] { m.unlock(); });
});

}  // namespace
}  // namespace tandem_bench
