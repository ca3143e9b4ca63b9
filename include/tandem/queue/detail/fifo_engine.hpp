// SPDX-License-Identifier: MIT
// tandem::detail::FifoEngine — Queue<T>'s engine: the lock-free ring when the queue is
// bounded (maxsize >= 2: the ring needs two cells) and T moves without throwing, else a
// locked deque. The choice is made once, in the
// constructor (maxsize is a run-time value), and each operation takes one well-predicted
// branch.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>

#include "tandem/queue/detail/containers.hpp"
#include "tandem/queue/detail/locked_engine.hpp"
#include "tandem/queue/detail/ring_engine.hpp"

namespace tandem::detail {

template <class T>
class FifoEngine {
  static constexpr bool kRingable =
      std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>;
  using Locked = LockedEngine<T, FifoContainer<T>>;

 public:
  explicit FifoEngine(std::size_t maxsize) : locked_(maxsize) {
    if constexpr (kRingable) {
      if (maxsize >= 2) ring_ = std::make_unique<RingEngine<T>>(maxsize);
    }
  }

  template <class OnPublish>
  PushStatus try_push(T& item, OnPublish&& before_publish) {
    if constexpr (kRingable) {
      if (ring_) return ring_->try_push(item, before_publish);
    }
    return locked_.try_push(item, before_publish);
  }
  PopStatus try_pop(std::optional<T>& out) {
    if constexpr (kRingable) {
      if (ring_) return ring_->try_pop(out);
    }
    return locked_.try_pop(out);
  }
  bool can_pop() const noexcept { return dispatch([](const auto& e) { return e.can_pop(); }); }
  bool can_push() const noexcept { return dispatch([](const auto& e) { return e.can_push(); }); }
  bool closed() const noexcept { return dispatch([](const auto& e) { return e.closed(); }); }
  std::size_t size() const noexcept { return dispatch([](const auto& e) { return e.size(); }); }
  std::size_t pushed() const noexcept { return dispatch([](const auto& e) { return e.pushed(); }); }
  std::size_t popped() const noexcept { return dispatch([](const auto& e) { return e.popped(); }); }
  bool pushed_more_than(std::size_t n) const noexcept {
    return dispatch([n](const auto& e) { return e.pushed_more_than(n); });
  }
  std::size_t discard() noexcept {
    if constexpr (kRingable) {
      if (ring_) return ring_->discard();
    }
    return locked_.discard();
  }
  void close() noexcept {
    if constexpr (kRingable) {
      if (ring_) return ring_->close();
    }
    locked_.close();
  }

 private:
  template <class F>
  auto dispatch(F&& f) const noexcept {
    if constexpr (kRingable) {
      if (ring_) return f(*ring_);
    }
    return f(locked_);
  }

  struct NoRing {};
  // set when bounded and T is nothrow-movable
  [[no_unique_address]] std::conditional_t<kRingable, std::unique_ptr<RingEngine<T>>, NoRing> ring_;
  Locked locked_;
};

}  // namespace tandem::detail
