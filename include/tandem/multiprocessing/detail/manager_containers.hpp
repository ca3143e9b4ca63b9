// SPDX-License-Identifier: MIT
// The machinery shared by mp::Manager's DictProxy, ListProxy and NamespaceProxy: the shared
// region's layout, the byte-level record store (src/multiprocessing/manager_containers.cpp)
// and the proxies' common base. manager_containers.hpp has the specification.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

}  // namespace tandem::mp
