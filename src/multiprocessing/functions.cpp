// SPDX-License-Identifier: MIT
// The module functions of tandem::mp (<tandem/multiprocessing/functions.hpp>,
// <tandem/multiprocessing/start_method.hpp>): their state is g_mp (process_state.hpp).
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <new>

#include "multiprocessing/process_state.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/functions.hpp"

namespace tandem::mp {

namespace detail {
namespace {

// The registry is locked across every fork(), so the child's copy is never caught half-way
// through another thread's push_back or erase.
void children_before_fork() noexcept { g_mp.children_mu.lock(); }
void children_after_fork_parent() noexcept { g_mp.children_mu.unlock(); }
void children_after_fork_child() noexcept { forget_children(); }

struct ChildrenLock {
  ChildrenLock() { g_mp.children_mu.lock(); }
  ~ChildrenLock() { g_mp.children_mu.unlock(); }
  ChildrenLock(const ChildrenLock&) = delete;
  ChildrenLock& operator=(const ChildrenLock&) = delete;
};

}  // namespace

void forget_children() noexcept {
  ::new (&g_mp.children_mu) tandem::detail::FutexMutex();
  // clear(), not a fresh vector: the buffer stays owned (no leak for LeakSanitizer to report),
  // and the atfork handlers guarantee the vector was consistent when fork() copied it.
  g_mp.children.clear();
}

void register_child(Process* p) {
  ChildrenLock lock;
  if (!g_mp.children_atfork) {
    // Any fork() of this process (a ProcessPoolExecutor worker, a fork of the user's own)
    // starts with no children. The handler runs in the child of every later fork().
    ::pthread_atfork(&children_before_fork, &children_after_fork_parent,
                     &children_after_fork_child);
    g_mp.children_atfork = true;
  }
  g_mp.children.push_back(p);
}

void unregister_child(Process* p) noexcept {
  ChildrenLock lock;
  auto& c = g_mp.children;
  c.erase(std::remove(c.begin(), c.end(), p), c.end());
}

}  // namespace detail

using detail::g_mp;

std::vector<ProcessInfo> active_children() {
  std::vector<ProcessInfo> out;
  detail::ChildrenLock lock;
  auto& c = g_mp.children;
  out.reserve(c.size());
  // Python's _cleanup(): children that have exited are reaped and forgotten.
  c.erase(std::remove_if(c.begin(), c.end(),
                         [&](Process* p) {
                           if (!p->is_alive()) return true;
                           out.push_back(ProcessInfo{p->pid(), p->name(), p->daemon()});
                           return false;
                         }),
          c.end());
  return out;
}

std::size_t cpu_count() {
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<std::size_t>(n) : 1;
}

std::size_t process_cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<std::size_t>(n);
  } else {
    // More CPUs than a cpu_set_t holds: ask with a set of the right size.
    const std::size_t cpus = std::max<std::size_t>(cpu_count(), 1024) * 4;
    cpu_set_t* big = CPU_ALLOC(cpus);
    if (big != nullptr) {
      const std::size_t size = CPU_ALLOC_SIZE(cpus);
      CPU_ZERO_S(size, big);
      int n = 0;
      if (::sched_getaffinity(0, size, big) == 0) n = CPU_COUNT_S(size, big);
      CPU_FREE(big);
      if (n > 0) return static_cast<std::size_t>(n);
    }
  }
  return cpu_count();
}

ProcessInfo current_process() {
  return ProcessInfo{static_cast<int>(::getpid()), g_mp.current_name, g_mp.daemon_process};
}

std::optional<ProcessInfo> parent_process() {
  if (g_mp.parent_pid == 0) return std::nullopt;
  return ProcessInfo{g_mp.parent_pid, g_mp.parent_name, false};
}

// ---- start methods ---------------------------------------------------------------------------

void set_start_method(StartMethod method, bool force) {
  const std::uint32_t want = static_cast<std::uint32_t>(method) | detail::kMethodFixed;
  std::uint32_t cur = g_mp.start_method.load(std::memory_order_acquire);
  do {
    if ((cur & detail::kMethodFixed) != 0 && !force)
      throw RuntimeError("context has already been set");
  } while (!g_mp.start_method.compare_exchange_weak(cur, want, std::memory_order_acq_rel,
                                                    std::memory_order_acquire));
}

StartMethod get_start_method() {
  // Python's get_start_method(allow_none=False): the default becomes the actual context.
  const std::uint32_t cur =
      g_mp.start_method.fetch_or(detail::kMethodFixed, std::memory_order_acq_rel);
  return static_cast<StartMethod>(cur & 0xFF);
}

std::vector<StartMethod> get_all_start_methods() {
  std::vector<StartMethod> all{StartMethod::fork, StartMethod::spawn, StartMethod::forkserver};
  const StartMethod d = static_cast<StartMethod>(
      g_mp.start_method.load(std::memory_order_acquire) & 0xFF);
  std::stable_partition(all.begin(), all.end(), [d](StartMethod m) { return m == d; });
  return all;
}

}  // namespace tandem::mp
