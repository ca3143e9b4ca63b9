// SPDX-License-Identifier: MIT
// mp::DictProxy<K, V>: what mp::Manager::dict<K, V>() returns. manager_containers.hpp has the
// specification (guarantees, cost, differences from Python).
#pragma once

#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "tandem/multiprocessing/detail/manager_containers.hpp"

namespace tandem::mp {

/// m.dict<K, V>(): Python's DictProxy. K and V Serializable; see the top of this file.
template <class K, class V>
class DictProxy : public detail::ContainerProxy<detail::ManagedKind::dict> {
  static_assert(Serializable<K> && Serializable<V>,
                "Manager::dict<K, V>: K and V must be serializable (see <tandem/serialize.hpp>)");
  using Records = detail::Records;

 public:
  using key_type = K;
  using mapped_type = V;
  DictProxy() noexcept = default;

  /// d[k]: KeyError when absent.
  V operator[](const K& k) const { return at(k); }
  V at(const K& k) const {
    const auto kb = detail::to_bytes(k);
    return locked([&](Records& r) {
      const std::size_t at = r.find_key(kb);
      if (at == r.end()) throw KeyError(detail::key_repr(k));
      return detail::from_bytes<V>(r.value(at));
    });
  }
  /// d.get(k): nullopt when absent (Python's None).
  std::optional<V> get(const K& k) const {
    const auto kb = detail::to_bytes(k);
    return locked([&](Records& r) -> std::optional<V> {
      const std::size_t at = r.find_key(kb);
      if (at == r.end()) return std::nullopt;
      return detail::from_bytes<V>(r.value(at));
    });
  }
  V get(const K& k, const V& fallback) const { return get(k).value_or(fallback); }
  /// d[k] = v: an existing key keeps its place.
  void set(const K& k, const V& v) {
    const auto kb = detail::to_bytes(k);
    const auto vb = detail::to_bytes(v);
    locked([&](Records& r) { put(r, kb, vb); });
  }
  /// Returns d[k], first setting it to `fallback` when absent.
  V setdefault(const K& k, const V& fallback = V{}) {
    const auto kb = detail::to_bytes(k);
    const auto vb = detail::to_bytes(fallback);
    return locked([&](Records& r) {
      const std::size_t at = r.find_key(kb);
      if (at != r.end()) return detail::from_bytes<V>(r.value(at));
      r.insert(r.end(), kb, vb);
      return fallback;
    });
  }
  /// Removes k and returns its value: KeyError when absent.
  V pop(const K& k) {
    std::optional<V> v = take(k);
    if (!v) throw KeyError(detail::key_repr(k));
    return std::move(*v);
  }
  V pop(const K& k, const V& fallback) { return take(k).value_or(fallback); }
  /// del d[k]: KeyError when absent.
  void erase(const K& k) { (void)pop(k); }
  /// Removes and returns the last inserted item: KeyError("popitem(): dictionary is empty").
  std::pair<K, V> popitem() {
    return locked([&](Records& r) {
      if (r.size() == 0) throw KeyError("'popitem(): dictionary is empty'");
      const std::size_t at = r.last();
      std::pair<K, V> kv{detail::from_bytes<K>(r.key(at)), detail::from_bytes<V>(r.value(at))};
      r.erase(at);
      return kv;
    });
  }
  /// Python's `k in d` (and Python 2's has_key).
  bool contains(const K& k) const {
    const auto kb = detail::to_bytes(k);
    return locked([&](Records& r) { return r.find_key(kb) != r.end(); });
  }
  bool has_key(const K& k) const { return contains(k); }
  /// Snapshots, in insertion order, each taken in one call.
  std::vector<K> keys() const {
    return collect([](Records& r, std::size_t at) { return detail::from_bytes<K>(r.key(at)); });
  }
  std::vector<V> values() const {
    return collect([](Records& r, std::size_t at) { return detail::from_bytes<V>(r.value(at)); });
  }
  std::vector<std::pair<K, V>> items() const {
    return collect([](Records& r, std::size_t at) {
      return std::pair<K, V>{detail::from_bytes<K>(r.key(at)), detail::from_bytes<V>(r.value(at))};
    });
  }
  /// d.update(pairs): one call for the whole range (pairs with .first/.second: a std::map, a
  /// vector of pairs, ...). std::length_error when out of room, with the pairs before the
  /// one that did not fit applied.
  template <class Range>
  void update(const Range& pairs) {
    std::vector<detail::RawRecord> kvs;
    for (const auto& [k, v] : pairs)
      kvs.emplace_back(detail::to_bytes(static_cast<const K&>(k)),
                       detail::to_bytes(static_cast<const V&>(v)));
    locked([&](Records& r) {
      for (const auto& [kb, vb] : kvs) put(r, kb, vb);
    });
  }
  void update(std::initializer_list<std::pair<K, V>> pairs) {
    update<std::initializer_list<std::pair<K, V>>>(pairs);
  }
  /// d.copy(): a snapshot as a Map (std::map<K, V> by default; any map built from pairs).
  template <class Map = std::map<K, V>>
  Map copy() const {
    auto kv = items();
    return Map(std::make_move_iterator(kv.begin()), std::make_move_iterator(kv.end()));
  }

  void load(InArchive& ar) { load_container(ar, tag()); }

 private:
  friend class Manager;
  DictProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : ContainerProxy(ref, std::move(a)) {}
  static std::uint64_t tag() { return detail::type_tag<std::pair<K, V>>(); }

  static void put(Records& r, detail::Bytes kb, detail::Bytes vb) {
    const std::size_t at = r.find_key(kb);
    if (at == r.end())
      r.insert(at, kb, vb);
    else
      r.set_value(at, vb);
  }
  std::optional<V> take(const K& k) {
    const auto kb = detail::to_bytes(k);
    return locked([&](Records& r) -> std::optional<V> {
      const std::size_t at = r.find_key(kb);
      if (at == r.end()) return std::nullopt;
      V v = detail::from_bytes<V>(r.value(at));
      r.erase(at);
      return v;
    });
  }
  template <class F>
  auto collect(F f) const {
    return locked([&](Records& r) {
      std::vector<decltype(f(r, 0))> out;
      out.reserve(r.size());
      for (std::size_t at = 0; at < r.end(); at = r.next(at)) out.push_back(f(r, at));
      return out;
    });
  }
};

}  // namespace tandem::mp
