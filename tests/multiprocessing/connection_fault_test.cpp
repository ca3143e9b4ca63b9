// SPDX-License-Identifier: MIT
// tandem::mp::Connection under faults: a peer that dies in the middle of a message, reads
// after the peer closed, writes to a peer that has gone (no SIGPIPE), poll() timeouts, and
// connection::wait() over Connections, raw descriptors and a Process sentinel.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/fault_support.hpp"
#include "tandem/multiprocessing.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;
namespace mc = tandem::mp::connection;

namespace {

std::vector<std::byte> bytes(std::string_view s) {
  const auto* b = reinterpret_cast<const std::byte*>(s.data());
  return {b, b + s.size()};
}

// A child that writes the header of a 100-byte message and 10 bytes of it, then SIGKILLs
// itself. The reader must get EOFError — never a hang, never a short message.
void half_message_then_die(mp::Connection& to_parent) {
  const unsigned char part[14] = {0, 0, 0, 100, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'};
  [[maybe_unused]] ssize_t w = ::write(to_parent.fileno(), part, sizeof part);
  ::raise(SIGKILL);
}

// The ends of Pipe(duplex) as (writer, reader): a one-way Pipe's writer is its second.
std::pair<mp::Connection, mp::Connection> writer_and_reader(bool duplex) {
  auto [a, b] = mp::Pipe(duplex);
  if (duplex) return {std::move(a), std::move(b)};
  return {std::move(b), std::move(a)};
}

}  // namespace

TEST(ConnectionFault, PeerKilledMidMessageGivesEOFError) {
  for (bool duplex : {true, false}) {
    const int fds_before = faulttest::count_fds();
    {
      auto pipe = mp::Pipe(duplex);
      mp::Connection& reader = pipe.first;
      mp::Connection& writer = pipe.second;
      mp::Process p([&writer] { half_message_then_die(writer); }, {.daemon = true});
      p.start();
      writer.close();  // the child's copy is the only writer left
      EXPECT_THROW(reader.recv_bytes(), tandem::EOFError) << "duplex=" << duplex;
      p.join();
      EXPECT_EQ(p.exitcode(), -SIGKILL);
    }
    EXPECT_EQ(faulttest::count_fds(), fds_before);
  }
}

TEST(ConnectionFault, PeerKilledBeforeLengthHeaderIsComplete) {
  auto [a, b] = mp::Pipe();
  const unsigned char two[2] = {0, 0};
  ASSERT_EQ(::write(a.fileno(), two, 2), 2);
  a.close();
  EXPECT_THROW(b.recv_bytes(), tandem::EOFError);
}

TEST(ConnectionFault, RecvAfterPeerClosedGivesEOFError) {
  for (bool duplex : {true, false}) {
    auto [writer, reader] = writer_and_reader(duplex);
    writer.send(std::string("last"));
    writer.close();
    EXPECT_TRUE(reader.poll());  // a message is there
    EXPECT_EQ(reader.recv<std::string>(), "last");
    EXPECT_TRUE(reader.poll());  // EOF counts as readable
    EXPECT_THROW(reader.recv<std::string>(), tandem::EOFError);
    EXPECT_THROW(reader.recv_bytes(), tandem::EOFError);
  }
}

// The process must survive (no SIGPIPE) and see OSError(EPIPE), on a socket and on a pipe.
TEST(ConnectionFault, SendToClosedPeerRaisesWithoutSigpipe) {
  for (bool duplex : {true, false}) {
    auto [writer, reader] = writer_and_reader(duplex);
    reader.close();
    try {
      writer.send_bytes(bytes("nobody listens"));
      FAIL() << "no OSError, duplex=" << duplex;
    } catch (const tandem::OSError& e) {
      EXPECT_EQ(e.errno_(), EPIPE);
    }
    sigset_t pending;
    sigpending(&pending);
    EXPECT_EQ(sigismember(&pending, SIGPIPE), 0) << "a SIGPIPE was left pending";
  }
}

TEST(ConnectionFault, PollTimesOutInTime) {
  auto [a, b] = mp::Pipe();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(b.poll(200ms));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);
}

TEST(ConnectionFault, WaitOverConnectionsRawFdsAndProcessSentinel) {
  // Not structured bindings: the lambda below captures them (clang 14 refuses that).
  auto duplex = mp::Pipe();
  mp::Connection& a = duplex.first;
  mp::Connection& b = duplex.second;
  auto one_way = mp::Pipe(false);
  mp::Connection& r = one_way.first;
  mp::Connection& w = one_way.second;
  int raw[2];
  ASSERT_EQ(::pipe2(raw, O_CLOEXEC), 0);
  // The child exits once it reads a message on `go` (its end of the Pipe).
  auto go_pipe = mp::Pipe(false);
  mp::Connection& go_reader = go_pipe.first;
  mp::Process p([&go_reader] { (void)go_reader.recv_bytes(); }, {.daemon = true});
  p.start();
  go_reader.close();
  ASSERT_GE(p.sentinel(), 0);

  auto objects = [&] { return std::vector<mc::Waitable>{b, r, raw[0], p}; };
  // Nothing ready: a timeout of 0 returns at once, a short one in time.
  EXPECT_TRUE(mc::wait(objects(), 0s).empty());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(mc::wait(objects(), 100ms).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);

  a.send(1);
  auto ready = mc::wait(objects(), 60s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0].refers_to(&b));
  EXPECT_EQ(b.recv<int>(), 1);

  ASSERT_EQ(::write(raw[1], "x", 1), 1);
  w.send(2);
  ready = mc::wait(objects(), 60s);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_TRUE(ready[0].refers_to(&r));
  EXPECT_EQ(ready[1].fileno(), raw[0]);
  EXPECT_EQ(r.recv<int>(), 2);
  char c;
  ASSERT_EQ(::read(raw[0], &c, 1), 1);

  go_pipe.second.send_bytes(bytes("go"));
  ready = mc::wait(objects(), 60s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0].refers_to(&p));
  p.join();
  EXPECT_EQ(p.exitcode(), 0);

  a.close();  // EOF counts as ready
  ready = mc::wait(objects(), 60s);
  ASSERT_GE(ready.size(), 1u);
  EXPECT_TRUE(ready[0].refers_to(&b));
  ::close(raw[0]);
  ::close(raw[1]);
}

// A corrupt length header never makes recv allocate the announced size.
TEST(ConnectionFault, HugeAnnouncedLengthThenEOF) {
  auto [a, b] = mp::Pipe();
  const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x10, 0, 0, 0, 0, 0, 'x'};
  ASSERT_EQ(::write(a.fileno(), huge, sizeof huge), static_cast<ssize_t>(sizeof huge));
  a.close();
  EXPECT_THROW(b.recv_bytes(), tandem::EOFError);  // 16 TiB announced, 1 byte sent
  auto [c, d] = mp::Pipe();
  const unsigned char negative[] = {0xff, 0xff, 0xff, 0xfe};
  ASSERT_EQ(::write(c.fileno(), negative, 4), 4);
  EXPECT_THROW(d.recv_bytes(), tandem::OSError);
  EXPECT_TRUE(d.closed());
}
