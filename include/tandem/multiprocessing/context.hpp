// SPDX-License-Identifier: MIT
// <tandem/multiprocessing/context.hpp> — multiprocessing.get_context(method): a context object
// whose factories use one start method
// (docs/multiprocessing.md#module-functions-and-contexts).
//
//   ctx = multiprocessing.get_context("spawn")   auto ctx = mp::get_context(StartMethod::spawn);
//   ctx.get_start_method()                       ctx.get_start_method()
//   p = ctx.Process(target=f, args=(1,))         auto p = ctx.Process(f, std::tuple{1});
//   with ctx.Pool(4) as pool: ...                auto pool = ctx.Pool({.processes = 4});
//   ctx.active_children(), ctx.cpu_count(), ...  the same, forwarded to the module functions
//
// Guarantees
//  * A Context is a value: one StartMethod. ctx.Process(...) takes exactly the arguments of
//    mp::Process's constructors and returns the Process (a prvalue: `auto p = ctx.Process(f);`
//    — Process is neither copyable nor movable, so it cannot be stored otherwise than by
//    initialisation; std::make_unique<mp::Process>(f, ctx.options()) does the same on the
//    heap, and ctx.options() is also how a Process subclass gets the context's method).
//    The method in the ProcessOptions given is replaced by the context's, as Python's
//    ctx.Process always uses its context.
//  * Nothing else of tandem's multiprocessing depends on the start method: Lock, Event, Queue,
//    Value, Array, Manager... are created the same way in every context (their objects are
//    inherited with fork, and cannot be handed to a spawn/forkserver child — see each header),
//    so Context has no factories for them; use the types directly.
//  * get_context() without argument: the context of the default start method at the time of
//    the call (Python's returns the default context, which follows later set_start_method()
//    calls). Both fix the default, as Python's get_context() does.
//  * Thread safety: a Context is immutable; any thread may use it.
// Cost: a Context is one enum; ctx.Process(...) costs what the Process constructor costs.
// Differences from Python:
//  * Python's contexts are also modules (ctx.Lock(), ctx.Queue(), ...); see above.
//  * ctx.set_start_method() does not exist (Python: ValueError "cannot set start method of
//    concrete context"); the method of a Context is fixed when it is made.
//  * A method that is not available cannot be asked for (Python: ValueError for an unknown
//    name): all three exist on Linux. spawn needs mp::init(argc, argv) in main() (process.hpp).
#pragma once

#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/multiprocessing/functions.hpp"
#include "tandem/multiprocessing/pool.hpp"
#include "tandem/multiprocessing/process.hpp"
#include "tandem/multiprocessing/start_method.hpp"

namespace tandem::mp {

class Context {
 public:
  explicit constexpr Context(StartMethod method) noexcept : method_(method) {}

  /// ctx.get_start_method(): this context's method.
  constexpr StartMethod get_start_method() const noexcept { return method_; }

  /// `o` with this context's start method — for mp::Process(target, ctx.options({...})),
  /// a Process subclass, or make_unique.
  ProcessOptions options(ProcessOptions o = {}) const {
    o.start_method = method_;
    return o;
  }

  /// ctx.Process(target=f): mp::Process(target, options) with this context's method.
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, ProcessOptions> &&
             (std::is_invocable_v<std::decay_t<F>&> ||
              std::is_invocable_v<std::decay_t<F>&, StopToken>))
  mp::Process Process(F target, ProcessOptions o = {}) const {
    return mp::Process(std::move(target), options(std::move(o)));
  }
  /// ctx.Process(target=f, args=(...)): mp::Process(target, args, options), this method.
  template <class F, class... Args>
    requires(std::is_invocable_v<std::decay_t<F>&, Args&...> ||
             std::is_invocable_v<std::decay_t<F>&, StopToken, Args&...>)
  mp::Process Process(F target, std::tuple<Args...> args, ProcessOptions o = {}) const {
    return mp::Process(std::move(target), std::move(args), options(std::move(o)));
  }

  /// ctx.Pool(...): an mp::Pool whose workers start with this context's method (the method
  /// in `o` is replaced, as for Process).
  mp::Pool Pool(PoolOptions o = {}) const {
    o.start_method = method_;
    return mp::Pool(std::move(o));
  }

  /// ctx.get_context(method): another context (Python's BaseContext.get_context).
  Context get_context(StartMethod method) const noexcept { return Context(method); }
  /// The module functions, as Python's context objects forward them.
  std::vector<ProcessInfo> active_children() const { return mp::active_children(); }
  std::size_t cpu_count() const { return mp::cpu_count(); }
  ProcessInfo current_process() const { return mp::current_process(); }
  std::optional<ProcessInfo> parent_process() const { return mp::parent_process(); }
  std::vector<StartMethod> get_all_start_methods() const { return mp::get_all_start_methods(); }

  friend constexpr bool operator==(Context, Context) noexcept = default;

 private:
  StartMethod method_;
};

/// multiprocessing.get_context(method): the context of `method`. Does not change or fix the
/// default (as Python's get_context("spawn")).
Context get_context(StartMethod method);
/// multiprocessing.get_context(): the context of the default method (and fixes the default,
/// as Python's get_context() does).
Context get_context();

}  // namespace tandem::mp
