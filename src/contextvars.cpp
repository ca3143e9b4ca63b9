// SPDX-License-Identifier: MIT
// contextvars — compiled part (see <tandem/contextvars.hpp>).
//
// Per thread, two trivially constructible thread_locals (so reading them needs no TLS
// init guard): the Context entered by run() (null: the thread's base context), and the
// base context's map. The base map is released at thread exit by a third thread_local,
// touched only by the first set() in the base context, so threads that never set a
// variable register no TLS destructor.
#include "tandem/contextvars.hpp"

#include <algorithm>
#include <cstdio>

namespace tandem {
namespace detail {
namespace {

constinit thread_local Context* t_entered = nullptr;
constinit thread_local CtxMap* t_base_map = nullptr;  // one counted reference, or null
constinit thread_local char t_base_id = 0;            // its address names the base context

struct BaseMapReleaser {
  ~BaseMapReleaser() { CtxMapRef drop(std::exchange(t_base_map, nullptr)); }
};

std::atomic<std::uint64_t> g_next_key{1};

}  // namespace

const void* ctx_find(const CtxMap* m, std::uint64_t key) noexcept {
  if (!m) return nullptr;
  auto it = std::lower_bound(m->entries.begin(), m->entries.end(), key,
                             [](const CtxEntry& e, std::uint64_t k) { return e.key < k; });
  return it != m->entries.end() && it->key == key ? it->value.get() : nullptr;
}

std::uint64_t ctx_new_key() noexcept { return g_next_key.fetch_add(1, std::memory_order_relaxed); }

const CtxMap* ctx_current_map() noexcept {
  return t_entered ? t_entered->map_.get() : t_base_map;
}

const void* ctx_current_id() noexcept {
  return t_entered ? static_cast<const void*>(t_entered) : &t_base_id;
}

std::shared_ptr<const void> ctx_assign(std::uint64_t key, std::shared_ptr<const void> value) {
  const CtxMap* cur = ctx_current_map();
  auto fresh = std::make_unique<CtxMap>();
  std::shared_ptr<const void> old;
  if (cur) {
    fresh->entries.reserve(cur->entries.size() + 1);
    fresh->entries = cur->entries;
  }
  auto& es = fresh->entries;
  auto it = std::lower_bound(es.begin(), es.end(), key,
                             [](const CtxEntry& e, std::uint64_t k) { return e.key < k; });
  bool found = it != es.end() && it->key == key;
  if (found) old = std::move(it->value);
  if (value) {
    if (found)
      it->value = std::move(value);
    else
      es.insert(it, CtxEntry{key, std::move(value)});
  } else if (found) {
    es.erase(it);
  }
  // Python keeps an emptied context's map; an empty map is the null pointer here.
  CtxMap* next = es.empty() ? nullptr : fresh.release();
  if (t_entered) {
    t_entered->map_ = CtxMapRef(next);
  } else {
    if (!t_base_map) {
      thread_local BaseMapReleaser releaser;  // registers the thread-exit release once
      (void)releaser;
    }
    CtxMapRef drop(std::exchange(t_base_map, next));
  }
  return old;
}

Context* ctx_enter(Context& ctx, bool exclusive) {
  bool was = exclusive ? ctx.entered_.load(std::memory_order_relaxed)
                       : ctx.entered_.exchange(true, std::memory_order_acquire);
  if (was) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "<tandem.Context object at %p>", static_cast<void*>(&ctx));
    throw RuntimeError(std::string("cannot enter context: ") + buf + " is already entered");
  }
  if (exclusive) ctx.entered_.store(true, std::memory_order_relaxed);
  return std::exchange(t_entered, &ctx);
}

void ctx_leave(Context& ctx, Context* previous, bool exclusive) noexcept {
  t_entered = previous;
  ctx.entered_.store(false, exclusive ? std::memory_order_relaxed : std::memory_order_release);
}

}  // namespace detail

Context copy_context() noexcept {
  Context c;
  if (detail::t_entered) {
    c.map_ = detail::t_entered->map_;
  } else if (detail::t_base_map) {
    detail::t_base_map->refs.fetch_add(1, std::memory_order_relaxed);
    c.map_ = detail::CtxMapRef(detail::t_base_map);
  }
  return c;
}

}  // namespace tandem
