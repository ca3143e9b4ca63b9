// SPDX-License-Identifier: MIT
// mp::ShareableList: a port of CPython's test_shared_memory_ShareableList_basics, CPython's
// byte layout checked against the real python3 both ways, and malformed segments.
// (test_shared_memory_ShareableList_pickling: N/A — a ShareableList is passed by name.)
#include "tandem/multiprocessing/shareable_list.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <string>

#include "support/fault_support.hpp"
#include "support/shm_test_support.hpp"
#include "tandem/errors.hpp"

namespace mp = tandem::mp;
using V = mp::ShareableList::value_type;
using shmtest::shm_exists;

namespace {

V bytes(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return std::vector<std::byte>(p, p + s.size());
}
V str(std::string s) { return s; }
V none() { return std::monostate{}; }

std::string hex(std::span<const std::byte> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::byte x : b) {
    out += digits[std::to_integer<int>(x) >> 4];
    out += digits[std::to_integer<int>(x) & 15];
  }
  return out;
}

// Every kind of item; "héllo" is short enough that CPython 3.11 stores it whole too.
const std::vector<V>& all_kinds() {
  static const std::vector<V> items{
      std::int64_t{42}, std::int64_t{-7}, 2.5,  true,       false, str("h\xc3\xa9llo"),
      bytes(std::string_view("ab\0\0", 4)),     bytes(std::string_view("a\0\xff", 3)),
      none(),           str(""),          bytes(""), std::numeric_limits<std::int64_t>::min()};
  return items;
}
// How Python prints them (ascii(list(sl))); the trailing NULs of b'ab\0\0' are gone.
constexpr const char* kAllKindsAscii =
    "[42, -7, 2.5, True, False, 'h\\xe9llo', b'ab', b'a\\x00\\xff', None, '', b'', "
    "-9223372036854775808]\n";
constexpr const char* kAllKindsPython =
    "42, -7, 2.5, True, False, 'h\\u00e9llo', b'ab\\0\\0', b'a\\0\\xff', None, '', b'', -2**63";

}  // namespace

// test_shared_memory_ShareableList_basics
TEST(ShareableList, Basics) {
  const int fds = faulttest::count_fds();
  mp::ShareableList sl({str("howdy"), bytes("HoWdY"), -273.154, std::int64_t{100}, none(), true,
                        std::int64_t{42}});
  EXPECT_THROW(sl[7], std::out_of_range);
  EXPECT_THROW(sl.set(7, std::int64_t{2}), std::out_of_range);
  sl.set(0, str("howdy"));  // str -> str: no format change
  EXPECT_EQ(sl.format(), "8s8sdqxxxxxx?xxxxxxxx?q");
  EXPECT_EQ(sl.size(), 7u);
  EXPECT_EQ(sl[0], str("howdy"));
  EXPECT_EQ(sl[1], bytes("HoWdY"));
  EXPECT_EQ(sl[2], V(-273.154));
  EXPECT_EQ(sl[3], V(std::int64_t{100}));
  EXPECT_EQ(sl[4], none());
  EXPECT_EQ(sl[5], V(true));
  EXPECT_EQ(sl[6], V(std::int64_t{42}));

  sl.set(3, std::int64_t{42});
  EXPECT_EQ(sl[3], V(std::int64_t{42}));
  sl.set(4, str("some"));  // a change of type
  EXPECT_EQ(sl[4], str("some"));
  EXPECT_EQ(sl.format(), "8s8sdq8sxxxxxxx?q");
  EXPECT_THROW(sl.set(4, str("far too many")), tandem::ValueError);
  EXPECT_EQ(sl[4], str("some"));
  sl.set(0, str("encod\xc3\xa9s"));  // exactly 8 bytes of UTF-8
  EXPECT_EQ(sl[0], str("encod\xc3\xa9s"));
  EXPECT_EQ(sl[1], bytes("HoWdY"));  // no spillage
  EXPECT_THROW(sl.set(0, str("encod\xc3\xa9\x65s")), tandem::ValueError);  // 9 bytes
  EXPECT_THROW(sl.set(1, bytes("123456789")), tandem::ValueError);
  EXPECT_EQ(sl[1], bytes("HoWdY"));

  // A duplicate under a chosen name.
  const std::string dup = "tandem_sl_dup_" + std::to_string(::getpid());
  std::vector<V> items;
  for (std::size_t i = 0; i < sl.size(); ++i) items.push_back(sl[i]);
  {
    mp::ShareableList copy(items, dup);
    EXPECT_EQ(copy.shm().name(), dup);
    // 'encodés' is 8 bytes of UTF-8: a 16-byte slot here, where CPython 3.11 (counting code
    // points) allocates 8 — the documented difference.
    EXPECT_EQ(copy.format(), "16s" + sl.format().substr(2));
    copy.set(6, std::int64_t{77});
    EXPECT_EQ(copy[6], V(std::int64_t{77}));
    EXPECT_NE(sl[6], V(std::int64_t{77}));
    copy.shm().unlink();
  }
  // A second handle on the same list.
  mp::ShareableList tethered(sl.shm().name());
  EXPECT_EQ(tethered.size(), 7u);
  tethered.set(6, std::int64_t{880});
  EXPECT_EQ(sl[6], V(std::int64_t{880}));

  // Length 0.
  mp::ShareableList empty(std::vector<V>{});
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.format(), "");
  EXPECT_EQ(mp::ShareableList(empty.shm().name()).size(), 0u);
  empty.shm().unlink();

  sl.shm().unlink();
  tethered.shm().close();
  EXPECT_THROW(tethered[0], tandem::ValueError);  // closed
  EXPECT_THROW(mp::ShareableList(std::string("tandem_no_such_list")), tandem::FileNotFoundError);
  empty.shm().close();
  sl.shm().close();
  EXPECT_EQ(faulttest::count_fds(), fds);
}

TEST(ShareableList, TrailingNulsAndLimits) {
  mp::ShareableList sl({bytes(std::string_view("ab\0\0", 4)), str("12345678"), std::int64_t{1}});
  EXPECT_EQ(sl[0], bytes("ab"));  // Python's quirk: trailing NULs are stripped on read
  EXPECT_EQ(sl.format(), "8s16sq");
  sl.set(1, str("1234567890123456"));  // fills the slot exactly, no NUL left
  EXPECT_EQ(sl[1], str("1234567890123456"));
  sl.set(2, str("8 bytes!"));  // a str into a number's slot: 8 bytes
  EXPECT_EQ(sl[2], str("8 bytes!"));
  EXPECT_EQ(sl.format(), "8s16s8s");
  sl.set(2, 1.5);
  EXPECT_EQ(sl.format(), "8s16sd");
  sl.set(1, none());
  EXPECT_EQ(sl[1], none());
  sl.set(1, false);
  EXPECT_EQ(sl[1], V(false));
  sl.set(0, std::vector<std::byte>{});  // no data() at all (found by shareable_list_fuzz)
  EXPECT_EQ(sl[0], bytes(""));
  sl.shm().unlink();
  // A format longer than 8 characters ("10000008s") does not fit Python's layout.
  EXPECT_THROW(mp::ShareableList({str(std::string(10'000'000, 'x'))}), tandem::ValueError);
}

// The layout is CPython's, byte for byte.
TEST(ShareableList, SameBytesAsPython) {
  const std::string out = shmtest::python(
      "from multiprocessing import shared_memory\n"
      "sl = shared_memory.ShareableList([" + std::string(kAllKindsPython) + "])\n"
      "print(sl.shm.size, bytes(sl.shm.buf).hex(), sl.format)\n"
      "sl.shm.close(); sl.shm.unlink()\n");
  mp::ShareableList sl(all_kinds());
  EXPECT_EQ(out, std::to_string(sl.shm().size()) + " " + hex(sl.shm().buf()) + " " + sl.format() +
                     "\n");
  sl.shm().unlink();
}

// Python reads tandem's list (every kind of item, a non-ASCII str longer than CPython 3.11
// would have allocated), and sets items that tandem then reads.
TEST(ShareableList, PythonReadsTandems) {
  std::vector<V> items = all_kinds();
  items.push_back(str("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"));
  mp::ShareableList sl(items);
  const std::string out = shmtest::python(
      "sl = shared_memory.ShareableList(name=sys.argv[1]); untrack(sl.shm)\n"
      "print(ascii(list(sl)[:-1])); print(ascii(sl[-1]), len(sl), sl.format)\n"
      "sl[0] = 'py'; sl[1] = 3.25; sl[6] = b'\\x00z'; sl[8] = True; sl[5] = 'w\\u00f6w'\n"
      "sl.shm.close()\n",
      {sl.shm().name()});
  EXPECT_EQ(out, std::string(kAllKindsAscii) +
                     "'\\xe9\\xe9\\xe9\\xe9\\xe9\\xe9\\xe9\\xe9\\xe9' 13 "
                     "qqdxxxxxxx?xxxxxxx?8s8s8sxxxxxx?x8s8sq24s\n");
  EXPECT_EQ(sl[0], str("py"));
  EXPECT_EQ(sl[1], V(3.25));
  EXPECT_EQ(sl[6], bytes(std::string_view("\0z", 2)));
  EXPECT_EQ(sl[8], V(true));
  EXPECT_EQ(sl[5], str("w\xc3\xb6w"));
  sl.shm().unlink();
}

// tandem reads Python's list, changes it, and Python sees the change.
TEST(ShareableList, TandemReadsPythons) {
  auto py = shmtest::python_session(
      "sl = shared_memory.ShareableList([" + std::string(kAllKindsPython) + "])\n"
      "print(sl.shm.name)\n"
      "sys.stdin.readline()\n"
      "print(ascii(list(sl)))\n"
      "sl.shm.close(); sl.shm.unlink()\n");
  const std::string name = shmtest::chomp(py.stdout_().readline());
  {
    mp::ShareableList sl(name);
    ASSERT_EQ(sl.size(), all_kinds().size());
    for (std::size_t i = 0; i < sl.size(); ++i) {
      const V expected = i == 6 ? bytes("ab") : all_kinds()[i];
      EXPECT_EQ(sl[i], expected) << i;
    }
    EXPECT_EQ(sl.format(), "qqdxxxxxxx?xxxxxxx?8s8s8sxxxxxx?x8s8sq");
    sl.set(0, str("tandem!"));
    sl.set(8, std::int64_t{-1});
    sl.set(5, bytes("\x01\x02"));
  }
  py.stdin_().write("go\n");
  EXPECT_EQ(py.stdout_().readline(),
            "['tandem!', -7, 2.5, True, False, b'\\x01\\x02', b'ab', b'a\\x00\\xff', -1, '', b'', "
            "-9223372036854775808]\n");
  EXPECT_EQ(py.wait(), 0);
  EXPECT_FALSE(shm_exists(name));
}

// A segment written by someone else is untrusted: every malformation is a ValueError.
TEST(ShareableList, MalformedSegmentsAreValueErrors) {
  auto raw = [](std::span<std::byte> b, std::size_t at, std::int64_t v) {
    std::memcpy(b.data() + at, &v, sizeof v);
  };
  // Whole-layout damage, seen at attach.
  for (int damage = 0; damage < 4; ++damage) {
    mp::ShareableList sl({std::int64_t{1}, str("abc")});  // n, off[3], data 16, fmts 16, codes 2
    auto b = sl.shm().buf();
    if (damage == 0) raw(b, 0, 1'000'000);         // n larger than the segment
    if (damage == 1) raw(b, 0, -1);                // negative n
    if (damage == 2) {  // offsets out of order
      raw(b, 16, 100);
      raw(b, 24, 8);
    }
    if (damage == 3) raw(b, 24, 1 << 20);          // the last offset past the end
    EXPECT_THROW(mp::ShareableList(sl.shm().name()), tandem::ValueError) << damage;
    sl.shm().unlink();
  }
  // Item damage, seen at access.
  const std::size_t fmts = 8 * 4 + 16, codes = fmts + 16;
  auto item_damage = [&](auto damage, bool in_format = true) {
    mp::ShareableList sl({std::int64_t{1}, str("abc")});
    damage(sl.shm().buf());
    mp::ShareableList seen(sl.shm().name());
    EXPECT_THROW(seen[1], tandem::ValueError);
    if (in_format) {
      EXPECT_THROW(seen.format(), tandem::ValueError);
    }
    EXPECT_EQ(seen[0], V(std::int64_t{1}));  // the others are still readable
    sl.shm().unlink();
  };
  auto text = [](std::span<std::byte> b, std::size_t at, std::string_view s) {
    std::memset(b.data() + at, 0, 8);
    std::memcpy(b.data() + at, s.data(), s.size());
  };
  item_damage([&](auto b) { text(b, fmts + 8, "zz"); });    // unknown format
  item_damage([&](auto b) { text(b, fmts + 8, "16s"); });   // wider than its slot
  item_damage([&](auto b) { text(b, fmts + 8, "s"); });     // no width
  item_damage([&](auto b) { text(b, fmts + 8, "q"); });     // code 1 (str) with "q"
  item_damage([&](auto b) { b[codes + 1] = std::byte{7}; });  // unknown code
  item_damage([&](auto b) { b[codes + 1] = std::byte{0}; });  // code 0 with "8s"
  item_damage([&](auto b) { b[8 * 4 + 8] = std::byte{0xC3}; }, false);  // a str not UTF-8
}
