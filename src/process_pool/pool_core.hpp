// SPDX-License-Identifier: MIT
// Internal to the process pool: the dispatcher's state, implemented by responsibility in
// src/process_pool/pool_core.cpp (intake, window, sending, the loop), pool_core_workers.cpp
// (start, handshake, spare, timeouts, deaths) and pool_core_results.cpp (result frames, the
// log of a dead worker). ProcessPoolExecutor's members (src/process_pool.cpp) call it. Not
// installed.
#pragma once

#include <signal.h>
#include <string.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "process_pool/worker.hpp"
#include "tandem/multiprocessing/process.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/futures/detail/ready_queue.hpp"
#include "process_pool/wire.hpp"

namespace tandem::detail {

constexpr std::uint64_t kShut = 1ull << 63;
// Deaths of fresh workers in a row (no worker became ready in between) that break the pool:
// kMaxInitFailures of those that are the worker's own doing (its initializer threw, it
// crashed or exited, it sent corrupt data in its handshake), kMaxInitKills of SIGKILLs from
// outside the pool while its initializer ran (the out-of-memory killer's victims look like
// that; so do an operator's or a chaos test's random kills, hence the larger number, and only
// kills while an initializer runs count: a kill before it began (during the process start, or
// a scheduling delay after the handshake on a loaded machine) is no initializer's fault).
constexpr int kMaxInitFailures = 3;
constexpr int kMaxInitKills = 10;
// A new spare starts when the dispatcher has nothing else to do, or this long after it was
// needed (a pool that never idles): its fork must not delay the results being awaited.
constexpr std::uint64_t kSpareDelayNs = 2'000'000;
enum KillReason { kNone = 0, kTimeout = 1, kCancel = 2, kCorrupt = 3, kSignal = 4 };
enum EvKind : std::uint64_t { evWake = 1, evListen = 2, evSock = 3, evPidfd = 4 };

inline std::uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

inline std::uint64_t ev(EvKind k, int slot, std::uint32_t gen) noexcept {
  return (static_cast<std::uint64_t>(k) << 56) | (static_cast<std::uint64_t>(slot) << 32) | gen;
}

inline std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

/// "killed by SIGKILL (possibly the out-of-memory killer)", "exited with code 3", ...
inline std::string death_text(int exitcode) {
  if (exitcode >= 0) return "exited with code " + std::to_string(exitcode);
  const int sig = -exitcode;
  std::string s = "was killed by " + signal_name(sig);
  const char* desc = strsignal(sig);
  if (desc) s += std::string(" (") + desc + ")";
  if (sig == SIGKILL) s += " — possibly the out-of-memory killer";
  return s;
}

class PoolCore {
 public:
  explicit PoolCore(const ProcessPoolOptions& o);
  ~PoolCore();
  void submit(PTask* t);
  void shutdown(bool wait, bool cancel_futures);
  void signal_workers(int sig);
  bool cancel_running(PTask& t);
  std::size_t max_workers() const noexcept { return n_; }
  std::vector<int> pids() {
    std::vector<int> v;
    for (std::size_t i = 0; i < n_; ++i)
      if (int p = pids_[i].load(std::memory_order_acquire)) v.push_back(p);
    return v;
  }
  int spare_pid() const noexcept { return spare_pid_.load(std::memory_order_acquire); }
  ProcessPoolStats stats() const noexcept;

 private:
  struct Worker {
    std::unique_ptr<mp::Process> proc;
    int pid = 0, pidfd = -1, sock = -1;
    int memfd = -1;  // the page and the result log (wire.hpp, WorkerPage), from the hello on
    std::uint32_t gen = 0;
    bool hello = false, seen_ready = false, sock_registered = false, want_out = false;
    WorkerPage* page = nullptr;
    std::deque<PTask*> inflight;
    std::vector<std::byte> out;
    std::size_t out_off = 0;
    std::vector<std::byte> in;
    std::size_t in_have = 0;
    std::uint64_t sent_total = 0;
    int timed = 0;
    int cancel_next = 0;
    int kill_reason = kNone;
    std::uint64_t kill_id = 0;
    std::string corrupt_msg;
    bool alive() const noexcept { return proc != nullptr; }
  };

  void run() noexcept;
  void loop();
  void start_worker(std::size_t slot);
  // The spare lives in slot n_ (w_ has n_ + 1 entries then); it never gets a task there.
  bool is_spare(std::size_t slot) const noexcept { return slot == n_; }
  void publish_pid(std::size_t slot, int pid) noexcept;
  bool promote_spare(std::size_t slot);
  void maybe_start_spare(std::uint64_t& wake_at);
  bool idle() const noexcept;
  void close_inherited() noexcept;
  void on_accept();
  void on_readable(std::size_t slot);
  void on_hello(std::size_t slot, std::span<const std::byte> body);
  void on_death(std::size_t slot);
  struct Partial {  // a dead worker's running map chunk: its finished items
    std::uint64_t id = 0, count = 0;
    std::vector<std::byte> bytes;
  };
  void drain_log(Worker& w, Partial& partial);
  void release_channel(Worker& w) noexcept;
  void count_start_failure(bool killed, int pid, const std::string& how);
  void flush_out(std::size_t slot);
  void dispatch();
  void drain_incoming();
  void drain_cancels();
  void kill_worker(std::size_t slot, int reason, std::uint64_t id);
  void corrupt(std::size_t slot, const std::string& why);
  void break_pool(const std::string& why);
  void finish(PTask* t) noexcept {
    bump(completed_);
    t->core().release();
  }
  static void bump(std::atomic<std::uint64_t>& c) noexcept {  // only the dispatcher writes
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void publish_load() noexcept;
  std::size_t window() const noexcept;
  bool work_left() const noexcept;
  std::uint64_t check_timeouts();
  void epoll_set(int op, int fd, std::uint32_t events, std::uint64_t data);

  std::size_t n_;
  ProcessPoolOptions opts_;
  int owner_ = 0;  // getpid(): a worker dies with this process (worker_main)
  unsigned pool_seq_ = 0;  // this process's pools, numbered from 0 (names)
  shipping::Task init_;  // the initializer's call (ship(initializer) or initializer_call)
  std::string sock_name_;
  int epfd_ = -1, wakefd_ = -1, listenfd_ = -1;
  std::vector<Worker> w_;
  std::unique_ptr<std::atomic<int>[]> pids_;
  std::atomic<int> spare_pid_{0};  // published once the spare said it is ready
  std::uint64_t spare_due_ = 0;    // when to start a new spare (now_ns()); 0: none needed

  std::atomic<PTask*> incoming_{nullptr};
  std::atomic<PTask*> cancels_{nullptr};
  std::atomic<std::uint64_t> gate_{0};  // kShut | active submitters
  std::atomic<std::uint32_t> sleeping_{0};
  std::atomic<std::uint32_t> cancel_futures_{0};
  std::atomic<int> signal_req_{0};
  std::atomic<std::uint32_t> cancel_guard_{0};
  std::atomic<std::uint32_t> done_{0};
  std::atomic<std::uint32_t> broken_{0};
  std::string broken_msg_;  // written before broken_ is released
  std::atomic<std::uint64_t> next_id_{1};
  // stats(): submitted_ by submitters, the rest by the dispatcher only.
  std::atomic<std::uint64_t> submitted_{0}, completed_{0}, running_{0}, queued_{0};
  std::atomic<std::uint64_t> restarts_{0}, deaths_{0}, timeouts_{0}, cancel_kills_{0}, retired_{0};
  std::size_t starts_ = 0;  // start_worker() calls

  ReadyQueue<PTask> ready_;  // dispatcher only
  double avg_us_ = -1;        // EWMA of task run time; < 0: unknown yet
  int init_failures_ = 0;  // see kMaxInitFailures
  int init_kills_ = 0;     // see kMaxInitKills
  bool no_restart_ = false;
  std::size_t rr_ = 0;
  std::thread thread_;
  std::atomic<bool> joined_{false};
};

}  // namespace tandem::detail
