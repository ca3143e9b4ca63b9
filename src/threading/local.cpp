// SPDX-License-Identifier: MIT
// tandem::local<T> — compiled part (see <tandem/threading/local.hpp>).
//
// Two tables under one process-wide lock: per slot (one live local object), its destroy
// function and the threads holding a value; per thread, a vector indexed by slot. A thread
// reads its own vector without the lock: only the thread itself resizes it (under the lock)
// and another thread writes it only to clear the slot of an object being destroyed, which
// the reader may not be using at that moment (see the header's thread-safety note).
#include "tandem/threading/local.hpp"

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include "tandem/detail/futex_mutex.hpp"

namespace tandem::detail {
namespace {

struct ThreadValues;

struct Slot {
  void (*destroy)(void*) = nullptr;  // null: free
  std::vector<ThreadValues*> holders;
};

struct Registry {
  FutexMutex mu;
  std::vector<Slot> slots;
  std::vector<std::size_t> free;
};

// Leaked on purpose: threads may exit (and clean up) after static destructors ran.
Registry& registry() {
  static auto* r = new Registry;
  return *r;
}

/// A value and how to destroy it, collected under the lock and destroyed outside it (a
/// destructor may take other locks, or end other objects).
using Doomed = std::vector<std::pair<void*, void (*)(void*)>>;

void destroy_all(const Doomed& doomed) noexcept {
  for (const auto& [value, destroy] : doomed) destroy(value);
}

struct ThreadValues {
  std::vector<void*> values;  // by slot; null: none
  ~ThreadValues() {
    Registry& r = registry();
    Doomed doomed;
    r.mu.lock();
    for (std::size_t id = 0; id < values.size(); ++id) {
      if (!values[id]) continue;
      auto& holders = r.slots[id].holders;
      holders.erase(std::find(holders.begin(), holders.end(), this));
      doomed.emplace_back(std::exchange(values[id], nullptr), r.slots[id].destroy);
    }
    r.mu.unlock();
    destroy_all(doomed);
  }
};

thread_local ThreadValues t_values;

}  // namespace

std::size_t local_open(void (*destroy)(void*)) {
  Registry& r = registry();
  r.mu.lock();
  std::size_t id;
  try {
    if (r.free.empty()) {
      r.slots.emplace_back();
      id = r.slots.size() - 1;
    } else {
      id = r.free.back();
      r.free.pop_back();
    }
  } catch (...) {
    r.mu.unlock();
    throw;
  }
  r.slots[id].destroy = destroy;
  r.mu.unlock();
  return id;
}

void local_close(std::size_t id) noexcept {
  Registry& r = registry();
  Doomed doomed;
  r.mu.lock();
  Slot& slot = r.slots[id];
  try {
    doomed.reserve(slot.holders.size());
    r.free.reserve(r.free.size() + 1);
  } catch (...) {
    std::terminate();  // cannot free the values without memory for the list
  }
  for (ThreadValues* t : slot.holders) doomed.emplace_back(std::exchange(t->values[id], nullptr), slot.destroy);
  slot.holders.clear();
  slot.destroy = nullptr;
  r.free.push_back(id);
  r.mu.unlock();
  destroy_all(doomed);
}

void* local_find(std::size_t id) noexcept {
  const auto& v = t_values.values;
  return id < v.size() ? v[id] : nullptr;
}

void local_store(std::size_t id, void* value) {
  Registry& r = registry();
  ThreadValues& mine = t_values;
  r.mu.lock();
  try {
    if (mine.values.size() <= id) mine.values.resize(id + 1, nullptr);
    r.slots[id].holders.push_back(&mine);
  } catch (...) {
    void (*destroy)(void*) = r.slots[id].destroy;
    r.mu.unlock();
    destroy(value);
    throw;
  }
  mine.values[id] = value;
  r.mu.unlock();
}

}  // namespace tandem::detail
