// SPDX-License-Identifier: MIT
// libFuzzer target for mp::Connection's decoders (src/multiprocessing/connection_wire.hpp):
// the message framing a (possibly hostile) peer sends, and the authkey handshake that reads a
// challenge or a response from it. Arbitrary bytes from the peer must end in a message, EOFError,
// OSError ("bad message length") or AuthenticationError — never a crash, an over-read, a hang,
// or an allocation of an announced-but-never-sent length (-malloc_limit_mb catches that).
//
// The first input byte picks the mode; the rest is what the peer wrote before closing (its
// write side shut down, so our own writes of a handshake still succeed):
//   0: recv_bytes() until the stream ends, with maxlength 0 (no limit) or 256
//   1: answer_challenge (we are the Client), 2: deliver_challenge (we are the Listener)
//   3: the pure parsers: split_digest, create_response, verify_response on the bytes.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "multiprocessing/connection_wire.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/connection.hpp"

namespace wire = tandem::mp::detail::wire;

namespace {

void run_over_socket(unsigned mode, std::span<const std::byte> in) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
  // A 4 KiB input fits in the socket buffer: written at once, then the write side shut down.
  std::size_t off = 0;
  while (off < in.size()) {
    const ssize_t w = ::write(sv[1], in.data() + off, in.size() - off);
    if (w <= 0) break;
    off += static_cast<std::size_t>(w);
  }
  ::shutdown(sv[1], SHUT_WR);
  tandem::mp::Connection c(sv[0]);
  try {
    if (mode == 0 || mode == 4) {
      for (;;) (void)c.recv_bytes(mode == 0 ? 0 : wire::kMaxHandshakeMessage);
    } else if (mode == 1) {
      wire::answer_challenge(c, "key");
    } else {
      wire::deliver_challenge(c, "key");
    }
  } catch (const tandem::EOFError&) {
  } catch (const tandem::AuthenticationError&) {
  } catch (const tandem::OSError&) {
  }
  ::close(sv[1]);
}

void parsers(std::span<const std::byte> in) {
  try {
    (void)wire::split_digest(in);
  } catch (const tandem::AuthenticationError&) {
  }
  try {
    (void)wire::create_response("key", in);
  } catch (const tandem::AuthenticationError&) {
  }
  static const std::vector<std::byte> message(48, std::byte{7});
  try {
    wire::verify_response("key", message, in);
  } catch (const tandem::AuthenticationError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  const unsigned mode = data[0] % 5;
  if (mode == 3)
    parsers(in);
  else
    run_over_socket(mode, in);
  return 0;
}
