// SPDX-License-Identifier: MIT
// <tandem/futures/combinators.hpp> — when_all and when_any: one future for several
// (docs/futures.md#combinators). future.then(executor, fn) is a member of Future (future.hpp).
//
//   tandem::Future<std::tuple<int, std::string>> both = tandem::when_all(f1, f2);
//   tandem::Future<int> first = tandem::when_any(std::vector{f1, f3});
//   auto [n, s] = co_await tandem::when_all(f1, f2);       // in a coroutine
//
// Guarantees
//  * when_all(fs...) completes when every input is done, with the tuple of their results
//    (std::monostate for a Future<void>); as soon as one input fails (an exception, or
//    CancelledError for a cancelled one) it fails with that first failure, without waiting
//    for the others. No input is cancelled by it.
//  * when_any(futures) takes the outcome of the first input to complete — a value or a
//    failure, as the first of asyncio.wait(FIRST_COMPLETED) would be read; an empty vector is a
//    ValueError. The other inputs go on.
//  * Both are completed by the thread that completes the deciding input (through done
//    callbacks: no thread, no polling), and return at once. Cancelling the returned future
//    is allowed and leaves the inputs alone.
//  * Results are copied out of the inputs (which their other holders may still read), so T
//    must be copy-constructible.
// Beyond Python: concurrent.futures has wait(FIRST_COMPLETED / ALL_COMPLETED), which blocks;
// these are futures themselves (folly::collectAll / collectAny, std::experimental::when_all).
// Cost: one shared allocation plus one callback per input.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/futures/future.hpp"

namespace tandem {

namespace detail {

template <class T>
using AllValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// The failure a done future holds (its exception, or CancelledError), or nullptr.
inline std::exception_ptr failure_of(FutureCore& c) {
  if (c.cancelled()) return std::make_exception_ptr(CancelledError());
  return c.has_exception() ? c.stored_exception() : nullptr;
}

/// Sets `out` unless it was set or cancelled meanwhile (the loser of a race just stops).
template <class T, class... V>
void try_complete(Future<T>& out, std::exception_ptr e, V&&... v) noexcept {
  try {
    if (e)
      out.set_exception(std::move(e));
    else if constexpr (sizeof...(V) > 0 || std::is_void_v<T>)
      out.set_result(std::forward<V>(v)...);
  } catch (...) {  // InvalidStateError: already decided, or cancelled by its holder
  }
}

template <class T>
AllValue<T> value_of(Future<T>& f) {
  if constexpr (std::is_void_v<T>)
    return std::monostate{};
  else
    return f.result();
}

}  // namespace detail

template <class... Ts>
Future<std::tuple<detail::AllValue<Ts>...>> when_all(Future<Ts>... fs) {
  static_assert(((std::is_void_v<Ts> || std::is_copy_constructible_v<Ts>) && ...),
                "tandem::when_all: the futures' value types must be copy-constructible");
  using Tuple = std::tuple<detail::AllValue<Ts>...>;
  Future<Tuple> out;
  if constexpr (sizeof...(Ts) == 0) {
    out.set_result(Tuple{});
  } else {
    struct Join {
      std::atomic<std::size_t> left{sizeof...(Ts)};
      Future<Tuple> out;
      std::tuple<Future<Ts>...> in;
    };
    auto j = std::make_shared<Join>();
    j->out = out;
    j->in = std::tuple<Future<Ts>...>(fs...);
    auto arm = [&j](auto& f) {
      f.state()->add_callback([j](detail::FutureCore& c) {
        if (std::exception_ptr e = detail::failure_of(c)) {
          detail::try_complete(j->out, std::move(e));
        } else if (j->left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          std::exception_ptr err;
          std::optional<Tuple> t;
          try {
            t.emplace(std::apply([](auto&... f) { return Tuple(detail::value_of(f)...); }, j->in));
          } catch (...) {  // a copy constructor threw
            err = std::current_exception();
          }
          if (err)
            detail::try_complete(j->out, std::move(err));
          else
            detail::try_complete(j->out, nullptr, std::move(*t));
        }
      });
    };
    std::apply([&](auto&... f) { (arm(f), ...); }, j->in);
  }
  return out;
}

template <class T>
Future<T> when_any(const std::vector<Future<T>>& fs) {
  static_assert(std::is_void_v<T> || std::is_copy_constructible_v<T>,
                "tandem::when_any: the futures' value type must be copy-constructible");
  if (fs.empty()) throw ValueError("when_any needs at least one future");
  Future<T> out;
  for (const Future<T>& f : fs) {
    f.state()->add_callback([out](detail::FutureCore& c) mutable {
      if (out.done()) return;  // decided already: skip the copy
      std::exception_ptr e = detail::failure_of(c);
      if constexpr (std::is_void_v<T>) {
        detail::try_complete(out, std::move(e));
      } else if (e) {
        detail::try_complete(out, std::move(e));
      } else {
        try {
          T v = static_cast<detail::FutureState<T>&>(c).value();
          detail::try_complete(out, nullptr, std::move(v));
        } catch (...) {
          detail::try_complete(out, std::current_exception());
        }
      }
    });
  }
  return out;
}

}  // namespace tandem
