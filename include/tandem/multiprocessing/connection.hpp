// SPDX-License-Identifier: MIT
// tandem::mp::Connection and mp::Pipe — multiprocessing.connection.Connection and
// multiprocessing.Pipe (docs/multiprocessing.md#connections-pipe-listener-and-client).
//
// Guarantees
//  * The wire format is CPython's: each message is a 4-byte big-endian signed length and the
//    bytes; a message longer than 0x7fffffff bytes is a length of -1, then an 8-byte
//    big-endian length. So send_bytes()/recv_bytes() talk to a Python Connection on the
//    other end of the same socket or pipe (Listener/Client, <tandem/multiprocessing/listener.hpp>).
//  * A message arrives whole or not at all: a peer that closes (or dies) before the first
//    byte of a message → EOFError("..."); one that closes in the middle of a message →
//    EOFError too, never a half message and never a hang (Python raises
//    OSError("got end of file during message") there; a lost peer is one error here, so
//    callers need one catch).
//  * recv_bytes(maxlength) of a longer message: OSError("bad message length") and the
//    connection is closed (as Python: its framing is lost, the rest of the message unread).
//  * Writing to a peer that has gone raises OSError (errno EPIPE; Python's BrokenPipeError)
//    and never delivers SIGPIPE to the process: sockets are written with MSG_NOSIGNAL, a
//    one-way pipe under a thread-local SIGPIPE block (subprocess's SigpipeGuard).
//  * Every descriptor is O_CLOEXEC. The Connection owns its descriptor: move-only, the
//    destructor closes it.
// Blocking: send_bytes() blocks while the peer's buffer is full; recv_bytes()/recv() block
//  until a whole message is there (the descriptor stays in blocking mode, as Python's; EINTR is
//  retried). poll(timeout) waits in poll(2) against a deadline on the steady clock, and
//  returns true when a message (or EOF) can be read. poll() without an argument does not
//  wait, as Python's poll() (its default timeout is 0.0); there is no "block forever" poll —
//  call recv, or poll(duration::max()).
// Threads: like Python's, a Connection is not synchronised. One thread sending while another
//  receives on a duplex Connection is fine (the directions share nothing but the descriptor);
//  two concurrent senders, two concurrent receivers, or close() racing anything, are not.
// Cost: send_bytes is one sendmsg/writev (header and body gathered) for any size that the
//  kernel takes at once; on a one-way Pipe add three cheap syscalls that block SIGPIPE around
//  it. recv_bytes is a 4-byte read plus reads of the body into a vector that grows as bytes
//  arrive: a corrupt or hostile length header never makes it allocate more than twice what
//  was actually received plus 1 MiB.
//  When nothing is there yet, recv_bytes first polls the descriptor (poll(2) with a zero
//  timeout) in a bounded, adaptive spin — at most 12 us, and only while such spins have lately
//  caught the message (detail::SpinHistory, as threading::Event) — before it blocks in
//  read(2): in a request/reply exchange the answer usually comes within microseconds, and
//  waking a sleeping process costs 10-30 us in a VM. A peer that answers slowly switches the
//  spin off after four misses (then one probe every 64 waits); an idle reader sleeps at 0% CPU.
// Differences from Python:
//  * send<T>/recv<T> use tandem's serializer (<tandem/serialize.hpp>), not pickle: only
//    send_bytes/recv_bytes interoperate with a Python peer; send/recv need tandem both ends.
//  * recv_bytes(0) means "no limit" (Python: maxlength=None); there is no recv_bytes_into.
//  * Child processes: a Connection is inherited by a Process started with StartMethod::fork
//    (capture it by reference in the target, or move it into the lambda; close the copy the
//    parent does not need, as in Python). A spawn/forkserver child receives only serializable
//    arguments, and a Connection is not one: pass a Connection to such a child through
//    Listener/Client instead (Python pickles it by handing the descriptor over; not done here).
#pragma once

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"
#include "tandem/serialize.hpp"

namespace tandem::mp {

/// multiprocessing.connection.Connection: one end of a Pipe or of a Listener/Client socket.
class Connection {
 public:
  /// Adopts `fd` (Python's Connection(handle, readable, writable)): it is closed by this
  /// object. Both false: ValueError("at least one of `readable` and `writable` must be True").
  /// A negative fd: ValueError("invalid handle"). On either ValueError the fd stays the caller's.
  explicit Connection(int fd, bool readable = true, bool writable = true);
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  /// Sends one message: tandem::serialize(value) (a tandem peer decodes it with recv<T>()).
  template <class T>
  void send(const T& value) {
    const std::vector<std::byte> bytes = tandem::serialize(value);
    send_bytes(bytes);
  }
  /// Receives one message and decodes it as T: DecodeError when it is not a T.
  template <class T>
  T recv() {
    const std::vector<std::byte> bytes = recv_bytes();
    return tandem::deserialize<T>(bytes);
  }

  /// Sends `data` as one message. OSError("handle is closed") after close();
  /// OSError("connection is read-only") on the read end of Pipe(false); OSError(EPIPE) when
  /// the peer has gone.
  void send_bytes(std::span<const std::byte> data);
  /// Receives one message; maxlength 0: no limit. EOFError when the peer closed;
  /// OSError("bad message length") (and closed) when the message is longer than maxlength;
  /// OSError("connection is write-only") on the write end of Pipe(false).
  std::vector<std::byte> recv_bytes(std::size_t maxlength = 0);

  /// Whether a message (or EOF) is ready to read, without waiting (Python's poll()).
  bool poll();
  /// Waits up to `timeout` (negative: 0) for a message or EOF.
  bool poll(duration timeout);

  /// Closes the descriptor; idempotent.
  void close() noexcept;
  bool closed() const noexcept { return fd_ < 0; }
  bool readable() const noexcept { return readable_; }
  bool writable() const noexcept { return writable_; }
  /// The descriptor (still owned by this object). OSError("handle is closed") after close().
  int fileno() const;

 private:
  void check_closed() const;
  void check_readable() const;
  void check_writable() const;

  int fd_ = -1;
  bool readable_ = true;
  bool writable_ = true;
  bool socket_ = false;  // written with send(MSG_NOSIGNAL); a pipe needs the SIGPIPE guard
  // How recent recv_bytes() waits ended: a reply that comes within microseconds is caught by a
  // bounded spin instead of a sleep (see recv_bytes in the Cost paragraph above).
  tandem::detail::SpinHistory spin_;
};

/// multiprocessing.Pipe(duplex): two connected Connections. duplex: a socketpair(AF_UNIX,
/// SOCK_STREAM), both ends read and write. Not duplex: pipe2(); first is the read end, second
/// the write end (as Python). Both descriptors O_CLOEXEC. OSError when the system refuses
/// (EMFILE, ...).
std::pair<Connection, Connection> Pipe(bool duplex = true);

}  // namespace tandem::mp
