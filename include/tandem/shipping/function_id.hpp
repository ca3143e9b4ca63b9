// SPDX-License-Identifier: MIT
// tandem::shipping — function identity: code addresses as offsets into the executable.
//
// A function pointer means nothing in another process: with PIE (the default on Debian) the
// executable is loaded at a random base in every process, and spawn gives a fresh one. What
// is the same in every process running the same binary (build_id.hpp) is the offset of the
// code from the executable's load base. A shipped task carries such offsets; the receiver
// adds its own base back.
//
// Guarantees
//  * function_offset(addr) succeeds only for addresses inside an executable (PF_X) PT_LOAD
//    segment of the main program; anything else — code in a shared library, a data address —
//    throws ValueError at the sender ("functions in shared libraries cannot be shipped").
//  * function_address(offset) succeeds only when base + offset falls inside those same
//    segments; otherwise DecodeError. So a corrupt offset is a clean error, never a jump
//    outside the program's code. (Inside the code, a jump to the middle of a function is
//    prevented one level up: shipped tasks carry a check keyed by the build-id, ship.hpp.)
//  * The segments are read once per process through dl_iterate_phdr (thread-safe static).
// Cost: two compares after the first call.
// Limitation: only the executable's own code can be shipped (not a dlopen()ed plugin's, nor a
//  shared library's): the receiver could have mapped those at another offset, or not at all.
#pragma once

#include <cstdint>

namespace tandem::shipping {

/// Where the main program's code is in this process.
struct ExecutableImage {
  std::uintptr_t base = 0;  // the load base (0 for a non-PIE executable)
  struct Range {
    std::uintptr_t begin, end;  // absolute addresses, [begin, end)
  };
  static constexpr int kMaxRanges = 4;
  Range text[kMaxRanges] = {};
  int ranges = 0;

  bool contains(std::uintptr_t addr) const noexcept {
    for (int i = 0; i < ranges; ++i)
      if (addr >= text[i].begin && addr < text[i].end) return true;
    return false;
  }
};

/// The running executable's image (computed once).
const ExecutableImage& executable_image();

/// Offset of the code at `addr` from the executable's base; ValueError when `addr` is not in
/// the executable's code.
std::uint64_t function_offset(std::uintptr_t addr);

/// The address of the code at `offset` in this process; DecodeError when it is not inside the
/// executable's code.
std::uintptr_t function_address(std::uint64_t offset);

/// The address of a function as an integer (function pointers convert to integers on every
/// platform tandem supports, though not to void* in ISO C++).
template <class Fp>
std::uintptr_t address_of(Fp fn) noexcept {
  return reinterpret_cast<std::uintptr_t>(fn);
}

}  // namespace tandem::shipping
