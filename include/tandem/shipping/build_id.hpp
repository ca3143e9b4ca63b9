// SPDX-License-Identifier: MIT
// tandem::shipping::BuildId — which binary this process runs, for the task-shipping handshake.
//
// A shipped task names its functions by offsets into the executable (function_id.hpp). Those
// offsets mean the same code only in the very same binary, so every receiver first compares
// build ids: a worker of another build refuses the task instead of jumping somewhere else.
//
// Guarantees
//  * build_id() is the GNU build-id note (NT_GNU_BUILD_ID, read from the running executable's
//    PT_NOTE segments through dl_iterate_phdr — no file access), source() == gnu_note. g++ and
//    clang++ on Debian link with --build-id by default (check: `readelf -n ./app`).
//  * A binary linked without a build-id (-Wl,--build-id=none) gets a fallback identity: a hash
//    of /proc/self/exe's device, inode, size and mtime, source() == file_stat. That tells two
//    builds apart unless one overwrote the other within the filesystem's mtime granularity
//    with the same size; describe() says which source is used.
//  * Computed once per process (thread-safe static), then a reference to an immutable value.
// Cost: the first call walks the program headers (a few µs); later calls are a load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tandem::shipping {

class BuildId {
 public:
  enum class Source { gnu_note, file_stat };

  const std::vector<std::byte>& bytes() const noexcept { return bytes_; }
  Source source() const noexcept { return source_; }
  /// A 64-bit digest of bytes(), used to key integrity checks of shipped tasks.
  std::uint64_t key() const noexcept { return key_; }
  /// Lower-case hex of bytes().
  std::string hex() const;
  /// "GNU build-id 1a2b…" or "no GNU build-id: size+mtime of /proc/self/exe 77f0…".
  std::string describe() const;

  friend bool operator==(const BuildId& a, const BuildId& b) noexcept {
    return a.source_ == b.source_ && a.bytes_ == b.bytes_;
  }

  BuildId(std::vector<std::byte> bytes, Source source);

 private:
  std::vector<std::byte> bytes_;
  Source source_;
  std::uint64_t key_;
};

/// The running executable's identity (see above).
const BuildId& build_id();

/// FNV-1a over bytes: a stable, fast 64-bit digest (not cryptographic).
std::uint64_t digest64(const void* data, std::size_t n,
                       std::uint64_t seed = 0xcbf29ce484222325ULL) noexcept;

}  // namespace tandem::shipping
