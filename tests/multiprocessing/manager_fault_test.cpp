// SPDX-License-Identifier: MIT
// Fault tests for tandem::mp::Manager with real signals: the server SIGKILLed, the owner
// SIGKILLed (its server must follow), a proxy user SIGKILLed holding a lock or mid-put, a
// client that connects and stalls. Users get clear errors, never a hang; nothing leaks.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing/manager.hpp"
#include "tandem/serialize.hpp"

namespace mp = tandem::mp;
using namespace std::chrono_literals;

namespace {

void send_bytes(int fd, const std::vector<std::byte>& b) {
  const std::uint32_t n = static_cast<std::uint32_t>(b.size());
  std::string s(reinterpret_cast<const char*>(&n), sizeof n);
  s.append(reinterpret_cast<const char*>(b.data()), b.size());
  for (std::size_t off = 0; off < s.size();) {
    const ssize_t k = ::write(fd, s.data() + off, s.size() - off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return;
    off += static_cast<std::size_t>(k);
  }
}
bool read_exact(int fd, void* p, std::size_t n) {
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
std::vector<std::byte> recv_bytes(int fd) {
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
void signal_byte(int fd, char c = 'x') {
  while (::write(fd, &c, 1) < 0 && errno == EINTR) {
  }
}
char wait_byte(int fd) {
  char c = 0;
  return read_exact(fd, &c, 1) ? c : 0;
}

using mptest::join;
using mptest::spawn;

/// Waits (without reaping) until process `pid` has exited; false after `ms`.
bool wait_exit(int pid, int ms) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;  // already gone and reaped
  pollfd p{fd, POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, ms);
  while (r < 0 && errno == EINTR);
  ::close(fd);
  return r == 1;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class ManagerFault : public mptest::ProcessFixture {};

}  // namespace

// The server is SIGKILLed: proxies already attached keep working (the memory is theirs); a
// new attach and a new object fail at once with RuntimeError; shutdown() still completes.
TEST_F(ManagerFault, ServerKilled) {
  mptest::Pipe to_child, from_child;
  const pid_t child = spawn([&] {
    to_child.close_write();
    from_child.close_read();
    auto v = recv_handle<mp::ValueProxy<int>>(to_child.r);
    const auto later = recv_bytes(to_child.r);  // a handle not attached yet
    signal_byte(from_child.w);                  // attached
    if (wait_byte(to_child.r) != 'k') return 1;  // the server is dead now
    {
      std::lock_guard g(v.get_lock());
      v.value() += 1;  // still works
    }
    const auto t0 = std::chrono::steady_clock::now();
    try {
      tandem::deserialize<mp::ValueProxy<int>>(later);
      return 2;
    } catch (const tandem::RuntimeError& e) {
      if (std::string(e.what()).find("cannot reach") == std::string::npos) return 3;
    }
    return seconds_since(t0) < 10 ? 0 : 4;
  });
  to_child.close_read();
  from_child.close_write();
  mp::Manager m;
  auto v = m.Value<int>(0);
  auto w = m.Value<int>(0);
  send_bytes(to_child.w, tandem::serialize(v));
  send_bytes(to_child.w, tandem::serialize(w));
  ASSERT_EQ(wait_byte(from_child.r), 'x');
  const int server = m.pid();
  ASSERT_EQ(::kill(server, SIGKILL), 0);
  ASSERT_TRUE(wait_exit(server, 10000));
  signal_byte(to_child.w, 'k');
  EXPECT_EQ(join(child), 0);
  EXPECT_EQ(v.get(), 1);
  EXPECT_THROW(m.Value<int>(0), tandem::RuntimeError);
  m.shutdown();  // reaps the dead server
  EXPECT_FALSE(m.is_running());
}

// The owner is SIGKILLed: its server sees EOF and exits (no leaked process).
TEST_F(ManagerFault, OwnerKilledTakesTheServerWithIt) {
  mptest::Pipe report, hold;
  const pid_t owner = spawn([&] {
    report.close_read();
    hold.close_write();
    mp::Manager m;
    auto v = m.Value<int>(0);
    const int server = m.pid();
    while (::write(report.w, &server, sizeof server) < 0 && errno == EINTR) {
    }
    wait_byte(hold.r);  // until killed
    return 0;
  });
  report.close_write();
  hold.close_read();
  int server = 0;
  ASSERT_TRUE(read_exact(report.r, &server, sizeof server));
  ASSERT_GT(server, 0);
  ASSERT_EQ(::kill(server, 0), 0);
  ::kill(owner, SIGKILL);
  EXPECT_EQ(join(owner), -SIGKILL);
  EXPECT_TRUE(wait_exit(server, 10000)) << "the server outlived its owner";
}

// A process holding a manager Lock is SIGKILLed: the next acquirer gets it, owner_died().
TEST_F(ManagerFault, LockHolderKilled) {
  mptest::Pipe to_child, from_child;
  const pid_t child = spawn([&] {
    to_child.close_write();
    from_child.close_read();
    auto l = recv_handle<mp::LockProxy>(to_child.r);
    l.acquire();
    signal_byte(from_child.w);
    wait_byte(to_child.r);  // until killed
    return 0;
  });
  to_child.close_read();
  from_child.close_write();
  mp::Manager m;
  auto l = m.Lock();
  send_bytes(to_child.w, tandem::serialize(l));
  ASSERT_EQ(wait_byte(from_child.r), 'x');
  EXPECT_FALSE(l.acquire(false));
  ::kill(child, SIGKILL);
  EXPECT_EQ(join(child), -SIGKILL);
  ASSERT_TRUE(l.acquire(30s));
  EXPECT_TRUE(l.owner_died());
  l.release();
}

// A producer killed in the middle of its puts leaves the manager queue usable and intact.
TEST_F(ManagerFault, ProducerKilledMidStream) {
  mptest::Pipe to_child, from_child;
  const pid_t child = spawn([&]() -> int {
    to_child.close_write();
    from_child.close_read();
    auto q = recv_handle<mp::QueueProxy<std::string>>(to_child.r);
    signal_byte(from_child.w);
    for (std::uint64_t i = 0;; ++i) q.put(std::string(100, 'a') + std::to_string(i));
  });
  to_child.close_read();
  from_child.close_write();
  mp::Manager m;
  auto q = m.Queue<std::string>(0, 1 << 16);
  send_bytes(to_child.w, tandem::serialize(q));
  ASSERT_EQ(wait_byte(from_child.r), 'x');
  std::uint64_t expect = 0;
  for (; expect < 2000; ++expect)
    ASSERT_EQ(q.get(30s), std::string(100, 'a') + std::to_string(expect));
  ::kill(child, SIGKILL);
  EXPECT_EQ(join(child), -SIGKILL);
  while (auto s = q.try_get()) ASSERT_EQ(*s, std::string(100, 'a') + std::to_string(expect++));
  q.put("after");
  EXPECT_EQ(q.get(30s), "after");
}

// A client that connects and never sends cannot stall the server for more than its 2 s
// receive timeout: others still attach.
TEST_F(ManagerFault, StalledClientDoesNotBlockTheServer) {
  mp::Manager m;
  auto v = m.Value<int>(9);
  const std::string addr = m.address();  // "@name"
  const int s = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path + 1, addr.data() + 1, addr.size() - 1);
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + addr.size());
  ASSERT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&a), len), 0);
  mptest::Pipe to_child;  // a child started before w exists must attach through the server
  const pid_t fresh = spawn([&] {
    to_child.close_write();
    auto w = recv_handle<mp::ValueProxy<int>>(to_child.r);
    return w.get() == 10 ? 0 : 1;
  });
  to_child.close_read();
  auto w = m.Value<int>(10);
  send_bytes(to_child.w, tandem::serialize(w));
  EXPECT_EQ(join(fresh), 0);
  ::close(s);
}

// The manager shuts down while a child is using its objects: the child gets RuntimeError on
// its next call, never a crash (its mapping stays valid).
TEST_F(ManagerFault, ShutdownUnderAUser) {
  mptest::Pipe to_child, from_child;
  const pid_t child = spawn([&]() -> int {
    to_child.close_write();
    from_child.close_read();
    auto v = recv_handle<mp::ValueProxy<long>>(to_child.r);
    signal_byte(from_child.w);
    try {
      for (;;) {
        std::lock_guard g(v.get_lock());
        ++v.value();
      }
    } catch (const tandem::RuntimeError&) {
      return 0;
    }
  });
  to_child.close_read();
  from_child.close_write();
  mp::Manager m;
  auto v = m.Value<long>(0);
  send_bytes(to_child.w, tandem::serialize(v));
  ASSERT_EQ(wait_byte(from_child.r), 'x');
  m.shutdown();
  EXPECT_EQ(join(child), 0);
}

// Many managers made and destroyed: no leaked process or fd (the fixture checks).
TEST_F(ManagerFault, ManyManagersLeakNothing) {
  for (int i = 0; i < 20; ++i) {
    mp::Manager m;
    auto q = m.Queue<int>(0, 4096);
    auto e = m.Event();
    q.put(i);
    e.set();
    EXPECT_EQ(q.get(), i);
  }
}
