// SPDX-License-Identifier: MIT
// Map chunks shipped to another process (ProcessPoolExecutor, MpiPoolExecutor): the one
// trampoline that runs a chunk in a worker, and the wire form of its MapChunk.
//
//  * ShippedMap<C>::task(fn, items) seals a shipping::Task (shipping/task.hpp) whose
//    arguments are the chunk's items (behind the function object, when fn is one) and whose
//    trampoline is ShippedMap<C>::invoke, generated here for fn's exact signature. One Item is the argument itself for a one-parameter fn (a
//    memcpy-able vector of ints stays one), a tuple of the decayed parameters otherwise.
//  * invoke (in the worker) decodes the items, calls fn on each in order, and answers with the
//    outcome bytes of shipping::take_result: tag 0 and a MapChunk — the values computed and,
//    when fn threw, the exception at that position (the chunk stops there); tag 1 and the
//    exception when the chunk could not run at all (its bytes did not decode).
//  * In a process pool worker each finished item is also kept in the worker's result log as it
//    is computed (detail::g_chunk_progress): a crash in item k of a chunk fails item k and
//    keeps items 0..k-1 (one more serialization of each value: the cost of that promise).
//  * Codec<detail::MapChunk<R>>: the values, then the exception as an optional
//    shipping::ExceptionRecord; decoding turns the record back into an exception_ptr of the
//    same type (remote_exception.hpp), so the receiving side's MapRange rethrows it as it
//    would a local one.
// Cost per item: one encode at the caller, one decode + call + encode at the worker, one decode
// at the caller — a memcpy each way for trivially copyable items and results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/futures/map_range.hpp"
#include "tandem/serialize.hpp"
#include "tandem/shipping/function_id.hpp"
#include "tandem/shipping/remote_exception.hpp"
#include "tandem/shipping/ship.hpp"
#include "tandem/shipping/task.hpp"

namespace tandem {

template <class R>
struct Codec<detail::MapChunk<R>> {
  using Record = std::optional<shipping::ExceptionRecord>;
  template <detail::Dir D, class... Seen>
  static consteval bool tandem_ok() {
    return detail::ok_v<std::vector<R>, D, Seen...>;
  }
  static constexpr std::size_t tandem_floor = detail::wire_floor<std::vector<R>> + 1;
  template <class Ar>
  static void save(Ar& ar, const detail::MapChunk<R>& c) {
    detail::save_value(ar, c.values);
    Record rec;  // rebuilt on each of serialize()'s passes: only a failed chunk has one
    if (c.error) rec = shipping::record_exception(c.error);
    detail::save_value(ar, rec);
  }
  static void load(InArchive& ar, detail::MapChunk<R>& c) {
    detail::load_value(ar, c.values);
    Record rec;
    detail::load_value(ar, rec);
    c.error = nullptr;
    if (rec) {
      try {
        shipping::rethrow_remote(*rec);
      } catch (...) {
        c.error = std::current_exception();
      }
    }
  }
};

namespace detail {

/// Where a worker process keeps the finished items of the map chunk it is running, so that a
/// crash (or a timeout kill) in a later item of the chunk loses none of them: the process
/// pool's worker points this at its result log for the length of each task (the pool then
/// completes the chunk with those values and the failure at the item that died). Null
/// elsewhere: in a thread pool, an MPI rank, any other process. One worker thread uses it.
struct ChunkProgress {
  void* ctx;
  void (*put)(void* ctx, std::span<const std::byte> value) noexcept;
};
inline ChunkProgress* g_chunk_progress = nullptr;

/// C: the callee as shipping::callee_t names it — a function pointer type, or a serializable
/// function object (which then travels with each chunk: shipping::detail::seal_call).
template <class C, class Fp = typename shipping::detail::function_info<C>::pointer>
struct ShippedMap;

template <class C, class R0, class... P>
struct ShippedMap<C, R0 (*)(P...)> {
  using Result = std::remove_cvref_t<R0>;
  using Item = std::conditional_t<sizeof...(P) == 1,
                                  std::tuple_element_t<0, std::tuple<std::decay_t<P>..., void>>,
                                  std::tuple<std::decay_t<P>...>>;

  static shipping::Task task(const C& fn, std::vector<Item> items) {
    return shipping::detail::seal_call<C>(&invoke, fn, std::move(items));
  }

  static void invoke(std::uintptr_t fn, std::span<const std::byte> in,
                     std::vector<std::byte>& out) noexcept {
    const std::size_t at = out.size();
    try {
      auto call = shipping::detail::open_call<C, std::vector<Item>>(fn, in);
      C& f = call.first;
      std::vector<Item>& items = call.second;
      MapChunk<Result> c;
      c.values.reserve(items.size());
      ChunkProgress* const progress = g_chunk_progress;
      std::vector<std::byte> one;  // an item's value, for `progress`
      try {
        for (Item& it : items) {
          if constexpr (sizeof...(P) == 1) {
            c.values.push_back(f(std::move(it)));
          } else {
            c.values.push_back(std::apply(
                [&f](auto&... a) -> decltype(auto) { return f(std::move(a)...); }, it));
          }
          if (progress) {
            one.clear();
            tandem::serialize_append(one, c.values.back());
            progress->put(progress->ctx, one);
          }
        }
      } catch (...) {
        c.error = std::current_exception();
      }
      out.push_back(std::byte{0});
      tandem::serialize_append(out, c);
    } catch (...) {
      out.resize(at);
      out.push_back(std::byte{1});
      tandem::serialize_append(out, shipping::record_exception(std::current_exception()));
    }
  }
};

}  // namespace detail
}  // namespace tandem
