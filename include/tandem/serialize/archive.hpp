// SPDX-License-Identifier: MIT
// The three archives of tandem's codec (see <tandem/serialize.hpp> for the format).
//
//  * SizeArchive counts the bytes a value will take (the first of serialize()'s two passes).
//  * OutArchive writes into a fixed span, or appends to a growable std::vector<std::byte>.
//  * InArchive reads from a span, bounds-checking every read, and throws tandem::DecodeError.
//
// All three give user types the cereal interface: `ar(a, b, c)` and `ar & a`, with
// `Ar::is_loading` / `Ar::is_saving` for the rare type that must tell the directions apart.
// They hold no frame header: serialize()/deserialize() add and check it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "tandem/errors.hpp"

namespace tandem {

/// Extension point: specialise `tandem::Codec<T>` with
///   `template <class Ar> static void save(Ar& ar, const T& v);`   // ar.write / ar(...)
///   `static void load(InArchive& ar, T& v);`
/// to serialize a type you cannot add a serialize() function to.
template <class T, class Enable = void>
struct Codec {
  static constexpr bool tandem_unsupported = true;
};

class InArchive;

namespace detail {

/// Composite values may nest this deep (recursive types: a list of lists of ...); deeper input
/// is rejected instead of exhausting the stack.
inline constexpr std::size_t kMaxDepth = 256;

template <class Ar, class T>
void save_value(Ar& ar, const T& v);
template <class T>
void load_value(InArchive& ar, T& v);

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_encode_depth() {
  throw ValueError("tandem::serialize: value nests deeper than " + std::to_string(kMaxDepth) +
                   " levels");
}

// Counts one level of nesting for as long as it lives.
template <class Ar>
class DepthGuard {
 public:
  explicit DepthGuard(Ar& ar) : ar_(ar) {
    if (++ar_.depth_ > kMaxDepth) ar_.depth_exceeded();
  }
  ~DepthGuard() { --ar_.depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  Ar& ar_;
};

}  // namespace detail

/// Counts bytes: the size pass. Same interface as OutArchive.
class SizeArchive {
 public:
  static constexpr bool is_saving = true, is_loading = false;

  void write(const void*, std::size_t n) noexcept { n_ += n; }
  void write_size(std::uint64_t) noexcept { n_ += sizeof(std::uint64_t); }
  std::size_t position() const noexcept { return n_; }

  template <class... Ts>
  SizeArchive& operator()(const Ts&... xs) {
    (detail::save_value(*this, xs), ...);
    return *this;
  }
  template <class T>
  SizeArchive& operator&(const T& x) {
    detail::save_value(*this, x);
    return *this;
  }

 private:
  template <class>
  friend class detail::DepthGuard;
  [[noreturn]] void depth_exceeded() const { detail::throw_encode_depth(); }
  std::size_t n_ = 0;
  std::size_t depth_ = 0;
};

/// Writes values. Over a span it never allocates and throws ValueError when the span is too
/// small; over a vector it appends, growing geometrically, and trims the vector to what was
/// written when finish() is called or the archive is destroyed.
class OutArchive {
 public:
  static constexpr bool is_saving = true, is_loading = false;

  explicit OutArchive(std::span<std::byte> dst) noexcept
      : begin_(dst.data()), cur_(dst.data()), end_(dst.data() + dst.size()) {}
  explicit OutArchive(std::vector<std::byte>& buf) : buf_(&buf), base_(buf.size()) {
    rebind(base_);
  }
  ~OutArchive() { finish(); }
  OutArchive(const OutArchive&) = delete;
  OutArchive& operator=(const OutArchive&) = delete;

  void write(const void* p, std::size_t n) {
    if (n > static_cast<std::size_t>(end_ - cur_)) [[unlikely]]
      grow(n);
    if (n != 0) std::memcpy(cur_, p, n);  // n == 0 may come with p == nullptr
    cur_ += n;
  }
  void write_size(std::uint64_t n) { write(&n, sizeof n); }
  /// Bytes written by this archive.
  std::size_t position() const noexcept {
    return static_cast<std::size_t>(cur_ - begin_) - (buf_ ? base_ : 0);
  }
  /// Vector mode: shrinks the vector to the bytes written. Idempotent.
  void finish() noexcept {
    if (buf_) buf_->resize(static_cast<std::size_t>(cur_ - begin_));  // shrinking never throws
    rebind_noexcept();
  }

  template <class... Ts>
  OutArchive& operator()(const Ts&... xs) {
    (detail::save_value(*this, xs), ...);
    return *this;
  }
  template <class T>
  OutArchive& operator&(const T& x) {
    detail::save_value(*this, x);
    return *this;
  }

 private:
  template <class>
  friend class detail::DepthGuard;
  [[noreturn]] void depth_exceeded() const { detail::throw_encode_depth(); }

  void rebind(std::size_t used) noexcept {
    begin_ = buf_->data();
    cur_ = begin_ + used;
    end_ = begin_ + buf_->size();
  }
  void rebind_noexcept() noexcept {
    if (buf_) rebind(buf_->size());
  }
  [[gnu::cold, gnu::noinline]] void grow(std::size_t n) {
    const auto used = static_cast<std::size_t>(cur_ - begin_);
    if (!buf_)
      throw ValueError("tandem::OutArchive: buffer too small: need " + std::to_string(n) +
                       " more bytes at offset " + std::to_string(used) + ", have " +
                       std::to_string(end_ - cur_));
    buf_->resize(std::max(used + n, std::max<std::size_t>(64, 2 * buf_->size())));
    rebind(used);
  }

  std::vector<std::byte>* buf_ = nullptr;
  std::size_t base_ = 0;  // vector mode: bytes that were in the vector before us
  std::byte* begin_ = nullptr;
  std::byte* cur_ = nullptr;
  std::byte* end_ = nullptr;
  std::size_t depth_ = 0;
};

/// Reads values from a span; every read is checked against the bytes left, and every length
/// against the bytes left before anything is allocated for it. Errors throw DecodeError.
class InArchive {
 public:
  static constexpr bool is_saving = false, is_loading = true;

  explicit InArchive(std::span<const std::byte> src) noexcept
      : begin_(src.data()), cur_(src.data()), end_(src.data() + src.size()) {}

  std::size_t position() const noexcept { return static_cast<std::size_t>(cur_ - begin_); }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - cur_); }

  void read(void* p, std::size_t n) {
    if (n > remaining()) [[unlikely]]
      truncated(n);
    if (n != 0) std::memcpy(p, cur_, n);
    cur_ += n;
  }
  std::uint8_t read_u8() {
    std::uint8_t b;
    read(&b, 1);
    return b;
  }
  std::uint64_t read_size() {
    std::uint64_t n;
    read(&n, sizeof n);
    return n;
  }
  /// Reads a count of elements each taking at least `min_bytes` (≥ 1) on the wire, and checks
  /// that the input can hold them: a corrupt 2^60 fails here, before any allocation.
  std::size_t read_count(std::size_t min_bytes) {
    const std::size_t at = position();
    const std::uint64_t n = read_size();
    if (n > remaining() / min_bytes) [[unlikely]]
      bad_count(n, min_bytes, at);
    return static_cast<std::size_t>(n);
  }
  /// A pointer to the next n bytes, consumed (checked).
  const std::byte* take(std::size_t n) {
    if (n > remaining()) [[unlikely]]
      truncated(n);
    const std::byte* p = cur_;
    cur_ += n;
    return p;
  }
  /// Throws unless every byte was consumed.
  void finish() const {
    if (cur_ != end_) [[unlikely]]
      fail("trailing data: " + std::to_string(remaining()) + " unread bytes at offset " +
           std::to_string(position()));
  }

  template <class... Ts>
  InArchive& operator()(Ts&... xs) {
    (detail::load_value(*this, xs), ...);
    return *this;
  }
  template <class T>
  InArchive& operator&(T& x) {
    detail::load_value(*this, x);
    return *this;
  }

  /// Throws DecodeError(what): for codecs that find a value they cannot accept.
  [[noreturn, gnu::cold, gnu::noinline]] static void fail(const std::string& what) {
    throw DecodeError(what);
  }
  /// "invalid <what> byte 0x.. at offset K" for the byte just read.
  [[noreturn, gnu::cold, gnu::noinline]] void bad_byte(const char* what, unsigned value) const {
    static constexpr char hex[] = "0123456789abcdef";
    fail(std::string("invalid ") + what + " byte 0x" + hex[(value >> 4) & 15] + hex[value & 15] +
         " at offset " + std::to_string(position() - 1));
  }

 private:
  template <class>
  friend class detail::DepthGuard;
  [[noreturn, gnu::cold, gnu::noinline]] void depth_exceeded() const {
    fail("nesting deeper than " + std::to_string(detail::kMaxDepth) + " levels at offset " +
         std::to_string(position()));
  }

  [[noreturn, gnu::cold, gnu::noinline]] void truncated(std::size_t n) const {
    fail("truncated input: need " + std::to_string(n) + " bytes at offset " +
         std::to_string(position()) + ", have " + std::to_string(remaining()));
  }
  [[noreturn, gnu::cold, gnu::noinline]] void bad_count(std::uint64_t n, std::size_t min_bytes,
                                                        std::size_t at) const {
    fail("length " + std::to_string(n) + " at offset " + std::to_string(at) +
         " exceeds the input: " + std::to_string(remaining()) + " bytes left, " +
         std::to_string(min_bytes) + " needed per element");
  }

  const std::byte* begin_;
  const std::byte* cur_;
  const std::byte* end_;
  std::size_t depth_ = 0;
};

}  // namespace tandem
