// SPDX-License-Identifier: MIT
// mp::NamespaceProxy: what mp::Manager::Namespace() returns. manager_containers.hpp has the
// specification (guarantees, cost, differences from Python).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/multiprocessing/detail/manager_containers.hpp"

namespace tandem::mp {

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
