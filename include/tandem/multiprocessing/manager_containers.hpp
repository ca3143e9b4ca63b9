// SPDX-License-Identifier: MIT
// mp::Manager's dict<K, V>(), list<T>() and Namespace() (docs/multiprocessing.md#manager-dict-
// list-and-namespace): Python's multiprocessing.Manager().dict()/list()/Namespace(), as
// DictProxy<K, V>, ListProxy<T> and NamespaceProxy — serializable handles, usable in pool
// tasks and in Process children of every start method, like the manager's other proxies.
//
//   auto d = m.dict<std::string, int>();             // d = m.dict()
//   d.set("a", 1);                                   // d["a"] = 1
//   int a = d["a"];                                  // a = d["a"]       (KeyError if absent)
//   auto l = m.list<int>();  l.append(3);            // l = m.list(); l.append(3)
//   auto ns = m.Namespace();  ns.set("x", 1.5);      // ns = m.Namespace(); ns.x = 1.5
//   double x = ns.get<double>("x");                  // x = ns.x       (AttributeError if absent)
//
// How it works. Like every object of this Manager (manager.hpp) the container lives in a
// memfd-backed shared region, not in the server process: a robust lock, a small header, then
// the items as serialized bytes (tandem::serialize) — (key bytes, value bytes) records in
// insertion order. The proxies are typed on the client side: they serialize arguments,
// take the lock, work on the bytes, decode what they return, release.
//
// Guarantees
//  * Each call is atomic: it runs entirely under the container's lock (Python: one round trip
//    to the server, which serializes calls on one object). A compound operation made of two
//    calls is not: `d.set(k, d[k] + 1)` can lose an update to another process, as
//    `d[k] += 1` can in Python. Hold a Manager Lock() across both calls for that.
//  * Order: a dict keeps insertion order (as Python 3.7+); re-setting a key keeps its place;
//    popitem() removes the last item (LIFO, as Python).
//  * Keys and equality: two keys are the same key when their serialized bytes are equal (the
//    codec writes one canonical form for a value of a given type, so for the usual key types —
//    integers, strings, tuples and structs of them — this is ordinary ==). ListProxy's
//    remove/index/count compare serialized bytes in the same way. Differences from ==:
//    +0.0 and -0.0 are different keys; two NaN with the same bits are the same key.
//  * Type safety: a handle decoded as another kind or element type raises DecodeError (the
//    type tag is that of K and V, or T). A Namespace attribute read with get<T>() as another
//    T than it was set with raises DecodeError ("attribute 'x' holds another type").
//  * Errors (Python's in brackets): missing key → tandem::KeyError [KeyError]; empty
//    popitem() → KeyError; index out of range → std::out_of_range [IndexError] with
//    Python's message; remove()/index() of an absent value → ValueError [ValueError]; missing
//    attribute → tandem::AttributeError [AttributeError]. Every call on a proxy whose manager
//    was shut down raises RuntimeError, as every other proxy.
//  * Capacity: a container holds at most `max_bytes` of records (the Manager call's argument,
//    1 MiB by default; each item costs 8 bytes + its serialized key and value). A call that
//    would exceed it raises std::length_error and changes nothing (update()/extend() may have
//    applied a prefix — see there). Pages are touched only when used.
//  * Crash safety: the lock is robust. A process killed while it holds it without modifying
//    (a read) leaves the container intact; killed in the middle of a modification it leaves it
//    marked broken, and every later call raises RuntimeError("... is broken: a process died
//    while modifying it") rather than reading torn records. (Python's server would finish or
//    drop the call.)
//  * Blocking: a call waits for the lock only while another call runs (microseconds); that
//    wait is cut into kManagerRecheck slices like other proxies' and raises RuntimeError when
//    the manager shuts down or its server dies meanwhile. No call takes a timeout.
// Cost: one lock acquisition per call, plus a linear scan of the records (memcmp of
//  serialized keys: O(total bytes)) for lookups by key, index or value — a dict here is a
//  small shared association list, not a hash table; sort() decodes every item. No system call
//  and no round trip to the server process, unlike Python's (~20-50 µs per call).
// Further differences from Python
//  * Values are copies: d["k"] returns a V, and modifying it changes nothing in the dict (as
//    in Python, where a mutable value fetched through a proxy is a copy). Proxies are values
//    too: a dict of ListProxy<int> stores handles, so d[k].append(1) reaches the shared list
//    (test_list_proxy_in_list, test_dict_proxy_nested).
//  * No slicing, no +, *, no views: snapshot()/keys()/values()/items() return std::vectors.
//    Iterating a ListProxy reads item i at each step (one call per item; it sees changes made
//    meanwhile, as Python's iterator). A DictProxy is iterated through keys()/items() snapshots
//    (no "changed size during iteration" RuntimeError).
//  * Namespace attributes are typed: set<T>(name, v) then get<T>(name); names() lists them.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/multiprocessing/lock.hpp"
#include "tandem/multiprocessing/manager_proxy.hpp"
#include "tandem/serialize.hpp"

namespace tandem::mp {

class Manager;

namespace detail {

inline constexpr std::size_t kDefaultContainerBytes = std::size_t{1} << 20;

/// At offset 0 of a container's region; the records follow at kRecordsOffset.
struct RecordsHeader {
  LockState lock;
  std::uint64_t used;   // bytes of records
  std::uint64_t count;  // records
  std::atomic<std::uint32_t> dirty;  // 1 while a modification runs (see "Crash safety")
};
inline constexpr std::size_t kRecordsOffset = (sizeof(RecordsHeader) + 15) / 16 * 16;

using Bytes = std::span<const std::byte>;
using RawRecord = std::pair<std::vector<std::byte>, std::vector<std::byte>>;

/// A process's view of a container's records (src/multiprocessing/manager_containers.cpp).
/// A record is [key length u32][value length u32][key][value]; a list's keys are empty.
/// Positions are byte offsets; end() is the offset past the last record. The caller holds
/// the lock. Modifications raise std::length_error (nothing changed) when out of room.
class Records {
 public:
  Records(RecordsHeader* h, std::byte* data, std::size_t cap, const char* what) noexcept
      : h_(h), data_(data), cap_(cap), what_(what) {}
  std::size_t size() const noexcept { return static_cast<std::size_t>(h_->count); }
  std::size_t end() const noexcept { return static_cast<std::size_t>(h_->used); }
  std::size_t next(std::size_t at) const noexcept;
  Bytes key(std::size_t at) const noexcept;
  Bytes value(std::size_t at) const noexcept;
  std::size_t find_key(Bytes k) const noexcept;                    // end() when absent
  std::size_t find_value(Bytes v, std::size_t from = 0) const noexcept;  // end() when absent
  std::size_t nth(std::size_t i) const noexcept;  // end() for i >= size()
  std::size_t last() const noexcept;              // of a non-empty container
  void insert(std::size_t at, Bytes k, Bytes v);
  void set_value(std::size_t at, Bytes v);
  void erase(std::size_t at);
  void clear() noexcept;
  std::vector<RawRecord> raw() const;
  /// A permutation of raw(): rewrites the records in that order.
  void assign(const std::vector<RawRecord>& records);

 private:
  void need(std::size_t old_len, std::size_t new_len) const;
  void move_tail(std::size_t at, std::size_t old_len, std::size_t new_len) noexcept;
  void put(std::size_t at, Bytes k, Bytes v) noexcept;
  RecordsHeader* h_;
  std::byte* data_;
  std::size_t cap_;
  const char* what_;
};

/// RuntimeError when a process died in the middle of modifying the container.
void check_records(const RecordsHeader& h, ManagedKind kind);

struct ContainerObject : ManagedObject {
  explicit ContainerObject(SharedRegion r)
      : ManagedObject(std::move(r)), header(region.at<RecordsHeader>()), lock(header->lock),
        data(region.at<std::byte>(kRecordsOffset)) {}
  static std::shared_ptr<ManagedObject> make(SharedRegion&& r) {
    return std::make_shared<ContainerObject>(std::move(r));
  }
  static std::size_t min_bytes(const ObjectRef& ref) {
    if (ref.count > SIZE_MAX - kRecordsOffset) return SIZE_MAX;
    return kRecordsOffset + static_cast<std::size_t>(ref.count);
  }
  /// A fresh region for a container of `max_bytes` of records.
  static SharedRegion create(std::size_t max_bytes) {
    if (max_bytes > SIZE_MAX / 2) throw ValueError("max_bytes is too large");
    SharedRegion r(kRecordsOffset + max_bytes, "tandem-manager-container");
    ::new (&r.at<RecordsHeader>()->lock) LockState();
    return r;
  }
  RecordsHeader* header;
  mp::Lock lock;
  std::byte* data;
};

template <class T>
std::vector<std::byte> to_bytes(const T& v) {
  return tandem::serialize(v);
}
template <class T>
T from_bytes(Bytes b) {
  return tandem::deserialize<T>(b);
}

/// Python's repr of a key, for KeyError's message, where one is cheap to make.
template <class K>
std::string key_repr(const K& k) {
  if constexpr (std::is_convertible_v<const K&, std::string_view>)
    return "'" + std::string(std::string_view(k)) + "'";
  else if constexpr (std::is_arithmetic_v<K>)
    return std::to_string(k);
  else
    return "key not found";
}

/// Python's index normalisation: i < 0 counts from the end; out_of_range(what) outside.
inline std::size_t normalize_index(std::ptrdiff_t i, std::size_t n, const char* what) {
  const auto sn = static_cast<std::ptrdiff_t>(n);
  if (i < 0) i += sn;
  if (i < 0 || i >= sn) throw std::out_of_range(what);
  return static_cast<std::size_t>(i);
}

/// What the three proxies share: the lock, size(), clear(), and the handle's codec.
template <ManagedKind K>
class ContainerProxy : public ProxyBase {
 public:
  static constexpr ManagedKind kind = K;
  /// Python's len().
  std::size_t size() const {
    return locked([](Records& r) { return r.size(); });
  }
  bool empty() const { return size() == 0; }
  void clear() {
    locked([](Records& r) { r.clear(); });
  }
  /// The capacity in bytes of records (the Manager call's max_bytes).
  std::size_t max_bytes() const noexcept { return static_cast<std::size_t>(ref_.count); }

 protected:
  ContainerProxy() noexcept = default;
  ContainerProxy(const ObjectRef& ref, Attached a) noexcept : ProxyBase(ref, std::move(a)) {}

  /// Runs f(Records&) under the container's lock; returns what f returns.
  template <class F>
  decltype(auto) locked(F&& f) const {
    check(K);
    ContainerObject& o = *object<ContainerObject>();
    if (!o.lock.acquire(false))
      wait_sliced(K, tandem::detail::Deadline::never(),
                  [&](duration slice) { return o.lock.acquire(slice); });
    struct Release {
      mp::Lock& l;
      ~Release() { l.release(); }
    } release{o.lock};
    check_records(*o.header, K);
    Records r(o.header, o.data, max_bytes(), kind_name(K));
    return f(r);
  }
  void load_container(InArchive& ar, std::uint64_t tag) {
    load_ref(ar, K, tag, &ContainerObject::min_bytes, &ContainerObject::make);
  }
};

}  // namespace detail

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

/// m.Namespace(): Python's NamespaceProxy — named attributes of any Serializable type, each
/// stored with its type's tag: get<T>() of another T raises DecodeError.
class NamespaceProxy : public detail::ContainerProxy<detail::ManagedKind::ns> {
  using Records = detail::Records;

 public:
  NamespaceProxy() noexcept = default;

  /// ns.name = v
  template <class T>
  void set(std::string_view name, const T& v) {
    static_assert(Serializable<T>, "NamespaceProxy::set: T must be serializable");
    const auto kb = detail::to_bytes(std::string(name));
    std::vector<std::byte> vb(sizeof(std::uint64_t));
    const std::uint64_t tag = detail::type_tag<T>();
    std::memcpy(vb.data(), &tag, sizeof tag);
    serialize_append(vb, v);
    locked([&](Records& r) {
      const std::size_t at = r.find_key(kb);
      if (at == r.end())
        r.insert(at, kb, vb);
      else
        r.set_value(at, vb);
    });
  }
  /// ns.name: AttributeError when absent, DecodeError when set as another type.
  template <class T>
  T get(std::string_view name) const {
    std::optional<T> v = find<T>(name);
    if (!v) throw AttributeError("'Namespace' object has no attribute '" + std::string(name) + "'");
    return std::move(*v);
  }
  /// getattr(ns, name, fallback)
  template <class T>
  T get(std::string_view name, const T& fallback) const {
    return find<T>(name).value_or(fallback);
  }
  /// hasattr(ns, name)
  bool has(std::string_view name) const {
    const auto kb = detail::to_bytes(std::string(name));
    return locked([&](Records& r) { return r.find_key(kb) != r.end(); });
  }
  /// del ns.name: AttributeError when absent.
  void del(std::string_view name) {
    const auto kb = detail::to_bytes(std::string(name));
    locked([&](Records& r) {
      const std::size_t at = r.find_key(kb);
      if (at == r.end()) throw AttributeError(std::string(name));
      r.erase(at);
    });
  }
  void erase(std::string_view name) { del(name); }
  /// The attribute names, in the order they were first set.
  std::vector<std::string> names() const {
    return locked([](Records& r) {
      std::vector<std::string> out;
      for (std::size_t at = 0; at < r.end(); at = r.next(at))
        out.push_back(detail::from_bytes<std::string>(r.key(at)));
      return out;
    });
  }

  void load(InArchive& ar) { load_container(ar, 0); }

 private:
  friend class Manager;
  NamespaceProxy(const detail::ObjectRef& ref, detail::Attached a) noexcept
      : ContainerProxy(ref, std::move(a)) {}

  template <class T>
  std::optional<T> find(std::string_view name) const {
    const auto kb = detail::to_bytes(std::string(name));
    return locked([&](Records& r) -> std::optional<T> {
      const std::size_t at = r.find_key(kb);
      if (at == r.end()) return std::nullopt;
      const detail::Bytes vb = r.value(at);
      std::uint64_t tag = 0;
      if (vb.size() >= sizeof tag) std::memcpy(&tag, vb.data(), sizeof tag);
      if (tag != detail::type_tag<T>())
        throw DecodeError("Namespace attribute '" + std::string(name) + "' holds another type");
      return detail::from_bytes<T>(vb.subspan(sizeof tag));
    });
  }
};

}  // namespace tandem::mp
