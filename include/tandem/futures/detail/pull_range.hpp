// SPDX-License-Identifier: MIT
// tandem::detail::PullRange — the single-pass range shape of as_completed() and map(): a range
// that produces its elements one at a time, on demand, and hands out the current one.
//
// Derived (CRTP; it befriends PullRange) provides
//   void advance();               // makes current_ the next element, or empties it at the end;
//                                 // may block and may throw (the exception reaches begin()/++)
//   std::optional<T> current_;    // the element *it refers to
// and gets begin() (which produces the first element, as Python's first next()), end() (a
// std::default_sentinel_t), exhausted() and an input iterator whose * and -> reach current_.
// The iterator points at the range: the range must not move once begin() was called.
// Not thread-safe: one consumer. No cost beyond Derived's: every call forwards inline.
#pragma once

#include <cstddef>
#include <iterator>

namespace tandem::detail {

template <class Derived, class T>
class PullRange {
 public:
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;
    iterator() = default;
    explicit iterator(Derived* r) : r_(r) {}
    T& operator*() const { return *r_->current_; }
    T* operator->() const { return &*r_->current_; }
    iterator& operator++() {
      r_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) {
      return it.r_->exhausted();
    }

   private:
    Derived* r_ = nullptr;
  };

  /// Starts the iteration: produces the first element (may block and throw).
  iterator begin() {
    self().advance();
    return iterator(&self());
  }
  std::default_sentinel_t end() const noexcept { return {}; }
  bool exhausted() const noexcept { return !static_cast<const Derived&>(*this).current_; }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace tandem::detail
