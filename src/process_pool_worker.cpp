// The worker process of a ProcessPoolExecutor (see <tandem/process_pool.hpp>): connects to the
// pool's socket, says hello (pid, build-id), receives its shared page, runs the initializer,
// then runs the tasks of each frame in order, sending results in batches.
#include "process_pool_internal.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tandem/process_pool/wire.hpp"
#include "tandem/shipping/build_id.hpp"
#include "tandem/shipping/function_id.hpp"
#include "tandem/shipping/known_functions.hpp"
#include "tandem/shipping/ship.hpp"

namespace tandem::detail::pp {
namespace {

std::uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

[[noreturn]] void die(const char* what) noexcept {
  std::fprintf(stderr, "tandem process pool worker %d: %s: %s\n", static_cast<int>(getpid()),
               what, std::strerror(errno));
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

/// Receives the shared page's memfd (SCM_RIGHTS) sent by the pool after the hello.
WorkerPage* receive_page(int fd) noexcept {
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
  int mfd;
  std::memcpy(&mfd, CMSG_DATA(c), sizeof mfd);
  void* p = ::mmap(nullptr, sizeof(WorkerPage), PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  ::close(mfd);
  if (p == MAP_FAILED) die("mmap");
  return static_cast<WorkerPage*>(p);
}

bool is_cancelled(WorkerPage* page, std::uint64_t id) noexcept {
  for (auto& slot : page->cancel)
    if (std::atomic_ref<std::uint64_t>(slot).load(std::memory_order_seq_cst) == id) return true;
  return false;
}

}  // namespace

void worker_main(const std::string& sock_name, std::uint64_t init_offset,
                 std::uint64_t max_tasks) {
  ::setpgid(0, 0);  // our own group: the pool kills it with us (grandchildren included)
  ::signal(SIGPIPE, SIG_IGN);
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
  WorkerPage* page = receive_page(fd);

  if (init_offset != 0) {
    std::atomic_ref<std::uint32_t>(page->initializing).store(1, std::memory_order_release);
    try {
      reinterpret_cast<void (*)()>(shipping::function_address(init_offset))();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "Exception in initializer:\n%s: %s\n",
                   shipping::current_exception_type_name().c_str(), e.what());
      std::fflush(stderr);
      _exit(1);
    } catch (...) {
      std::fprintf(stderr, "Exception in initializer:\n%s\n",
                   shipping::current_exception_type_name().c_str());
      std::fflush(stderr);
      _exit(1);
    }
  }
  std::atomic_ref<std::uint32_t>(page->ready).store(1, std::memory_order_release);
  std::vector<std::byte> out;
  // An empty results frame: "ready". The pool learns that the initializer returned (a spare
  // is promotable from then on) without polling the page.
  finish_frame(out, begin_frame(out, FrameType::results));
  send_all(fd, out.data(), out.size());

  std::vector<std::byte> in(256 * 1024);
  std::size_t have = 0;
  std::uint64_t done = 0;
  // The last resolved (trampoline, function, check): map chunks and repeated submits of one
  // function skip the integrity digest.
  std::uint64_t last_t = 0, last_f = 0, last_c = 0;
  shipping::ResolvedTask last_r{0, 0};
  shipping::KnownFunctions known;  // results go out before a task that may be long
  for (;;) {
    if (have == in.size()) in.resize(in.size() * 2);
    ssize_t n = ::read(fd, in.data() + have, in.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(0);
    }
    if (n == 0) return;  // the pool closed our channel: shutdown
    have += static_cast<std::size_t>(n);
    std::size_t pos = 0;
    out.clear();
    std::size_t res_at = begin_frame(out, FrameType::results);
    std::uint64_t last_flush = now_ns();
    bool quota_hit = false;
    const auto flush = [&](std::uint64_t now) {
      finish_frame(out, res_at);
      send_all(fd, out.data(), out.size());
      out.clear();
      res_at = begin_frame(out, FrameType::results);
      last_flush = now;
    };
    for (;;) {
      FrameType type;
      std::span<const std::byte> body;
      std::size_t used;
      try {
        used = next_frame(std::span<const std::byte>(in).subspan(pos, have - pos), type, body);
      } catch (const DecodeError& e) {
        std::fprintf(stderr, "tandem process pool worker: %s\n", e.what());
        _exit(72);
      }
      if (used == 0) break;
      if (type != FrameType::tasks) _exit(72);
      for_each_task(body, [&](const TaskRecord& r, std::span<const std::byte> args) {
        if (quota_hit) return;  // the pool never sends past the quota; defensive
        const std::size_t fn = known.find(r.trampoline, r.function, r.check);
        if (known.maybe_slow(fn) && out.size() > res_at + sizeof(FrameHeader)) flush(now_ns());
        std::atomic_ref<std::uint64_t>(page->started_ns).store(now_ns(), std::memory_order_relaxed);
        std::atomic_ref<std::uint64_t>(page->running).store(r.id, std::memory_order_seq_cst);
        append_pod(out, ResultRecord{r.id, 0, 0});
        const std::size_t rec_at = out.size() - sizeof(ResultRecord);
        const std::uint64_t t0 = now_ns();
        const bool cancelled = is_cancelled(page, r.id);
        if (cancelled) {
          out.push_back(std::byte{1});
          serialize_append(out, shipping::record_exception(
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
            reinterpret_cast<shipping::CallTrampoline>(last_r.trampoline)(last_r.function, args,
                                                                        out);
          } catch (...) {
            out.resize(rec_at + sizeof(ResultRecord));
            out.push_back(std::byte{1});
            serialize_append(out, shipping::record_exception(std::current_exception()));
          }
        }
        const std::uint64_t t1 = now_ns();
        if (!cancelled) known.ran(fn, t1 - t0);
        std::atomic_ref<std::uint64_t>(page->finished).store(r.id, std::memory_order_release);
        ResultRecord rr{r.id, static_cast<std::uint32_t>(out.size() - rec_at - sizeof rr),
                        static_cast<std::uint32_t>(std::min<std::uint64_t>((t1 - t0) / 1000,
                                                                           UINT32_MAX))};
        std::memcpy(out.data() + rec_at, &rr, sizeof rr);
        ++done;
        if (max_tasks != 0 && done >= max_tasks) quota_hit = true;
        // Results of a slow task go out at once; quick ones are batched (≤ 100 µs late).
        if (t1 - last_flush > shipping::KnownFunctions::kSlowNs || out.size() > (1u << 20))
          flush(t1);
      });
      pos += used;
      // A frame's results go out at its end, before the next frame read with it runs: the
      // pool sent them apart, so the next one may hold a long task (KnownFunctions cannot
      // tell the first slow run of a function that was quick until then).
      if (out.size() > res_at + sizeof(FrameHeader)) flush(now_ns());
    }
    if (quota_hit) return;  // max_tasks_per_child: exit 0, the pool starts a replacement
    std::memmove(in.data(), in.data() + pos, have - pos);
    have -= pos;
  }
}

}  // namespace tandem::detail::pp
