// SPDX-License-Identifier: MIT
// Tests for tandem::mp::Manager: objects whose handles reach processes started BEFORE the
// objects existed. Children are real fork()ed processes that receive handle bytes through a
// pipe (or an mp::Queue made before the fork) and report through their exit code.
//
// CPython's _test_multiprocessing.py runs its _TestValue/_TestArray/_TestEvent/_TestLock/
// _TestQueue classes once more with the 'manager' type; the cases ported below name theirs.
#include "tandem/multiprocessing/manager.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "support/manager_test_support.hpp"
#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing/queue.hpp"
#include "tandem/serialize.hpp"

namespace mp = tandem::mp;
using namespace std::chrono_literals;

namespace {

using namespace mgrtest;

class Manager : public mptest::ProcessFixture {};

}  // namespace

TEST_F(Manager, StartsAServerAndShutsItDown) {
  mp::Manager m;
  ASSERT_TRUE(m.is_running());
  const int pid = m.pid();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), 0);
  EXPECT_EQ(m.address().rfind("@tandem-mgr-", 0), 0u);
  m.shutdown();
  EXPECT_FALSE(m.is_running());
  EXPECT_EQ(m.pid(), 0);
  m.shutdown();  // idempotent
}

TEST_F(Manager, TwoManagersHaveDifferentAddresses) {
  mp::Manager a, b;
  EXPECT_NE(a.address(), b.address());
}

// Handles survive serialize → deserialize in the same process: the same shared object.
TEST_F(Manager, RoundTripInTheSameProcess) {
  mp::Manager m;
  auto v = m.Value<int>(7);
  auto v2 = tandem::deserialize<mp::ValueProxy<int>>(tandem::serialize(v));
  EXPECT_EQ(&v2.value(), &v.value());
  v2.set(8);
  EXPECT_EQ(v.get(), 8);
  EXPECT_EQ(v2.object_id(), v.object_id());

  auto e = tandem::deserialize<mp::EventProxy>(tandem::serialize(m.Event()));
  e.set();
  EXPECT_TRUE(e.is_set());
  auto l = tandem::deserialize<mp::LockProxy>(tandem::serialize(m.Lock()));
  EXPECT_TRUE(l.acquire(false));
  EXPECT_TRUE(l.locked());
  l.release();
  auto r = tandem::deserialize<mp::RLockProxy>(tandem::serialize(m.RLock()));
  {
    std::lock_guard g1(r);
    std::lock_guard g2(r);
    EXPECT_TRUE(r.locked());
  }
  auto s = tandem::deserialize<mp::SemaphoreProxy>(tandem::serialize(m.Semaphore(2)));
  EXPECT_EQ(s.value(), 2);
  auto a = tandem::deserialize<mp::ArrayProxy<double>>(tandem::serialize(m.Array<double>({1.5, 2.5})));
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1], 2.5);
  auto q = tandem::deserialize<mp::QueueProxy<std::string>>(tandem::serialize(m.Queue<std::string>()));
  q.put("x");
  EXPECT_EQ(q.get(), "x");
}

TEST_F(Manager, EmptyProxy) {
  mp::ValueProxy<int> v;
  EXPECT_FALSE(v);
  EXPECT_FALSE(v.usable());
  EXPECT_THROW(v.value(), tandem::RuntimeError);
  auto v2 = tandem::deserialize<mp::ValueProxy<int>>(tandem::serialize(v));
  EXPECT_FALSE(v2);
  mp::LockProxy l;
  EXPECT_THROW(l.acquire(), tandem::RuntimeError);
  EXPECT_THROW(l.release(), tandem::RuntimeError);
}

// _TestValue (manager): a child started before the Value existed increments it under its lock.
TEST_F(Manager, ValueReachesAChildStartedBefore) {
  mptest::Pipe p;
  constexpr int kN = 20000;
  const pid_t child = spawn([&] {
    p.close_write();
    auto v = recv_handle<mp::ValueProxy<long>>(p.r);
    for (int i = 0; i < kN; ++i) {
      std::lock_guard g(v.get_lock());
      v.value() += 1;
    }
    return 0;
  });
  p.close_read();
  mp::Manager m;
  auto v = m.Value<long>(0);
  send_bytes(p.w, tandem::serialize(v));
  for (int i = 0; i < kN; ++i) {
    std::lock_guard g(v.get_lock());
    v.value() += 1;
  }
  EXPECT_EQ(join(child), 0);
  EXPECT_EQ(v.get(), 2 * kN);
}

// _TestEvent (manager): set in one process is seen in the other, both ways.
TEST_F(Manager, EventAcrossProcesses) {
  mptest::Pipe p;
  const pid_t child = spawn([&] {
    p.close_write();
    auto to_child = recv_handle<mp::EventProxy>(p.r);
    auto to_parent = recv_handle<mp::EventProxy>(p.r);
    if (!to_child.wait(30s)) return 1;
    to_parent.set();
    return 0;
  });
  p.close_read();
  mp::Manager m;
  auto to_child = m.Event(), to_parent = m.Event();
  send_bytes(p.w, tandem::serialize(to_child));
  send_bytes(p.w, tandem::serialize(to_parent));
  EXPECT_FALSE(to_parent.wait(10ms));
  to_child.set();
  EXPECT_TRUE(to_parent.wait(30s));
  EXPECT_EQ(join(child), 0);
}

// _TestLock (manager): mutual exclusion between processes that got the lock after starting.
TEST_F(Manager, LockExcludesAcrossProcesses) {
  constexpr int kChildren = 2, kN = 5000;
  mptest::Pipe pipes[kChildren];  // one each: children reading one pipe would interleave
  std::vector<pid_t> kids;
  for (auto& p : pipes)
    kids.push_back(spawn([&] {
      p.close_write();
      auto lock = recv_handle<mp::LockProxy>(p.r);
      auto counter = recv_handle<mp::ArrayProxy<int>>(p.r);
      for (int i = 0; i < kN; ++i) {
        std::lock_guard g(lock);
        const int x = counter[0];  // a non-atomic read-modify-write, safe only under the lock
        counter[1] = x;
        counter[0] = counter[1] + 1;
      }
      return 0;
    }));
  for (auto& p : pipes) p.close_read();
  mp::Manager m;
  auto lock = m.Lock();
  auto counter = m.Array<int>(2);
  for (auto& p : pipes) {
    send_bytes(p.w, tandem::serialize(lock));
    send_bytes(p.w, tandem::serialize(counter));
  }
  for (pid_t k : kids) EXPECT_EQ(join(k), 0);
  EXPECT_EQ(counter[0], kChildren * kN);
  EXPECT_FALSE(lock.locked());
}

// _TestQueue (manager): items both ways once the queues exist.
TEST_F(Manager, QueueItemsBothWays) {
  mptest::Pipe p;
  const pid_t child = spawn([&] {
    p.close_write();
    auto in = recv_handle<mp::QueueProxy<std::string>>(p.r);
    auto out = recv_handle<mp::QueueProxy<std::string>>(p.r);
    for (std::string s : in) out.put(s + "!");  // until shut down and drained
    return 0;
  });
  p.close_read();
  mp::Manager m;
  auto in = m.Queue<std::string>(), out = m.Queue<std::string>();
  send_bytes(p.w, tandem::serialize(in));
  send_bytes(p.w, tandem::serialize(out));
  for (int i = 0; i < 1000; ++i) in.put(std::to_string(i));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(out.get(30s), std::to_string(i) + "!");
  in.shutdown();
  EXPECT_EQ(join(child), 0);
  EXPECT_THROW(out.get_nowait(), tandem::Empty);
}

// _TestQueue.test_task_done (manager): JoinableQueue join across processes.
TEST_F(Manager, JoinableQueueJoin) {
  mptest::Pipe p;
  const pid_t child = spawn([&] {
    p.close_write();
    auto q = recv_handle<mp::JoinableQueueProxy<int>>(p.r);
    auto sum = recv_handle<mp::ValueProxy<long>>(p.r);
    for (;;) {
      const int x = q.get(30s);
      if (x < 0) {
        q.task_done();
        return 0;
      }
      {
        std::lock_guard g(sum.get_lock());
        sum.value() += x;
      }
      q.task_done();
    }
  });
  p.close_read();
  mp::Manager m;
  auto q = m.JoinableQueue<int>();
  auto sum = m.Value<long>(0);
  send_bytes(p.w, tandem::serialize(q));
  send_bytes(p.w, tandem::serialize(sum));
  for (int i = 1; i <= 100; ++i) q.put(i);
  q.put(-1);
  EXPECT_TRUE(q.join(30s));
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  EXPECT_EQ(sum.get(), 5050);
  EXPECT_EQ(join(child), 0);
}

// A handle travels through an mp::Queue made before the fork, and through a Manager queue.
TEST_F(Manager, HandlesTravelThroughQueues) {
  mp::Queue<mp::ValueProxy<int>> handoff;
  const pid_t child = spawn([&] {
    auto meta = handoff.get(30s);  // a value proxy, then a queue of event proxies through it
    meta.set(meta.get() + 1);
    return 0;
  });
  mp::Manager m;
  auto v = m.Value<int>(41);
  handoff.put(v);
  EXPECT_EQ(join(child), 0);
  EXPECT_EQ(v.get(), 42);

  auto q = m.Queue<mp::EventProxy>();
  auto e = m.Event();
  q.put(e);
  auto e2 = q.get();
  e2.set();
  EXPECT_TRUE(e.is_set());
}

TEST_F(Manager, ArrayFilledByAChild) {
  mptest::Pipe p;
  const pid_t child = spawn([&] {
    p.close_write();
    auto a = recv_handle<mp::ArrayProxy<double>>(p.r);
    std::lock_guard g(a.get_lock());
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<double>(i) * 0.5;
    return a.size() == 100 ? 0 : 1;
  });
  p.close_read();
  mp::Manager m;
  auto a = m.Array<double>(100, -1.0);
  EXPECT_EQ(a[0], -1.0);
  send_bytes(p.w, tandem::serialize(a));
  EXPECT_EQ(join(child), 0);
  double sum = 0;
  for (double x : a) sum += x;
  EXPECT_EQ(sum, 0.5 * 99 * 100 / 2);
  EXPECT_THROW(a.at(100), std::out_of_range);
}

TEST_F(Manager, SemaphoresAcrossProcesses) {
  mptest::Pipe p;
  const pid_t child = spawn([&] {
    p.close_write();
    auto s = recv_handle<mp::SemaphoreProxy>(p.r);
    auto b = recv_handle<mp::BoundedSemaphoreProxy>(p.r);
    s.release(3);
    try {
      b.release();
      return 1;
    } catch (const tandem::ValueError&) {
    }
    return b.acquire(false) ? 0 : 2;
  });
  p.close_read();
  mp::Manager m;
  auto s = m.Semaphore(0);
  auto b = m.BoundedSemaphore(1);
  send_bytes(p.w, tandem::serialize(s));
  send_bytes(p.w, tandem::serialize(b));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(s.acquire(30s));
  EXPECT_FALSE(s.acquire(false));
  EXPECT_EQ(join(child), 0);
  EXPECT_EQ(b.value(), 0);
  b.release();
  EXPECT_THROW(b.release(), tandem::ValueError);
}

// Decoding a handle as another type: DecodeError, in the same process and in a fresh one.
TEST_F(Manager, WrongTypeIsADecodeError) {
  mp::Manager m;
  const auto vb = tandem::serialize(m.Value<long>(1));
  EXPECT_THROW(tandem::deserialize<mp::ValueProxy<int>>(vb), tandem::DecodeError);
  EXPECT_THROW(tandem::deserialize<mp::EventProxy>(vb), tandem::DecodeError);
  EXPECT_THROW(tandem::deserialize<mp::ArrayProxy<long>>(vb), tandem::DecodeError);
  const auto qb = tandem::serialize(m.Queue<int>());
  EXPECT_THROW(tandem::deserialize<mp::QueueProxy<long>>(qb), tandem::DecodeError);
  EXPECT_THROW(tandem::deserialize<mp::JoinableQueueProxy<int>>(qb), tandem::DecodeError);
  try {
    tandem::deserialize<mp::ValueProxy<int>>(vb);
  } catch (const tandem::DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("type mismatch"), std::string::npos) << e.what();
  }
  // Forged: a Lock handle whose kind byte says Event — the server's record decides.
  auto lb = tandem::serialize(m.Lock());
  const auto eb = tandem::serialize(m.Event());
  // The kind field sits after magic(4) version(1) token(16) secret(16) id(4), frame byte 1.
  const std::size_t kind_at = 1 + 4 + 1 + 16 + 16 + 4;
  std::memcpy(lb.data() + kind_at, eb.data() + kind_at, 4);
  EXPECT_THROW(tandem::deserialize<mp::EventProxy>(lb), tandem::DecodeError);  // cache
  const pid_t child = spawn([&] {
    try {
      tandem::deserialize<mp::EventProxy>(lb);  // fresh process? no: fork copied the cache
    } catch (const tandem::DecodeError&) {
      return 0;
    }
    return 1;
  });
  EXPECT_EQ(join(child), 0);
}

TEST_F(Manager, WrongTypeFromTheServerInAFreshProcess) {
  mptest::Pipe p;
  const pid_t child = spawn([&] {
    p.close_write();
    const auto b = recv_bytes(p.r);
    try {
      tandem::deserialize<mp::EventProxy>(b);  // forged kind: the server refuses
    } catch (const tandem::DecodeError& e) {
      return std::string(e.what()).find("is a Lock") != std::string::npos ? 0 : 2;
    }
    return 1;
  });
  p.close_read();
  mp::Manager m;
  auto lb = tandem::serialize(m.Lock());
  const auto eb = tandem::serialize(m.Event());
  const std::size_t kind_at = 1 + 4 + 1 + 16 + 16 + 4;
  std::memcpy(lb.data() + kind_at, eb.data() + kind_at, 4);
  send_bytes(p.w, lb);
  EXPECT_EQ(join(child), 0);
}

// Corrupt handle bytes: a clean tandem error (DecodeError or RuntimeError), never a crash.
TEST_F(Manager, CorruptHandlesAreCleanErrors) {
  mp::Manager m;
  const auto good = tandem::serialize(m.Value<int>(5));
  for (std::size_t n = 0; n < good.size(); ++n) {
    std::vector<std::byte> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(tandem::deserialize<mp::ValueProxy<int>>(cut), tandem::DecodeError) << n;
  }
  auto extra = good;
  extra.push_back(std::byte{0});
  EXPECT_THROW(tandem::deserialize<mp::ValueProxy<int>>(extra), tandem::DecodeError);
  std::mt19937 rng(12345);
  int decoded = 0, errors = 0;
  for (int i = 0; i < 400; ++i) {
    auto b = good;
    const std::size_t at = rng() % b.size();
    b[at] ^= std::byte(static_cast<unsigned char>(1u << (rng() % 8)));
    try {
      auto v = tandem::deserialize<mp::ValueProxy<int>>(b);
      ++decoded;  // a flip in a byte nothing checks (none today) would land here
      (void)v;
    } catch (const tandem::Error&) {
      ++errors;
    }
  }
  EXPECT_EQ(decoded + errors, 400);
  EXPECT_GT(errors, 0);
}

// Another secret (a guessed or stale handle): the server refuses.
TEST_F(Manager, WrongSecretIsRefused) {
  mp::Manager m;
  auto b = tandem::serialize(m.Value<int>(5));
  const std::size_t secret_at = 1 + 4 + 1 + 16;
  b[secret_at] ^= std::byte{1};
  try {
    tandem::deserialize<mp::ValueProxy<int>>(b);
    ADD_FAILURE() << "decoded";
  } catch (const tandem::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("authentication"), std::string::npos) << e.what();
  }
}

// After shutdown every proxy raises RuntimeError; decoding a handle does too. Never a hang.
TEST_F(Manager, UseAfterShutdownIsARuntimeError) {
  mp::Manager m;
  auto v = m.Value<int>(1);
  auto q = m.Queue<int>();
  auto l = m.Lock();
  auto e = m.Event();
  const auto vb = tandem::serialize(v);
  l.acquire();
  m.shutdown();
  EXPECT_FALSE(v.usable());
  EXPECT_THROW(v.value(), tandem::RuntimeError);
  EXPECT_THROW(q.put(1), tandem::RuntimeError);
  EXPECT_THROW(q.get_nowait(), tandem::RuntimeError);
  EXPECT_THROW(e.wait(1ms), tandem::RuntimeError);
  EXPECT_THROW(l.acquire(false), tandem::RuntimeError);
  EXPECT_NO_THROW(l.release());  // a guard's destructor must not throw
  try {
    tandem::deserialize<mp::ValueProxy<int>>(vb);
    ADD_FAILURE() << "decoded after shutdown";
  } catch (const tandem::RuntimeError& err) {
    EXPECT_NE(std::string(err.what()).find("manager"), std::string::npos) << err.what();
  }
  EXPECT_THROW(m.Value<int>(0), tandem::RuntimeError);
}

// A getter blocked in another process wakes when the manager shuts down, with RuntimeError.
TEST_F(Manager, BlockedQueueGetWakesAtShutdown) {
  mptest::Pipe p, ready;
  const pid_t child = spawn([&] {
    p.close_write();
    ready.close_read();
    auto q = recv_handle<mp::QueueProxy<int>>(p.r);
    ready.write_str("r");
    try {
      q.get(60s);
    } catch (const tandem::RuntimeError&) {
      return 0;
    }
    return 1;
  });
  p.close_read();
  ready.close_write();
  mp::Manager m;
  auto q = m.Queue<int>();
  send_bytes(p.w, tandem::serialize(q));
  char c;
  ASSERT_TRUE(read_exact(ready.r, &c, 1));
  m.shutdown();  // the child may or may not be asleep yet: either way it must see it
  EXPECT_EQ(join(child), 0);
}

TEST_F(Manager, ObjectsAreMadeOnlyByTheOwner) {
  mp::Manager m;
  const pid_t child = spawn([&] {
    try {
      m.Value<int>(0);
    } catch (const tandem::RuntimeError&) {
      return 0;
    }
    return 1;
  });
  EXPECT_EQ(join(child), 0);
  EXPECT_TRUE(m.is_running());  // the child's copy did not stop it
  auto v = m.Value<int>(3);
  EXPECT_EQ(v.get(), 3);
}

// One process maps an object once, however many times it receives the handle.
TEST_F(Manager, EachProcessAttachesOnce) {
  mptest::Pipe p;
  const pid_t child = spawn([&] {
    p.close_write();
    const int fds0 = mptest::count_fds();
    auto a = recv_handle<mp::ValueProxy<int>>(p.r);
    const int fds1 = mptest::count_fds();
    for (int i = 0; i < 50; ++i) {
      auto b = recv_handle<mp::ValueProxy<int>>(p.r);
      if (&b.value() != &a.value()) return 1;
    }
    const int fds2 = mptest::count_fds();
    // First attach: the object's fd, the control page's fd and a pidfd on the server (to
    // wake blocked calls if it dies); later ones: nothing.
    return (fds1 - fds0 == 3 && fds2 == fds1) ? 0 : 2;
  });
  p.close_read();
  mp::Manager m;
  auto v = m.Value<int>(0);
  for (int i = 0; i < 51; ++i) send_bytes(p.w, tandem::serialize(v));
  EXPECT_EQ(join(child), 0);
}

// Many processes attaching and using the same objects at once.
TEST_F(Manager, ConcurrentDecodesInManyChildren) {
  constexpr int kChildren = 4, kN = 2000;
  mptest::Pipe pipes[kChildren];
  std::vector<pid_t> kids;
  for (auto& p : pipes)
    kids.push_back(spawn([&] {
      p.close_write();
      auto q = recv_handle<mp::QueueProxy<std::vector<std::byte>>>(p.r);
      auto cnt = recv_handle<mp::ValueProxy<int>>(p.r);
      for (int i = 0; i < kN; ++i) q.put(std::vector<std::byte>(64, std::byte(i)));
      std::lock_guard g(cnt.get_lock());
      ++cnt.value();
      return 0;
    }));
  for (auto& p : pipes) p.close_read();
  mp::Manager m;
  auto q = m.Queue<std::vector<std::byte>>();
  auto cnt = m.Value<int>(0);
  for (auto& p : pipes) {
    send_bytes(p.w, tandem::serialize(q));
    send_bytes(p.w, tandem::serialize(cnt));
  }
  for (int i = 0; i < kChildren * kN; ++i) ASSERT_EQ(q.get(30s).size(), 64u);
  for (pid_t k : kids) EXPECT_EQ(join(k), 0);
  EXPECT_EQ(cnt.get(), kChildren);
}

// The seed's pattern (ch11_09): 3 worker processes put 64-byte results into a Manager queue,
// the parent reads them. Prints msgs/s (Python's Manager().Queue(): ~17 k msgs/s).
TEST_F(Manager, ThroughputThreeProducers) {
  constexpr int kWorkers = 3, kPerWorker = 100000;
  mptest::Pipe pipes[kWorkers];
  std::vector<pid_t> kids;
  for (auto& p : pipes)
    kids.push_back(spawn([&] {
      p.close_write();
      auto q = recv_handle<mp::QueueProxy<std::array<char, 64>>>(p.r);
      std::array<char, 64> item{};
      for (int i = 0; i < kPerWorker; ++i) {
        item[0] = static_cast<char>(i);
        q.put(item);
      }
      return 0;
    }));
  for (auto& p : pipes) p.close_read();
  mp::Manager m;
  auto q = m.Queue<std::array<char, 64>>();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& p : pipes) send_bytes(p.w, tandem::serialize(q));
  for (int i = 0; i < kWorkers * kPerWorker; ++i) (void)q.get(30s);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (pid_t k : kids) EXPECT_EQ(join(k), 0);
  std::printf("[ manager ] 3 producers -> 1 consumer, 64-byte items: %.0f msgs/s (%d in %.3f s)\n",
              kWorkers * kPerWorker / s, kWorkers * kPerWorker, s);
}
