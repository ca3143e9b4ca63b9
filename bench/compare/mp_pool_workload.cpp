// SPDX-License-Identifier: MIT
// Workloads "mp pool map" and "mp pool imap_unordered": tandem::mp::Pool(2) against CPython's
// multiprocessing.Pool(2) (bench/python/workloads.py), side by side in one run (issue 13).
//   mp pool map             pool.map(f, N items, chunksize 1000), sum the results.
//                           Target: >= 20x CPython's Pool.map.
//   mp pool imap_unordered  N items through pool.imap_unordered(f, items, chunksize 1), summed
//                           in completion order; the peer is tandem's own ProcessPoolExecutor:
//                           N submits, then as_completed over the futures. Target: >= 1.0x.
// f is trivial (x * 3): the workloads measure the pools, not the work. Pool start-up is
// outside the timing (each pool first runs one task per worker).
#include <vector>

#include "compare/harness.hpp"
#include "tandem/futures.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/process_pool.hpp"

namespace tandem_bench {
namespace {

namespace mp = tandem::mp;

long triple(long x) { return x * 3; }

std::vector<long> items(std::size_t n) {
  std::vector<long> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<long>(i);
  return v;
}

void check(long sum, std::size_t n, const char* what) {
  const long want = 3 * static_cast<long>(n) * (static_cast<long>(n) - 1) / 2;
  if (sum != want) {
    std::fprintf(stderr, "%s: wrong sum %ld (want %ld)\n", what, sum, want);
    std::abort();
  }
}

void warm(mp::Pool& pool) {
  std::vector<mp::AsyncResult<long>> rs;
  for (int i = 0; i < 2; ++i) rs.push_back(pool.apply_async(triple, 1L));
  for (auto& r : rs) r.get();
}

/// A warmed-up Pool(2) runs `run(pool, items)` (which returns the sum of the results) over
/// n items; tasks/s.
template <class Run>
double pool_rate(std::size_t n, const char* what, Run run) {
  const std::vector<long> in = items(n);
  mp::Pool pool(2);
  warm(pool);
  auto t0 = Clock::now();
  const long sum = run(pool, in);
  const double secs = seconds_since(t0);
  check(sum, n, what);
  return static_cast<double>(n) / secs;
}

const Register map("mp pool map", "tandem::mp::Pool", "tasks/s", [](const Sizes& s) {
  return pool_rate(s.scaled(10'000'000), "mp pool map",
                   [](mp::Pool& pool, const std::vector<long>& in) {
                     long sum = 0;
                     for (long r : pool.map(triple, in, 1000)) sum += r;
                     return sum;
                   });
});

std::size_t unordered_items(const Sizes& s) { return s.scaled(200'000); }

const Register imap_unordered("mp pool imap_unordered", "tandem::mp::Pool imap_unordered",
                              "tasks/s", [](const Sizes& s) {
  return pool_rate(unordered_items(s), "mp pool imap_unordered",
                   [](mp::Pool& pool, const std::vector<long>& in) {
                     long sum = 0;
                     for (long r : pool.imap_unordered(triple, in, 1)) sum += r;
                     return sum;
                   });
});

const Register as_completed("mp pool imap_unordered",
                            "tandem::ProcessPoolExecutor submit+as_completed", "tasks/s",
                            [](const Sizes& s) {
  const std::size_t n = unordered_items(s);
  tandem::ProcessPoolExecutor ex(2);
  ex.submit(triple, 1L).result();
  ex.submit(triple, 1L).result();
  auto t0 = Clock::now();
  std::vector<tandem::Future<long>> fs;
  fs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) fs.push_back(ex.submit(triple, static_cast<long>(i)));
  long sum = 0;
  for (tandem::Future<long> f : tandem::as_completed(std::move(fs))) sum += f.result();
  const double secs = seconds_since(t0);
  check(sum, n, "submit+as_completed");
  return static_cast<double>(n) / secs;
});

}  // namespace
}  // namespace tandem_bench
