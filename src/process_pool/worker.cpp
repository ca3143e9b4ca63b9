// SPDX-License-Identifier: MIT
// The worker process of a ProcessPoolExecutor (see <tandem/process_pool.hpp>): connects to the
// pool's socket, says hello (pid, build-id), receives its shared page, runs the initializer,
// then runs the tasks of each frame in order, sending results in batches.
#include "process_pool/worker.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "detail/sanitizers.hpp"
#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/log.hpp"
#include "tandem/shipping/detail/shipped_map.hpp"
#include "process_pool/wire.hpp"
#include "tandem/shipping/build_id.hpp"
#include "tandem/shipping/function_id.hpp"
#include "shipping/known_functions.hpp"
#include "tandem/shipping/ship.hpp"

namespace tandem::detail {
namespace {

std::uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

[[noreturn]] void die(const char* what) noexcept {
  const int err = errno;
  tandem::log(LogLevel::critical, "process_pool",
      "tandem process pool worker " + std::to_string(getpid()) + ": " + what + ": " +
          std::strerror(err));
  _exit(70);
}

void send_all(int fd, const std::byte* p, std::size_t n) noexcept {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      _exit(0);  // the pool is gone: nobody wants the results
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

/// send_all of a frame header followed by a body that lies elsewhere (one sendmsg, two parts).
void send_frame(int fd, const FrameHeader& h, const std::byte* body, std::size_t n) noexcept {
  std::byte head[sizeof(FrameHeader)];
  std::memcpy(head, &h, sizeof h);
  std::size_t skip = 0;  // bytes of head + body sent so far
  const std::size_t total = sizeof head + n;
  while (skip < total) {
    msghdr msg{};
    iovec part[2];
    int k = 0;
    if (skip < sizeof head) part[k++] = {head + skip, sizeof head - skip};
    const std::size_t bskip = skip > sizeof head ? skip - sizeof head : 0;
    if (n > bskip) part[k++] = {const_cast<std::byte*>(body) + bskip, n - bskip};
    msg.msg_iov = part;
    msg.msg_iovlen = static_cast<std::size_t>(k);
    const ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      _exit(0);  // the pool is gone: nobody wants the results
    }
    skip += static_cast<std::size_t>(w);
  }
}

/// Receives the shared page's memfd (SCM_RIGHTS) sent by the pool after the hello, and maps
/// the page. The memfd stays open: the result log lives in it too (ResultLog grows it).
WorkerPage* receive_page(int fd, int& mfd) noexcept {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  ssize_t r;
  do r = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r <= 0) _exit(0);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) _exit(71);
  std::memcpy(&mfd, CMSG_DATA(c), sizeof mfd);
  void* p = ::mmap(nullptr, sizeof(WorkerPage), PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  if (p == MAP_FAILED) die("mmap");
  return static_cast<WorkerPage*>(p);
}

/// The results of the tasks finished since the last send, kept in the pool's memfd after the
/// page (wire.hpp, WorkerPage): durable the moment a task returns, so the crash of a later
/// task of the batch loses none of them. The log is also the send buffer: one results frame.
/// Two threads send from it: the worker's own (send(): the unsent records, then the log is
/// empty again) and the Watchdog below (send_pending(): the unsent records, which stay in the
/// log — already delivered, so the pool skips them if it ever reads the log after our death).
/// `mu_` orders them, and guards `base_` against a grow() (mremap) meanwhile.
class ResultLog {
 public:
  ResultLog(int mfd, WorkerPage* page) : mfd_(mfd), page_(page) {
    struct stat st{};
    if (::fstat(mfd, &st) < 0 || st.st_size < static_cast<off_t>(kLogOffset + kInitialLog))
      die("result log");
    region_ = static_cast<std::size_t>(st.st_size) - kLogOffset;
    void* p = ::mmap(nullptr, region_, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
                     static_cast<off_t>(kLogOffset));
    if (p == MAP_FAILED) die("mmap of the result log");
    base_ = static_cast<std::byte*>(p);
  }
  // Read by the worker's thread only, which is the only one that changes len_ (sent_ may be
  // behind a concurrent send_pending: then a send() finds fewer bytes to send, never wrong ones).
  bool empty() const noexcept { return len_ == 0; }
  std::size_t size() const noexcept { return len_; }

  /// Appends one result record (rec[kHead..]: header and outcome) and publishes it. False when
  /// it cannot be kept (the memfd cannot grow: a task closed it, or no memory): the caller
  /// sends it at once instead, which makes it as durable.
  bool commit(const std::vector<std::byte>& rec) noexcept {
    const std::size_t n = rec.size() - kHead;
    mu_.lock();
    if (sizeof(FrameHeader) + len_ + n > region_ && !grow(sizeof(FrameHeader) + len_ + n)) {
      mu_.unlock();
      return false;
    }
    std::memcpy(base_ + sizeof(FrameHeader) + len_, rec.data() + kHead, n);
    len_ += n;
    std::atomic_ref<std::uint64_t>(page_->committed).store(len_, std::memory_order_release);
    mu_.unlock();
    return true;
  }
  /// Sends the unsent records as one results frame (an empty one when there are none: the
  /// "ready" frame), then forgets every record.
  void send(int fd) noexcept {
    mu_.lock();
    send_unsent(fd);
    std::atomic_ref<std::uint64_t>(page_->committed).store(0, std::memory_order_release);
    len_ = 0;
    sent_ = 0;
    mu_.unlock();
  }
  /// commit()'s fallback: sends the unsent records, then `rec` (a record behind kHead bytes
  /// of room) as a frame of its own — as durable as a committed one, since it is out.
  void send_with(int fd, std::vector<std::byte>& rec) noexcept {
    mu_.lock();
    if (len_ > sent_) send_unsent(fd);
    std::atomic_ref<std::uint64_t>(page_->committed).store(0, std::memory_order_release);
    len_ = 0;
    sent_ = 0;
    const FrameHeader h{static_cast<std::uint32_t>(rec.size() - kHead),
                        static_cast<std::uint32_t>(FrameType::results)};
    std::memcpy(rec.data(), &h, sizeof h);
    send_all(fd, rec.data(), rec.size());
    mu_.unlock();
  }
  /// The Watchdog's send: the unsent records, if any, as one results frame; they stay
  /// committed (durable) until the worker's next send().
  void send_pending(int fd) noexcept {
    mu_.lock();
    if (len_ > sent_) send_unsent(fd);
    mu_.unlock();
  }
  /// From here until end_partial(), the items that task `id` (a map chunk) finishes are kept
  /// after the committed records (put(), through shipping/detail/shipped_map.hpp's ChunkProgress).
  void begin_partial(std::uint64_t id) noexcept {
    pbytes_ = 0;
    std::atomic_ref<std::uint64_t>(page_->partial_count).store(0, std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t>(page_->partial_bytes).store(0, std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t>(page_->partial_id).store(id, std::memory_order_release);
  }
  void end_partial() noexcept {
    std::atomic_ref<std::uint64_t>(page_->partial_id).store(0, std::memory_order_release);
  }
  /// ChunkProgress::put: one finished item's value. Bytes first, then the counts (the pool
  /// reads them after our death: whole values only). Dropped when the log cannot grow.
  static void put(void* ctx, std::span<const std::byte> value) noexcept {
    auto& self = *static_cast<ResultLog*>(ctx);
    const std::size_t at = sizeof(FrameHeader) + self.len_ + self.pbytes_;
    if (at + value.size() > self.region_) {
      self.mu_.lock();  // grow() moves base_, which the Watchdog may be sending from
      const bool ok = self.grow(at + value.size());
      self.mu_.unlock();
      if (!ok) return;
    }
    std::memcpy(self.base_ + at, value.data(), value.size());
    self.pbytes_ += value.size();
    std::atomic_ref<std::uint64_t>(self.page_->partial_bytes).store(self.pbytes_, std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t> count(self.page_->partial_count);
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  /// Bytes reserved at the start of a record buffer for a frame header (commit's fallback
  /// sends the record as a frame of its own).
  static constexpr std::size_t kHead = sizeof(FrameHeader);

 private:
  // Under mu_.
  void send_unsent(int fd) noexcept {
    const FrameHeader h{static_cast<std::uint32_t>(len_ - sent_),
                        static_cast<std::uint32_t>(FrameType::results)};
    send_frame(fd, h, base_ + sizeof(FrameHeader) + sent_, len_ - sent_);
    sent_ = len_;
  }
  // Under mu_.
  bool grow(std::size_t need) noexcept {
    std::size_t want = std::max(region_ * 2, need);
    want = (want + kInitialLog - 1) / kInitialLog * kInitialLog;
    if (want > kMaxFrameBody) return false;
    if (::ftruncate(mfd_, static_cast<off_t>(kLogOffset + want)) < 0) return false;
    void* p = ::mremap(base_, region_, want, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return false;
    base_ = static_cast<std::byte*>(p);
    region_ = want;
    return true;
  }

  int mfd_;
  WorkerPage* page_;
  std::byte* base_ = nullptr;
  std::size_t region_ = 0;  // mapped bytes (frame header + records)
  std::size_t len_ = 0;     // committed record bytes
  std::size_t sent_ = 0;    // of which the Watchdog has sent (a prefix)
  std::size_t pbytes_ = 0;  // bytes of the running chunk's finished items, after len_
  FutexMutex mu_;
};

/// Sends what the log holds while a task runs long. The worker sends its results at the end
/// of each frame, or at once after a slow task, or before a function it has seen run slowly
/// (KnownFunctions) — but the first slow run of a function that was quick until then would
/// keep the quick results finished before it in the same frame waiting until it returns
/// (MapTimeout in tests/mpi/mpi_pool_mpitest.cpp: map(sleep, [0, 0, 6]) with timeout=5 got
/// only one 0). While the worker is busy (`busy_` = 1) this thread looks every kTick, and
/// sends what is pending; while the worker waits for frames it sleeps on `busy_` (no CPU).
/// The worker wakes it only on the first task of a frame that finds results pending: a frame
/// of one task costs nothing.
class Watchdog {
 public:
  static constexpr std::chrono::milliseconds kTick{1};

  Watchdog(ResultLog& log, int fd) : log_(log), fd_(fd), t_([this] { loop(); }) {}
  ~Watchdog() {
    stop_.store(true, std::memory_order_relaxed);
    busy_.store(2, std::memory_order_release);
    futex_wake_all(busy_);
    t_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// A task is about to run with results pending.
  void arm() noexcept {
    if (busy_.load(std::memory_order_relaxed) == 0) {
      busy_.store(1, std::memory_order_release);
      futex_wake_all(busy_);
    }
  }
  /// The worker is about to wait for frames (its results are sent).
  void idle() noexcept {
    if (busy_.load(std::memory_order_relaxed) != 0) busy_.store(0, std::memory_order_relaxed);
  }

 private:
  void loop() noexcept {
    while (!stop_.load(std::memory_order_relaxed)) {
      const std::uint32_t b = busy_.load(std::memory_order_acquire);
      if (b == 0) {
        futex_wait(busy_, 0);
        continue;
      }
      futex_wait(busy_, b, Deadline::after(kTick));
      if (!stop_.load(std::memory_order_relaxed) &&
          busy_.load(std::memory_order_acquire) == 1)
        log_.send_pending(fd_);
    }
  }

  ResultLog& log_;
  const int fd_;
  std::atomic<std::uint32_t> busy_{0};  // 0 idle, 1 busy, 2 stopping
  std::atomic<bool> stop_{false};
  std::thread t_;
};

/// Makes this worker die with the pool's owner, however the owner dies (SIGKILL included) and
/// whatever its task does to its process group or session: PR_SET_PDEATHSIG fires on the
/// death of the thread that started us — under fork and spawn the owner's, and the pool starts
/// workers only from a thread that lives as long as it (pool_core.cpp, start_worker). Under
/// forkserver our parent is a fork server, perhaps another process's (one inherited through a
/// fork): a thread then watches the owner's pidfd (the server is single-threaded, so a thread
/// here is safe). On the owner's death the watcher kills our process group (what our tasks
/// started) and us.
void die_with_owner(int owner) noexcept {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (static_cast<int>(::getppid()) == owner) return;  // the owner is our parent
  const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, owner, 0));
  if (pfd < 0) _exit(0);  // the owner is gone already
  const int group = static_cast<int>(::getpgrp());
  try {
    std::thread([pfd, owner, group] {
      pollfd p{pfd, POLLIN, 0};
      for (;;) {
        const int r = ::poll(&p, 1, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0 && (p.revents & POLLNVAL)) {  // a task closed our pidfd: check by pid
          while (!(::kill(owner, 0) < 0 && errno == ESRCH)) {
            timespec ts{0, 100'000'000};
            ::nanosleep(&ts, nullptr);
          }
        }
        break;
      }
      ::kill(-group, SIGKILL);
      ::kill(::getpid(), SIGKILL);
    }).detach();
  } catch (...) {
    die("parent-death watch");
  }
}

bool is_cancelled(WorkerPage* page, std::uint64_t id) noexcept {
  for (auto& slot : page->cancel)
    if (std::atomic_ref<std::uint64_t>(slot).load(std::memory_order_seq_cst) == id) return true;
  return false;
}

}  // namespace

void worker_main(const std::string& sock_name, const shipping::Task& init,
                 std::uint64_t max_tasks, int owner) {
  ::setpgid(0, 0);  // our own group: the pool kills it with us (grandchildren included)
  ::signal(SIGPIPE, SIG_IGN);
  die_with_owner(owner);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, sock_name.data(), sock_name.size());  // abstract: leading '\0'
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + sock_name.size());
  int rc;
  do rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) _exit(0);  // the pool has gone away already

  {  // hello: pid + build-id
    std::vector<std::byte> out;
    const auto at = begin_frame(out, FrameType::hello);
    const auto& id = shipping::build_id().bytes();
    append_pod(out, Hello{static_cast<std::uint32_t>(getpid()),
                          static_cast<std::uint32_t>(id.size())});
    append_bytes(out, id);
    finish_frame(out, at);
    send_all(fd, out.data(), out.size());
  }
  int mfd = -1;
  WorkerPage* page = receive_page(fd, mfd);

  if (init.trampoline != 0) {
    std::atomic_ref<std::uint32_t>(page->initializing).store(1, std::memory_order_release);
    try {
      std::vector<std::byte> outcome;
      shipping::run(init, outcome);  // DecodeError: not a call task of this binary
      // Its result (if any) is dropped, as Python's; an exception it threw is rethrown here.
      if (!outcome.empty() && outcome[0] != std::byte{0}) shipping::take_result<void>(outcome);
    } catch (const std::exception& e) {
      tandem::log(LogLevel::error, "process_pool",
          "Exception in initializer:\n" + shipping::current_exception_type_name() + ": " +
              e.what());
      _exit(1);
    } catch (...) {
      tandem::log(LogLevel::error, "process_pool",
          "Exception in initializer:\n" + shipping::current_exception_type_name());
      _exit(1);
    }
  }
  std::atomic_ref<std::uint32_t>(page->ready).store(1, std::memory_order_release);
  ResultLog log(mfd, page);
  tandem::detail::ChunkProgress progress{&log, &ResultLog::put};
  tandem::detail::g_chunk_progress = &progress;
  // An empty results frame: "ready". The pool learns that the initializer returned (a spare
  // is promotable from then on) without polling the page.
  log.send(fd);
  // After the log: destroyed (joined) before it. Not under ThreadSanitizer, which kills a
  // process that starts a thread after a multi-threaded fork (the fork start method's
  // workers): there a quick result may wait behind the first slow run of a quick function.
  std::optional<Watchdog> watchdog;
#if !defined(TANDEM_TSAN)
  watchdog.emplace(log, fd);
#endif

  std::vector<std::byte> in(256 * 1024);
  std::vector<std::byte> rec;  // one task's result record, behind room for a frame header
  std::size_t have = 0;
  std::uint64_t done = 0;
  // The last resolved (trampoline, function, check): map chunks and repeated submits of one
  // function skip the integrity digest.
  std::uint64_t last_t = 0, last_f = 0, last_c = 0;
  shipping::ResolvedTask last_r{0, 0};
  shipping::KnownFunctions known;  // results go out before a task that may be long
  std::uint64_t last_flush = now_ns();
  const auto flush = [&](std::uint64_t now) {
    log.send(fd);
    last_flush = now;
  };
  for (;;) {
    if (have == in.size()) in.resize(in.size() * 2);
    if (watchdog) watchdog->idle();  // everything finished is sent: nothing for it to do while we wait
    ssize_t n = ::read(fd, in.data() + have, in.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(0);
    }
    if (n == 0) return;  // the pool closed our channel: shutdown
    have += static_cast<std::size_t>(n);
    std::size_t pos = 0;
    bool quota_hit = false;
    last_flush = now_ns();
    for (;;) {
      FrameType type;
      std::span<const std::byte> body;
      std::size_t used;
      try {
        used = next_frame(std::span<const std::byte>(in).subspan(pos, have - pos), type, body);
      } catch (const DecodeError& e) {
        tandem::log(LogLevel::critical, "process_pool", std::string("tandem process pool worker: ") + e.what());
        _exit(72);
      }
      if (used == 0) break;
      if (type != FrameType::tasks) _exit(72);
      for_each_task(body, [&](const TaskRecord& r, std::span<const std::byte> args) {
        if (quota_hit) return;  // the pool never sends past the quota; defensive
        const std::size_t fn = known.find(r.trampoline, r.function, r.check);
        if (known.maybe_slow(fn) && !log.empty()) flush(now_ns());
        if (watchdog && !log.empty()) watchdog->arm();  // results wait while this task runs
        std::atomic_ref<std::uint64_t>(page->started_ns).store(now_ns(), std::memory_order_relaxed);
        std::atomic_ref<std::uint64_t>(page->running).store(r.id, std::memory_order_seq_cst);
        rec.resize(ResultLog::kHead);
        append_pod(rec, ResultRecord{r.id, 0, 0});
        constexpr std::size_t rec_at = ResultLog::kHead;
        const std::uint64_t t0 = now_ns();
        const bool cancelled = is_cancelled(page, r.id);
        if (cancelled) {
          rec.push_back(std::byte{1});
          serialize_append(rec, shipping::record_exception(
                                    std::make_exception_ptr(CancelledError())));
        } else {
          try {
            if (r.trampoline != last_t || r.function != last_f || r.check != last_c) {
              shipping::Task t;
              t.trampoline = r.trampoline;
              t.function = r.function;
              t.check = r.check;
              t.kind = shipping::TaskKind::call;
              last_r = shipping::resolve(t, shipping::TaskKind::call);
              last_t = r.trampoline;
              last_f = r.function;
              last_c = r.check;
            }
            log.begin_partial(r.id);
            reinterpret_cast<shipping::CallTrampoline>(last_r.trampoline)(last_r.function, args,
                                                                        rec);
            log.end_partial();
          } catch (...) {
            log.end_partial();
            rec.resize(rec_at + sizeof(ResultRecord));
            rec.push_back(std::byte{1});
            serialize_append(rec, shipping::record_exception(std::current_exception()));
          }
        }
        const std::uint64_t t1 = now_ns();
        if (!cancelled) known.ran(fn, t1 - t0);
        ResultRecord rr{r.id, static_cast<std::uint32_t>(rec.size() - rec_at - sizeof rr),
                        static_cast<std::uint32_t>(std::min<std::uint64_t>((t1 - t0) / 1000,
                                                                           UINT32_MAX))};
        std::memcpy(rec.data() + rec_at, &rr, sizeof rr);
        if (!log.commit(rec)) {  // cannot be kept: send it now, after what the log holds
          log.send_with(fd, rec);
          last_flush = t1;
        }
        // Durable from here: `finished` tells the pool the task is no longer running.
        std::atomic_ref<std::uint64_t>(page->finished).store(r.id, std::memory_order_release);
        ++done;
        if (max_tasks != 0 && done >= max_tasks) quota_hit = true;
        // Results of a slow task go out at once; quick ones are batched (≤ 100 µs late).
        if (t1 - last_flush > shipping::KnownFunctions::kSlowNs || log.size() > (1u << 20))
          flush(t1);
      });
      pos += used;
      // A frame's results go out at its end, before the next frame read with it runs: the
      // pool sent them apart, so the next one may hold a long task (KnownFunctions cannot
      // tell the first slow run of a function that was quick until then).
      if (!log.empty()) flush(now_ns());
    }
    if (quota_hit) return;  // max_tasks_per_child: exit 0, the pool starts a replacement
    std::memmove(in.data(), in.data() + pos, have - pos);
    have -= pos;
  }
}

}  // namespace tandem::detail
