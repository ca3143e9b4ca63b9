// SPDX-License-Identifier: MIT
// <tandem/contextvars.hpp> — Python's contextvars for C++ (docs/contextvars.md):
// ContextVar<T>, Token<T>, Context, copy_context().
//
//   inline tandem::ContextVar<std::string> request_id{"request_id", "-"};
//   auto token = request_id.set("r-42");
//   tandem::Context ctx = tandem::copy_context();   // O(1): shares the immutable map
//   std::thread([ctx]() mutable { ctx.run([] { log(request_id.get()); }); }).join();  // "r-42"
//   request_id.reset(token);                        // back to the default
//
// Model (Python's, PEP 567)
//  * Every thread has a current context: the thread's own base context (empty when the
//    thread starts) or the Context whose run() it is inside. ContextVar::get/set/reset read
//    and write the current context only, so two threads never see each other's values.
//  * A Context is a mutable wrapper around an immutable map ContextVar -> value. set()
//    builds a new map and swaps it into the current context; copy_context() and
//    Context::copy() share the map they copy (copy-on-write), so a copy never sees later
//    changes of the original and the original never sees the copy's.
//  * Context::run(f, a...) makes the Context current on the calling thread for the duration
//    of f(a...) and restores the previous one however f leaves (return or exception).
//    var.set() inside run() changes that Context object: visible in it afterwards and in
//    its later run()s, never in the context copy_context() was called from.
//  * A Context may be created on one thread and run on another (it is a value; send it
//    by copy or move). Entering a Context object that is already entered (recursively, or
//    at the same time on another thread) throws RuntimeError("cannot enter context:
//    <tandem.Context object at 0x...> is already entered"), as Python.
//
// Propagation contract (what ThreadPoolExecutor::submit relies on)
//  * `Context copy_context()` is O(1). When no ContextVar was ever set in the calling
//    thread's current context it performs no heap allocation and no atomic read-modify-write
//    (an empty Context is a null pointer); otherwise it is one relaxed atomic increment of
//    the shared map's reference count.
//  * `template <class F, class... A> decltype(auto) Context::run(F&& f, A&&... a) &` enters
//    the Context (one uncontended atomic exchange on its `entered` flag, which makes the
//    "already entered" check exact across threads, plus two thread_local stores and an
//    out-of-line call), calls f, restores the previous context.
//  * `... Context::run(F&& f, A&&... a) &&` — for a Context the caller owns exclusively (a
//    task's private copy: `std::move(task.context).run(fn)`): the same without the atomic
//    read-modify-write; recursive entering is still detected. An empty Context then costs a
//    few thread_local loads and stores.
//  * Destroying a Context releases its map reference (one atomic decrement; none if empty).
//
// Thread-safety: ContextVar objects are shared freely (get/set/reset act on the calling
//  thread's current context, which no other thread touches). A Context object is like any
//  C++ value: const reads (get, contains, size) may run concurrently with each other, but
//  not with a run() of the same object on another thread (whose sets write it); copies
//  are independent objects and may be used anywhere at once.
// Memory ordering: what a thread wrote before copying a Context (copy_context, copy()) is
//  visible to whoever runs the copy, provided the copy itself was handed over with a
//  happens-before edge (a queue, a thread start). Leaving run() releases and entering it
//  acquires (the lvalue overload), so successive run()s of one object on different threads
//  see each other's sets.
// Cost: get() is a binary search of the current map (a few entries, typically) and a copy
//  of the T; set() copies the map (O(n) in the number of variables set in that context,
//  one allocation for the map and one for the value) — Python uses a HAMT (O(log n)); a
//  sorted vector is faster below a few dozen variables, which is what real programs use.
// Differences from Python:
//  * ContextVar<T> holds a T; get() returns a copy (use a shared_ptr<T> as T to share an
//    object, as Python shares references). ContextVar is neither copyable nor movable: its
//    identity is the key. A ContextVar must outlive every Context holding a value for it
//    only if that value is read through it; the values themselves are freed with the maps.
//  * Context's copy constructor is Python's ctx.copy() (a new Context object with the same
//    variables), not a second reference to the same object; share a Context by reference
//    or pointer. Moving or destroying a Context while it is entered is undefined behaviour.
//  * A Token remembers the Context by address: a Context moved after set() returned the
//    token counts as a different Context for reset().
//  * Context::get(var) returns std::optional<T> (Python's None default); iteration over a
//    Context is not offered (its keys are typed variables).
//  * Threads: tandem::Thread starts in an empty context unless ThreadOptions::context is
//    given (Python 3.14's Thread(context=...), with sys.flags.thread_inherit_context off).
//    ThreadPoolExecutor tasks run in a copy of the submitter's context, as asyncio's tasks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tandem/errors.hpp"

namespace tandem {

class Context;
template <class T>
class ContextVar;
template <class T>
class Token;

namespace detail {

/// One variable's value in a context map: the variable's key and a type-erased T.
struct CtxEntry {
  std::uint64_t key;
  std::shared_ptr<const void> value;
};

/// An immutable, reference-counted map, sorted by key. Never modified once published.
struct CtxMap {
  std::atomic<std::size_t> refs{1};
  std::vector<CtxEntry> entries;
};

/// An owning pointer to a CtxMap; null is the empty map.
class CtxMapRef {
 public:
  CtxMapRef() noexcept = default;
  /// Adopts one reference already counted in `m`.
  explicit CtxMapRef(CtxMap* m) noexcept : m_(m) {}
  CtxMapRef(const CtxMapRef& o) noexcept : m_(o.m_) {
    if (m_) m_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  // Read and cleared by hand, with -Wmaybe-uninitialized off: GCC 12 at -O1 warns here when
  // a disengaged std::optional<Context> (ThreadOptions::context) is moved, reading the
  // payload it has not constructed on a path the engaged check rules out (a false positive
  // that users compiling with -Werror would hit).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  CtxMapRef(CtxMapRef&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  CtxMapRef& operator=(CtxMapRef o) noexcept {
    std::swap(m_, o.m_);
    return *this;
  }
  ~CtxMapRef() {
    if (m_ && m_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete m_;
  }
  const CtxMap* get() const noexcept { return m_; }

 private:
  CtxMap* m_ = nullptr;
};

/// The value stored for `key` in `m`, or null.
const void* ctx_find(const CtxMap* m, std::uint64_t key) noexcept;
/// A new key for a ContextVar (never reused).
std::uint64_t ctx_new_key() noexcept;
/// The calling thread's current context map (no reference taken).
const CtxMap* ctx_current_map() noexcept;
/// The identity of the calling thread's current context, for Token checks.
const void* ctx_current_id() noexcept;
/// Sets (value non-null) or removes (null) `key` in the current context; returns the old value.
std::shared_ptr<const void> ctx_assign(std::uint64_t key, std::shared_ptr<const void> value);
/// Enters `ctx` on this thread; returns the context to restore. `exclusive`: the caller
/// owns ctx alone (no atomic read-modify-write).
Context* ctx_enter(Context& ctx, bool exclusive);
void ctx_leave(Context& ctx, Context* previous, bool exclusive) noexcept;

/// A Token's shared state: Python's Token is one object however many names refer to it.
struct TokenState {
  const void* context;
  std::uint64_t key;
  std::shared_ptr<const void> old;  // null: Token.MISSING
  std::atomic<bool> used{false};
};

}  // namespace detail

/// contextvars.Context: a mapping of ContextVars to values that can be entered with run().
class Context {
 public:
  /// An empty context (Python's Context()); no allocation.
  Context() noexcept = default;
  /// Python's ctx.copy(): a new Context object with the same variables (O(1), shared map).
  Context(const Context& other) noexcept : map_(other.map_) {}
  Context(Context&& other) noexcept : map_(std::move(other.map_)) {}
  Context& operator=(const Context& other) noexcept {
    map_ = other.map_;
    return *this;
  }
  Context& operator=(Context&& other) noexcept {
    map_ = std::move(other.map_);
    return *this;
  }
  ~Context() = default;

  /// ctx.copy().
  Context copy() const noexcept { return *this; }

  /// ctx.run(f, *args): calls f(a...) with this Context current on the calling thread.
  /// RuntimeError when this object is already entered (here or on another thread).
  template <class F, class... A>
  decltype(auto) run(F&& f, A&&... a) & {
    Scope scope(*this, false);
    return std::invoke(std::forward<F>(f), std::forward<A>(a)...);
  }
  /// The same for a Context the caller owns alone (no atomic read-modify-write).
  template <class F, class... A>
  decltype(auto) run(F&& f, A&&... a) && {
    Scope scope(*this, true);
    return std::invoke(std::forward<F>(f), std::forward<A>(a)...);
  }

  /// ctx.get(var): the value of `var` in this context, nullopt when it has none (a var's
  /// default is not consulted, as Python).
  template <class T>
  std::optional<T> get(const ContextVar<T>& var) const {
    if (const void* v = detail::ctx_find(map_.get(), var.key_)) return *static_cast<const T*>(v);
    return std::nullopt;
  }
  /// ctx.get(var, default).
  template <class T>
  T get(const ContextVar<T>& var, T default_value) const {
    if (const void* v = detail::ctx_find(map_.get(), var.key_)) return *static_cast<const T*>(v);
    return default_value;
  }
  /// `var in ctx`.
  template <class T>
  bool contains(const ContextVar<T>& var) const noexcept {
    return detail::ctx_find(map_.get(), var.key_) != nullptr;
  }
  /// len(ctx).
  std::size_t size() const noexcept { return map_.get() ? map_.get()->entries.size() : 0; }
  bool empty() const noexcept { return size() == 0; }

 private:
  struct Scope {
    Scope(Context& c, bool exclusive) : ctx(c), excl(exclusive), prev(detail::ctx_enter(c, exclusive)) {}
    ~Scope() { detail::ctx_leave(ctx, prev, excl); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Context& ctx;
    bool excl;
    Context* prev;
  };
  friend Context copy_context() noexcept;
  friend Context* detail::ctx_enter(Context&, bool);
  friend void detail::ctx_leave(Context&, Context*, bool) noexcept;
  friend const detail::CtxMap* detail::ctx_current_map() noexcept;
  friend std::shared_ptr<const void> detail::ctx_assign(std::uint64_t,
                                                        std::shared_ptr<const void>);

  detail::CtxMapRef map_;
  std::atomic<bool> entered_{false};
};

/// contextvars.copy_context(): a copy of the calling thread's current context. O(1); no
/// allocation and no atomic read-modify-write when that context is empty.
Context copy_context() noexcept;

/// contextvars.Token: what ContextVar::set() returns, for reset(). Copies share one state
/// (a token is used once, whichever copy is passed to reset()).
template <class T>
class Token {
 public:
  /// Token.var. The ContextVar must still exist.
  const ContextVar<T>& var() const noexcept { return *var_; }
  /// Token.old_value: the value before set(); nullopt is Python's Token.MISSING.
  std::optional<T> old_value() const {
    if (!state_->old) return std::nullopt;
    return *static_cast<const T*>(state_->old.get());
  }

 private:
  friend class ContextVar<T>;
  Token(const ContextVar<T>* v, std::shared_ptr<detail::TokenState> s)
      : var_(v), state_(std::move(s)) {}
  const ContextVar<T>* var_;
  std::shared_ptr<detail::TokenState> state_;
};

/// contextvars.ContextVar: a variable whose value depends on the current context.
template <class T>
class ContextVar {
 public:
  using Token = tandem::Token<T>;

  explicit ContextVar(std::string name) : name_(std::move(name)), key_(detail::ctx_new_key()) {}
  ContextVar(std::string name, T default_value)
      : name_(std::move(name)),
        default_(std::move(default_value)),
        key_(detail::ctx_new_key()) {}
  ContextVar(const ContextVar&) = delete;
  ContextVar& operator=(const ContextVar&) = delete;

  /// ContextVar.name.
  const std::string& name() const noexcept { return name_; }
  /// The default given at construction (nullopt: none).
  const std::optional<T>& default_value() const noexcept { return default_; }

  /// var.get(): the value in the current context, else the var's default, else LookupError.
  T get() const {
    if (const void* v = detail::ctx_find(detail::ctx_current_map(), key_))
      return *static_cast<const T*>(v);
    if (default_) return *default_;
    throw LookupError("<ContextVar name='" + name_ + "'>");
  }
  /// var.get(default): the value in the current context, else `default_value` (which wins
  /// over the var's own default, as Python).
  T get(T default_value) const {
    if (const void* v = detail::ctx_find(detail::ctx_current_map(), key_))
      return *static_cast<const T*>(v);
    return default_value;
  }

  /// var.set(value): sets the value in the current context; the Token restores the old one.
  Token set(T value) {
    auto state = std::make_shared<detail::TokenState>();
    state->context = detail::ctx_current_id();
    state->key = key_;
    state->old = detail::ctx_assign(key_, std::make_shared<const T>(std::move(value)));
    return Token(this, std::move(state));
  }

  /// var.reset(token): restores the value before the set() that returned `token`.
  /// RuntimeError when the token was used already; ValueError when it was made by another
  /// ContextVar or in another Context.
  void reset(const Token& token) {
    detail::TokenState& s = *token.state_;
    if (s.used.load(std::memory_order_acquire))
      throw RuntimeError("<Token var=<ContextVar name='" + name_ +
                         "'>> has already been used once");
    if (token.var_ != this)
      throw ValueError("<Token> was created by a different ContextVar");
    if (s.context != detail::ctx_current_id())
      throw ValueError("<Token> was created in a different Context");
    if (s.used.exchange(true, std::memory_order_acq_rel))
      throw RuntimeError("<Token var=<ContextVar name='" + name_ +
                         "'>> has already been used once");
    detail::ctx_assign(key_, s.old);
  }

 private:
  friend class Context;
  std::string name_;
  std::optional<T> default_;
  std::uint64_t key_;
};

}  // namespace tandem
