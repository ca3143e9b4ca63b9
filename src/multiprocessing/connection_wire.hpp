// SPDX-License-Identifier: MIT
// The wire of mp::Connection (CPython's multiprocessing.connection format) and the authkey
// handshake of Listener/Client. Internal: used by connection.cpp, listener.cpp and
// fuzz/connection_fuzz.cpp.
//
// Framing: a 4-byte big-endian signed length, then the bytes; over 0x7fffffff bytes, a length
// of -1 then an 8-byte big-endian length. Any other negative length is a framing error.
//
// Handshake (CPython 3.12's connection.py, which also accepts ≤ 3.11 peers):
//   deliver: send "#CHALLENGE#" + "{sha256}" + 40 random bytes; receive a response (≤ 256
//            bytes); check it (verify_response); send "#WELCOME#" or "#FAILURE#".
//   answer:  receive the challenge (≤ 256 bytes); send create_response(); expect "#WELCOME#".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::mp {
class Connection;
}

namespace tandem::mp::detail::wire {

/// Encodes the header of an n-byte message into out; returns its length (4 or 12).
std::size_t encode_header(std::uint64_t n, std::byte (&out)[12]) noexcept;

/// Writes header + body completely (partial writes and EINTR handled). A socket is written
/// with sendmsg(MSG_NOSIGNAL), a pipe with writev under a SigpipeGuard. EPIPE and other
/// errors: OSError.
void write_message(int fd, bool socket, std::span<const std::byte> body);

/// Thrown by read_message when the length is over the limit (or a negative length other than
/// -1): the caller closes the connection and raises OSError("bad message length").
struct BadLength {};

/// Reads one message (blocking; EINTR retried). EOFError at EOF before or inside the message;
/// OSError on a read error; throws BadLength when its length exceeds maxlength (0: no limit) or the
/// header is malformed. The buffer grows with the bytes received (never trusting the length
/// for more than 1 MiB ahead of them).
/// `header`/`have`: the first `have` (< 4) bytes of the length header, when the caller has
/// already read them (Connection's spin reads them with MSG_DONTWAIT).
std::vector<std::byte> read_message(int fd, std::size_t maxlength, const std::byte* header = nullptr,
                                    std::size_t have = 0);

inline constexpr std::string_view kChallenge = "#CHALLENGE#";
inline constexpr std::string_view kWelcome = "#WELCOME#";
inline constexpr std::string_view kFailure = "#FAILURE#";
inline constexpr std::size_t kMessageLength = 40;     // random bytes in our challenge
inline constexpr std::size_t kLegacyMessageLength = 20;  // Python ≤ 3.11's challenge
inline constexpr std::size_t kMd5Length = 16;            // a bare HMAC-MD5 response
inline constexpr std::size_t kMaxHandshakeMessage = 256;

/// A challenge body or a response split into its digest name ("" for the legacy, unprefixed
/// form) and payload. AuthenticationError for a message that has neither a legacy length
/// (16 or 20 bytes) nor a "{digest}" prefix naming an allowed digest (md5, sha256, sha384,
/// sha3_256, sha3_384).
struct DigestAndPayload {
  std::string digest;
  std::span<const std::byte> payload;
};
DigestAndPayload split_digest(std::span<const std::byte> message);

/// HMAC of `message` under `key` with digest `name` (one of the allowed ones; OpenSSL).
std::vector<std::byte> hmac(std::string_view name, std::string_view key,
                            std::span<const std::byte> message);

/// The answer to challenge body `message` (after "#CHALLENGE#"): the bare HMAC-MD5 for a
/// legacy challenge, "{name}" + HMAC-name(whole message) for a prefixed one.
std::vector<std::byte> create_response(std::string_view key, std::span<const std::byte> message);

/// Checks `response` to our challenge body `message`: AuthenticationError when it is wrong
/// (constant-time comparison).
void verify_response(std::string_view key, std::span<const std::byte> message,
                     std::span<const std::byte> response);

/// The two halves of the handshake over a connected Connection (see the top of this file).
void deliver_challenge(Connection& c, std::string_view key);
void answer_challenge(Connection& c, std::string_view key);

}  // namespace tandem::mp::detail::wire
