// SPDX-License-Identifier: MIT
// enumerate() and friends — compiled part (see <tandem/threading/introspection.hpp>).
#include "tandem/threading/introspection.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"
#include "threading/thread_registry.hpp"

namespace tandem {
namespace detail {
namespace {

// A FutexMutex, not std::mutex: tandem blocks only through wait.hpp.
FutexMutex g_mu;
// Leaked on purpose: daemon threads may unregister after static destructors ran.
std::vector<LiveThread*>& live() {
  static auto* v = new std::vector<LiveThread*>;
  return *v;
}

const std::thread::id g_main_ident = std::this_thread::get_id();
std::atomic<std::size_t> g_stack_size{0};

}  // namespace

void register_thread(LiveThread* t) {
  auto& v = live();
  g_mu.lock();
  try {
    v.push_back(t);
  } catch (...) {
    g_mu.unlock();
    throw;
  }
  g_mu.unlock();
}

void unregister_thread(LiveThread* t) noexcept {
  auto& v = live();
  g_mu.lock();
  auto it = std::find(v.begin(), v.end(), t);
  if (it != v.end()) v.erase(it);  // keeps start order
  g_mu.unlock();
}

std::size_t next_stack_size() noexcept { return g_stack_size.load(std::memory_order_relaxed); }

}  // namespace detail

std::vector<ThreadInfo> enumerate() {
  std::vector<ThreadInfo> out{main_thread()};
  auto& v = detail::live();
  detail::g_mu.lock();
  try {
    out.reserve(v.size() + 1);
    // name() takes the Thread's own name lock, never g_mu: no lock-order cycle.
    for (const detail::LiveThread* t : v)
      out.push_back(ThreadInfo{t->name(), t->ident, t->native_id, t->daemon});
  } catch (...) {
    detail::g_mu.unlock();
    throw;
  }
  detail::g_mu.unlock();
  return out;
}

std::size_t active_count() {
  auto& v = detail::live();
  detail::g_mu.lock();
  std::size_t n = v.size() + 1;
  detail::g_mu.unlock();
  return n;
}

ThreadInfo main_thread() {
  return ThreadInfo{"MainThread", detail::g_main_ident, static_cast<long>(::getpid()), false};
}

std::thread::id get_ident() noexcept { return std::this_thread::get_id(); }

long get_native_id() noexcept { return static_cast<long>(detail::current_tid()); }

std::size_t stack_size() noexcept { return detail::g_stack_size.load(std::memory_order_relaxed); }

std::size_t stack_size(std::size_t size) {
  if (size != 0 && size < 32 * 1024)
    throw ValueError("size not valid: " + std::to_string(size) + " bytes");
  return detail::g_stack_size.exchange(size, std::memory_order_relaxed);
}

}  // namespace tandem
