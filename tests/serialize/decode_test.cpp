// SPDX-License-Identifier: MIT
// tandem::deserialize on bad input: every failure is a tandem::DecodeError with a useful
// message, never a crash, an over-read or a huge allocation. Modelled on CPython's
// Lib/test/pickletester.py AbstractUnpickleTests: test_truncated_data (every prefix of a valid
// pickle fails cleanly), test_badly_escaped_string / test_bad_stack / test_bad_mark (malformed
// input raises UnpicklingError, not worse), test_large_32b_binbytes8 / test_huge_long_32b
// (a huge length is refused, not allocated).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>

#include "tandem/serialize.hpp"

namespace {

using Bytes = std::vector<std::byte>;

struct Rec {
  int id;
  bool on;
  std::string name;
  std::vector<std::optional<std::int16_t>> xs;
  std::variant<std::monostate, double, std::string> v;
  std::map<std::string, std::vector<bool>> tags;
  bool operator==(const Rec&) const = default;
};

struct Tree {
  int value;
  std::vector<Tree> kids;
  bool operator==(const Tree&) const = default;
};

Rec sample() {
  return Rec{42,
             true,
             "name",
             {std::int16_t{1}, std::nullopt, std::int16_t{-3}},
             std::string("alt"),
             {{"a", {true, false}}, {"b", {}}}};
}

std::string decode_error(std::span<const std::byte> b, auto type_tag) {
  using T = typename decltype(type_tag)::type;
  try {
    (void)tandem::deserialize<T>(b);
  } catch (const tandem::DecodeError& e) {
    return e.what();
  }
  return "<no error>";
}
template <class T>
struct tag {
  using type = T;
};

template <class T>
void put(Bytes& b, std::size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

// Every allocation goes through this; anything over 1 MiB fails the test.
inline std::size_t g_largest = 0;
template <class T>
struct Capped {
  using value_type = T;
  Capped() = default;
  template <class U>
  Capped(const Capped<U>&) noexcept {}
  T* allocate(std::size_t n) {
    g_largest = std::max(g_largest, n * sizeof(T));
    if (n * sizeof(T) > (1u << 20)) throw std::bad_alloc();
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
  bool operator==(const Capped&) const = default;
};

// Decoding must succeed or throw DecodeError; anything else fails the test.
template <class T>
bool decodes(std::span<const std::byte> b) {
  try {
    (void)tandem::deserialize<T>(b);
    return true;
  } catch (const tandem::DecodeError&) {
    return false;
  }
}

}  // namespace

// pickletester.AbstractUnpickleTests.test_truncated_data: every proper prefix fails.
TEST(Decode, EveryTruncationThrows) {
  const Bytes full = tandem::serialize(sample());
  ASSERT_EQ(tandem::deserialize<Rec>(full), sample());
  for (std::size_t n = 0; n < full.size(); ++n)
    EXPECT_THROW(tandem::deserialize<Rec>(std::span(full).first(n)), tandem::DecodeError) << n;

  Tree t{1, {{2, {}}, {3, {{4, {}}}}}};
  const Bytes tb = tandem::serialize(t);
  for (std::size_t n = 0; n < tb.size(); ++n)
    EXPECT_THROW(tandem::deserialize<Tree>(std::span(tb).first(n)), tandem::DecodeError) << n;
}

TEST(Decode, Messages) {
  const Bytes b = tandem::serialize(std::int32_t{7});
  EXPECT_EQ(decode_error(std::span(b).first(3), tag<std::int32_t>{}),
            "truncated input: need 4 bytes at offset 1, have 2");
  EXPECT_EQ(decode_error({}, tag<int>{}), "truncated input: need 1 bytes at offset 0, have 0");

  Bytes extra = b;
  extra.push_back(std::byte{0});
  EXPECT_EQ(decode_error(extra, tag<std::int32_t>{}), "trailing data: 1 unread bytes at offset 5");

  Bytes frame = b;
  frame[0] = std::byte{0x80};
  EXPECT_NE(decode_error(frame, tag<std::int32_t>{}).find("invalid frame header"),
            std::string::npos);

  Bytes flag = tandem::serialize(true);
  flag[1] = std::byte{2};
  EXPECT_EQ(decode_error(flag, tag<bool>{}), "invalid bool byte 0x02 at offset 1");

  Bytes opt = tandem::serialize(std::optional<int>{});
  opt[1] = std::byte{7};
  EXPECT_EQ(decode_error(opt, tag<std::optional<int>>{}),
            "invalid optional flag byte 0x07 at offset 1");

  using V = std::variant<int, std::string>;
  Bytes var = tandem::serialize(V{1});
  var[1] = std::byte{2};
  EXPECT_EQ(decode_error(var, tag<V>{}), "variant index 2 out of range (2 alternatives) at offset 1");

  Bytes big = tandem::serialize(std::string("abc"));
  put<std::uint64_t>(big, 1, std::uint64_t{1} << 60);
  EXPECT_EQ(decode_error(big, tag<std::string>{}),
            "length 1152921504606846976 at offset 1 exceeds the input: 3 bytes left, 1 needed "
            "per element");

  Bytes marker = tandem::serialize(std::monostate{});
  marker[1] = std::byte{1};
  EXPECT_EQ(decode_error(marker, tag<std::monostate>{}),
            "invalid empty-value marker byte 0x01 at offset 1");
}

TEST(Decode, DuplicateKeysRejected) {
  // Encode a vector of pairs, which has the map's layout, with a repeated key.
  using P = std::pair<std::string, int>;
  const Bytes b = tandem::serialize(std::vector<P>{{"k", 1}, {"k", 2}});
  EXPECT_EQ(decode_error(b, tag<std::map<std::string, int>>{}), "duplicate key at offset 22");
  EXPECT_THROW((tandem::deserialize<std::unordered_map<std::string, int>>(b)), tandem::DecodeError);
  const Bytes s = tandem::serialize(std::vector<int>{5, 5});
  EXPECT_THROW(tandem::deserialize<std::set<int>>(s), tandem::DecodeError);
  EXPECT_EQ(tandem::deserialize<std::set<int>>(tandem::serialize(std::vector<int>{5, 6})).size(), 2u);
}

// pickletester.AbstractUnpickleTests.test_large_32b_binbytes8 and friends: a huge length is
// refused before anything is allocated for it.
TEST(Decode, HugeLengthsDoNotAllocate) {
  using S = std::basic_string<char, std::char_traits<char>, Capped<char>>;
  using VI = std::vector<int, Capped<int>>;
  using VS = std::vector<S, Capped<S>>;
  using VE = std::vector<std::monostate, Capped<std::monostate>>;
  using VT = std::vector<std::tuple<>, Capped<std::tuple<>>>;
  using M = std::map<int, int, std::less<int>, Capped<std::pair<const int, int>>>;
  using D = std::deque<S, Capped<S>>;
  for (std::uint64_t n : {std::uint64_t{1} << 60, ~std::uint64_t{0}, std::uint64_t{1} << 32,
                          std::uint64_t{100000}}) {
    g_largest = 0;
    Bytes b = tandem::serialize(std::vector<int>{1, 2});
    put(b, 1, n);
    EXPECT_THROW(tandem::deserialize<S>(b), tandem::DecodeError);
    EXPECT_THROW(tandem::deserialize<VI>(b), tandem::DecodeError);
    EXPECT_THROW(tandem::deserialize<VS>(b), tandem::DecodeError);
    EXPECT_THROW(tandem::deserialize<VE>(b), tandem::DecodeError);
    EXPECT_THROW(tandem::deserialize<VT>(b), tandem::DecodeError);
    EXPECT_THROW(tandem::deserialize<M>(b), tandem::DecodeError);
    EXPECT_THROW(tandem::deserialize<D>(b), tandem::DecodeError);
    EXPECT_THROW(tandem::deserialize<std::vector<bool>>(b), tandem::DecodeError);
    EXPECT_THROW(tandem::deserialize<std::unordered_set<int>>(b), tandem::DecodeError);
    EXPECT_LE(g_largest, 1024u) << n;  // what default construction takes (deque: a node)
  }
}

TEST(Decode, DeepNestingRejected) {
  // A Tree 300 levels deep, written by hand: (value, count = 1) ... (value, count = 0).
  Bytes b{tandem::kFormatByte};
  auto append = [&](auto v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    b.insert(b.end(), p, p + sizeof v);
  };
  for (int i = 0; i < 300; ++i) {
    append(std::int32_t{i});
    append(std::uint64_t{1});
  }
  append(std::int32_t{300});
  append(std::uint64_t{0});
  const std::string msg = decode_error(b, tag<Tree>{});
  EXPECT_EQ(msg.rfind("nesting deeper than 256 levels at offset", 0), 0u) << msg;
}

// pickletester.AbstractUnpickleTests.test_bad_* in bulk: random corruption never does worse
// than DecodeError (run under ASan+UBSan to see over-reads and invalid bools/enums).
TEST(Decode, RandomByteFlipsNeverCrash) {
  std::mt19937 rng(12345);
  const Bytes recs = tandem::serialize(std::vector<Rec>{sample(), Rec{}, sample()});
  const Bytes tree = tandem::serialize(Tree{1, {{2, {}}, {3, {{4, {}}}}}});
  int ok = 0, failed = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes b = round % 2 ? recs : tree;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<std::byte>(rng());
    const bool r = round % 2 ? decodes<std::vector<Rec>>(b) : decodes<Tree>(b);
    (r ? ok : failed)++;
  }
  EXPECT_GT(failed, 0);
  RecordProperty("decoded", ok);
}

TEST(Decode, RandomInputNeverCrashes) {
  std::mt19937 rng(777);
  for (int round = 0; round < 20000; ++round) {
    Bytes b(rng() % 64);
    for (auto& x : b) x = static_cast<std::byte>(rng() % 4 == 0 ? 0 : rng());
    if (!b.empty() && rng() % 2) b[0] = tandem::kFormatByte;
    (void)decodes<Rec>(b);
    (void)decodes<std::map<std::string, std::vector<int>>>(b);
    (void)decodes<std::tuple<bool, std::optional<std::string>, std::unique_ptr<Tree>>>(b);
  }
}

TEST(Decode, DecodeErrorIsAValueError) {
  try {
    (void)tandem::deserialize<int>(Bytes{});
    FAIL();
  } catch (const tandem::ValueError& e) {
    EXPECT_NE(dynamic_cast<const tandem::DecodeError*>(&e), nullptr);
  }
}
