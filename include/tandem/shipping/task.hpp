// SPDX-License-Identifier: MIT
// tandem::shipping::Task — the wire form of a function call bound for another process.
//
// A Task is (offset of a trampoline, offset of the user's function, serialized arguments),
// offsets relative to the executable's load base (function_id.hpp). The trampoline is a
// template instantiation generated at the sender for the function's exact signature: it
// decodes the arguments, calls, and encodes the outcome (ship.hpp). Both offsets name code
// in the same binary at both ends — which the build-id handshake of the channel ensures
// (build_id.hpp) — so no registry of functions is needed, and any function or captureless
// lambda can be shipped.
//
// Integrity: `check` is a 64-bit digest of (build-id key, kind, trampoline, function). The
// receiver (resolve) verifies it and that both offsets fall inside the executable's code
// before anything is called: a corrupted task, a task built by another binary, or a task of
// another kind (a Process entry given to a pool worker) is a DecodeError, never a jump to
// garbage. The digest is not a MAC: it guards against corruption and mix-ups on private
// channels between processes of one program, not against a forger with write access to them.
// Corrupt argument bytes are caught by the codec's bounds-checked decoder (DecodeError).
// Cost: sealing and resolving are a few multiplies and compares.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tandem::shipping {

/// Which trampoline signature a task's trampoline has.
enum class TaskKind : std::uint8_t {
  call = 1,     // CallTrampoline (ship.hpp): arguments → outcome bytes (pools)
  process = 2,  // mp::detail::ProcessTrampoline: the target of an mp::Process
};

struct Task {
  std::uint64_t trampoline = 0;  // offset from the executable's base
  std::uint64_t function = 0;    // offset from the executable's base
  std::uint64_t check = 0;       // see above
  TaskKind kind{};
  std::vector<std::byte> args;   // a frame of std::tuple<decayed parameter types...>

  template <class Ar>
  void serialize(Ar& ar) {
    ar(trampoline, function, check, kind, args);
  }
};

/// Sets the offsets and the check. ValueError when an address is not the executable's code.
void seal(Task& task, std::uintptr_t trampoline, std::uintptr_t function, TaskKind kind);

/// Absolute addresses of a received task's code in this process.
struct ResolvedTask {
  std::uintptr_t trampoline;
  std::uintptr_t function;
};

/// Verifies kind, check and offsets; DecodeError when any is wrong.
ResolvedTask resolve(const Task& task, TaskKind expected);

}  // namespace tandem::shipping
