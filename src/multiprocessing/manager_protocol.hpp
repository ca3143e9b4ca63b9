// SPDX-License-Identifier: MIT
// Private to src/multiprocessing/manager*.cpp: the wire protocol between mp::Manager's clients,
// its owner and its server process (manager.cpp has the overview).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>

#include "tandem/multiprocessing/detail/manager.hpp"

namespace tandem::mp::detail::manager_wire {

constexpr std::uint32_t kRequestMagic = 0x51524754;  // "TGRQ"
constexpr int kClientTimeoutSeconds = 10;
constexpr int kServerTimeoutSeconds = 2;

struct Request {
  std::uint32_t magic;
  std::uint32_t id;
  std::uint8_t secret[16];
  std::uint32_t kind;
  std::uint32_t pad;
  std::uint64_t tag;
  std::uint64_t count;
};

enum Status : std::uint32_t { ok = 0, auth = 1, unknown = 2, mismatch = 3, malformed = 4 };

struct Reply {
  std::uint32_t status;
  std::uint32_t kind;  // the server's record, for the mismatch message
  std::uint64_t tag;
  std::uint64_t count;
};

enum CtlOp : std::uint32_t { op_register = 1, op_shutdown = 2 };

struct CtlMsg {
  std::uint32_t op;
  std::uint32_t id;
  std::uint32_t kind;
  std::uint32_t pad;
  std::uint64_t tag;
  std::uint64_t count;
};

sockaddr_un address_of(const ManagerKey& key, socklen_t& len);
bool same_secret(const std::uint8_t* a, const std::uint8_t* b) noexcept;
/// Sends `msg` with up to two fds (SCM_RIGHTS). Returns false on error (errno set).
bool send_with_fds(int sock, const void* msg, std::size_t len, const int* fds, int nfds) noexcept;
/// Receives one message and up to two fds (close-on-exec). Returns the byte count, 0 on EOF,
/// -1 on error; `nfds` fds are stored in `fds` (the caller owns them).
ssize_t recv_with_fds(int sock, void* msg, std::size_t len, int* fds, int& nfds,
                      int flags) noexcept;
void set_timeouts(int sock, int seconds) noexcept;
/// The server process's main: runs only system calls (see manager.cpp). Never returns.
[[noreturn]] void server_main(int ctl, int lsn, int control_fd, const ManagerKey& key) noexcept;

}  // namespace tandem::mp::detail::manager_wire
