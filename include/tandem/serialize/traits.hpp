// SPDX-License-Identifier: MIT
// What tandem's codec can encode, decided at compile time (see <tandem/serialize.hpp>).
//
// Every type is classified once (kind_of) and the whole type tree is then walked by ok<T, Dir>,
// which is what the public concepts Serializable / Encodable ask. The walk is a consteval
// function with an explicit "already on the path" list rather than a recursive concept, so a
// recursive aggregate (struct Node { std::vector<Node> kids; }) is accepted instead of
// tripping "satisfaction depends on itself".
#pragma once

#include <cstddef>
#include <type_traits>

#include "tandem/serialize/aggregate.hpp"
#include "tandem/serialize/archive.hpp"

namespace tandem::detail {

enum class Dir { save, load };

enum class Kind {
  unsupported,
  pointer,    // raw/member/null pointers and references: never cross a process boundary
  boolean,    // one byte, 0 or 1
  scalar,     // arithmetic and enums (std::byte is an enum)
  carray,     // T[N]
  codec,      // a tandem::Codec<T> specialisation (all the standard types)
  member,     // template <class Ar> void serialize(Ar&)
  split,      // template <class Ar> void save(Ar&) const + template <class Ar> void load(Ar&)
  free_fn,    // template <class Ar> void serialize(Ar&, T&), found by ADL
  aggregate,  // a plain struct taken apart member by member (aggregate.hpp)
};

template <class T>
concept has_codec = !requires { Codec<T>::tandem_unsupported; };

template <class T>
concept has_member_serialize = requires(T& t, SizeArchive& s, OutArchive& o, InArchive& i) {
  t.serialize(s);
  t.serialize(o);
  t.serialize(i);
};

template <class T>
concept has_split_serialize = requires(const T& c, T& t, SizeArchive& s, OutArchive& o,
                                       InArchive& i) {
  c.save(s);
  c.save(o);
  t.load(i);
};

namespace adl {
// Blocks ordinary lookup from finding anything but ADL candidates (tandem::serialize(const T&)
// takes one argument, so it could never match anyway).
void serialize() = delete;
template <class T>
concept has_free_serialize = requires(T& t, SizeArchive& s, OutArchive& o, InArchive& i) {
  serialize(s, t);
  serialize(o, t);
  serialize(i, t);
};
template <class Ar, class T>
void call_free_serialize(Ar& ar, T& t) {
  serialize(ar, t);
}
}  // namespace adl

template <class T>
consteval Kind kind_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_reference_v<T> || std::is_pointer_v<U> || std::is_member_pointer_v<U> ||
                std::is_null_pointer_v<U>) {
    return Kind::pointer;
  } else if constexpr (std::is_same_v<U, bool>) {
    return Kind::boolean;
  } else if constexpr (std::is_arithmetic_v<U> || std::is_enum_v<U>) {
    return Kind::scalar;
  } else if constexpr (std::is_bounded_array_v<U>) {
    return Kind::carray;
  } else if constexpr (!std::is_class_v<U> || std::is_union_v<U>) {
    return Kind::unsupported;
  } else if constexpr (has_codec<U>) {
    return Kind::codec;
  } else if constexpr (has_member_serialize<U>) {
    return Kind::member;
  } else if constexpr (has_split_serialize<U>) {
    return Kind::split;
  } else if constexpr (adl::has_free_serialize<U>) {
    return Kind::free_fn;
  } else if constexpr (reflectable_aggregate<U>) {
    return Kind::aggregate;
  } else {
    return Kind::unsupported;
  }
}

template <class T, class... Ts>
inline constexpr bool among = (std::is_same_v<T, Ts> || ...);

template <class T, Dir D, class... Seen>
consteval bool ok();

template <class List, Dir D, class... Seen>
struct all_ok;
template <class... Fs, Dir D, class... Seen>
struct all_ok<type_list<Fs...>, D, Seen...> : std::bool_constant<(ok<Fs, D, Seen...>() && ...)> {};

template <class T, Dir D, class... Seen>
consteval bool ok() {
  using U = std::remove_cv_t<T>;
  constexpr Kind k = kind_of<T>();
  if constexpr (k == Kind::unsupported || k == Kind::pointer) {
    return false;
  } else if constexpr (D == Dir::load && (std::is_const_v<T> || !std::is_default_constructible_v<U>)) {
    return false;  // decoding assigns into a default-constructed object
  } else if constexpr (k == Kind::carray) {
    return ok<std::remove_extent_t<U>, D, Seen...>();
  } else if constexpr (k == Kind::codec) {
    if constexpr (requires { Codec<U>::template tandem_ok<D, Seen...>(); })
      return Codec<U>::template tandem_ok<D, Seen...>();
    else
      return true;  // a user's Codec specialisation vouches for itself
  } else if constexpr (k == Kind::aggregate) {
    if constexpr (among<U, Seen...>)
      return true;  // recursion through a container: the rest of the walk decides
    else
      return all_ok<field_types_t<U>, D, Seen..., U>::value;
  } else {
    return true;  // scalars, bool, and types with their own serialize()
  }
}

/// Every bit pattern of sizeof(T) bytes is a valid T, so memcpy encodes and decodes it.
template <class T>
consteval bool bitwise();

template <class List>
struct all_bitwise;
template <class... Fs>
struct all_bitwise<type_list<Fs...>> : std::bool_constant<(bitwise<Fs>() && ...)> {};

template <class T>
consteval bool bitwise() {
  using U = std::remove_cv_t<T>;
  constexpr Kind k = kind_of<T>();
  if constexpr (k == Kind::scalar && std::is_enum_v<U>) {
    // Only an enum with a fixed underlying type may hold every value of it; `E{u}` from an
    // integer is well-formed exactly for those (C++17).
    return requires { U{std::underlying_type_t<U>{}}; };
  } else if constexpr (k == Kind::scalar) {
    return true;
  } else if constexpr (k == Kind::carray) {
    return bitwise<std::remove_extent_t<U>>();
  } else if constexpr (k == Kind::codec) {
    if constexpr (requires { Codec<U>::tandem_bitwise; })
      return Codec<U>::tandem_bitwise;
    else
      return false;
  } else if constexpr (k == Kind::aggregate) {
    return std::is_trivially_copyable_v<U> && all_bitwise<field_types_t<U>>::value;
  } else {
    return false;
  }
}

/// The fewest bytes any value of T takes on the wire (0: can be empty, gets a marker byte).
template <class T>
consteval std::size_t floor_of();

/// What T really takes at least, counting the marker byte an empty encoding gets.
template <class T>
inline constexpr std::size_t wire_floor = floor_of<T>() == 0 ? 1 : floor_of<T>();

template <class List>
struct sum_floor;
template <class... Fs>
struct sum_floor<type_list<Fs...>> : std::integral_constant<std::size_t, (wire_floor<Fs> + ... + 0)> {};

template <class T>
consteval std::size_t floor_of() {
  using U = std::remove_cv_t<T>;
  constexpr Kind k = kind_of<T>();
  if constexpr (bitwise<U>()) {
    return sizeof(U);
  } else if constexpr (k == Kind::scalar || k == Kind::boolean) {
    return sizeof(U);
  } else if constexpr (k == Kind::carray) {
    return std::extent_v<U> * wire_floor<std::remove_extent_t<U>>;
  } else if constexpr (k == Kind::codec) {
    if constexpr (requires { Codec<U>::tandem_floor; })
      return Codec<U>::tandem_floor;
    else
      return 0;
  } else if constexpr (k == Kind::aggregate) {
    return sum_floor<field_types_t<U>>::value;
  } else {
    return 0;  // a user's serialize() may write nothing
  }
}

}  // namespace tandem::detail

namespace tandem {

/// T can be encoded (tandem::serialize) and decoded (tandem::deserialize): what the process
/// pool and multiprocessing queues require of what they ship. Ask it of decayed types
/// (std::decay_t of an argument): references and const objects are not decodable.
template <class T>
concept Serializable = detail::ok<T, detail::Dir::save>() && detail::ok<T, detail::Dir::load>();

/// T can at least be encoded (std::string_view, for instance, only encodes).
template <class T>
concept Encodable = detail::ok<T, detail::Dir::save>();

}  // namespace tandem
