// SPDX-License-Identifier: MIT
// tandem::Codec specialisations for the standard library types (see <tandem/serialize.hpp>
// for the wire format of each). Each one says, besides save/load:
//   tandem_ok<D, Seen...>()  whether its element types can go in direction D,
//   tandem_floor             the fewest bytes a value takes (guards lengths before allocating),
//   tandem_bitwise           (optional) true when memcpy is a valid encoding.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "tandem/serialize/traits.hpp"

namespace tandem {

namespace detail {

template <class T, Dir D, class... Seen>
inline constexpr bool ok_v = ok<T, D, Seen...>();

// Elements one by one, or one memcpy when every bit pattern is valid.
template <class Ar, class T>
void save_elements(Ar& ar, const T* p, std::size_t n) {
  if constexpr (bitwise<T>()) {
    ar.write(p, n * sizeof(T));
  } else {
    for (std::size_t i = 0; i < n; ++i) save_value(ar, p[i]);
  }
}
template <class T>
void load_elements(InArchive& ar, T* p, std::size_t n) {
  if constexpr (bitwise<T>()) {
    ar.read(p, n * sizeof(T));
  } else {
    for (std::size_t i = 0; i < n; ++i) load_value(ar, p[i]);
  }
}

// size, then elements: vector (not bool), deque, list.
template <class Seq>
struct SequenceCodec {
  using T = typename Seq::value_type;
  template <Dir D, class... Seen>
  static consteval bool tandem_ok() {
    return ok_v<T, D, Seen...>;
  }
  static constexpr std::size_t tandem_floor = sizeof(std::uint64_t);

  template <class Ar>
  static void save(Ar& ar, const Seq& s) {
    ar.write_size(s.size());
    if constexpr (requires { s.data(); }) {
      save_elements(ar, s.data(), s.size());
    } else {
      for (const auto& x : s) save_value(ar, x);
    }
  }
  static void load(InArchive& ar, Seq& s) {
    const std::size_t n = ar.read_count(wire_floor<T>);
    s.clear();
    if constexpr (requires { s.data(); } && bitwise<T>()) {
      const std::byte* p = ar.take(n * sizeof(T));
      s.resize(n);
      if (n != 0) std::memcpy(s.data(), p, n * sizeof(T));
    } else {
      if constexpr (requires { s.reserve(n); }) s.reserve(n);
      for (std::size_t i = 0; i < n; ++i) load_value(ar, s.emplace_back());
    }
  }
};

// size, then keys (and values): map, set, unordered_map, unordered_set. Duplicate keys are
// rejected, so decoding is one-to-one. Unordered containers are written in iteration order,
// which depends on the container's insertion history: equal unordered containers may encode
// to different bytes (as equal Python sets may pickle differently); they decode equal.
template <class C, bool HasMapped>
struct AssociativeCodec {
  using K = typename C::key_type;
  template <Dir D, class... Seen>
  static consteval bool tandem_ok() {
    if constexpr (HasMapped)
      return ok_v<K, D, Seen...> && ok_v<typename C::mapped_type, D, Seen...>;
    else
      return ok_v<K, D, Seen...>;
  }
  static constexpr std::size_t tandem_floor = sizeof(std::uint64_t);

  template <class Ar>
  static void save(Ar& ar, const C& c) {
    ar.write_size(c.size());
    for (const auto& e : c) {
      if constexpr (HasMapped) {
        save_value(ar, e.first);
        save_value(ar, e.second);
      } else {
        save_value(ar, e);
      }
    }
  }
  static void load(InArchive& ar, C& c) {
    std::size_t per = wire_floor<K>;
    if constexpr (HasMapped) per += wire_floor<typename C::mapped_type>;
    const std::size_t n = ar.read_count(per);
    c.clear();
    if constexpr (requires { c.reserve(n); }) c.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = ar.position();
      K k{};
      load_value(ar, k);
      const std::size_t before = c.size();
      if constexpr (HasMapped) {
        typename C::mapped_type m{};
        load_value(ar, m);
        c.emplace_hint(c.end(), std::move(k), std::move(m));
      } else {
        c.emplace_hint(c.end(), std::move(k));
      }
      if (c.size() == before)
        InArchive::fail("duplicate key at offset " + std::to_string(at));
    }
  }
};

// A one-byte presence flag, 0 or 1.
inline bool load_flag(InArchive& ar, const char* what) {
  const std::uint8_t b = ar.read_u8();
  if (b > 1) [[unlikely]]
    ar.bad_byte(what, b);
  return b != 0;
}

}  // namespace detail

template <class C, class Tr, class A>
struct Codec<std::basic_string<C, Tr, A>> {
  static_assert(std::is_trivially_copyable_v<C>);
  static constexpr std::size_t tandem_floor = sizeof(std::uint64_t);
  template <class Ar>
  static void save(Ar& ar, const std::basic_string<C, Tr, A>& s) {
    ar.write_size(s.size());
    ar.write(s.data(), s.size() * sizeof(C));
  }
  static void load(InArchive& ar, std::basic_string<C, Tr, A>& s) {
    const std::size_t n = ar.read_count(sizeof(C));
    const std::byte* p = ar.take(n * sizeof(C));
    if constexpr (sizeof(C) == 1) {
      s.assign(reinterpret_cast<const C*>(p), n);  // C is a char type: may alias bytes
    } else {
      s.resize(n);
      if (n != 0) std::memcpy(s.data(), p, n * sizeof(C));
    }
  }
};

/// Encodes exactly like std::basic_string (decode it as one); cannot be decoded itself.
template <class C, class Tr>
struct Codec<std::basic_string_view<C, Tr>> {
  template <detail::Dir D, class...>
  static consteval bool tandem_ok() {
    return D == detail::Dir::save;
  }
  static constexpr std::size_t tandem_floor = sizeof(std::uint64_t);
  template <class Ar>
  static void save(Ar& ar, std::basic_string_view<C, Tr> s) {
    ar.write_size(s.size());
    ar.write(s.data(), s.size() * sizeof(C));
  }
  static void load(InArchive&, std::basic_string_view<C, Tr>&) = delete;
};

template <class T, class A>
struct Codec<std::vector<T, A>> : detail::SequenceCodec<std::vector<T, A>> {};
template <class T, class A>
struct Codec<std::deque<T, A>> : detail::SequenceCodec<std::deque<T, A>> {};
template <class T, class A>
struct Codec<std::list<T, A>> : detail::SequenceCodec<std::list<T, A>> {};

/// size, then one byte (0/1) per element.
template <class A>
struct Codec<std::vector<bool, A>> {
  static constexpr std::size_t tandem_floor = sizeof(std::uint64_t);
  template <class Ar>
  static void save(Ar& ar, const std::vector<bool, A>& v) {
    ar.write_size(v.size());
    for (bool b : v) {
      const std::uint8_t x = b ? 1 : 0;
      ar.write(&x, 1);
    }
  }
  static void load(InArchive& ar, std::vector<bool, A>& v) {
    const std::size_t n = ar.read_count(1);
    v.assign(n, false);
    for (std::size_t i = 0; i < n; ++i) v[i] = detail::load_flag(ar, "bool");
  }
};

template <class K, class V, class C, class A>
struct Codec<std::map<K, V, C, A>> : detail::AssociativeCodec<std::map<K, V, C, A>, true> {};
template <class K, class V, class H, class E, class A>
struct Codec<std::unordered_map<K, V, H, E, A>>
    : detail::AssociativeCodec<std::unordered_map<K, V, H, E, A>, true> {};
template <class K, class C, class A>
struct Codec<std::set<K, C, A>> : detail::AssociativeCodec<std::set<K, C, A>, false> {};
template <class K, class H, class E, class A>
struct Codec<std::unordered_set<K, H, E, A>>
    : detail::AssociativeCodec<std::unordered_set<K, H, E, A>, false> {};

/// The N elements, no size.
template <class T, std::size_t N>
struct Codec<std::array<T, N>> {
  template <detail::Dir D, class... Seen>
  static consteval bool tandem_ok() {
    return detail::ok_v<T, D, Seen...>;
  }
  static constexpr std::size_t tandem_floor = N * detail::wire_floor<T>;
  static constexpr bool tandem_bitwise = detail::bitwise<T>();
  template <class Ar>
  static void save(Ar& ar, const std::array<T, N>& a) {
    detail::save_elements(ar, a.data(), N);
  }
  static void load(InArchive& ar, std::array<T, N>& a) { detail::load_elements(ar, a.data(), N); }
};

/// The members in order.
template <class A, class B>
struct Codec<std::pair<A, B>> {
  template <detail::Dir D, class... Seen>
  static consteval bool tandem_ok() {
    return detail::ok_v<A, D, Seen...> && detail::ok_v<B, D, Seen...>;
  }
  static constexpr std::size_t tandem_floor = detail::wire_floor<A> + detail::wire_floor<B>;
  template <class Ar>
  static void save(Ar& ar, const std::pair<A, B>& p) {
    detail::save_value(ar, p.first);
    detail::save_value(ar, p.second);
  }
  static void load(InArchive& ar, std::pair<A, B>& p) {
    detail::load_value(ar, p.first);
    detail::load_value(ar, p.second);
  }
};

template <class... Ts>
struct Codec<std::tuple<Ts...>> {
  template <detail::Dir D, class... Seen>
  static consteval bool tandem_ok() {
    return (detail::ok_v<Ts, D, Seen...> && ...);
  }
  static constexpr std::size_t tandem_floor = (detail::wire_floor<Ts> + ... + 0);
  template <class Ar>
  static void save(Ar& ar, const std::tuple<Ts...>& t) {
    std::apply([&](const auto&... xs) { (detail::save_value(ar, xs), ...); }, t);
  }
  static void load(InArchive& ar, std::tuple<Ts...>& t) {
    std::apply([&](auto&... xs) { (detail::load_value(ar, xs), ...); }, t);
  }
};

/// Flag byte (0 empty, 1 present), then the value.
template <class T>
struct Codec<std::optional<T>> {
  template <detail::Dir D, class... Seen>
  static consteval bool tandem_ok() {
    return detail::ok_v<T, D, Seen...>;
  }
  static constexpr std::size_t tandem_floor = 1;
  template <class Ar>
  static void save(Ar& ar, const std::optional<T>& o) {
    const std::uint8_t f = o ? 1 : 0;
    ar.write(&f, 1);
    if (o) detail::save_value(ar, *o);
  }
  static void load(InArchive& ar, std::optional<T>& o) {
    if (detail::load_flag(ar, "optional flag"))
      detail::load_value(ar, o.emplace());
    else
      o.reset();
  }
};

/// As std::optional. Only the default deleter: a custom one may own something no other
/// process can have.
template <class T>
struct Codec<std::unique_ptr<T>> {
  template <detail::Dir D, class... Seen>
  static consteval bool tandem_ok() {
    return !std::is_array_v<T> && detail::ok_v<T, D, Seen...>;
  }
  static constexpr std::size_t tandem_floor = 1;
  template <class Ar>
  static void save(Ar& ar, const std::unique_ptr<T>& p) {
    const std::uint8_t f = p ? 1 : 0;
    ar.write(&f, 1);
    if (p) detail::save_value(ar, *p);
  }
  static void load(InArchive& ar, std::unique_ptr<T>& p) {
    if (detail::load_flag(ar, "unique_ptr flag")) {
      auto v = std::make_unique<T>();
      detail::load_value(ar, *v);
      p = std::move(v);
    } else {
      p.reset();
    }
  }
};

/// Index (one byte, or four past 255 alternatives), then the alternative. A valueless
/// variant cannot be encoded (ValueError).
template <class... Ts>
struct Codec<std::variant<Ts...>> {
  using V = std::variant<Ts...>;
  using Index = std::conditional_t<(sizeof...(Ts) < 256), std::uint8_t, std::uint32_t>;
  template <detail::Dir D, class... Seen>
  static consteval bool tandem_ok() {
    return (detail::ok_v<Ts, D, Seen...> && ...);
  }
  static constexpr std::size_t tandem_floor = sizeof(Index);
  template <class Ar>
  static void save(Ar& ar, const V& v) {
    if (v.valueless_by_exception())
      throw ValueError("tandem::serialize: cannot encode a valueless std::variant");
    const auto i = static_cast<Index>(v.index());
    ar.write(&i, sizeof i);
    std::visit([&](const auto& x) { detail::save_value(ar, x); }, v);
  }
  static void load(InArchive& ar, V& v) {
    Index i;
    ar.read(&i, sizeof i);
    if (i >= sizeof...(Ts)) [[unlikely]]
      InArchive::fail("variant index " + std::to_string(i) + " out of range (" +
                      std::to_string(sizeof...(Ts)) + " alternatives) at offset " +
                      std::to_string(ar.position() - sizeof i));
    load_alternative(ar, v, i, std::index_sequence_for<Ts...>{});
  }

 private:
  template <std::size_t... I>
  static void load_alternative(InArchive& ar, V& v, std::size_t i, std::index_sequence<I...>) {
    using Fn = void (*)(InArchive&, V&);
    static constexpr Fn table[] = {+[](InArchive& a, V& x) {
      detail::load_value(a, x.template emplace<I>());
    }...};
    table[i](ar, v);
  }
};

/// Nothing but the marker byte every empty encoding gets.
template <>
struct Codec<std::monostate> {
  template <class Ar>
  static void save(Ar&, std::monostate) {}
  static void load(InArchive&, std::monostate&) {}
};

/// The count, as its representation type.
template <class Rep, class Period>
struct Codec<std::chrono::duration<Rep, Period>> {
  template <detail::Dir D, class... Seen>
  static consteval bool tandem_ok() {
    return detail::ok_v<Rep, D, Seen...>;
  }
  static constexpr std::size_t tandem_floor = detail::wire_floor<Rep>;
  static constexpr bool tandem_bitwise = detail::bitwise<Rep>();
  template <class Ar>
  static void save(Ar& ar, const std::chrono::duration<Rep, Period>& d) {
    detail::save_value(ar, d.count());
  }
  static void load(InArchive& ar, std::chrono::duration<Rep, Period>& d) {
    Rep r{};
    detail::load_value(ar, r);
    d = std::chrono::duration<Rep, Period>(r);
  }
};

/// The duration since the clock's epoch (meaningful to another process for system_clock and,
/// on one machine, steady_clock).
template <class Clock, class Dur>
struct Codec<std::chrono::time_point<Clock, Dur>> {
  template <detail::Dir D, class... Seen>
  static consteval bool tandem_ok() {
    return detail::ok_v<Dur, D, Seen...>;
  }
  static constexpr std::size_t tandem_floor = detail::wire_floor<Dur>;
  static constexpr bool tandem_bitwise = detail::bitwise<Dur>();
  template <class Ar>
  static void save(Ar& ar, const std::chrono::time_point<Clock, Dur>& t) {
    detail::save_value(ar, t.time_since_epoch());
  }
  static void load(InArchive& ar, std::chrono::time_point<Clock, Dur>& t) {
    Dur d{};
    detail::load_value(ar, d);
    t = std::chrono::time_point<Clock, Dur>(d);
  }
};

}  // namespace tandem
