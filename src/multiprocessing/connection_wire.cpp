// SPDX-License-Identifier: MIT
#include "multiprocessing/connection_wire.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "subprocess/pipes.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/connection.hpp"

namespace tandem::mp::detail::wire {

namespace {

std::span<const std::byte> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

bool starts_with(std::span<const std::byte> m, std::string_view prefix) noexcept {
  return m.size() >= prefix.size() && std::memcmp(m.data(), prefix.data(), prefix.size()) == 0;
}

bool equals(std::span<const std::byte> m, std::string_view s) noexcept {
  return m.size() == s.size() && starts_with(m, s);
}

// One writev/sendmsg of what is left of `iov` (advancing it). Returns false on EPIPE.
bool write_iov(int fd, bool socket, iovec* iov, int& n, tandem::subprocess::detail::SigpipeGuard* g) {
  while (n > 0) {
    ssize_t w;
    if (socket) {
      msghdr mh{};
      mh.msg_iov = iov;
      mh.msg_iovlen = static_cast<std::size_t>(n);
      w = ::sendmsg(fd, &mh, MSG_NOSIGNAL);
    } else {
      w = ::writev(fd, iov, n);
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) {
        if (g != nullptr) g->saw_epipe();
        return false;
      }
      raise_os_error(errno);
    }
    auto left = static_cast<std::size_t>(w);
    while (n > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --n;
    }
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

// Reads exactly out.size() bytes. Returns how many were read before EOF (out.size() when all).
std::size_t read_full(int fd, std::span<std::byte> out) {
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) return got;  // a peer that died with unread data: EOF for us
      raise_os_error(errno);
    }
    if (r == 0) return got;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

[[noreturn]] void eof_in_message() { throw EOFError("got end of file during message"); }

const EVP_MD* digest_by_name(std::string_view name) noexcept {
  if (name == "md5") return EVP_md5();
  if (name == "sha256") return EVP_sha256();
  if (name == "sha384") return EVP_sha384();
  if (name == "sha3_256") return EVP_sha3_256();
  if (name == "sha3_384") return EVP_sha3_384();
  return nullptr;
}

constexpr std::size_t kMaxDigestName = 8;  // "sha3_256"

}  // namespace

std::size_t encode_header(std::uint64_t n, std::byte (&out)[12]) noexcept {
  auto put = [&](std::size_t at, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      out[at + static_cast<std::size_t>(i)] = static_cast<std::byte>(v >> (8 * (bytes - 1 - i)));
  };
  if (n > 0x7fffffffu) {
    put(0, 0xffffffffu, 4);  // -1
    put(4, n, 8);
    return 12;
  }
  put(0, n, 4);
  return 4;
}

void write_message(int fd, bool socket, std::span<const std::byte> body) {
  std::byte header[12];
  const std::size_t hl = encode_header(body.size(), header);
  iovec iov[2] = {{header, hl}, {const_cast<std::byte*>(body.data()), body.size()}};
  int n = body.empty() ? 1 : 2;
  bool ok;
  if (socket) {
    ok = write_iov(fd, true, iov, n, nullptr);
  } else {
    tandem::subprocess::detail::SigpipeGuard guard;
    ok = write_iov(fd, false, iov, n, &guard);
  }
  if (!ok) raise_os_error(EPIPE);
}

std::vector<std::byte> read_message(int fd, std::size_t maxlength, const std::byte* header,
                                    std::size_t have) {
  std::byte h[8];
  if (have > 0) std::memcpy(h, header, have);
  const std::size_t first = have + read_full(fd, std::span(h + have, 4 - have));
  if (first == 0) throw EOFError("EOF: the other end of the connection is closed");
  if (first < 4) eof_in_message();
  auto get = [&](int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<std::uint8_t>(h[i]);
    return v;
  };
  const auto size32 = static_cast<std::int32_t>(static_cast<std::uint32_t>(get(4)));
  std::uint64_t size;
  if (size32 == -1) {
    if (read_full(fd, std::span(h, 8)) < 8) eof_in_message();
    size = get(8);
  } else if (size32 < 0) {
    throw BadLength{};
  } else {
    size = static_cast<std::uint64_t>(size32);
  }
  if (maxlength != 0 && size > maxlength) throw BadLength{};
  if (size > std::vector<std::byte>().max_size()) throw BadLength{};
  // Grow with what arrives: a corrupt or hostile length costs at most 1 MiB beyond the bytes
  // actually received (and twice them while the vector doubles).
  constexpr std::size_t kAhead = std::size_t{1} << 20;
  std::vector<std::byte> buf;
  std::size_t got = 0;
  while (got < size) {
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(size, got + std::max(got, kAhead)));
    buf.resize(want);
    const std::size_t r = read_full(fd, std::span(buf).subspan(got, want - got));
    got += r;
    if (got < want) eof_in_message();
  }
  return buf;
}

DigestAndPayload split_digest(std::span<const std::byte> message) {
  if (message.size() == kLegacyMessageLength || message.size() == kMd5Length) return {"", message};
  if (!message.empty() && message[0] == std::byte{'{'}) {
    const std::size_t limit = std::min(message.size(), kMaxDigestName + 2);
    for (std::size_t i = 1; i < limit; ++i) {
      if (message[i] != std::byte{'}'}) continue;
      std::string name(reinterpret_cast<const char*>(message.data()) + 1, i - 1);
      if (digest_by_name(name) != nullptr) return {std::move(name), message.subspan(i + 1)};
      break;
    }
  }
  throw AuthenticationError(
      "unsupported message length, missing digest prefix, or unsupported digest");
}

std::vector<std::byte> hmac(std::string_view name, std::string_view key,
                            std::span<const std::byte> message) {
  const EVP_MD* md = digest_by_name(name);
  if (md == nullptr) throw AuthenticationError("unsupported digest '" + std::string(name) + "'");
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // A key of length 0 must still be a valid pointer for OpenSSL.
  static const char empty = 0;
  if (::HMAC(md, key.empty() ? &empty : key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), out,
             &len) == nullptr)
    throw AuthenticationError("HMAC-" + std::string(name) + " is not available");
  const auto* b = reinterpret_cast<const std::byte*>(out);
  return {b, b + len};
}

std::vector<std::byte> create_response(std::string_view key, std::span<const std::byte> message) {
  const std::string name = split_digest(message).digest;
  if (name.empty()) return hmac("md5", key, message);  // a Python ≤ 3.11 peer
  // The MAC covers the whole message, "{name}" prefix included, so it cannot be downgraded.
  const std::vector<std::byte> mac = hmac(name, key, message);
  std::vector<std::byte> out;
  out.reserve(name.size() + 2 + mac.size());
  const auto prefix = "{" + name + "}";
  out.insert(out.end(), as_bytes(prefix).begin(), as_bytes(prefix).end());
  out.insert(out.end(), mac.begin(), mac.end());
  return out;
}

void verify_response(std::string_view key, std::span<const std::byte> message,
                     std::span<const std::byte> response) {
  const DigestAndPayload r = split_digest(response);
  const std::vector<std::byte> expected = hmac(r.digest.empty() ? "md5" : r.digest, key, message);
  if (expected.size() != r.payload.size())
    throw AuthenticationError("expected '" + (r.digest.empty() ? std::string("md5") : r.digest) +
                              "' of length " + std::to_string(expected.size()) + " got " +
                              std::to_string(r.payload.size()));
  if (CRYPTO_memcmp(expected.data(), r.payload.data(), expected.size()) != 0)
    throw AuthenticationError("digest received was wrong");
}

void deliver_challenge(Connection& c, std::string_view key) {
  constexpr std::string_view kPrefix = "{sha256}";
  std::vector<std::byte> challenge(kChallenge.size() + kPrefix.size() + kMessageLength);
  std::memcpy(challenge.data(), kChallenge.data(), kChallenge.size());
  std::memcpy(challenge.data() + kChallenge.size(), kPrefix.data(), kPrefix.size());
  if (RAND_bytes(reinterpret_cast<unsigned char*>(challenge.data()) + kChallenge.size() +
                     kPrefix.size(),
                 static_cast<int>(kMessageLength)) != 1)
    throw AuthenticationError("no random bytes for the challenge (RAND_bytes failed)");
  c.send_bytes(challenge);
  const std::vector<std::byte> response = c.recv_bytes(kMaxHandshakeMessage);
  try {
    verify_response(key, std::span(challenge).subspan(kChallenge.size()), response);
  } catch (const AuthenticationError&) {
    try {
      c.send_bytes(as_bytes(kFailure));
    } catch (const Error&) {  // the peer has gone: the key was wrong all the same
    }
    throw;
  }
  c.send_bytes(as_bytes(kWelcome));
}

void answer_challenge(Connection& c, std::string_view key) {
  const std::vector<std::byte> message = c.recv_bytes(kMaxHandshakeMessage);
  if (!starts_with(message, kChallenge))
    throw AuthenticationError("Protocol error, expected challenge");
  const auto body = std::span(message).subspan(kChallenge.size());
  if (body.size() < kLegacyMessageLength)
    throw AuthenticationError("challenge too short: " + std::to_string(body.size()) + " bytes");
  c.send_bytes(create_response(key, body));
  const std::vector<std::byte> reply = c.recv_bytes(kMaxHandshakeMessage);
  if (!equals(reply, kWelcome)) throw AuthenticationError("digest sent was rejected");
}

}  // namespace tandem::mp::detail::wire
