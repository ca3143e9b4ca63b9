// SPDX-License-Identifier: MIT
// tandem::shipping::ship — turn `fn(args...)` into a Task another process can run.
//
//   Task t = tandem::shipping::ship(add, 2, 3);          // sender
//   std::vector<std::byte> out;  tandem::shipping::run(t, out);   // receiver (a worker)
//   int r = tandem::shipping::take_result<int>(out);     // sender again: 5, or rethrows
//
// What can be shipped — checked at compile time, each failure a static_assert that says why:
//  * fn: a function pointer, a function, or a lambda without captures (converted to a function
//    pointer; travels as its code's offset), or a serializable function object — a class
//    with one non-template operator() that is tandem::Serializable (a struct carrying its
//    parameters: `struct Scale { double k; double operator()(double x) const; };`), which
//    travels by value in front of the arguments and is called on the receiver's decoded copy.
//    Not: a lambda with captures (its state lives in this process and has no codec), a generic
//    lambda or overloaded functor (no single signature), any other functor.
//  * args: one per parameter, each convertible to the parameter's decayed type, which must be
//    tandem::Serializable; a parameter taken by non-const lvalue reference is refused (the
//    callee would modify a copy in another process, silently).
//  * the result: void or a Serializable type (returned by value; a reference result is copied).
// Outcome bytes (what run() produces, take_result() consumes): one tag byte — 0 value, 1
// exception — then, for a value, its frame (nothing for void); for an exception, a frame of
// ExceptionRecord (remote_exception.hpp), rethrown by take_result as the same standard or
// tandem type, or RemoteError.
// Errors at the receiver: a task with a bad check or offsets → DecodeError from run() (nothing
// is called); argument bytes that do not decode → a DecodeError *outcome* (the task was
// well-formed, its data was not), so the sender sees it as the task's exception.
// Cost: sender — one serialization of the arguments (one allocation) and the seal; receiver —
//  resolve, one decode, the call, one encode into `out` (amortised: reuse `out`). A function
//  object adds its own encoding and decoding to each task (for a map: to each chunk).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/serialize.hpp"
#include "tandem/shipping/function_id.hpp"
#include "tandem/shipping/remote_exception.hpp"
#include "tandem/shipping/task.hpp"

namespace tandem::shipping {

/// The trampoline of a TaskKind::call task.
using CallTrampoline = void (*)(std::uintptr_t fn, std::span<const std::byte> args,
                                std::vector<std::byte>& out);

namespace detail {

// ok: travels as a code offset; object: a serializable function object, travels by value.
enum class FnKind { ok, object, captures, generic, not_a_function };

template <class Sig>
struct call_operator {};  // Sig: the type of &F::operator()
#define TANDEM_DETAIL_CALL_OP(QUAL)                       \
  template <class C, class R, class... P>                 \
  struct call_operator<R (C::*)(P...) QUAL> {             \
    using pointer = R (*)(P...);                          \
  };
TANDEM_DETAIL_CALL_OP()
TANDEM_DETAIL_CALL_OP(const)
TANDEM_DETAIL_CALL_OP(noexcept)
TANDEM_DETAIL_CALL_OP(const noexcept)
#undef TANDEM_DETAIL_CALL_OP

template <class Fp>
struct plain_pointer {
  using type = Fp;
};
template <class R, class... P>
struct plain_pointer<R (*)(P...) noexcept> {
  using type = R (*)(P...);
};

/// Classifies F and names the function pointer type it ships as.
template <class F>
struct function_info {
  static constexpr FnKind kind = FnKind::not_a_function;
  using pointer = void;
};
template <class F>
  requires std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>
struct function_info<F> {
  static constexpr FnKind kind = FnKind::ok;
  using pointer = typename plain_pointer<F>::type;
};
template <class F>
  requires std::is_class_v<F> && requires { &F::operator(); }
struct function_info<F> {
  using pointer = typename call_operator<decltype(&F::operator())>::pointer;
  static constexpr FnKind kind = std::is_convertible_v<F, pointer> ? FnKind::ok
                                 : Serializable<F>                 ? FnKind::object
                                                                   : FnKind::captures;
};
template <class F>
  requires std::is_class_v<F> && (!requires { &F::operator(); })
struct function_info<F> {
  static constexpr FnKind kind = FnKind::generic;
  using pointer = void;
};

/// F (decayed) can be shipped as a callee: a function's code or a function object's value.
template <class F>
inline constexpr bool callable_kind =
    function_info<F>::kind == FnKind::ok || function_info<F>::kind == FnKind::object;

template <class P>
inline constexpr bool mutable_ref_param =
    std::is_lvalue_reference_v<P> && !std::is_const_v<std::remove_reference_t<P>>;

template <class Fp>
struct Signature;
template <class R, class... P>
struct Signature<R (*)(P...)> {
  using result = R;
  using args_tuple = std::tuple<std::decay_t<P>...>;
  static constexpr std::size_t arity = sizeof...(P);

  static constexpr bool params_ok = (!mutable_ref_param<P> && ...);
  static constexpr bool args_serializable = (Serializable<std::decay_t<P>> && ...);
  static constexpr bool result_ok =
      std::is_void_v<R> || Serializable<std::remove_cvref_t<R>>;
  template <class... A>
  static constexpr bool accepts() {
    if constexpr (sizeof...(A) != sizeof...(P))
      return false;
    else
      return (std::is_constructible_v<std::decay_t<P>, A&&> && ...);
  }
};

template <class... A>
inline constexpr bool always_false_v = false;

}  // namespace detail

/// The type a callee F travels as: its function pointer type (R(*)(P...)), or F itself for
/// a serializable function object.
template <class F>
using callee_t = std::conditional_t<detail::function_info<std::decay_t<F>>::kind ==
                                        detail::FnKind::object,
                                    std::decay_t<F>,
                                    typename detail::function_info<std::decay_t<F>>::pointer>;

namespace detail {

/// Seals a TaskKind::call task of `trampoline` for `callee` with `payload` (the arguments,
/// or a map chunk's items). A function travels as its code offset and the payload frame is
/// the arguments alone; a function object travels as the frame of pair(object, payload), and
/// the task's function offset is the trampoline's own (there is no other code to name).
template <class C, class Payload>
Task seal_call(CallTrampoline trampoline, const C& callee, Payload&& payload) {
  Task t;
  if constexpr (std::is_pointer_v<C>) {
    t.args = tandem::serialize(payload);
    seal(t, address_of(trampoline), address_of(callee), TaskKind::call);
  } else {
    t.args = tandem::serialize(
        std::pair<C, std::decay_t<Payload>>(callee, std::forward<Payload>(payload)));
    seal(t, address_of(trampoline), address_of(trampoline), TaskKind::call);
  }
  return t;
}

/// The receiving side of seal_call: the callee and the payload. DecodeError on bad bytes.
template <class C, class Payload>
std::pair<C, Payload> open_call(std::uintptr_t fn, std::span<const std::byte> in) {
  if constexpr (std::is_pointer_v<C>)
    return {reinterpret_cast<C>(fn), tandem::deserialize<Payload>(in)};
  else
    return tandem::deserialize<std::pair<C, Payload>>(in);
}

template <class C, class Fp = typename function_info<C>::pointer>
struct Call;

/// The trampoline of ship(): decode, call, encode the outcome. Never throws past itself
/// (except std::bad_alloc while reporting an exception, which terminates the worker).
template <class C, class R, class... P>
struct Call<C, R (*)(P...)> {
  using args_tuple = std::tuple<std::decay_t<P>...>;
  static void invoke(std::uintptr_t fn, std::span<const std::byte> in,
                     std::vector<std::byte>& out) noexcept {
    const std::size_t at = out.size();
    try {
      auto call = open_call<C, args_tuple>(fn, in);
      C& f = call.first;
      if constexpr (std::is_void_v<R>) {
        std::apply([&f](auto&... a) { f(std::move(a)...); }, call.second);
        out.push_back(std::byte{0});
      } else {
        auto&& r = std::apply(
            [&f](auto&... a) -> decltype(auto) { return f(std::move(a)...); }, call.second);
        out.push_back(std::byte{0});
        tandem::serialize_append(out, static_cast<const std::remove_cvref_t<R>&>(r));
      }
    } catch (...) {
      out.resize(at);
      out.push_back(std::byte{1});
      tandem::serialize_append(out, record_exception(std::current_exception()));
    }
  }
};

template <class F, class... Args>
constexpr bool shippable() {
  using FI = function_info<std::decay_t<F>>;
  if constexpr (!callable_kind<std::decay_t<F>>) {
    return false;
  } else {
    using S = Signature<typename FI::pointer>;
    return S::template accepts<Args...>() && S::params_ok && S::args_serializable &&
           S::result_ok;
  }
}
}  // namespace detail

/// True when ship(f, args...) compiles.
template <class F, class... Args>
concept Shippable = detail::shippable<F, Args...>();

/// The result type of shipping `F` (its return type, decayed; void stays void).
template <class F>
using shipped_result_t = std::conditional_t<
    std::is_void_v<typename detail::Signature<
        typename detail::function_info<std::decay_t<F>>::pointer>::result>,
    void,
    std::remove_cvref_t<typename detail::Signature<
        typename detail::function_info<std::decay_t<F>>::pointer>::result>>;

/// Checks (at compile time) and ships fn(args...): see the file comment.
template <class F, class... Args>
Task ship(F fn, Args&&... args) {
  using FI = detail::function_info<F>;
  static_assert(FI::kind != detail::FnKind::captures,
                "tandem::ship: a lambda with captures cannot cross a process boundary (its "
                "captured state lives in this process): capture nothing and pass the values "
                "as arguments, or make it a function object that is tandem::Serializable");
  static_assert(FI::kind != detail::FnKind::generic,
                "tandem::ship: a generic lambda (auto parameters) or an overloaded functor has "
                "no single signature to ship: give its parameters types, or pass a function "
                "pointer");
  static_assert(FI::kind != detail::FnKind::not_a_function,
                "tandem::ship: fn must be a function pointer, a function, a lambda without "
                "captures, or a serializable function object");
  if constexpr (detail::callable_kind<F>) {
    using Fp = typename FI::pointer;
    using S = detail::Signature<Fp>;
    static_assert(S::template accepts<Args...>(),
                  "tandem::ship: the arguments do not match fn's parameters (one argument per "
                  "parameter, each convertible to the parameter's type)");
    static_assert(S::params_ok,
                  "tandem::ship: fn takes a parameter by non-const reference: in another "
                  "process it would modify a copy; take it by value or const reference and "
                  "return the result");
    static_assert(S::args_serializable,
                  "tandem::ship: an argument type is not tandem::Serializable (see "
                  "<tandem/serialize.hpp>; raw pointers cannot cross a process boundary)");
    static_assert(S::result_ok,
                  "tandem::ship: fn's result type is not tandem::Serializable (see "
                  "<tandem/serialize.hpp>)");
    if constexpr (S::template accepts<Args...>() && S::params_ok && S::args_serializable &&
                  S::result_ok) {
      using C = callee_t<F>;
      return detail::seal_call<C>(&detail::Call<C>::invoke, C(fn),
                                  typename S::args_tuple(std::forward<Args>(args)...));
    }
  }
  return Task{};
}

/// Runs a received TaskKind::call task and appends its outcome to `out`. DecodeError (and
/// nothing called) when the task is corrupt or not from this binary.
inline void run(const Task& task, std::vector<std::byte>& out) {
  const ResolvedTask r = resolve(task, TaskKind::call);
  reinterpret_cast<CallTrampoline>(r.trampoline)(r.function, task.args, out);
}

/// Decodes an outcome: returns the value, or rethrows the task's exception. DecodeError when
/// the bytes are not an outcome of an R.
template <class R>
R take_result(std::span<const std::byte> outcome) {
  if (outcome.empty()) throw DecodeError("tandem: empty task outcome");
  const auto tag = std::to_integer<unsigned>(outcome[0]);
  const auto rest = outcome.subspan(1);
  if (tag == 1) rethrow_remote(tandem::deserialize<ExceptionRecord>(rest));
  if (tag != 0) throw DecodeError("tandem: bad task outcome tag " + std::to_string(tag));
  if constexpr (std::is_void_v<R>) {
    if (!rest.empty()) throw DecodeError("tandem: trailing bytes after a void task outcome");
  } else {
    return tandem::deserialize<R>(rest);
  }
}

}  // namespace tandem::shipping
