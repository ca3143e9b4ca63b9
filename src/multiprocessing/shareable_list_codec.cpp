// SPDX-License-Identifier: MIT
// CPython's ShareableList layout (see shareable_list_codec.hpp). Multi-byte fields are read
// with memcpy into locals: the segment may be written by another process at any moment, so
// a value is checked once it is a local copy, and only the copy is used.
#include "multiprocessing/shareable_list_codec.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "tandem/errors.hpp"

namespace tandem::mp::detail::shareable {

namespace {

constexpr std::size_t kAlign = 8;  // Python's _alignment; also the size of a format field

enum Code : std::int8_t { kPlain = 0, kStr = 1, kBytes = 2, kNone = 3 };

[[noreturn]] void corrupt(const char* what) {
  throw ValueError(std::string("ShareableList segment is malformed: ") + what);
}

template <class T>
T load(std::span<const std::byte> seg, std::size_t at) {
  static_assert(std::is_trivially_copyable_v<T>);
  T v;
  std::memcpy(&v, seg.data() + at, sizeof v);
  return v;
}

template <class T>
void store(std::span<std::byte> seg, std::size_t at, const T& v) {
  std::memcpy(seg.data() + at, &v, sizeof v);
}

std::size_t data_start(std::size_t n) { return (n + 2) * 8; }
std::size_t formats_start(const Offsets& off) { return data_start(off.size() - 1) + off.back(); }
std::size_t codes_start(const Offsets& off) { return formats_start(off) + kAlign * (off.size() - 1); }

// What an item is stored as: its format, its code and the bytes of a str/bytes.
struct Packed {
  std::string format;
  Code code;
  std::string_view text;  // str/bytes payload (a view into the Value)
};

Packed pack(const Value& v, std::size_t slot) {
  switch (v.index()) {
    case 0: return {"xxxxxx?x", kNone, {}};
    case 1: return {"q", kPlain, {}};
    case 2: return {"d", kPlain, {}};
    case 3: return {"xxxxxxx?", kPlain, {}};
    case 4: {
      const std::string& s = std::get<std::string>(v);
      return {std::to_string(slot) + "s", kStr, s};
    }
    default: {
      const auto& b = std::get<std::vector<std::byte>>(v);
      return {std::to_string(slot) + "s", kBytes,
              std::string_view(reinterpret_cast<const char*>(b.data()), b.size())};
    }
  }
}

// A new item's slot: 8 for a scalar, 8 * (len / 8 + 1) for str/bytes (at least one NUL).
std::size_t slot_for(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return kAlign * (s->size() / kAlign + 1);
  if (const auto* b = std::get_if<std::vector<std::byte>>(&v))
    return kAlign * (b->size() / kAlign + 1);
  return kAlign;
}

void check_format_length(const std::string& format) {
  if (format.size() > kAlign)
    throw ValueError("ShareableList item too large: its format '" + format +
                     "' does not fit in 8 characters");
}

// The item's bytes at `at` in a slot of `slot` bytes.
void put(std::span<std::byte> seg, std::size_t at, std::size_t slot, const Value& v,
         const Packed& p) {
  std::memset(seg.data() + at, 0, v.index() >= 4 ? slot : kAlign);  // struct's NUL padding
  switch (v.index()) {
    case 1: store(seg, at, std::get<std::int64_t>(v)); break;
    case 2: store(seg, at, std::get<double>(v)); break;
    case 3: store(seg, at + 7, static_cast<std::uint8_t>(std::get<bool>(v) ? 1 : 0)); break;
    case 4:
    case 5:  // an empty std::vector's data() may be null: no memcpy from it (UB even for 0)
      if (!p.text.empty()) std::memcpy(seg.data() + at, p.text.data(), p.text.size());
      break;
    default: break;
  }
}

void put_meta(std::span<std::byte> seg, const Offsets& off, std::size_t i, const Packed& p) {
  char field[kAlign] = {};
  std::memcpy(field, p.format.data(), p.format.size());
  std::memcpy(seg.data() + formats_start(off) + kAlign * i, field, kAlign);
  store(seg, codes_start(off) + i, static_cast<std::int8_t>(p.code));
}

// What a checked format says about its item.
struct Parsed {
  std::string format;
  std::size_t width;  // bytes read from the slot
  Code code;
  char kind;  // 'q', 'd', '?', 'x' (None), 's'
};

Parsed parse(std::span<const std::byte> seg, const Offsets& off, std::size_t i) {
  char field[kAlign];
  std::memcpy(field, seg.data() + formats_start(off) + kAlign * i, kAlign);
  std::size_t len = kAlign;
  while (len > 0 && field[len - 1] == '\0') --len;  // Python: rstrip(b'\x00')
  const std::string format(field, len);
  const auto code = load<std::int8_t>(seg, codes_start(off) + i);
  const std::size_t slot = off[i + 1] - off[i];
  Parsed p{format, kAlign, kPlain, 0};
  if (format == "q") p.kind = 'q';
  else if (format == "d") p.kind = 'd';
  else if (format == "xxxxxxx?") p.kind = '?';
  else if (format == "xxxxxx?x") p.kind = 'x';
  else if (len >= 2 && format.back() == 's' &&
           std::all_of(format.begin(), format.end() - 1, [](char c) { return c >= '0' && c <= '9'; })) {
    p.kind = 's';
    p.width = std::stoul(format.substr(0, len - 1));  // at most 7 digits: no overflow
  } else {
    corrupt("unknown item format");
  }
  const bool code_ok = p.kind == 's' ? (code == kStr || code == kBytes)
                                     : (p.kind == 'x' ? code == kNone : code == kPlain);
  if (!code_ok) corrupt("item code does not match its format");
  p.code = static_cast<Code>(code);
  if (p.width > slot) corrupt("item larger than its slot");
  return p;
}

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), as Python's
// bytes.decode('utf8').
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) extra = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace

std::size_t encoded_size(const std::vector<Value>& items) {
  const std::size_t n = items.size();
  std::size_t data = 0;
  for (const Value& v : items) {
    const std::size_t slot = slot_for(v);
    check_format_length(pack(v, slot).format);
    data += slot;
  }
  return data_start(n) + data + kAlign * n + n;
}

Offsets encode(std::span<std::byte> seg, const std::vector<Value>& items) {
  const std::size_t n = items.size();
  Offsets off{0};
  for (const Value& v : items) off.push_back(off.back() + slot_for(v));
  store(seg, 0, static_cast<std::int64_t>(n));
  for (std::size_t i = 0; i <= n; ++i)
    store(seg, 8 * (i + 1), static_cast<std::int64_t>(off[i]));
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t slot = off[i + 1] - off[i];
    const Packed p = pack(items[i], slot);
    check_format_length(p.format);
    put(seg, data_start(n) + off[i], slot, items[i], p);
    put_meta(seg, off, i, p);
  }
  return off;
}

Offsets read_offsets(std::span<const std::byte> seg) {
  if (seg.size() < 16) corrupt("shorter than an empty list");
  const auto n = load<std::int64_t>(seg, 0);
  if (n < 0 || static_cast<std::uint64_t>(n) > seg.size() / 8 - 2)
    corrupt("item count larger than the segment");
  const auto count = static_cast<std::size_t>(n);
  Offsets off(count + 1);
  for (std::size_t i = 0; i <= count; ++i) {
    const auto o = load<std::int64_t>(seg, 8 * (i + 1));
    if (o < 0 || (i > 0 && static_cast<std::uint64_t>(o) < off[i - 1]))
      corrupt("item offsets out of order");
    off[i] = static_cast<std::uint64_t>(o);
  }
  const std::size_t room = seg.size() - data_start(count);
  if (off.back() > room || (kAlign + 1) * count > room - off.back())
    corrupt("items larger than the segment");
  return off;
}

std::string item_format(std::span<const std::byte> seg, const Offsets& off, std::size_t i) {
  return parse(seg, off, i).format;
}

Value read_item(std::span<const std::byte> seg, const Offsets& off, std::size_t i) {
  const Parsed p = parse(seg, off, i);
  const std::size_t at = data_start(off.size() - 1) + off[i];
  switch (p.kind) {
    case 'q': return load<std::int64_t>(seg, at);
    case 'd': return load<double>(seg, at);
    case '?': return load<std::uint8_t>(seg, at + 7) != 0;
    case 'x': return std::monostate{};
    default: break;
  }
  std::size_t len = p.width;
  while (len > 0 && seg[at + len - 1] == std::byte{0}) --len;  // Python's rstrip(b'\x00')
  if (p.code == kBytes) return std::vector<std::byte>(seg.begin() + at, seg.begin() + at + len);
  std::string s(reinterpret_cast<const char*>(seg.data()) + at, len);
  if (!valid_utf8(s)) corrupt("str item is not UTF-8");
  return s;
}

void write_item(std::span<std::byte> seg, const Offsets& off, std::size_t i, const Value& value) {
  const std::size_t slot = off[i + 1] - off[i];
  const Packed p = pack(value, slot);
  if (value.index() >= 4 && p.text.size() > slot)
    throw ValueError("bytes/str item exceeds available storage");
  if (value.index() < 4 && slot < kAlign) corrupt("slot smaller than a number");
  check_format_length(p.format);
  // Python's order: format and code first, then the bytes.
  put_meta(seg, off, i, p);
  put(seg, data_start(off.size() - 1) + off[i], slot, value, p);
}

}  // namespace tandem::mp::detail::shareable
