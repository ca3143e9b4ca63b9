// SPDX-License-Identifier: MIT
// Workloads "subprocess run", "subprocess run 2GiB", "subprocess communicate" (issue 12):
//  * run({"/bin/true"}) per second, against the floor (a bare posix_spawn + waitpid loop),
//    CPython's subprocess.run(['/bin/true']) and Boost.Process's system() when built with it;
//  * the same after this process touched 2 GiB (a fork-based start pays for the page tables;
//    posix_spawn's CLONE_VM|CLONE_VFORK does not): the ballast is allocated and touched once,
//    outside the timing, and kept for the rest of the run;
//  * a 256 MiB round trip through `cat` with communicate(), in MB/s of payload (256 MiB).
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "compare/harness.hpp"
#include "tandem/subprocess.hpp"

#ifdef TANDEM_BENCH_HAVE_BOOST_PROCESS
#include <boost/process.hpp>
#endif

extern char** environ;

namespace tandem_bench {
namespace {

namespace sp = tandem::subprocess;

std::size_t runs(const Sizes& s) { return std::max<std::size_t>(20, static_cast<std::size_t>(300 * s.scale)); }

void touch_ballast() {
  static std::unique_ptr<char[]> ballast;
  if (ballast) return;
  constexpr std::size_t kSize = std::size_t{2} << 30;
  ballast.reset(new char[kSize]);
  for (std::size_t i = 0; i < kSize; i += 4096) ballast[i] = static_cast<char>(i);
}

double tandem_run(const Sizes& s, const char* w) {
  const std::size_t k = runs(s);
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < k; ++i)
    if (sp::run({"/bin/true"}).returncode != 0) fail(w, "tandem::subprocess::run", "/bin/true failed");
  return static_cast<double>(k) / seconds_since(t0);
}

double raw_spawn(const Sizes& s, const char* w) {
  const std::size_t k = runs(s);
  char prog[] = "/bin/true";
  char* argv[] = {prog, nullptr};
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < k; ++i) {
    pid_t pid;
    int status = 0;
    if (::posix_spawn(&pid, prog, nullptr, nullptr, argv, environ) != 0 || ::waitpid(pid, &status, 0) != pid ||
        status != 0)
      fail(w, "posix_spawn+waitpid", "/bin/true failed");
  }
  return static_cast<double>(k) / seconds_since(t0);
}

#ifdef TANDEM_BENCH_HAVE_BOOST_PROCESS
double boost_system(const Sizes& s, const char* w) {
  const std::size_t k = std::max<std::size_t>(20, runs(s) / 4);  // fork-based: slow with 2 GiB
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < k; ++i)
    if (boost::process::system("/bin/true") != 0) fail(w, "boost::process::system", "/bin/true failed");
  return static_cast<double>(k) / seconds_since(t0);
}
#endif

const Register run_true("subprocess run", "tandem::subprocess::run", "runs/s",
                        [](const Sizes& s) { return tandem_run(s, "subprocess run"); });
const Register raw_true("subprocess run", "posix_spawn+waitpid", "runs/s",
                        [](const Sizes& s) { return raw_spawn(s, "subprocess run"); });
const Register run_big("subprocess run 2GiB", "tandem::subprocess::run", "runs/s", [](const Sizes& s) {
  touch_ballast();
  return tandem_run(s, "subprocess run 2GiB");
});
const Register raw_big("subprocess run 2GiB", "posix_spawn+waitpid", "runs/s", [](const Sizes& s) {
  touch_ballast();
  return raw_spawn(s, "subprocess run 2GiB");
});
#ifdef TANDEM_BENCH_HAVE_BOOST_PROCESS
const Register boost_true("subprocess run", "boost::process::system", "runs/s",
                          [](const Sizes& s) { return boost_system(s, "subprocess run"); });
const Register boost_big("subprocess run 2GiB", "boost::process::system", "runs/s", [](const Sizes& s) {
  touch_ballast();
  return boost_system(s, "subprocess run 2GiB");
});
#endif

const Register communicate("subprocess communicate", "tandem::subprocess::Popen", "MB/s", [](const Sizes& s) {
  // 256 MiB whatever the scale, but for the harness's warm-up round (scale / 20).
  const std::size_t bytes = s.scale >= 0.2 ? std::size_t{256} << 20 : std::size_t{16} << 20;
  static std::string input;
  if (input.size() != bytes) input.assign(bytes, 'c');
  sp::PopenOptions o;
  o.stdin_ = sp::PIPE;
  o.stdout_ = sp::PIPE;
  auto t0 = Clock::now();
  sp::Popen p({"cat"}, o);
  sp::Output out = p.communicate(input);
  const double secs = seconds_since(t0);
  if (out.stdout_.size() != bytes || p.returncode() != 0) fail("subprocess communicate", "tandem", "short output");
  return static_cast<double>(bytes) / 1e6 / secs;
});

}  // namespace
}  // namespace tandem_bench
