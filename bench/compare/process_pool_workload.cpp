// SPDX-License-Identifier: MIT
// Workloads "process pool*": tandem::ProcessPoolExecutor(2) against CPython's
// ProcessPoolExecutor (bench/python/workloads.py), side by side in one run.
//   process pool        submit N trivial tasks (a*b*10 - c*2), keep the futures, sum results
//   process pool map    map over N items, chunksize 1000, sum the results
//   process pool crash  a worker is SIGKILLed; time until a task submitted then has its
//                       result (death seen via pidfd, the spare promoted, task run), in us.
//                       Each round starts from a pool at full strength (its spare ready,
//                       waited for outside the timing): a crash, not a burst of crashes.
//   process pool timeout  as "process pool" with TaskOptions{.timeout = 60 s} on every task
// Pool start-up is outside the timing (each pool first runs one task per worker).
// Targets (issue 5): >= 1 M tasks/s submit+result (CPython ~10 k/s), >= 20 M tasks/s map.
#include <signal.h>
#include <unistd.h>

#include <vector>

#include "compare/harness.hpp"

#include "tandem/process_pool.hpp"

namespace tandem_bench {
namespace {

long task(long a, long b, long c) { return a * b * 10 - c * 2; }
long square_task(long a) { return a * 3; }

double submit_rate(const Sizes& s, bool timed) {
  const std::size_t n = s.scaled(1'000'000);
  tandem::ProcessPoolExecutor ex(2);
  ex.submit(task, 0L, 0L, 0L).result();
  ex.submit(task, 0L, 0L, 0L).result();
  auto t0 = Clock::now();
  std::vector<tandem::Future<long>> fs;
  fs.reserve(n);
  tandem::TaskOptions o;
  if (timed) o.timeout = tandem::duration(60);
  for (std::size_t i = 0; i < n; ++i)
    fs.push_back(ex.submit(o, task, static_cast<long>(i), 3L, 7L));
  long sum = 0;
  for (auto& f : fs) sum += f.result();
  const double secs = seconds_since(t0);
  long want = 0;
  for (std::size_t i = 0; i < n; ++i) want += task(static_cast<long>(i), 3, 7);
  if (sum != want) std::abort();
  return static_cast<double>(n) / secs;
}

Register pp_submit("process pool", "tandem::ProcessPoolExecutor", "tasks/s",
                   [](const Sizes& s) { return submit_rate(s, false); });
Register pp_timeout("process pool timeout", "tandem::ProcessPoolExecutor", "tasks/s",
                    [](const Sizes& s) { return submit_rate(s, true); });

Register pp_map("process pool map", "tandem::ProcessPoolExecutor", "tasks/s",
                [](const Sizes& s) {
                  const std::size_t n = s.scaled(20'000'000);
                  std::vector<long> in(n);
                  for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<long>(i);
                  tandem::ProcessPoolExecutor ex(2);
                  ex.submit(task, 0L, 0L, 0L).result();
                  auto t0 = Clock::now();
                  long sum = 0;
                  for (long r : ex.map(square_task, in, tandem::MapOptions{.chunksize = 1000}))
                    sum += r;
                  const double secs = seconds_since(t0);
                  long want = 0;
                  for (long v : in) want += v * 3;
                  if (sum != want) std::abort();
                  return static_cast<double>(n) / secs;
                });

Register pp_crash("process pool crash", "tandem::ProcessPoolExecutor", "us/rt",
                  [](const Sizes& s) {
                    const std::size_t rounds = std::max<std::size_t>(10, s.scaled(50) / 4);
                    tandem::ProcessPoolExecutor ex(1);
                    ex.submit(task, 0L, 0L, 0L).result();
                    double total = 0;
                    for (std::size_t i = 0; i < rounds; ++i) {
                      while (ex.spare_pid() == 0) usleep(100);
                      auto pids = ex.worker_pids();
                      auto t0 = Clock::now();
                      kill(pids.at(0), SIGKILL);
                      // Submitted at once: it waits in the parent for the replacement.
                      for (;;) {
                        try {
                          ex.submit(task, 1L, 2L, 3L).result();
                          break;
                        } catch (const tandem::WorkerDied&) {  // sent before the death was seen
                        }
                      }
                      total += seconds_since(t0);
                    }
                    return total / static_cast<double>(rounds) * 1e6;
                  });

}  // namespace
}  // namespace tandem_bench
