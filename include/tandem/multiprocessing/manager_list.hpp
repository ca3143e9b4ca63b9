// SPDX-License-Identifier: MIT
// mp::ListProxy<T>: what mp::Manager::list<T>() returns. manager_containers.hpp has the
// specification (guarantees, cost, differences from Python).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <vector>

#include "tandem/multiprocessing/detail/manager_containers.hpp"

namespace tandem::mp {

/// m.list<T>(): Python's ListProxy. T Serializable; see the top of this file. Indices are
/// Python's: negative ones count from the end.
template <class T>
class ListProxy : public detail::ContainerProxy<detail::ManagedKind::list> {
  static_assert(Serializable<T>,
                "Manager::list<T>: T must be serializable (see <tandem/serialize.hpp>)");
  using Records = detail::Records;

 public:
  using value_type = T;
  ListProxy() noexcept = default;

  void append(const T& v) {
    const auto vb = detail::to_bytes(v);
    locked([&](Records& r) { r.insert(r.end(), {}, vb); });
  }
  /// One call for the whole range; std::length_error when out of room, with the items
  /// before the one that did not fit appended.
  template <class Range>
  void extend(const Range& items) {
    std::vector<std::vector<std::byte>> vbs;
    for (const auto& v : items) vbs.push_back(detail::to_bytes(static_cast<const T&>(v)));
    locked([&](Records& r) {
      for (const auto& vb : vbs) r.insert(r.end(), {}, vb);
    });
  }
  void extend(std::initializer_list<T> items) { extend<std::initializer_list<T>>(items); }
  /// Python's insert: an index past either end is clamped (never raises).
  void insert(std::ptrdiff_t i, const T& v) {
    const auto vb = detail::to_bytes(v);
    locked([&](Records& r) {
      const auto n = static_cast<std::ptrdiff_t>(r.size());
      if (i < 0) i = std::max<std::ptrdiff_t>(0, i + n);
      r.insert(r.nth(static_cast<std::size_t>(std::min(i, n))), {}, vb);
    });
  }
  /// Removes and returns item i (the last by default): out_of_range("pop from empty list" /
  /// "pop index out of range").
  T pop(std::ptrdiff_t i = -1) {
    return locked([&](Records& r) {
      if (r.size() == 0) throw std::out_of_range("pop from empty list");
      const std::size_t at = r.nth(detail::normalize_index(i, r.size(), "pop index out of range"));
      T v = detail::from_bytes<T>(r.value(at));
      r.erase(at);
      return v;
    });
  }
  /// Removes the first item equal to v: ValueError("list.remove(x): x not in list").
  void remove(const T& v) {
    const auto vb = detail::to_bytes(v);
    locked([&](Records& r) {
      const std::size_t at = r.find_value(vb);
      if (at == r.end()) throw ValueError("list.remove(x): x not in list");
      r.erase(at);
    });
  }
  /// The index of the first item equal to v: ValueError("x is not in list").
  std::size_t index(const T& v) const {
    const auto vb = detail::to_bytes(v);
    return locked([&](Records& r) {
      std::size_t i = 0;
      for (std::size_t at = 0; at < r.end(); at = r.next(at), ++i)
        if (std::ranges::equal(r.value(at), vb)) return i;
      throw ValueError("x is not in list");
    });
  }
  std::size_t count(const T& v) const {
    const auto vb = detail::to_bytes(v);
    return locked([&](Records& r) {
      std::size_t n = 0;
      for (std::size_t at = r.find_value(vb); at < r.end(); at = r.find_value(vb, r.next(at))) ++n;
      return n;
    });
  }
  /// l[i]: out_of_range("list index out of range").
  T get(std::ptrdiff_t i) const {
    return locked([&](Records& r) {
      return detail::from_bytes<T>(
          r.value(r.nth(detail::normalize_index(i, r.size(), "list index out of range"))));
    });
  }
  T operator[](std::ptrdiff_t i) const { return get(i); }
  /// l[i] = v: out_of_range("list assignment index out of range").
  void set(std::ptrdiff_t i, const T& v) {
    const auto vb = detail::to_bytes(v);
    locked([&](Records& r) {
      r.set_value(r.nth(detail::normalize_index(i, r.size(), "list assignment index out of range")),
                  vb);
    });
  }
  /// l[:]: a copy of every item, in one call.
  std::vector<T> snapshot() const {
    return locked([&](Records& r) {
      std::vector<T> out;
      out.reserve(r.size());
      for (std::size_t at = 0; at < r.end(); at = r.next(at))
        out.push_back(detail::from_bytes<T>(r.value(at)));
      return out;
    });
  }
  void reverse() {
    locked([](Records& r) {
      auto raw = r.raw();
      std::reverse(raw.begin(), raw.end());
      r.assign(raw);
    });
  }
  /// Stable, as Python's (by operator<, or by operator> when `descending`).
  void sort(bool descending = false)
    requires requires(const T& a, const T& b) {
      { a < b } -> std::convertible_to<bool>;
    }
  {
    locked([&](Records& r) {
      auto raw = r.raw();
      std::vector<T> items;
      items.reserve(raw.size());
      for (const auto& rec : raw) items.push_back(detail::from_bytes<T>(rec.second));
      std::vector<std::size_t> order(raw.size());
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return descending ? items[b] < items[a] : items[a] < items[b];
      });
      std::vector<detail::RawRecord> sorted;
      sorted.reserve(raw.size());
      for (std::size_t i : order) sorted.push_back(std::move(raw[i]));
      r.assign(sorted);
    });
  }

  /// Python's iter(l): reads item i at each step (one call each), so it sees changes made
  /// meanwhile; it ends at the first index past the end.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    const T& operator*() const { return *cur_; }
    const T* operator->() const { return &*cur_; }
    iterator& operator++() {
      ++i_;
      fetch();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.cur_; }

   private:
    friend class ListProxy;
    explicit iterator(const ListProxy* l) : l_(l) { fetch(); }
    void fetch() {
      cur_ = l_->locked([&](Records& r) -> std::optional<T> {
        if (i_ >= r.size()) return std::nullopt;
        return detail::from_bytes<T>(r.value(r.nth(i_)));
      });
    }
    const ListProxy* l_ = nullptr;
    std::size_t i_ = 0;
    std::optional<T> cur_;
  };
  iterator begin() const { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

  void load(InArchive& ar) { load_container(ar, detail::type_tag<T>()); }

 private:
  friend class Manager;
  ListProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : ContainerProxy(ref, std::move(a)) {}
};

}  // namespace tandem::mp
