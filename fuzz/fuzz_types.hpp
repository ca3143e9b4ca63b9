// SPDX-License-Identifier: MIT
// The types fuzz/serialize_fuzz.cpp decodes, shared with fuzz/make_corpus.cpp, which writes
// valid encodings of them as the seed corpus. Together they reach every codec: aggregates
// (memcpy and member-wise), a recursive type, user serialize()/save()/load(), all the standard
// containers, optional/variant/unique_ptr, bools and flags that must be 0/1, enums.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "tandem/serialize.hpp"

namespace fuzz {

enum class Color : std::uint8_t { red, green, blue };

struct Point {
  int x, y;
  bool operator==(const Point&) const = default;
};

struct Rec {
  int id;
  bool on;
  Color color;
  std::string name;
  std::vector<std::optional<std::int16_t>> xs;
  std::variant<std::monostate, std::int64_t, std::string> v;
  std::map<std::string, std::vector<bool>> tags;
  bool operator==(const Rec&) const = default;
};

struct Tree {
  int value;
  std::vector<Tree> kids;
  bool operator==(const Tree&) const = default;
};

class Range {  // split save/load with an invariant the load enforces
 public:
  template <class Ar>
  void save(Ar& ar) const {
    ar(lo, hi, label);
  }
  template <class Ar>
  void load(Ar& ar) {
    ar(lo, hi, label);
    if (lo > hi) tandem::InArchive::fail("Range: lo > hi");
  }
  std::int32_t lo = 0, hi = 0;
  std::string label;
  bool operator==(const Range&) const = default;
};

class Silent {  // a serialize() that writes nothing: one marker byte
 public:
  template <class Ar>
  void serialize(Ar&) {}
  bool operator==(const Silent&) const = default;
};

using Mixed = std::tuple<bool, std::optional<std::string>, std::unique_ptr<std::vector<int>>,
                         std::array<Point, 2>, std::set<int>, std::unordered_map<int, std::string>,
                         std::deque<std::list<std::u16string>>, std::chrono::nanoseconds, Range,
                         std::pair<std::monostate, std::tuple<>>, std::vector<Silent>>;

using Alt = std::variant<std::monostate, int, std::string, std::vector<Point>, Tree, Rec>;

inline bool equal(const Mixed& a, const Mixed& b) {
  const auto& pa = std::get<2>(a);
  const auto& pb = std::get<2>(b);
  if (static_cast<bool>(pa) != static_cast<bool>(pb) || (pa && *pa != *pb)) return false;
  return std::get<0>(a) == std::get<0>(b) && std::get<1>(a) == std::get<1>(b) &&
         std::get<3>(a) == std::get<3>(b) && std::get<4>(a) == std::get<4>(b) &&
         std::get<5>(a) == std::get<5>(b) && std::get<6>(a) == std::get<6>(b) &&
         std::get<7>(a) == std::get<7>(b) && std::get<8>(a) == std::get<8>(b) &&
         std::get<9>(a) == std::get<9>(b) && std::get<10>(a) == std::get<10>(b);
}
// Types whose encoding depends on an unordered container's iteration order (serialize_fuzz.cpp
// checks those up to that order). Only Mixed holds one.
template <class T>
inline constexpr bool has_unordered = std::is_same_v<T, Mixed>;

template <class T>
bool equal(const T& a, const T& b) {
  return a == b;
}

}  // namespace fuzz
