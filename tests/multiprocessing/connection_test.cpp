// SPDX-License-Identifier: MIT
// tandem::mp::Connection and mp::Pipe: ports of CPython's Lib/test/_test_multiprocessing.py
// _TestConnection (named at each test), plus the framing against hand-made bytes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "support/fault_support.hpp"
#include "tandem/multiprocessing.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;

namespace {

std::vector<std::byte> bytes(std::string_view s) {
  const auto* b = reinterpret_cast<const std::byte*>(s.data());
  return {b, b + s.size()};
}

// CPython's _TestConnection._echo: echoes messages until the empty one (SENTINEL).
void echo(mp::Connection& conn) {
  for (;;) {
    std::vector<std::byte> m = conn.recv_bytes();
    if (m.empty()) break;
    conn.send_bytes(m);
  }
  conn.close();
}

}  // namespace

// CPython: _TestConnection.test_connection (recv_bytes_into has no counterpart).
TEST(ConnectionTest, EchoThroughChildProcess) {
  const int fds_before = faulttest::count_fds();
  {
    auto pipe = mp::Pipe();
    mp::Connection& conn = pipe.first;
    mp::Connection& child_conn = pipe.second;
    mp::Process p([&child_conn] { echo(child_conn); }, {.daemon = true});
    p.start();
    EXPECT_GE(conn.fileno(), 0);

    const std::vector<int> seq{1, 2, 3};
    conn.send(seq);
    EXPECT_EQ(conn.recv<std::vector<int>>(), seq);
    conn.send_bytes(bytes("hello world"));
    EXPECT_EQ(conn.recv_bytes(), bytes("hello world"));
    std::string longmsg;
    for (int i = 0; i < 10; ++i) longmsg += "hello world";
    conn.send_bytes(bytes(longmsg));
    EXPECT_EQ(conn.recv_bytes(), bytes(longmsg));

    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(conn.poll());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    EXPECT_FALSE(conn.poll(-1s));
    EXPECT_FALSE(conn.poll(100ms));
    conn.send(std::string("none"));
    EXPECT_TRUE(conn.poll(60s));  // Python sleeps 0.1 s first; a long timeout needs no sleep
    EXPECT_EQ(conn.recv<std::string>(), "none");

    std::vector<std::byte> really_big(16u << 20, std::byte{'X'});  // 16 MiB, as Python
    conn.send_bytes(really_big);
    EXPECT_EQ(conn.recv_bytes(), really_big);

    conn.send_bytes({});  // SENTINEL: the child quits
    child_conn.close();
    EXPECT_TRUE(conn.readable());
    EXPECT_TRUE(conn.writable());
    EXPECT_THROW(conn.recv<int>(), tandem::EOFError);
    EXPECT_THROW(conn.recv_bytes(), tandem::EOFError);
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
  }
  EXPECT_EQ(faulttest::count_fds(), fds_before);
}

// CPython: _TestConnection.test_duplex_false
TEST(ConnectionTest, PipeDuplexFalse) {
  auto [reader, writer] = mp::Pipe(false);
  writer.send(1);
  EXPECT_EQ(reader.recv<int>(), 1);
  EXPECT_TRUE(reader.readable());
  EXPECT_FALSE(reader.writable());
  EXPECT_FALSE(writer.readable());
  EXPECT_TRUE(writer.writable());
  EXPECT_THROW(reader.send(2), tandem::OSError);
  EXPECT_THROW(writer.recv<int>(), tandem::OSError);
  EXPECT_THROW(writer.poll(), tandem::OSError);
}

// CPython: _TestConnection.test_spawn_close
TEST(ConnectionTest, PipeCloseRightAfterStart) {
  auto pipe = mp::Pipe();
  mp::Connection& conn = pipe.first;
  mp::Connection& child_conn = pipe.second;
  mp::Process p([&child_conn] { echo(child_conn); }, {.daemon = true});
  p.start();
  child_conn.close();  // this might complete before the child initialises
  conn.send_bytes(bytes("hello"));
  EXPECT_EQ(conn.recv_bytes(), bytes("hello"));
  conn.send_bytes({});
  conn.close();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// CPython: _TestConnection.test_sendbytes (offset/size are subspans here; Python's
// ValueError for an offset past the end is std::span's precondition).
TEST(ConnectionTest, PipeSendBytesSubspans) {
  const std::vector<std::byte> msg = bytes("abcdefghijklmnopqrstuvwxyz");
  const std::span<const std::byte> m(msg);
  auto [a, b] = mp::Pipe();
  a.send_bytes(m);
  EXPECT_EQ(b.recv_bytes(), msg);
  a.send_bytes(m.subspan(5));
  EXPECT_EQ(b.recv_bytes(), bytes("fghijklmnopqrstuvwxyz"));
  a.send_bytes(m.subspan(7, 8));
  EXPECT_EQ(b.recv_bytes(), bytes("hijklmno"));
  a.send_bytes(m.subspan(26));
  EXPECT_EQ(b.recv_bytes(), std::vector<std::byte>{});
  a.send_bytes(m.subspan(26, 0));
  EXPECT_EQ(b.recv_bytes(), std::vector<std::byte>{});
}

// The bytes on the wire are CPython's: 4-byte big-endian length, then the body.
TEST(ConnectionTest, PipeWireFormatIsPythons) {
  auto [a, b] = mp::Pipe();
  a.send_bytes(bytes("hey"));
  unsigned char raw[7];
  ASSERT_EQ(::read(b.fileno(), raw, sizeof raw), 7);
  const unsigned char want[7] = {0, 0, 0, 3, 'h', 'e', 'y'};
  EXPECT_EQ(std::memcmp(raw, want, 7), 0);
  // The 8-byte form (length -1, then a 64-bit length) is read too.
  const unsigned char big[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 2, 'o', 'k'};
  ASSERT_EQ(::write(b.fileno(), big, sizeof big), static_cast<ssize_t>(sizeof big));
  EXPECT_EQ(a.recv_bytes(), bytes("ok"));
}

// recv_bytes(maxlength) of a longer message: OSError("bad message length"), connection closed
// (CPython: Connection.recv_bytes → _bad_message_length).
TEST(ConnectionTest, PipeRecvBytesOverMaxlengthCloses) {
  auto [a, b] = mp::Pipe();
  a.send_bytes(bytes("0123456789"));
  try {
    (void)b.recv_bytes(4);
    FAIL() << "no OSError";
  } catch (const tandem::OSError& e) {
    EXPECT_STREQ(e.what(), "bad message length");
  }
  EXPECT_TRUE(b.closed());
  EXPECT_THROW(b.recv_bytes(), tandem::OSError);  // "handle is closed"
  auto [c, d] = mp::Pipe();
  c.send_bytes(bytes("0123"));
  EXPECT_EQ(d.recv_bytes(4), bytes("0123"));  // exactly maxlength is fine
}

TEST(ConnectionTest, PipeMoveAndClose) {
  auto [a, b] = mp::Pipe();
  mp::Connection c = std::move(a);
  EXPECT_TRUE(a.closed());  // NOLINT(bugprone-use-after-move): a moved-from Connection is closed
  EXPECT_FALSE(c.closed());
  c.send(7);
  EXPECT_EQ(b.recv<int>(), 7);
  c.close();
  c.close();  // idempotent
  EXPECT_THROW((void)c.fileno(), tandem::OSError);
  EXPECT_THROW(c.send(1), tandem::OSError);
  EXPECT_THROW(mp::Connection(-1), tandem::ValueError);
}

// recv_bytes reads ahead of its blocking read while it spins (the header with MSG_DONTWAIT on
// a socket): a message whose bytes trickle in one write(2) at a time, from another thread, is
// still reassembled exactly, whatever part of the header the spin caught — duplex (socket) and
// one-way (pipe) alike.
TEST(ConnectionTest, MessageTricklingInByteByByteIsReassembled) {
  for (const bool duplex : {true, false}) {
    auto [r, w] = mp::Pipe(duplex);  // duplex: r and w are both ends of one socketpair
    const int wfd = w.fileno();
    constexpr int kMessages = 200;
    std::thread writer([wfd] {
      for (int i = 0; i < kMessages; ++i) {
        const std::string body = "message " + std::to_string(i);
        const unsigned char head[4] = {0, 0, 0, static_cast<unsigned char>(body.size())};
        std::string framed(reinterpret_cast<const char*>(head), 4);
        framed += body;
        for (const char c : framed) ASSERT_EQ(::write(wfd, &c, 1), 1);
      }
    });
    for (int i = 0; i < kMessages; ++i)
      ASSERT_EQ(r.recv_bytes(), bytes("message " + std::to_string(i))) << "duplex=" << duplex;
    writer.join();
    w.close();
    EXPECT_THROW((void)r.recv_bytes(), tandem::EOFError);
  }
}

// Two bytes of a header, then the writer's end closes: the spin's read-ahead must not turn
// the half header into a clean EOF ("got end of file during message" is an EOFError too, but
// the bytes must not be taken for a message).
TEST(ConnectionTest, HalfHeaderThenCloseIsEOFError) {
  for (const bool duplex : {true, false}) {
    auto [r, w] = mp::Pipe(duplex);
    const unsigned char half[2] = {0, 0};
    ASSERT_EQ(::write(w.fileno(), half, 2), 2);
    w.close();
    try {
      (void)r.recv_bytes();
      FAIL() << "no EOFError";
    } catch (const tandem::EOFError& e) {
      EXPECT_STREQ(e.what(), "got end of file during message");
    }
  }
}
