// SPDX-License-Identifier: MIT
// <tandem/serialize.hpp> — the codec for everything that crosses a process boundary
// (multiprocessing queues, Manager handles, process-pool tasks, MPI). Python pickles; tandem
// encodes with a small binary codec whose supported types are checked at compile time, so
// "cannot pickle" is a compile error here, never a run-time surprise.
//
//   std::vector<std::byte> b = tandem::serialize(value);
//   auto v = tandem::deserialize<T>(b);              // throws tandem::DecodeError on bad bytes
//
// What can be encoded (tandem::Serializable<T>; tandem::Encodable<T> for encode-only types):
//  * bool, arithmetic types, enums, std::byte, bounded C arrays;
//  * std::string (any basic_string of a trivially copyable char type), std::string_view
//    (encode only; decodes as std::string), std::vector, std::deque, std::list, std::array,
//    std::pair, std::tuple, std::optional, std::variant, std::monostate, std::map, std::set,
//    std::unordered_map, std::unordered_set, std::unique_ptr (default deleter),
//    std::chrono::duration and time_point — of encodable types, nested freely;
//  * user types with `template <class Ar> void serialize(Ar& ar) { ar(x, y, z); }` (the cereal
//    convention, `ar & x` works too), or cereal's split `save(Ar&) const` / `load(Ar&)`, or a
//    free `template <class Ar> void serialize(Ar&, T&)` found by ADL — cereal-ready types work
//    unchanged (cereal's make_nvp names aside). `Ar::is_loading` tells the directions apart;
//  * plain aggregates, with no serialize() at all: `struct Task { int id; std::string name; };`
//    is taken apart member by member (up to 32 members; no base classes, reference, bit-field,
//    empty-class or anonymous-union members — give those types a serialize());
//  * anything else through a specialisation of tandem::Codec<T> (serialize/archive.hpp).
// Never encodable, as a compile-time error whose message says why: raw pointers, references,
// member pointers, and types containing them where they can be seen (members of aggregates,
// elements of containers) — an address means nothing in another process. Decoding
// additionally needs default-constructible, non-const types (it assigns into a T{}).
//
// Wire format. Both ends run the same binary (the process pool checks GNU build-ids), so the
// format is the host's: little-endian, native sizes, no per-value tags or versions.
//  * Frame: one format byte, kFormatByte (0xd1 = format 1), then exactly one value; decoding
//    rejects anything left over. Archives (OutArchive/InArchive) carry values with no frame.
//  * bool: one byte, 0 or 1. Arithmetic: its bytes. Enum: its underlying type's bytes.
//  * Lengths (strings and containers): uint64, then the elements. std::array, C arrays,
//    pair, tuple and aggregates: the elements in order, no length.
//  * optional, unique_ptr: a byte 0/1, then the value. variant: the index (1 byte, 4 past 255
//    alternatives), then the alternative.
//  * memcpy fast path: a type every bit pattern of which is valid (arithmetic other than bool,
//    enums with a fixed underlying type, and arrays and trivially copyable aggregates of such
//    types) is copied as its object representation, and a vector/array of them in one memcpy.
//    Padding bytes go along uninitialised; nothing reads them.
//  * A value that would encode to nothing (std::monostate, an empty tuple or struct, a
//    serialize() that writes nothing) is one zero byte, so every value takes at least a byte.
//
// Decoding guarantees: any input either decodes or throws tandem::DecodeError (a ValueError)
// with the offset and reason — no out-of-bounds read, no undefined behaviour, no leak (fuzzed:
// fuzz/serialize_fuzz.cpp). Every length is checked against the bytes left before anything is
// allocated for it (n elements need at least n × their minimum encoded size), so a corrupt
// 2^60 costs nothing; a bool or flag byte must be 0/1, a variant index in range, map and set
// keys unique; composites nest at most detail::kMaxDepth (256) levels deep, so recursive
// types cannot exhaust the stack. Not checked: that a non-fixed-underlying enum's value is one
// of its enumerators, or invariants of a user type's fields (its serialize() may check and
// throw DecodeError via InArchive::fail).
//
// Failure: on DecodeError, deserialize_into() leaves `out` valid but unspecified (partly
// assigned). Encoding throws only ValueError (a valueless variant, nesting past 256) or what
// allocation or a user's serialize() throws. Nothing here is shared: any number of threads
// may encode and decode at once, each with its own archive.
//
// Cost: serialize() makes two passes (sizes, then bytes) and one allocation; deserialize() one
// pass. A small struct round-trips in well under 100 ns (bench/serialize/serialize_bench.cpp).
//
// Differences from pickle: no object identity (two references to one object arrive as two
// copies — there are no references to encode), no cycles, no code; the type is not on the
// wire, the receiver names it.
#pragma once

#include <cstddef>
#include <exception>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/serialize/aggregate.hpp"
#include "tandem/serialize/archive.hpp"
#include "tandem/serialize/codecs.hpp"
#include "tandem/serialize/traits.hpp"

namespace tandem {

/// The first byte of every frame: format version 1.
inline constexpr std::byte kFormatByte{0xd1};

// static_assert needs a literal; these name the rule where the compiler shows T.
#define TANDEM_DETAIL_NOT_ENCODABLE                                                          \
  "tandem::serialize: type T is not serializable: give it `template <class Ar> void "        \
  "serialize(Ar&)` or use a supported standard type (raw pointers cannot cross a process " \
  "boundary)"
#define TANDEM_DETAIL_NOT_DECODABLE                                                           \
  "tandem::deserialize: type T is not deserializable: give it `template <class Ar> void "     \
  "serialize(Ar&)` or use a supported standard type; it must also be default-constructible " \
  "and not const (raw pointers cannot cross a process boundary)"

namespace detail {

template <class T>
inline constexpr bool always_false = false;

template <class Ar, class T>
void save_value(Ar& ar, const T& v) {
  using U = std::remove_cv_t<T>;
  constexpr Kind k = kind_of<U>();
  if constexpr (!Encodable<U>) {
    static_assert(always_false<T>, TANDEM_DETAIL_NOT_ENCODABLE);
  } else if constexpr (bitwise<U>()) {
    ar.write(&v, sizeof(U));
  } else if constexpr (k == Kind::boolean) {
    const std::uint8_t b = v ? 1 : 0;
    ar.write(&b, 1);
  } else if constexpr (k == Kind::scalar) {  // an enum without a fixed underlying type
    const auto u = static_cast<std::underlying_type_t<U>>(v);
    ar.write(&u, sizeof u);
  } else {
    DepthGuard<Ar> guard(ar);
    [[maybe_unused]] const std::size_t before = ar.position();
    if constexpr (k == Kind::carray) {
      save_elements(ar, v, std::extent_v<U>);
    } else if constexpr (k == Kind::codec) {
      Codec<U>::save(ar, v);
    } else if constexpr (k == Kind::member) {
      const_cast<U&>(v).serialize(ar);  // the cereal convention: one non-const serialize()
    } else if constexpr (k == Kind::split) {
      v.save(ar);
    } else if constexpr (k == Kind::free_fn) {
      adl::call_free_serialize(ar, const_cast<U&>(v));
    } else {
      static_assert(k == Kind::aggregate);
      visit_fields<field_count<U>()>(v, [&](const auto&... m) { (save_value(ar, m), ...); });
    }
    if constexpr (floor_of<U>() == 0) {
      if (ar.position() == before) {
        const std::uint8_t zero = 0;
        ar.write(&zero, 1);
      }
    }
  }
}

template <class T>
void load_value(InArchive& ar, T& v) {
  constexpr Kind k = kind_of<T>();
  if constexpr (!Serializable<T>) {
    static_assert(always_false<T>, TANDEM_DETAIL_NOT_DECODABLE);
  } else if constexpr (bitwise<T>()) {
    ar.read(&v, sizeof(T));
  } else if constexpr (k == Kind::boolean) {
    v = load_flag(ar, "bool");
  } else if constexpr (k == Kind::scalar) {
    std::underlying_type_t<T> u;
    ar.read(&u, sizeof u);
    v = static_cast<T>(u);
  } else {
    DepthGuard<InArchive> guard(ar);
    [[maybe_unused]] const std::size_t before = ar.position();
    if constexpr (k == Kind::carray) {
      load_elements(ar, v, std::extent_v<T>);
    } else if constexpr (k == Kind::codec) {
      Codec<T>::load(ar, v);
    } else if constexpr (k == Kind::member) {
      v.serialize(ar);
    } else if constexpr (k == Kind::split) {
      v.load(ar);
    } else if constexpr (k == Kind::free_fn) {
      adl::call_free_serialize(ar, v);
    } else {
      static_assert(k == Kind::aggregate);
      visit_fields<field_count<T>()>(v, [&](auto&... m) { (load_value(ar, m), ...); });
    }
    if constexpr (floor_of<T>() == 0) {
      if (ar.position() == before) {
        if (const std::uint8_t b = ar.read_u8(); b != 0) ar.bad_byte("empty-value marker", b);
      }
    }
  }
}

template <class T>
std::size_t body_size(const T& v) {
  SizeArchive s;
  save_value(s, v);
  return s.position();
}

template <class T>
void write_frame(std::span<std::byte> dst, const T& v) {
  dst[0] = kFormatByte;
  OutArchive ar(dst.subspan(1));
  save_value(ar, v);
}

}  // namespace detail

/// Bytes serialize(v) produces (frame byte included).
template <class T>
std::size_t serialized_size(const T& v) {
  static_assert(Encodable<T>, TANDEM_DETAIL_NOT_ENCODABLE);
  if constexpr (Encodable<T>) return 1 + detail::body_size(v);
  return 0;
}

/// Encodes v as one frame. ValueError only for a valueless variant or nesting past 256.
template <class T>
std::vector<std::byte> serialize(const T& v) {
  static_assert(Encodable<T>, TANDEM_DETAIL_NOT_ENCODABLE);
  std::vector<std::byte> out;
  if constexpr (Encodable<T>) {
    out.resize(1 + detail::body_size(v));
    detail::write_frame(out, v);
  }
  return out;
}

/// Appends v's frame to `out`; returns its size.
template <class T>
std::size_t serialize_append(std::vector<std::byte>& out, const T& v) {
  const std::size_t n = serialized_size(v), at = out.size();
  out.resize(at + n);
  detail::write_frame(std::span<std::byte>(out).subspan(at, n), v);
  return n;
}

/// Writes v's frame at the start of `dst` (a shared-memory slot, say) and returns its size;
/// ValueError, with nothing written, when dst is too small (serialized_size says how much).
template <class T>
std::size_t serialize_to(std::span<std::byte> dst, const T& v) {
  const std::size_t n = serialized_size(v);
  if (n > dst.size())
    throw ValueError("tandem::serialize_to: buffer too small: need " + std::to_string(n) +
                     " bytes, have " + std::to_string(dst.size()));
  detail::write_frame(dst.first(n), v);
  return n;
}

/// Decodes one frame into `out` (reusing its storage where it can, e.g. vector capacity).
/// DecodeError unless `bytes` is exactly one well-formed frame of a T.
template <class T>
void deserialize_into(std::span<const std::byte> bytes, T& out) {
  static_assert(Serializable<T>, TANDEM_DETAIL_NOT_DECODABLE);
  InArchive ar(bytes);
  const std::uint8_t f = ar.read_u8();
  if (f != std::to_integer<std::uint8_t>(kFormatByte)) [[unlikely]]
    ar.bad_byte("frame header (expected 0xd1: not a tandem frame, or another format version)", f);
  detail::load_value(ar, out);
  ar.finish();
}

/// Decodes one frame. DecodeError unless `bytes` is exactly one well-formed frame of a T.
template <class T>
T deserialize(std::span<const std::byte> bytes) {
  static_assert(Serializable<T>, TANDEM_DETAIL_NOT_DECODABLE);
  if constexpr (Serializable<T>) {
    T v{};
    deserialize_into(bytes, v);
    return v;
  } else {
    std::terminate();  // unreachable: the static_assert above failed
  }
}

}  // namespace tandem
