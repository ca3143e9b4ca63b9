// ProcessPoolExecutor's core (see <tandem/process_pool.hpp> for the contract).
//
// One dispatcher thread owns everything after construction: the queue of tasks not yet sent
// (ready_), the workers, their channels and pidfds, all in one epoll set. Submitters push onto
// a lock-free stack and write the eventfd only when the dispatcher sleeps. The dispatcher sends
// each worker a window of tasks in one frame, reads results in frames, completes the futures,
// watches pidfds for deaths and the workers' shared pages for timeouts, and starts
// replacements. When it has nothing to do it sleeps in epoll_pwait2 (0% CPU).
#include "process_pool_internal.hpp"

#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tandem/detail/wait.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/process_pool/wire.hpp"
#include "tandem/shipping/build_id.hpp"
#include "tandem/shipping/function_id.hpp"

namespace tandem::detail::pp {
namespace {

constexpr std::uint64_t kShut = 1ull << 63;
constexpr int kMaxInitFailures = 3;
enum KillReason { kNone = 0, kTimeout = 1, kCancel = 2, kCorrupt = 3, kSignal = 4 };
enum EvKind : std::uint64_t { evWake = 1, evListen = 2, evSock = 3, evPidfd = 4 };

std::uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t ev(EvKind k, int slot, std::uint32_t gen) noexcept {
  return (static_cast<std::uint64_t>(k) << 56) | (static_cast<std::uint64_t>(slot) << 32) | gen;
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

/// "killed by SIGKILL (possibly the out-of-memory killer)", "exited with code 3", ...
std::string death_text(int exitcode) {
  if (exitcode >= 0) return "exited with code " + std::to_string(exitcode);
  const int sig = -exitcode;
  std::string s = "was killed by " + signal_name(sig);
  const char* desc = strsignal(sig);
  if (desc) s += std::string(" (") + desc + ")";
  if (sig == SIGKILL) s += " — possibly the out-of-memory killer";
  return s;
}

void worker_entry(std::string sock, std::uint64_t init, std::uint64_t max_tasks) {
  worker_main(sock, init, max_tasks);
}

}  // namespace

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

 private:
  struct Worker {
    std::unique_ptr<mp::Process> proc;
    int pid = 0, pidfd = -1, sock = -1;
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
  void close_inherited() noexcept;
  void on_accept();
  void on_readable(std::size_t slot);
  void on_hello(std::size_t slot, std::span<const std::byte> body);
  void on_death(std::size_t slot);
  void flush_out(std::size_t slot);
  void dispatch();
  void drain_incoming();
  void drain_cancels();
  void kill_worker(std::size_t slot, int reason, std::uint64_t id);
  void corrupt(std::size_t slot, const std::string& why);
  void break_pool(const std::string& why);
  void finish(PTask* t) noexcept { t->core().release(); }
  std::size_t window() const noexcept;
  bool work_left() const noexcept;
  std::uint64_t check_timeouts();
  void epoll_set(int op, int fd, std::uint32_t events, std::uint64_t data);

  std::size_t n_;
  ProcessPoolOptions opts_;
  std::uint64_t init_offset_ = 0;
  std::string sock_name_;
  int epfd_ = -1, wakefd_ = -1, listenfd_ = -1;
  std::vector<Worker> w_;
  std::unique_ptr<std::atomic<int>[]> pids_;

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

  std::deque<PTask*> ready_;  // dispatcher only
  double avg_us_ = -1;        // EWMA of task run time; < 0: unknown yet
  int init_failures_ = 0;
  bool no_restart_ = false;
  std::size_t rr_ = 0;
  std::thread thread_;
  std::atomic<bool> joined_{false};
};

PoolCore::PoolCore(const ProcessPoolOptions& o) : opts_(o) {
  n_ = o.max_workers;
  if (n_ == 0) {
    cpu_set_t set;
    n_ = sched_getaffinity(0, sizeof set, &set) == 0 ? static_cast<std::size_t>(CPU_COUNT(&set))
                                                    : 1;
    if (n_ == 0) n_ = 1;
  }
  if (o.initializer) init_offset_ = shipping::function_offset(shipping::address_of(o.initializer));
  w_.resize(n_);
  pids_ = std::make_unique<std::atomic<int>[]>(n_);
  for (std::size_t i = 0; i < n_; ++i) pids_[i].store(0);

  std::random_device rd;
  const std::uint64_t secret = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  static std::atomic<unsigned> seq{0};
  char name[96];
  const int len = std::snprintf(name, sizeof name, "%ctandem-pool-%d-%u-%016llx", '\0',
                                static_cast<int>(getpid()), seq.fetch_add(1),
                                static_cast<unsigned long long>(secret));
  sock_name_.assign(name, static_cast<std::size_t>(len));

  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  listenfd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (epfd_ < 0 || wakefd_ < 0 || listenfd_ < 0)
    throw RuntimeError(std::string("ProcessPoolExecutor: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, sock_name_.data(), sock_name_.size());
  const auto alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + sock_name_.size());
  if (::bind(listenfd_, reinterpret_cast<sockaddr*>(&addr), alen) < 0 ||
      ::listen(listenfd_, 128) < 0)
    throw RuntimeError(std::string("ProcessPoolExecutor: listen: ") + std::strerror(errno));
  epoll_set(EPOLL_CTL_ADD, wakefd_, EPOLLIN, ev(evWake, 0, 0));
  epoll_set(EPOLL_CTL_ADD, listenfd_, EPOLLIN, ev(evListen, 0, 0));
  // The first workers start from this thread: a fork pool built before other threads exist
  // forks a single-threaded process.
  for (std::size_t i = 0; i < n_; ++i) start_worker(i);
  thread_ = std::thread([this] { run(); });
}

PoolCore::~PoolCore() {
  shutdown(true, false);
  if (!joined_.exchange(true)) thread_.join();
  for (int fd : {epfd_, wakefd_, listenfd_})
    if (fd >= 0) ::close(fd);
}

void PoolCore::epoll_set(int op, int fd, std::uint32_t events, std::uint64_t data) {
  epoll_event e{};
  e.events = events;
  e.data.u64 = data;
  ::epoll_ctl(epfd_, op, fd, &e);
}

void PoolCore::submit(PTask* t) {
  if (gate_.fetch_add(1, std::memory_order_acq_rel) & kShut) {
    gate_.fetch_sub(1, std::memory_order_release);
    throw RuntimeError("cannot schedule new futures after shutdown");
  }
  if (broken_.load(std::memory_order_acquire)) {
    gate_.fetch_sub(1, std::memory_order_release);
    throw BrokenProcessPool(broken_msg_);
  }
  t->pool = this;
  t->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  PTask* head = incoming_.load(std::memory_order_relaxed);
  do t->next = head;
  while (!incoming_.compare_exchange_weak(head, t, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
  gate_.fetch_sub(1, std::memory_order_release);
  if (sleeping_.load(std::memory_order_seq_cst) && sleeping_.exchange(0)) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
  }
}

void PoolCore::shutdown(bool wait, bool cancel_futures) {
  if (cancel_futures) cancel_futures_.store(1, std::memory_order_release);
  gate_.fetch_or(kShut, std::memory_order_seq_cst);
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
  if (!wait) return;
  while (!done_.load(std::memory_order_acquire)) futex_wait(done_, 0);
}

void PoolCore::signal_workers(int sig) {
  signal_req_.store(sig, std::memory_order_release);
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
}

bool PoolCore::cancel_running(PTask& t) {
  cancel_guard_.fetch_add(1, std::memory_order_acq_rel);
  const bool won = t.core().cancel_from_running();
  if (won) {
    t.core().add_ref();  // the dispatcher releases it after handling the request
    PTask* head = cancels_.load(std::memory_order_relaxed);
    do t.next = head;
    while (!cancels_.compare_exchange_weak(head, &t, std::memory_order_seq_cst,
                                           std::memory_order_relaxed));
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
  }
  if (cancel_guard_.fetch_sub(1, std::memory_order_acq_rel) == 1) futex_wake_all(cancel_guard_);
  return won || t.core().cancelled();
}

void PoolCore::close_inherited() noexcept {
  // In a fork()ed worker: the pool's descriptors are not ours to hold (another worker's
  // channel held open here would hide its end-of-file from that worker).
  for (int fd : {epfd_, wakefd_, listenfd_}) ::close(fd);
  for (Worker& w : w_) {
    if (w.sock >= 0) ::close(w.sock);
    if (w.pidfd >= 0) ::close(w.pidfd);
  }
}

void PoolCore::start_worker(std::size_t slot) {
  Worker& w = w_[slot];
  w = Worker{};
  w.gen = static_cast<std::uint32_t>(next_id_.fetch_add(1));  // unique per start
  mp::ProcessOptions po;
  po.start_method = opts_.start_method;
  po.name = "ProcessPoolWorker-" + std::to_string(slot + 1);
  const std::uint64_t max = opts_.max_tasks_per_child;
  if (opts_.start_method == mp::StartMethod::fork) {
    w.proc = std::make_unique<mp::Process>(
        [this, max] {
          close_inherited();
          worker_main(sock_name_, init_offset_, max);
        },
        po);
  } else {
    w.proc = std::make_unique<mp::Process>(&worker_entry,
                                           std::tuple{sock_name_, init_offset_, max}, po);
  }
  w.proc->start();
  w.pid = w.proc->pid();
  w.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, w.pid, 0));
  pids_[slot].store(w.pid, std::memory_order_release);
  if (w.pidfd >= 0) epoll_set(EPOLL_CTL_ADD, w.pidfd, EPOLLIN, ev(evPidfd, static_cast<int>(slot), w.gen));
}

void PoolCore::on_accept() {
  for (;;) {
    const int fd = ::accept4(listenfd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    ucred cred{};
    socklen_t cl = sizeof cred;
    std::size_t slot = n_;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
      for (std::size_t i = 0; i < n_; ++i)
        if (w_[i].alive() && w_[i].pid == cred.pid && w_[i].sock < 0) slot = i;
    if (slot == n_) {  // not one of our starting workers
      ::close(fd);
      continue;
    }
    Worker& w = w_[slot];
    w.sock = fd;
    w.sock_registered = true;
    epoll_set(EPOLL_CTL_ADD, fd, EPOLLIN, ev(evSock, static_cast<int>(slot), w.gen));
  }
}

void PoolCore::on_hello(std::size_t slot, std::span<const std::byte> body) {
  Worker& w = w_[slot];
  std::span<const std::byte> id;
  const Hello h = decode_hello(body, id);
  const auto& mine = shipping::build_id().bytes();
  if (static_cast<int>(h.pid) != w.pid || !std::equal(id.begin(), id.end(), mine.begin(), mine.end()))
    throw DecodeError("the worker runs another binary (build-id mismatch) or lied about its pid");
  const int mfd = ::memfd_create("tandem-pool-worker", MFD_CLOEXEC);
  if (mfd < 0 || ::ftruncate(mfd, sizeof(WorkerPage)) < 0)
    throw RuntimeError(std::string("memfd: ") + std::strerror(errno));
  void* p = ::mmap(nullptr, sizeof(WorkerPage), PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  if (p == MAP_FAILED) {
    ::close(mfd);
    throw RuntimeError(std::string("mmap: ") + std::strerror(errno));
  }
  w.page = static_cast<WorkerPage*>(p);
  char byte = 'p';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &mfd, sizeof mfd);
  ::sendmsg(w.sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);  // a fresh socket: room for one byte
  ::close(mfd);
  w.hello = true;
}

void PoolCore::corrupt(std::size_t slot, const std::string& why) {
  Worker& w = w_[slot];
  w.corrupt_msg = "tandem::ProcessPoolExecutor: corrupt data from worker pid " +
                  std::to_string(w.pid) + " (" + why + "); the worker was killed";
  kill_worker(slot, kCorrupt, 0);
  if (w.sock_registered) {
    epoll_set(EPOLL_CTL_DEL, w.sock, 0, 0);
    w.sock_registered = false;
  }
}

void PoolCore::on_readable(std::size_t slot) {
  Worker& w = w_[slot];
  for (;;) {
    if (w.in.size() - w.in_have < 64 * 1024) w.in.resize(std::max<std::size_t>(w.in.size() * 2, 256 * 1024));
    const ssize_t n = ::read(w.sock, w.in.data() + w.in_have, w.in.size() - w.in_have);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
    }
    if (n <= 0) {  // end of file or error: the worker is going; its pidfd tells when
      if (w.sock_registered) {
        epoll_set(EPOLL_CTL_DEL, w.sock, 0, 0);
        w.sock_registered = false;
      }
      break;
    }
    w.in_have += static_cast<std::size_t>(n);
  }
  std::size_t pos = 0;
  try {
    for (;;) {
      FrameType type;
      std::span<const std::byte> body;
      const std::size_t used =
          next_frame(std::span<const std::byte>(w.in).subspan(pos, w.in_have - pos), type, body);
      if (used == 0) break;
      pos += used;
      if (!w.hello) {
        if (type != FrameType::hello) throw DecodeError("expected a hello frame");
        on_hello(slot, body);
        continue;
      }
      if (type != FrameType::results) throw DecodeError("expected a results frame");
      for_each_result(body, [&](const ResultRecord& r, std::span<const std::byte> outcome) {
        if (w.inflight.empty() || w.inflight.front()->id != r.id)
          throw DecodeError("a result for a task the worker was not running");
        PTask* t = w.inflight.front();
        w.inflight.pop_front();
        if (t->timeout_s > 0) --w.timed;
        w.seen_ready = true;
        init_failures_ = 0;
        const double us = r.run_us;
        avg_us_ = avg_us_ < 0 ? us : avg_us_ * 0.9 + us * 0.1;
        t->deliver(outcome);
        finish(t);
      });
    }
  } catch (const std::exception& e) {
    corrupt(slot, e.what());
    w.in_have = 0;
    return;
  }
  std::memmove(w.in.data(), w.in.data() + pos, w.in_have - pos);
  w.in_have -= pos;
}

void PoolCore::flush_out(std::size_t slot) {
  Worker& w = w_[slot];
  while (w.out_off < w.out.size()) {
    const ssize_t n = ::send(w.sock, w.out.data() + w.out_off, w.out.size() - w.out_off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (!w.want_out && w.sock_registered) {
          epoll_set(EPOLL_CTL_MOD, w.sock, EPOLLIN | EPOLLOUT, ev(evSock, static_cast<int>(slot), w.gen));
          w.want_out = true;
        }
        return;
      }
      w.out.clear();  // the worker is dying; its pidfd will tell
      w.out_off = 0;
      return;
    }
    w.out_off += static_cast<std::size_t>(n);
  }
  w.out.clear();
  w.out_off = 0;
  if (w.want_out && w.sock_registered) {
    epoll_set(EPOLL_CTL_MOD, w.sock, EPOLLIN, ev(evSock, static_cast<int>(slot), w.gen));
    w.want_out = false;
  }
}

std::size_t PoolCore::window() const noexcept {
  if (avg_us_ < 0) return 1;  // unknown task length: do not queue behind a possibly long one
  const double budget_us = 200;
  const double n = avg_us_ < 0.4 ? 512 : budget_us / avg_us_;
  return static_cast<std::size_t>(std::clamp(n, 1.0, 512.0));
}

void PoolCore::dispatch() {
  if (ready_.empty()) return;
  std::size_t live = 0;
  for (const Worker& w : w_)
    if (w.alive() && w.hello && w.kill_reason == kNone) ++live;
  if (live == 0) return;
  const std::size_t win = window();
  for (std::size_t k = 0; k < n_ && !ready_.empty(); ++k) {
    const std::size_t slot = (rr_ + k) % n_;
    Worker& w = w_[slot];
    if (!w.alive() || !w.hello || w.kill_reason != kNone || !w.sock_registered) continue;
    std::size_t limit = win;
    if (opts_.max_tasks_per_child != 0)
      limit = std::min<std::size_t>(limit, opts_.max_tasks_per_child - w.sent_total);
    if (w.inflight.size() >= limit) continue;
    std::size_t n = std::min(limit - w.inflight.size(), (ready_.size() + live - 1) / live);
    std::size_t at = 0;
    bool begun = false;
    while (n > 0 && !ready_.empty()) {
      PTask* t = ready_.front();
      ready_.pop_front();
      FutureCore& c = t->core();
      const auto phase = c.load() & FutureCore::kPhaseMask;
      if (phase == FutureCore::kPending) {
        bool go = false;
        try {
          go = c.set_running_or_notify_cancel();
        } catch (...) {
        }
        if (!go) {
          finish(t);
          continue;
        }
      } else if (phase != FutureCore::kRunning) {  // cancelled (or completed) meanwhile
        finish(t);
        continue;
      }
      if (!begun) {
        at = begin_frame(w.out, FrameType::tasks);
        begun = true;
      }
      const shipping::Task& tw = t->wire;
      append_pod(w.out, TaskRecord{t->id, tw.trampoline, tw.function, tw.check,
                                   static_cast<std::uint32_t>(tw.args.size()), 0});
      append_bytes(w.out, tw.args);
      t->worker = static_cast<int>(slot);
      if (t->timeout_s > 0) ++w.timed;
      w.inflight.push_back(t);
      ++w.sent_total;
      --n;
    }
    if (begun) {
      finish_frame(w.out, at);
      flush_out(slot);
    }
  }
  rr_ = (rr_ + 1) % n_;
}

void PoolCore::drain_incoming() {
  PTask* list = incoming_.exchange(nullptr, std::memory_order_acquire);
  PTask* rev = nullptr;
  while (list) {
    PTask* next = list->next;
    list->next = rev;
    rev = list;
    list = next;
  }
  const bool broken = broken_.load(std::memory_order_relaxed);
  for (; rev; rev = rev->next) {
    if (broken) {
      rev->fail(std::make_exception_ptr(BrokenProcessPool(broken_msg_)));
      finish(rev);
    } else {
      ready_.push_back(rev);
    }
  }
}

void PoolCore::kill_worker(std::size_t slot, int reason, std::uint64_t id) {
  Worker& w = w_[slot];
  if (!w.alive()) return;
  if (w.kill_reason == kNone || reason == kCorrupt) {
    w.kill_reason = reason;
    w.kill_id = id;
  }
  ::kill(-w.pid, SIGKILL);
  ::kill(w.pid, SIGKILL);
}

void PoolCore::drain_cancels() {
  PTask* list = cancels_.exchange(nullptr, std::memory_order_acquire);
  while (list) {
    PTask* t = list;
    list = list->next;
    if (t->worker >= 0) {
      Worker& w = w_[static_cast<std::size_t>(t->worker)];
      const bool ours = std::find(w.inflight.begin(), w.inflight.end(), t) != w.inflight.end();
      if (ours && w.page) {
        std::atomic_ref<std::uint64_t>(w.page->cancel[w.cancel_next++ % WorkerPage::kCancelSlots])
            .store(t->id, std::memory_order_seq_cst);
        const auto run = std::atomic_ref<std::uint64_t>(w.page->running).load(std::memory_order_seq_cst);
        const auto fin = std::atomic_ref<std::uint64_t>(w.page->finished).load(std::memory_order_acquire);
        if (run == t->id && fin != t->id) kill_worker(static_cast<std::size_t>(t->worker), kCancel, t->id);
      } else if (ours) {
        kill_worker(static_cast<std::size_t>(t->worker), kCancel, t->id);
      }
    }
    t->core().release();
  }
}

std::uint64_t PoolCore::check_timeouts() {
  std::uint64_t next = UINT64_MAX;
  const std::uint64_t now = now_ns();
  for (std::size_t i = 0; i < n_; ++i) {
    Worker& w = w_[i];
    if (!w.alive() || w.timed == 0 || w.inflight.empty() || w.kill_reason != kNone) continue;
    PTask* t = w.inflight.front();
    if (t->timeout_s <= 0) continue;
    const auto tns = static_cast<std::uint64_t>(t->timeout_s * 1e9);
    std::uint64_t run = 0, fin = 0, start = 0;
    if (w.page) {
      run = std::atomic_ref<std::uint64_t>(w.page->running).load(std::memory_order_seq_cst);
      fin = std::atomic_ref<std::uint64_t>(w.page->finished).load(std::memory_order_acquire);
      start = std::atomic_ref<std::uint64_t>(w.page->started_ns).load(std::memory_order_relaxed);
    }
    if (run == t->id && fin != t->id) {
      if (now >= start + tns) {
        kill_worker(i, kTimeout, t->id);
      } else {
        next = std::min(next, start + tns);
      }
    } else {
      next = std::min(next, now + std::min<std::uint64_t>(tns, 2000000));  // not started yet
    }
  }
  return next;
}

void PoolCore::break_pool(const std::string& why) {
  broken_msg_ = why;
  broken_.store(1, std::memory_order_release);
  for (PTask* t : ready_) {
    t->fail(std::make_exception_ptr(BrokenProcessPool(why)));
    finish(t);
  }
  ready_.clear();
}

void PoolCore::on_death(std::size_t slot) {
  Worker& w = w_[slot];
  if (w.sock >= 0 && w.hello) on_readable(slot);  // results sent before it died
  ::kill(-w.pid, SIGKILL);                           // its process group: grandchildren too
  if (w.sock >= 0) {
    if (w.sock_registered) epoll_set(EPOLL_CTL_DEL, w.sock, 0, 0);
    ::close(w.sock);
  }
  if (w.pidfd >= 0) {
    epoll_set(EPOLL_CTL_DEL, w.pidfd, 0, 0);
    ::close(w.pidfd);
  }
  w.proc->join();
  const int code = w.proc->exitcode().value_or(255);
  const int pid = w.pid;
  pids_[slot].store(0, std::memory_order_release);
  std::uint64_t run = 0, fin = 0;
  bool ready = w.seen_ready;
  if (w.page) {
    run = std::atomic_ref<std::uint64_t>(w.page->running).load(std::memory_order_acquire);
    fin = std::atomic_ref<std::uint64_t>(w.page->finished).load(std::memory_order_acquire);
    ready = ready || std::atomic_ref<std::uint32_t>(w.page->ready).load(std::memory_order_acquire);
    ::munmap(w.page, sizeof(WorkerPage));
  }
  const bool planned = code == 0 && w.kill_reason == kNone && ready;
  const std::string how = death_text(code);
  const int exit_code = code >= 0 ? code : -1, sig = code < 0 ? -code : 0;
  std::deque<PTask*> left = std::move(w.inflight);
  std::deque<PTask*> requeue;
  if (w.kill_reason == kCorrupt) {
    for (PTask* t : left) {
      t->fail(std::make_exception_ptr(BrokenProcessPool(w.corrupt_msg)));
      finish(t);
    }
    left.clear();
  } else if (!ready) {
    requeue = std::move(left);
  } else {
    auto it = std::find_if(left.begin(), left.end(), [&](PTask* t) { return t->id == run; });
    if (it == left.end()) {
      requeue = std::move(left);
    } else {
      for (auto j = left.begin(); j != it; ++j) {
        (*j)->fail(std::make_exception_ptr(WorkerDied(
            "the worker process (pid " + std::to_string(pid) + ") " + how +
                " after running this task, before sending its result",
            pid, exit_code, sig)));
        finish(*j);
      }
      PTask* t = *it;
      if (w.kill_reason == kTimeout && w.kill_id == t->id) {
        t->fail(std::make_exception_ptr(TimeoutError(
            "the task ran past its timeout; its worker process (pid " + std::to_string(pid) +
            ") was killed")));
      } else if (fin == t->id) {
        t->fail(std::make_exception_ptr(WorkerDied(
            "the worker process (pid " + std::to_string(pid) + ") " + how +
                " after running this task, before sending its result",
            pid, exit_code, sig)));
      } else {
        t->fail(std::make_exception_ptr(WorkerDied(
            "the worker process (pid " + std::to_string(pid) + ") running this task " + how,
            pid, exit_code, sig)));
      }
      finish(t);
      requeue.assign(it + 1, left.end());
    }
  }
  for (auto r = requeue.rbegin(); r != requeue.rend(); ++r) {
    (*r)->worker = -1;
    ready_.push_front(*r);
  }
  const int reason = w.kill_reason;
  w.proc.reset();
  w = Worker{};
  // A worker that dies before its initializer returned counts towards breaking the pool,
  // unless SIGKILL did it: that is somebody else's doing (a chaos test, an operator, the OOM
  // killer), not a failing initializer, and must not break the pool.
  if (!planned && !ready && reason == kNone && sig != SIGKILL) {
    if (++init_failures_ >= kMaxInitFailures && !broken_.load(std::memory_order_relaxed))
      break_pool("A process in the process pool died " + std::to_string(init_failures_) +
                 " times in a row before its initializer returned (last: pid " +
                 std::to_string(pid) + " " + how + "); the process pool is not usable anymore");
  }
  if (!broken_.load(std::memory_order_relaxed) && !no_restart_ &&
      (work_left() || !(gate_.load() & kShut)))
    start_worker(slot);
}

bool PoolCore::work_left() const noexcept {
  if (!ready_.empty() || incoming_.load(std::memory_order_acquire)) return true;
  for (const Worker& w : w_)
    if (!w.inflight.empty()) return true;
  return false;
}

void PoolCore::run() noexcept {
  try {
    loop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tandem::ProcessPoolExecutor: dispatcher failed: %s\n", e.what());
    std::abort();
  }
  // Teardown: close the channels (idle workers read end-of-file and exit), then reap. The
  // listening socket goes first: a worker still starting then fails to connect, or reads
  // end-of-file waiting for its page, and exits.
  ::close(listenfd_);
  listenfd_ = -1;
  for (std::size_t i = 0; i < n_; ++i) {
    Worker& w = w_[i];
    if (!w.alive()) continue;
    if (w.sock >= 0) ::shutdown(w.sock, SHUT_RDWR);
  }
  for (std::size_t i = 0; i < n_; ++i) {
    Worker& w = w_[i];
    if (!w.alive()) continue;
    if (!w.proc->join(duration(2.0))) {
      ::kill(-w.pid, SIGKILL);
      w.proc->kill();
      w.proc->join();
    }
    ::kill(-w.pid, SIGKILL);
    for (PTask* t : w.inflight) {
      t->fail(std::make_exception_ptr(BrokenProcessPool("the process pool shut down")));
      finish(t);
    }
    if (w.sock >= 0) ::close(w.sock);
    if (w.pidfd >= 0) ::close(w.pidfd);
    if (w.page) ::munmap(w.page, sizeof(WorkerPage));
    pids_[i].store(0);
    w = Worker{};
  }
  while (std::uint32_t g = cancel_guard_.load(std::memory_order_acquire))
    futex_wait(cancel_guard_, g, Deadline::after(duration(0.001)));
  drain_cancels();
  drain_incoming();
  for (PTask* t : ready_) {
    t->fail(std::make_exception_ptr(BrokenProcessPool("the process pool shut down")));
    finish(t);
  }
  ready_.clear();
  done_.store(1, std::memory_order_release);
  futex_wake_all(done_);
}

void PoolCore::loop() {
  epoll_event evs[64];
  for (;;) {
    drain_incoming();
    drain_cancels();
    if (broken_.load(std::memory_order_relaxed) && !ready_.empty()) break_pool(broken_msg_);
    if (cancel_futures_.load(std::memory_order_acquire) && (gate_.load() & kShut)) {
      for (PTask* t : ready_) {
        FutureCore& c = t->core();
        if ((c.load() & FutureCore::kPhaseMask) == FutureCore::kPending)
          c.cancel();
        else
          c.cancel_from_running();
        finish(t);
      }
      ready_.clear();
    }
    if (const int sig = signal_req_.exchange(0); sig > 0) {
      for (std::size_t i = 0; i < n_; ++i)
        if (w_[i].alive()) {
          if (w_[i].kill_reason == kNone) w_[i].kill_reason = kSignal;
          ::kill(-w_[i].pid, sig);
          ::kill(w_[i].pid, sig);
        }
      no_restart_ = true;  // the workers were told to go: no replacements from now on
    }
    dispatch();
    if ((gate_.load(std::memory_order_acquire) == kShut) && !work_left()) return;
    const std::uint64_t wake_at = check_timeouts();
    sleeping_.store(1, std::memory_order_seq_cst);
    if (incoming_.load(std::memory_order_seq_cst) || cancels_.load(std::memory_order_seq_cst)) {
      sleeping_.store(0, std::memory_order_relaxed);
      continue;
    }
    int n;
    if (wake_at == UINT64_MAX) {
      n = ::epoll_wait(epfd_, evs, 64, -1);
    } else {
      const std::uint64_t now = now_ns();
      const std::uint64_t d = wake_at > now ? wake_at - now : 0;
      timespec ts{static_cast<time_t>(d / 1000000000ull), static_cast<long>(d % 1000000000ull)};
      n = ::epoll_pwait2(epfd_, evs, 64, &ts, nullptr);
    }
    sleeping_.store(0, std::memory_order_relaxed);
    if (n < 0) continue;  // EINTR
    for (int i = 0; i < n; ++i) {
      const std::uint64_t d = evs[i].data.u64;
      const auto kind = static_cast<EvKind>(d >> 56);
      const auto slot = static_cast<std::size_t>((d >> 32) & 0xffffff);
      const auto gen = static_cast<std::uint32_t>(d);
      if (kind == evWake) {
        std::uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(wakefd_, &v, sizeof v);
        continue;
      }
      if (kind == evListen) {
        on_accept();
        continue;
      }
      if (slot >= n_ || !w_[slot].alive() || w_[slot].gen != gen) continue;  // stale
      if (kind == evSock) {
        if (evs[i].events & EPOLLOUT) flush_out(slot);
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(slot);
      } else if (kind == evPidfd) {
        on_death(slot);
      }
    }
  }
}

bool cancel_running_task(PTask& t) { return t.pool->cancel_running(t); }

void PoolDeleter::operator()(PoolCore* p) const noexcept { delete p; }

std::unique_ptr<PoolCore, PoolDeleter> make_pool(const ProcessPoolOptions& opts) {
  return std::unique_ptr<PoolCore, PoolDeleter>(new PoolCore(opts));
}
void pool_submit(PoolCore& p, PTask* t) { p.submit(t); }
void pool_shutdown(PoolCore& p, bool wait, bool cancel_futures) { p.shutdown(wait, cancel_futures); }
void pool_signal_workers(PoolCore& p, int sig) { p.signal_workers(sig); }
std::size_t pool_max_workers(const PoolCore& p) noexcept { return p.max_workers(); }
std::vector<int> pool_worker_pids(PoolCore& p) { return p.pids(); }

}  // namespace tandem::detail::pp
