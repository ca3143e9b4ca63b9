// SPDX-License-Identifier: MIT
// Helpers for the mp::Manager tests (manager_test.cpp, manager_sync_test.cpp): handle bytes
// over a pipe, and fork()ed children that report through their exit code.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/mp_test_support.hpp"
#include "tandem/serialize.hpp"

namespace mgrtest {

// ---- handle bytes over a pipe: a length, then the bytes.
inline void send_bytes(int fd, const std::vector<std::byte>& b) {
  const std::uint32_t n = static_cast<std::uint32_t>(b.size());
  std::string s(reinterpret_cast<const char*>(&n), sizeof n);
  s.append(reinterpret_cast<const char*>(b.data()), b.size());
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t k = ::write(fd, s.data() + off, s.size() - off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return;
    off += static_cast<std::size_t>(k);
  }
}
inline bool read_exact(int fd, void* p, std::size_t n) {
  auto* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t k = ::read(fd, c, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}
inline std::vector<std::byte> recv_bytes(int fd) {
  std::uint32_t n = 0;
  if (!read_exact(fd, &n, sizeof n)) throw std::runtime_error("pipe closed");
  std::vector<std::byte> b(n);
  if (!read_exact(fd, b.data(), n)) throw std::runtime_error("pipe closed");
  return b;
}
template <class P>
P recv_handle(int fd) {
  return tandem::deserialize<P>(recv_bytes(fd));
}

using mptest::join;
using mptest::spawn;

}  // namespace mgrtest
