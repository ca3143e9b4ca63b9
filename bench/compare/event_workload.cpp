// SPDX-License-Identifier: MIT
// Workload "event": ping-pong between 2 threads, N round trips; the figure is the mean
// round-trip time. Thread A raises "ping" and waits for "pong"; thread B waits for "ping",
// lowers it, raises "pong". Each side lowers a flag before raising the other one, so a
// stale raise is never seen.
// Peers: futex(2) called directly (the physical floor), std::binary_semaphore and
// std::atomic<int>::wait/notify (libstdc++: a short spin, then a futex).
// Target: tandem::Event round trip <= 1.2x the raw futex's.
#include <atomic>
#include <semaphore>
#include <thread>

#include "compare/harness.hpp"
#include "peers/raw_futex.hpp"
#include "tandem/threading/event.hpp"

namespace tandem_bench {
namespace {

/// ping_pong(a_side, b_side): a_side() does one "raise ping, await pong", b_side() the
/// mirror image. Returns microseconds per round trip.
template <class A, class B>
double ping_pong(const Sizes& s, A a_side, B b_side) {
  const std::size_t n = s.event_round_trips();
  StartGate gate(2);
  std::thread a([&] {
    gate.arrive_and_wait();
    for (std::size_t i = 0; i < n; ++i) a_side();
  });
  std::thread b([&] {
    gate.arrive_and_wait();
    for (std::size_t i = 0; i < n; ++i) b_side();
  });
  auto t0 = gate.open();
  a.join();
  b.join();
  return seconds_since(t0) * 1e6 / static_cast<double>(n);
}

const Register tandem_event("event", "tandem::Event", "us/rt", [](const Sizes& s) {
  tandem::Event ping, pong;
  return ping_pong(
      s,
      [&] {
        ping.set();
        pong.wait();
        pong.clear();
      },
      [&] {
        ping.wait();
        ping.clear();
        pong.set();
      });
});

const Register raw_futex("event", "raw futex", "us/rt", [](const Sizes& s) {
  RawFutexFlag ping, pong;
  return ping_pong(
      s,
      [&] {
        ping.raise();
        pong.wait_and_lower();
      },
      [&] {
        ping.wait_and_lower();
        pong.raise();
      });
});

const Register binary_semaphore("event", "std::binary_semaphore", "us/rt", [](const Sizes& s) {
  std::binary_semaphore ping(0), pong(0);
  return ping_pong(
      s,
      [&] {
        ping.release();
        pong.acquire();
      },
      [&] {
        ping.acquire();
        pong.release();
      });
});

const Register atomic_wait("event", "std::atomic::wait", "us/rt", [](const Sizes& s) {
  std::atomic<int> ping{0}, pong{0};
  return ping_pong(
      s,
      [&] {
        ping.store(1, std::memory_order_release);
        ping.notify_one();
        pong.wait(0, std::memory_order_acquire);
        pong.store(0, std::memory_order_relaxed);
      },
      [&] {
        ping.wait(0, std::memory_order_acquire);
        ping.store(0, std::memory_order_relaxed);
        pong.store(1, std::memory_order_release);
        pong.notify_one();
      });
});

}  // namespace
}  // namespace tandem_bench
