// tandem::MpiMapResult — the lazy, in-order range MpiPoolExecutor::map returns.
//
// Items travel in chunks of `chunksize`: one shipped task per chunk, whose trampoline
// (ChunkCall<Fp>::invoke, generated here for fn's exact signature and sealed like any shipped
// task, shipping/task.hpp) decodes the items, calls fn on each, and answers with the values
// computed and, if fn threw, the exception at that position. Semantics as
// ThreadPoolExecutor::map: results in input order; buffersize 0 submits every chunk at the
// call, buffersize n keeps at most n chunks in flight and reads the input lazily; the timeout
// is one deadline fixed at the call (TimeoutError from the iterator); an exception is rethrown
// at its position and ends the iteration, cancelling the chunks not yet sent, as destroying
// the range early does. The executor must outlive the range.
// Cost per item: one encode at rank 0, one decode + call + encode at the worker, one decode
// at rank 0 — a memcpy each way for trivially copyable items and results.
#pragma once

#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/detail/timeout.hpp"
#include "tandem/futures/thread_pool.hpp"
#include "tandem/mpi/job.hpp"
#include "tandem/mpi/pool_core.hpp"

namespace tandem::mpi::detail {

template <class Fp>
struct ChunkCall;

template <class R0, class... P>
struct ChunkCall<R0 (*)(P...)> {
  using Result = std::remove_cvref_t<R0>;
  /// One item: the argument itself for a one-parameter fn (a memcpy-able vector of ints
  /// stays one), a tuple of the decayed parameters otherwise.
  using Item = std::conditional_t<sizeof...(P) == 1,
                                  std::tuple_element_t<0, std::tuple<std::decay_t<P>..., void>>,
                                  std::tuple<std::decay_t<P>...>>;
  using Outcome = std::pair<std::vector<Result>, std::optional<shipping::ExceptionRecord>>;

  struct Chunk {
    std::vector<Result> values;
    std::exception_ptr error;
  };

  static void invoke(std::uintptr_t fn, std::span<const std::byte> in,
                     std::vector<std::byte>& out) noexcept {
    const std::size_t at = out.size();
    try {
      auto f = reinterpret_cast<R0 (*)(P...)>(fn);
      auto items = tandem::deserialize<std::vector<Item>>(in);
      Outcome o;
      o.first.reserve(items.size());
      try {
        for (Item& it : items) {
          if constexpr (sizeof...(P) == 1)
            o.first.push_back(f(std::move(it)));
          else
            o.first.push_back(std::apply([f](auto&... a) -> decltype(auto) {
              return f(std::move(a)...);
            }, it));
        }
      } catch (...) {
        o.second = shipping::record_exception(std::current_exception());
      }
      out.push_back(std::byte{0});
      tandem::serialize_append(out, o);
    } catch (...) {
      out.resize(at);
      out.push_back(std::byte{1});
      tandem::serialize_append(out, shipping::record_exception(std::current_exception()));
    }
  }

  static Chunk decode(std::span<const std::byte> outcome) {
    Outcome o = shipping::take_result<Outcome>(outcome);
    Chunk c{std::move(o.first), nullptr};
    if (o.second) {
      try {
        shipping::rethrow_remote(*o.second);
      } catch (...) {
        c.error = std::current_exception();
      }
    }
    return c;
  }
};

}  // namespace tandem::mpi::detail

namespace tandem {

template <class Fp, class... Rs>
class MpiMapResult {
  using CC = mpi::detail::ChunkCall<Fp>;
  using R = typename CC::Result;
  using Item = typename CC::Item;
  using Chunk = typename CC::Chunk;

 public:
  MpiMapResult(mpi::detail::PoolCore& core, Fp fn, const MapOptions& opts, Rs&&... ranges)
      : core_(&core),
        fn_(fn),
        opts_(opts),
        deadline_(opts.timeout ? tandem::detail::clamped_deadline(*opts.timeout)
                               : tandem::detail::Deadline::never()),
        in_(std::make_unique<tandem::detail::MapInput<Rs...>>(std::forward<Rs>(ranges)...)) {
    std::size_t limit = opts_.buffersize == 0 ? SIZE_MAX : opts_.buffersize;
    for (std::size_t i = 0; i < limit && submit_chunk(); ++i) {
    }
  }
  MpiMapResult(MpiMapResult&&) noexcept = default;
  ~MpiMapResult() { cancel_rest(); }

  class iterator {
   public:
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(MpiMapResult* m) : m_(m) {}
    R& operator*() const { return *m_->current_; }
    iterator& operator++() {
      m_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) {
      return it.m_->exhausted();
    }

   private:
    MpiMapResult* m_ = nullptr;
  };
  iterator begin() {
    advance();
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }
  bool exhausted() const noexcept { return !current_; }

 private:
  bool submit_chunk() {
    if (input_done_) return false;
    std::vector<Item> items;
    items.reserve(opts_.chunksize);
    while (items.size() < opts_.chunksize) {
      if (in_->at_end()) {
        input_done_ = true;
        break;
      }
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        items.emplace_back(*std::get<I>(in_->its)...);
        (++std::get<I>(in_->its), ...);
      }(std::index_sequence_for<Rs...>{});
    }
    if (items.empty()) return false;
    auto* st = new mpi::detail::JobState<Chunk>(&CC::decode);
    try {
      st->task.args = tandem::serialize(items);
      shipping::seal(st->task, shipping::address_of(&CC::invoke), shipping::address_of(fn_),
                     shipping::TaskKind::call);
    } catch (...) {
      st->release();
      throw;
    }
    st->init_refs(2);
    try {
      core_->submit(st);
    } catch (...) {
      st->release();
      st->release();
      throw;
    }
    futs_.push_back(Future<Chunk>(st, tandem::detail::AdoptRef{}));
    return !input_done_;
  }

  void advance() {
    current_.reset();
    if (pos_ < cur_.values.size()) {
      current_.emplace(std::move(cur_.values[pos_++]));
      return;
    }
    if (cur_.error) {
      std::exception_ptr e = std::exchange(cur_.error, nullptr);
      cancel_rest();
      std::rethrow_exception(e);
    }
    if (futs_.empty()) return;
    if (opts_.buffersize != 0) submit_chunk();
    Future<Chunk> f = std::move(futs_.front());
    futs_.pop_front();
    if (!f.state()->wait_done(deadline_)) {
      f.cancel();
      cancel_rest();
      throw TimeoutError();
    }
    if (f.state()->has_exception()) {
      cancel_rest();
      std::rethrow_exception(f.state()->stored_exception());
    }
    if (f.cancelled()) {
      cancel_rest();
      throw CancelledError();
    }
    cur_ = std::move(f.state()->value());
    pos_ = 0;
    advance();
  }

  void cancel_rest() {
    for (Future<Chunk>& f : futs_) f.cancel();
    futs_.clear();
  }

  mpi::detail::PoolCore* core_;
  Fp fn_;
  MapOptions opts_;
  tandem::detail::Deadline deadline_;
  std::unique_ptr<tandem::detail::MapInput<Rs...>> in_;
  bool input_done_ = false;
  std::deque<Future<Chunk>> futs_;
  Chunk cur_;
  std::size_t pos_ = 0;
  std::optional<R> current_;
};

}  // namespace tandem
