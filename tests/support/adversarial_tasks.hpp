// SPDX-License-Identifier: MIT
// Adversarial tasks for the process-based executors (ProcessPoolExecutor, MpiPoolExecutor at
// world size 1): a random mix of tasks that return, throw, segfault, abort, _exit, SIGKILL
// themselves, spin until their timeout, call setsid() or close their worker's stdin/stdout,
// and the exact outcome each one's future must have. Issue 10: every finished result is
// delivered, exactly the crashing task fails (with its own cause), a worker's received but
// unstarted tasks run elsewhere, and the executor keeps serving.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/futures.hpp"

namespace adversarial {

using namespace std::chrono_literals;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;  // their runtimes catch SIGSEGV and exit(1) instead
#else
inline constexpr bool kSanitized = false;
#endif

enum Kind : int { good, throws, segv, abrt, exit3, sigkill, endless, calls_setsid, closes_std, kKinds };

inline const char* kind_name(int k) {
  static const char* names[] = {"good",    "throws",  "segfault",     "abort",     "_exit(3)",
                                "SIGKILL", "endless", "calls setsid", "closes 0/1"};
  return names[k];
}

inline volatile std::uintptr_t g_bad_address = 64;  // not null: UBSan would report that

/// The task: x * 3 for the kinds that return, else its kind of misbehaviour.
inline int run(int kind, int x) {
  switch (kind) {
    case throws: throw std::invalid_argument("bad input " + std::to_string(x));
    case segv: return *reinterpret_cast<volatile int*>(g_bad_address);
    case abrt: std::abort();
    case exit3: _exit(3);
    case sigkill:
      raise(SIGKILL);
      for (;;) pause();
    case endless: {
      volatile unsigned spin = 0;
      for (;;) spin = spin + 1;  // ignores everything: only the pool's SIGKILL ends it
    }
    case calls_setsid:
      setsid();  // EPERM (a worker leads its process group); must change nothing
      return x * 3;
    case closes_std:
      close(0);
      close(1);
      return x * 3;
    default: return x * 3;
  }
}

/// Random kinds: half good, the rest spread over the misbehaviours (endless ones rarer:
/// each costs its timeout).
inline std::vector<int> draw(unsigned seed, int n) {
  std::mt19937 rng(seed);
  std::vector<int> kinds(static_cast<std::size_t>(n));
  for (int& k : kinds) {
    const unsigned r = rng() % 100;
    if (r < 50) k = good;
    else if (r < 58) k = throws;
    else if (r < 64) k = segv;
    else if (r < 70) k = abrt;
    else if (r < 76) k = exit3;
    else if (r < 82) k = sigkill;
    else if (r < 85) k = endless;
    else if (r < 93) k = calls_setsid;
    else k = closes_std;
  }
  return kinds;
}

inline constexpr auto kTimeout = 300ms;  // given to the endless tasks only

/// Checks that get() — a task's result: a future's result(), the next item of a map — for a
/// task of kind `kind` on input `x` has exactly that kind's outcome; records the pid a
/// WorkerDied names in `blamed` (each worker death fails one task).
template <class Get>
void check_outcome(Get&& get, int kind, int x, std::set<int>& blamed, const std::string& where) {
  SCOPED_TRACE(where + " (" + kind_name(kind) + ")");
  try {
    const int v = get();
    EXPECT_TRUE(kind == good || kind == calls_setsid || kind == closes_std) << "returned " << v;
    EXPECT_EQ(v, x * 3);
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(kind, throws);
    EXPECT_EQ(std::string(e.what()), "bad input " + std::to_string(x));
  } catch (const tandem::WorkerDied& e) {
    const std::string what = e.what();
    // Its own death, never a neighbour's: "running this task", not "after running" (a lost
    // result) — issue 10.
    EXPECT_NE(what.find("running this task"), std::string::npos) << what;
    EXPECT_EQ(what.find("after running"), std::string::npos) << what;
    EXPECT_TRUE(blamed.insert(e.pid()).second) << "two tasks blamed for pid " << e.pid();
    switch (kind) {
      case segv:
        if (!kSanitized) {
          EXPECT_EQ(e.signal(), SIGSEGV) << what;
        }
        break;
      case abrt: EXPECT_EQ(e.signal(), SIGABRT) << what; break;
      case exit3: EXPECT_EQ(e.exit_code(), 3) << what; break;
      case sigkill: EXPECT_EQ(e.signal(), SIGKILL) << what; break;
      default: ADD_FAILURE() << "unexpected WorkerDied: " << what;
    }
  } catch (const tandem::TimeoutError& e) {
    EXPECT_EQ(kind, endless) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception: " << e.what();
  }
}

/// Submits `kinds` (task i gets input i) to `ex`, checks every outcome, then that the
/// executor serves 100 more tasks. Opts: the executor's per-task options type.
template <class Opts, class Executor>
void run_mix(Executor& ex, const std::vector<int>& kinds, const std::string& label) {
  std::vector<tandem::Future<int>> fs;
  fs.reserve(kinds.size());
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    const int x = static_cast<int>(i);
    if (kinds[i] == endless)
      fs.push_back(ex.submit(Opts{.timeout = kTimeout}, &run, kinds[i], x));
    else
      fs.push_back(ex.submit(&run, kinds[i], x));
  }
  std::set<int> blamed;
  for (std::size_t i = 0; i < kinds.size(); ++i)
    check_outcome([&] { return fs[i].result(120s); }, kinds[i], static_cast<int>(i), blamed,
                  label + " task " + std::to_string(i));
  std::vector<tandem::Future<int>> more;
  for (int i = 0; i < 100; ++i) more.push_back(ex.submit(&run, int{good}, i));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(more[static_cast<std::size_t>(i)].result(120s), i * 3);
}

}  // namespace adversarial
