// SPDX-License-Identifier: MIT
// tandem::mp::connection::Listener / Client: ports of CPython's _TestListenerClient and
// _TestListener (named at each test), and interoperation with the real python3 from PATH
// (Python Client ↔ tandem Listener, tandem Client ↔ Python Listener) on a UNIX path and on
// TCP 127.0.0.1, with the right and a wrong authkey. The Python side announces its address on
// stdout; nothing here sleeps to synchronise.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "support/fault_support.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/subprocess.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;
namespace mc = tandem::mp::connection;
namespace sp = tandem::subprocess;

namespace {

std::vector<std::byte> bytes(std::string_view s) {
  const auto* b = reinterpret_cast<const std::byte*>(s.data());
  return {b, b + s.size()};
}

// A fresh socket path in /tmp, unique to this process and call.
std::string socket_path() {
  static std::atomic<int> n{0};
  return "/tmp/tandem-conn-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The addresses CPython's tests loop over (connection.families): TCP and UNIX. TCP needs an
// authkey here (a documented difference), so every Listener/Client of these tests has one.
std::vector<mc::Address> families() {
  return {mc::Address::tcp("127.0.0.1", 0), mc::Address(socket_path())};
}
const std::string kKey = "tandem-test-key";

// python3 on PATH (looked up, not run: a Python start costs ~0.5 s here).
bool have_python() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t from = 0;
  while (from <= dirs.size()) {
    std::size_t to = dirs.find(':', from);
    if (to == std::string::npos) to = dirs.size();
    const std::string exe = dirs.substr(from, to - from) + "/python3";
    if (::access(exe.c_str(), X_OK) == 0) return true;
    from = to + 1;
  }
  return false;
}

// 1 MiB of a pattern that a shifted or truncated copy would not match.
std::vector<std::byte> big_message() {
  std::vector<std::byte> v(1u << 20);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::byte>((i * 131 + i / 251) & 0xff);
  return v;
}

// The Python peer: argv = role ("client"|"listener"), family ("unix"|"tcp"), address (path or
// port; ignored by a TCP listener, which takes port 0), authkey ("-" for none). It receives a
// message and sends it back reversed, then echoes a big one; prints "done", or
// "AuthenticationError ..." and exits 3. A listener first prints its address.
constexpr const char* kPeer = R"PY(
import sys, multiprocessing.connection as mc
role, fam, addr, key = sys.argv[1:5]
key = None if key == '-' else key.encode()
try:
    if role == 'listener':
        l = mc.Listener(addr if fam == 'unix' else ('127.0.0.1', 0), authkey=key)
        a = l.address
        print(a if isinstance(a, str) else a[1], flush=True)
        c = l.accept()
    else:
        c = mc.Client(addr if fam == 'unix' else ('127.0.0.1', int(addr)), authkey=key)
except mc.AuthenticationError as e:
    print('AuthenticationError', e, flush=True)
    sys.exit(3)
m = c.recv_bytes()
c.send_bytes(m[::-1])
c.send_bytes(c.recv_bytes())
c.close()
if role == 'listener':
    l.close()
print('done', flush=True)
)PY";

// tandem's half of the exchange above.
void converse(mp::Connection& c) {
  c.send_bytes(bytes("hello python"));
  EXPECT_EQ(c.recv_bytes(), bytes("nohtyp olleh"));
  const auto big = big_message();
  c.send_bytes(big);
  EXPECT_EQ(c.recv_bytes(), big);
}

sp::PopenOptions piped() {
  sp::PopenOptions o;
  o.stdout_ = sp::PIPE;
  return o;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

// CPython: _TestListenerClient.test_listener_client
TEST(ListenerTest, ListenerClient) {
  for (const auto& family : families()) {
    mc::Listener l(family, {.authkey = kKey});
    const mc::Address address = l.address();
    mp::Process p(
        [address] {
          mp::Connection conn = mc::Client(address, {.authkey = kKey});
          conn.send(std::string("hello"));
          conn.close();
        },
        {.daemon = true});
    p.start();
    mp::Connection conn = l.accept();
    EXPECT_EQ(conn.recv<std::string>(), "hello");
    p.join();
    EXPECT_EQ(p.exitcode(), 0) << address.to_string();
    l.close();
  }
}

// CPython: _TestListenerClient.test_issue14725 — the client has connected, written and closed
// before accept() (Python sleeps 1 s; here the child is joined first).
TEST(ListenerTest, AcceptAfterClientIsGone) {
  mc::Listener l{mc::Address(socket_path())};
  const mc::Address address = l.address();
  mp::Process p(
      [address] {
        mp::Connection conn = mc::Client(address);
        conn.send(std::string("hello"));
      },
      {.daemon = true});
  p.start();
  p.join();
  ASSERT_EQ(p.exitcode(), 0);
  mp::Connection conn = l.accept();
  EXPECT_EQ(conn.recv<std::string>(), "hello");
  conn.close();
  l.close();
}

// CPython: _TestListenerClient.test_issue16955 (with an authkey the Client waits for the
// Listener's challenge, so it connects from a second thread; Python's test has no key).
TEST(ListenerTest, ClientPollsAcceptedSend) {
  for (const auto& fam : families()) {
    mc::Listener l(fam, {.authkey = kKey});
    std::optional<mp::Connection> c;
    std::thread client([&] { c.emplace(mc::Client(l.address(), {.authkey = kKey})); });
    mp::Connection a = l.accept();
    client.join();
    ASSERT_TRUE(c.has_value());
    a.send_bytes(bytes("hello"));
    EXPECT_TRUE(c->poll(1s));
    a.close();
    c->close();
    l.close();
  }
}

// CPython: _TestListener.test_multiple_bind
TEST(ListenerTest, MultipleBindFails) {
  for (const auto& family : families()) {
    mc::Listener l(family, {.authkey = kKey});
    EXPECT_THROW(mc::Listener(l.address(), {.authkey = kKey}), tandem::OSError)
        << family.to_string();
  }
}

TEST(ListenerTest, UnixSocketMode0600AndUnlinkedOnClose) {
  const std::string path = socket_path();
  {
    mc::Listener l{mc::Address(path)};
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    l.close();
    EXPECT_FALSE(exists(path));
  }
  {
    mc::Listener l{mc::Address(path)};
    EXPECT_TRUE(exists(path));
  }  // the destructor unlinks too
  EXPECT_FALSE(exists(path));
}

TEST(ListenerTest, AbstractAddress) {
  const mc::Address abstract(std::string(1, '\0') + "tandem-abstract-" + std::to_string(::getpid()));
  mc::Listener l(abstract);
  EXPECT_TRUE(l.address().is_abstract());
  mp::Connection c = mc::Client(abstract);
  mp::Connection a = l.accept();
  c.send(42);
  EXPECT_EQ(a.recv<int>(), 42);
}

TEST(ListenerTest, TcpWithoutAuthkeyIsRefused) {
  EXPECT_THROW(mc::Listener(mc::Address::tcp("127.0.0.1", 0)), tandem::ValueError);
  EXPECT_THROW(mc::Client(mc::Address::tcp("127.0.0.1", 1)), tandem::ValueError);
}

TEST(ListenerTest, WrongAuthkeyBothSides) {
  const int fds_before = faulttest::count_fds();
  {
    mc::Listener l(mc::Address::tcp("127.0.0.1", 0), {.authkey = std::string("right")});
    const mc::Address address = l.address();
    mp::Process p(
        [address] {
          try {
            mc::Client(address, {.authkey = std::string("wrong")});
          } catch (const tandem::AuthenticationError&) {
            std::_Exit(3);
          }
          std::_Exit(0);
        },
        {.daemon = true});
    p.start();
    EXPECT_THROW(l.accept(), tandem::AuthenticationError);
    p.join();
    EXPECT_EQ(p.exitcode(), 3);
  }
  EXPECT_EQ(faulttest::count_fds(), fds_before);
}

TEST(ListenerTest, ClientWithNobodyListening) {
  EXPECT_THROW(mc::Client(mc::Address(socket_path())), tandem::OSError);
}

// Python Client → tandem Listener, and tandem Client → Python Listener, on UNIX and TCP.
class ListenerInterop : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!have_python()) GTEST_SKIP() << "python3 with multiprocessing is not on PATH";
  }
  bool tcp() const { return std::string(GetParam()) == "tcp"; }
  mc::Address listen_address() const {
    return tcp() ? mc::Address::tcp("127.0.0.1", 0) : mc::Address(socket_path());
  }
  static std::string arg(const mc::Address& a) {
    return a.family() == mc::Address::Family::tcp ? std::to_string(a.port()) : a.path();
  }
  sp::Popen python(const char* role, const std::string& address, const std::string& key) const {
    return sp::Popen({"python3", "-c", kPeer, role, GetParam(), address, key}, piped());
  }
};

TEST_P(ListenerInterop, PythonClientToTandemListener) {
  mc::Listener l(listen_address(), {.authkey = kKey});
  sp::Popen py = python("client", arg(l.address()), kKey);
  mp::Connection c = l.accept();
  converse(c);
  EXPECT_EQ(trim(py.stdout_().readline()), "done");
  EXPECT_EQ(py.wait(60s), 0);
}

TEST_P(ListenerInterop, TandemClientToPythonListener) {
  const std::string path = tcp() ? "-" : socket_path();
  sp::Popen py = python("listener", path, kKey);
  const std::string announced = trim(py.stdout_().readline());
  ASSERT_FALSE(announced.empty());
  const mc::Address address =
      tcp() ? mc::Address::tcp("127.0.0.1", static_cast<std::uint16_t>(std::stoi(announced)))
            : mc::Address(announced);
  mp::Connection c = mc::Client(address, {.authkey = kKey});
  converse(c);
  EXPECT_EQ(trim(py.stdout_().readline()), "done");
  EXPECT_EQ(py.wait(60s), 0);
}

TEST_P(ListenerInterop, PythonClientWrongKey) {
  mc::Listener l(listen_address(), {.authkey = kKey});
  sp::Popen py = python("client", arg(l.address()), "not-the-key");
  EXPECT_THROW(l.accept(), tandem::AuthenticationError);
  EXPECT_EQ(trim(py.stdout_().readline()).rfind("AuthenticationError", 0), 0u);
  EXPECT_EQ(py.wait(60s), 3);
}

TEST_P(ListenerInterop, PythonListenerWrongKey) {
  const std::string path = tcp() ? "-" : socket_path();
  sp::Popen py = python("listener", path, "not-the-key");
  const std::string announced = trim(py.stdout_().readline());
  ASSERT_FALSE(announced.empty());
  const mc::Address address =
      tcp() ? mc::Address::tcp("127.0.0.1", static_cast<std::uint16_t>(std::stoi(announced)))
            : mc::Address(announced);
  EXPECT_THROW(mc::Client(address, {.authkey = kKey}), tandem::AuthenticationError);
  EXPECT_EQ(trim(py.stdout_().readline()).rfind("AuthenticationError", 0), 0u);
  EXPECT_EQ(py.wait(60s), 3);
}

INSTANTIATE_TEST_SUITE_P(Families, ListenerInterop, ::testing::Values("unix", "tcp"));

// No authkey on a UNIX socket: no handshake, plain framing both ways.
TEST(ListenerTest, PythonClientWithoutAuthkeyOnUnixSocket) {
  if (!have_python()) GTEST_SKIP() << "python3 with multiprocessing is not on PATH";
  mc::Listener l{mc::Address(socket_path())};
  sp::Popen py({"python3", "-c", kPeer, "client", "unix", l.address().path(), "-"}, piped());
  mp::Connection c = l.accept();
  converse(c);
  EXPECT_EQ(trim(py.stdout_().readline()), "done");
  EXPECT_EQ(py.wait(60s), 0);
}

// CPython 3.12+'s handshake ("{sha256}"-prefixed challenge and response), spoken by hand by the
// local python3 (which may be 3.11, whose own handshake the tests above use): tandem must
// answer a modern challenge with a prefixed HMAC-SHA-256, and accept a prefixed response.
constexpr const char* kModernPeer = R"PY(
import sys, os, hmac, multiprocessing.connection as mc
def deliver(c, key):
    msg = b'{sha256}' + os.urandom(40)
    c.send_bytes(b'#CHALLENGE#' + msg)
    r = c.recv_bytes(256)
    ok = r.startswith(b'{sha256}') and hmac.compare_digest(r[8:], hmac.new(key, msg, 'sha256').digest())
    c.send_bytes(b'#WELCOME#' if ok else b'#FAILURE#')
    if not ok:
        raise mc.AuthenticationError('digest received was wrong')
def answer(c, key):
    m = c.recv_bytes(256)
    assert m.startswith(b'#CHALLENGE#{sha256}'), m
    m = m[len(b'#CHALLENGE#'):]
    c.send_bytes(b'{sha256}' + hmac.new(key, m, 'sha256').digest())
    if c.recv_bytes(256) != b'#WELCOME#':
        raise mc.AuthenticationError('digest sent was rejected')
role, addr, key = sys.argv[1], sys.argv[2], sys.argv[3].encode()
if role == 'client':
    c = mc.Client(addr)
    answer(c, key)
    deliver(c, key)
else:
    l = mc.Listener(addr)
    print(l.address, flush=True)
    c = l.accept()
    deliver(c, key)
    answer(c, key)
c.send_bytes(c.recv_bytes()[::-1])
print('done', flush=True)
)PY";

TEST(ListenerTest, Python312ClientToTandemListener) {
  if (!have_python()) GTEST_SKIP() << "python3 with multiprocessing is not on PATH";
  {
    mc::Listener l(mc::Address(socket_path()), {.authkey = kKey});
    sp::Popen py({"python3", "-c", kModernPeer, "client", l.address().path(), kKey}, piped());
    mp::Connection c = l.accept();
    c.send_bytes(bytes("abc"));
    EXPECT_EQ(c.recv_bytes(), bytes("cba"));
    EXPECT_EQ(trim(py.stdout_().readline()), "done");
    EXPECT_EQ(py.wait(60s), 0);
  }
}

TEST(ListenerTest, TandemClientToPython312Listener) {
  if (!have_python()) GTEST_SKIP() << "python3 with multiprocessing is not on PATH";
  {
    sp::Popen py({"python3", "-c", kModernPeer, "listener", socket_path(), kKey}, piped());
    const std::string announced = trim(py.stdout_().readline());
    ASSERT_FALSE(announced.empty());
    mp::Connection c = mc::Client(mc::Address(announced), {.authkey = kKey});
    c.send_bytes(bytes("xyz"));
    EXPECT_EQ(c.recv_bytes(), bytes("zyx"));
    EXPECT_EQ(trim(py.stdout_().readline()), "done");
    EXPECT_EQ(py.wait(60s), 0);
  }
}

// wait() on a Listener: ready once a client waits to be accepted (Python's wait takes
// listening sockets too). A Process has no sentinel before start().
TEST(ListenerTest, WaitSeesPendingClient) {
  mc::Listener l{mc::Address(socket_path())};
  EXPECT_TRUE(mc::wait({l}, 0s).empty());
  mp::Connection c = mc::Client(l.address());
  const auto ready = mc::wait({l}, 60s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0].refers_to(&l));
  mp::Connection a = l.accept();
  mp::Process p([] {});
  EXPECT_EQ(p.sentinel(), -1);
}

TEST(ListenerTest, InvalidUnixAddresses) {
  EXPECT_THROW(mc::Listener{mc::Address("")}, tandem::ValueError);  // Python would pick a path
  EXPECT_THROW(mc::Listener{mc::Address("/tmp/" + std::string(200, 'x'))}, tandem::ValueError);
  EXPECT_THROW(mc::Client(mc::Address("")), tandem::ValueError);
}
