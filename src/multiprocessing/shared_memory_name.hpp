// SPDX-License-Identifier: MIT
// CPython's _make_filename for POSIX shared memory, without the slash: "psm_" and
// secrets.token_hex(4) — 12 characters, 13 with the slash (CPython keeps names within 14
// for FreeBSD). Shared by SharedMemory (a name for create=true) and SharedMemoryManager
// (which records the name in its ledger before the segment exists).
#pragma once

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <string>

#include "tandem/errors.hpp"

namespace tandem::mp::detail {

inline std::string make_shm_name() {
  std::array<unsigned char, 4> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      raise_os_error(errno);
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string name = "psm_";
  for (unsigned char b : bytes) {
    name += hex[b >> 4];
    name += hex[b & 15];
  }
  return name;
}

}  // namespace tandem::mp::detail
