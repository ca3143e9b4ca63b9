// SPDX-License-Identifier: MIT
// mp::Lock crash recovery latency (issue 4: "SIGKILL a lock holder — the others go on within
// 1 ms"): how long after a holder process is SIGKILLed does a process blocked in acquire()
// hold the lock?
//
// One sample per iteration: a holder process takes the lock and waits to be killed; an
// acquirer process blocks in acquire() (the benchmark waits until the kernel shows it
// sleeping, so the sample is a wake-up, not a spin); the parent takes a CLOCK_MONOTONIC
// time stamp and kill(holder, SIGKILL)s; the acquirer stamps the instant acquire() returned
// (with owner_died() true, else the iteration is an error) into shared memory. The time is
// kill() → acquire() returned: the kernel's teardown of the holder (its robust-futex list
// walk marks the mutex FUTEX_OWNER_DIED and wakes one waiter), the acquirer's wake-up and
// glibc's EOWNERDEAD path with pthread_mutex_consistent. Process creation is outside the
// timed span (manual time). Counters: median and 90th percentile of the samples, in µs.
// Two CPU wake-ups lie on the path (the killed holder must run its own exit, then the
// acquirer), so on a loaded machine the samples measure the scheduler: run it also under
// `chrt -f 10` (real-time priority, root) to see the recovery's own latency.
#include <benchmark/benchmark.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <new>
#include <string>
#include <vector>

#include "tandem/multiprocessing/lock.hpp"

namespace mp = tandem::mp;

namespace {

long long now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

struct Stamps {
  std::atomic<int> holding{0};
  std::atomic<int> blocking{0};
  std::atomic<long long> acquired_ns{0};
  std::atomic<int> owner_died{0};
};

/// Whether `pid` is asleep in the kernel ('S' in /proc/<pid>/stat).
bool sleeping(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() && s[close + 2] == 'S';
}

void BM_MpLock_KillHolderToAcquire(benchmark::State& state) {
  void* page = ::mmap(nullptr, sizeof(Stamps), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  auto* st = new (page) Stamps;
  std::vector<double> us;
  for (auto _ : state) {
    mp::Lock lock;
    st->holding = 0;
    st->blocking = 0;
    st->acquired_ns = 0;
    st->owner_died = 0;
    std::fflush(nullptr);
    const pid_t holder = ::fork();
    if (holder == 0) {
      lock.acquire();
      st->holding = 1;
      for (;;) ::pause();
    }
    while (st->holding.load() == 0) ::sched_yield();
    const pid_t acquirer = ::fork();
    if (acquirer == 0) {
      st->blocking = 1;
      lock.acquire();
      st->acquired_ns = now_ns();
      st->owner_died = lock.owner_died() ? 1 : 0;
      lock.release();
      ::_exit(0);
    }
    while (st->blocking.load() == 0) ::sched_yield();
    while (!sleeping(acquirer)) ::sched_yield();
    const long long killed = now_ns();
    ::kill(holder, SIGKILL);
    ::waitpid(acquirer, nullptr, 0);
    ::waitpid(holder, nullptr, 0);
    if (st->owner_died.load() != 1) {
      state.SkipWithError("the acquirer did not see owner_died()");
      break;
    }
    const double seconds = static_cast<double>(st->acquired_ns.load() - killed) * 1e-9;
    state.SetIterationTime(seconds);
    us.push_back(seconds * 1e6);
  }
  ::munmap(page, sizeof(Stamps));
  if (!us.empty()) {
    std::sort(us.begin(), us.end());
    state.counters["median_us"] = us[us.size() / 2];
    state.counters["p90_us"] = us[us.size() * 9 / 10];
    state.counters["max_us"] = us.back();
  }
}
BENCHMARK(BM_MpLock_KillHolderToAcquire)
    ->Iterations(300)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
