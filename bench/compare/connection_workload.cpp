// SPDX-License-Identifier: MIT
// Workload "mp pipe round trip": an 8-byte message to a forked child over a duplex Pipe and
// back, N times; us per round trip (issue 13: <= 1.3x a raw socketpair ping-pong, >= 10x
// CPython's multiprocessing.Pipe — bench/python/workloads.py runs the same shape).
//  * tandem::mp::Pipe send_bytes/recv_bytes: the framed path Python's Connection speaks
//    (4-byte length + payload, the recv allocating its result as Python's does).
//  * tandem::mp::Pipe send/recv<long>: the same through the codec.
//  * raw socketpair: write(8)/read(8) on a SOCK_STREAM socketpair, no framing — the floor.
// The child is started and has answered once before the timing begins.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "compare/harness.hpp"
#include "tandem/multiprocessing.hpp"

namespace tandem_bench {
namespace {

namespace mp = tandem::mp;

std::size_t round_trips(const Sizes& s) { return s.scaled(100'000); }

[[noreturn]] void bad(const char* name) {
  std::fprintf(stderr, "mp pipe round trip: %s: wrong echo\n", name);
  std::abort();
}

/// Runs `echo` in a forked child and `ping(i)` n times (plus one untimed warm-up); us/rt.
template <class Echo, class Ping>
double time_round_trips(const Sizes& s, Echo echo, Ping ping, const char* name) {
  const std::size_t n = round_trips(s);
  mp::Process child(echo);
  child.start();
  if (!ping(0)) bad(name);
  auto t0 = Clock::now();
  for (std::size_t i = 1; i <= n; ++i)
    if (!ping(i)) bad(name);
  const double secs = seconds_since(t0);
  child.join();
  if (child.exitcode() != 0) bad(name);
  return secs / static_cast<double>(n) * 1e6;
}

/// Over a duplex mp::Pipe: the child answers each message with echo(conn), the parent
/// checks each round trip with ping(conn, i).
template <class Echo, class Ping>
double pipe_round_trips(const Sizes& s, const char* name, Echo echo, Ping ping) {
  auto pipe = mp::Pipe();
  mp::Connection& a = pipe.first;
  mp::Connection& b = pipe.second;
  const std::size_t n = round_trips(s);
  return time_round_trips(
      s,
      [&, n] {
        a.close();
        for (std::size_t i = 0; i <= n; ++i) echo(b);
      },
      [&](std::size_t i) { return ping(a, i); }, name);
}

const Register tandem_bytes("mp pipe round trip", "tandem::mp::Pipe send_bytes/recv_bytes",
                            "us/rt", [](const Sizes& s) {
  return pipe_round_trips(
      s, "tandem::mp::Pipe send_bytes/recv_bytes",
      [](mp::Connection& b) { b.send_bytes(b.recv_bytes()); },
      [](mp::Connection& a, std::size_t i) {
        std::uint64_t v = i;
        a.send_bytes(std::as_bytes(std::span(&v, 1)));
        const std::vector<std::byte> r = a.recv_bytes();
        return r.size() == 8 && std::memcmp(r.data(), &v, 8) == 0;
      });
});

const Register tandem_value("mp pipe round trip", "tandem::mp::Pipe send/recv<long>", "us/rt",
                            [](const Sizes& s) {
  return pipe_round_trips(
      s, "tandem::mp::Pipe send/recv<long>",
      [](mp::Connection& b) { b.send(b.recv<long>()); },
      [](mp::Connection& a, std::size_t i) {
        a.send(static_cast<long>(i));
        return a.recv<long>() == static_cast<long>(i);
      });
});

bool full(ssize_t r) { return r == 8; }

const Register raw("mp pipe round trip", "raw socketpair write/read", "us/rt",
                   [](const Sizes& s) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  const std::size_t n = round_trips(s);
  const double us = time_round_trips(
      s,
      [&, n] {
        ::close(sv[0]);
        std::uint64_t v;
        for (std::size_t i = 0; i <= n; ++i)
          if (!full(::read(sv[1], &v, 8)) || !full(::write(sv[1], &v, 8))) _exit(1);
      },
      [&](std::size_t i) {
        std::uint64_t v = i;
        if (!full(::write(sv[0], &v, 8)) || !full(::read(sv[0], &v, 8))) return false;
        return v == i;
      },
      "raw socketpair write/read");
  ::close(sv[0]);
  ::close(sv[1]);
  return us;
});

}  // namespace
}  // namespace tandem_bench
