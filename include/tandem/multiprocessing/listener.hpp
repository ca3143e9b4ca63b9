// SPDX-License-Identifier: MIT
// tandem::mp::connection — multiprocessing.connection's Listener, Client and wait()
// (docs/multiprocessing.md#connections-pipe-listener-and-client).
//
// Guarantees
//  * Wire-compatible with CPython: a Python `multiprocessing.connection.Client` connects to a
//    tandem Listener and a tandem Client to a Python `Listener`, and they exchange
//    send_bytes/recv_bytes (framing: <tandem/multiprocessing/connection.hpp>).
//  * authkey: the HMAC challenge/response of CPython. The Listener (in accept()) delivers a
//    challenge, then answers the client's; the Client answers first, then delivers (as
//    connection.py). The challenge tandem sends is CPython 3.12's: "#CHALLENGE#{sha256}" and
//    40 random bytes (RAND_bytes); a response may be CPython 3.12's "{sha256}"-prefixed
//    HMAC (also {md5}, {sha384}, {sha3_256}, {sha3_384}) or the bare HMAC-MD5 of Python
//    ≤ 3.11, which answers any challenge that way. When answering, a 20-byte challenge (a
//    Python ≤ 3.11 peer) gets the bare HMAC-MD5, a "{digest}" one the prefixed HMAC — the
//    rules of CPython 3.12's connection.py, so either generation of Python is a peer in both
//    roles (tested: the real python3 of the test machine, 3.11, and 3.12's handshake spoken by
//    a script). HMACs are OpenSSL's (libcrypto); digests are compared in constant time.
//  * A wrong key: AuthenticationError on both sides (the side that checks sends
//    "#FAILURE#", the other raises on reading it). A peer that is not speaking the protocol
//    (no "#CHALLENGE#", an unknown digest): AuthenticationError; a handshake message over
//    256 bytes: OSError("bad message length"), as Python.
//  * UNIX sockets are created with mode 0600 (the socket's mode is set before bind(), so there
//    is no moment at which another user could connect). close() and the destructor unlink
//    the socket file, as CPython's Listener.close(); an abstract name has no file.
//  * Every descriptor is O_CLOEXEC.
// Blocking: accept() blocks until a client connects (and, with an authkey, until the handshake
//  is done); Client() blocks in connect() and the handshake. Neither has a timeout, as in
//  Python: a peer that stalls mid-handshake stalls them. wait() sleeps in poll(2) against a
//  steady-clock deadline.
// Differences from Python:
//  * An authkey is required for a TCP address: Listener/Client with Address::tcp and no
//    authkey throw ValueError("an authkey is required for a TCP address ...") — Python
//    allows it, but anyone who can reach the port could then talk to the program; a UNIX
//    socket (mode 0600) is protected by the filesystem.
//  * authkey nullopt means no handshake, as Python's authkey=None. An empty key still runs
//    the handshake on both sides (Python's Listener skips it for b'' while its Client does
//    not, so the two could not talk).
//  * Address::tcp takes a numeric IPv4/IPv6 address or a host name (getaddrinfo, first
//    result); Python's Listener(('', 0)) binds all interfaces, here host "" does the same.
//  * Listener(Address("")): Python picks a temporary path itself; here it is ValueError.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tandem/detail/wait.hpp"
#include "tandem/multiprocessing/connection.hpp"

namespace tandem::mp {
class Process;

namespace connection {

/// Where a Listener listens: a UNIX socket path, an abstract UNIX name (leading '\0', as
/// Python's address string), or a TCP host and port.
class Address {
 public:
  enum class Family { unix_socket, tcp };
  /// A UNIX socket: a filesystem path, or "\0name" for Linux's abstract namespace. A path
  /// longer than sun_path (107 bytes) is a ValueError when used.
  Address(std::string path) : family_(Family::unix_socket), path_(std::move(path)) {}
  Address(const char* path) : Address(std::string(path)) {}
  static Address tcp(std::string host, std::uint16_t port) {
    Address a{std::string()};
    a.family_ = Family::tcp;
    a.path_ = std::move(host);
    a.port_ = port;
    return a;
  }
  Family family() const noexcept { return family_; }
  bool is_abstract() const noexcept { return family_ == Family::unix_socket && !path_.empty() && path_[0] == '\0'; }
  /// UNIX: the path (or "\0name"); TCP: the host.
  const std::string& path() const noexcept { return path_; }
  const std::string& host() const noexcept { return path_; }
  /// TCP only; 0 for UNIX addresses.
  std::uint16_t port() const noexcept { return port_; }
  /// Readable form: the path, "@name" for an abstract name, "host:port" ("[v6]:port").
  std::string to_string() const;
  friend bool operator==(const Address&, const Address&) = default;

 private:
  Family family_;
  std::string path_;
  std::uint16_t port_ = 0;
};

struct ListenerOptions {
  int backlog = 1;
  std::optional<std::string> authkey;  // nullopt: no handshake (UNIX sockets only)
};

struct ClientOptions {
  std::optional<std::string> authkey;  // nullopt: no handshake (UNIX sockets only)
};

/// multiprocessing.connection.Listener: a bound, listening socket.
class Listener {
 public:
  /// Binds and listens (SO_REUSEADDR for TCP, as Python). A path in use: OSError(EADDRINUSE)
  /// (Python's test_multiple_bind); TCP without authkey: ValueError.
  explicit Listener(Address address, ListenerOptions options = {});
  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  /// close().
  ~Listener();

  /// Waits for a client, runs the handshake when there is an authkey (AuthenticationError on
  /// failure: that client's connection is closed, the Listener stays usable).
  /// OSError("listener is closed") after close().
  Connection accept();
  /// Closes the socket and unlinks its file (UNIX path); idempotent.
  void close() noexcept;
  /// The bound address: for TCP port 0, the port the system chose.
  Address address() const { return address_; }
  /// The listening socket (for wait()); -1 after close().
  int fileno() const noexcept { return fd_; }

 private:
  int fd_ = -1;
  Address address_;
  std::optional<std::string> authkey_;
  bool unlink_ = false;  // a filesystem socket we created
  int creator_ = 0;      // the pid that may unlink it
};

/// multiprocessing.connection.Client: connects, then runs the handshake when there is an
/// authkey. ConnectionRefusedError-like OSError (ECONNREFUSED/ENOENT) when nobody listens;
/// AuthenticationError on a wrong key; ValueError for TCP without authkey.
Connection Client(Address address, ClientOptions options = {});

/// Something wait() can watch: a Connection (readable: a message or EOF), a Process (its
/// sentinel: readable once the child has exited), or a raw descriptor (readable). It holds
/// the descriptor and a pointer to the object only to identify it: the object must outlive
/// the Waitable's use, as in Python.
class Waitable {
 public:
  Waitable(Connection& c) : fd_(c.fileno()), object_(&c) {}
  Waitable(Process& p);
  Waitable(const Listener& l) : fd_(l.fileno()), object_(&l) {}
  /// A raw descriptor; a negative one is never ready (poll(2) skips it).
  Waitable(int fd) : fd_(fd) {}
  int fileno() const noexcept { return fd_; }
  /// Whether this Waitable was made from `object` (a Connection, Process or Listener).
  bool refers_to(const void* object) const noexcept { return object_ == object; }
  friend bool operator==(const Waitable& a, const Waitable& b) noexcept {
    return a.fd_ == b.fd_ && a.object_ == b.object_;
  }

 private:
  int fd_;
  const void* object_ = nullptr;
};

/// multiprocessing.connection.wait: waits until at least one of `objects` is ready (readable,
/// at EOF, or in error — a closed peer counts as ready) or `timeout` passes (nullopt:
/// forever), and returns the ready ones in the order given (empty on timeout). One poll(2)
/// over all of them, against a steady-clock deadline; EINTR resumes with the time left.
std::vector<Waitable> wait(std::vector<Waitable> objects, std::optional<duration> timeout = {});

}  // namespace connection
}  // namespace tandem::mp
