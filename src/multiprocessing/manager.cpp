// SPDX-License-Identifier: MIT
// mp::Manager: the server process, the attach protocol, and the per-process cache of
// attached objects (manager.hpp has the specification).
//
// Protocol. The server listens on an AF_UNIX SOCK_SEQPACKET socket in the abstract namespace
// ("\0tandem-mgr-<32 hex digits>", from getrandom). A client sends one Request (the secret,
// the object id and what it expects: kind, type tag, count) and receives one Reply; on
// success the reply carries two fds by SCM_RIGHTS: the manager's control page and the
// object's memfd. One request per connection: attaching happens once per object and process.
// The owner registers objects over a private socketpair (one message per object, with its fd).
// Ordering: the owner's registration is queued on that socketpair before the owner can hand
// the handle to anyone, so the server drains it before answering every request and never
// answers "unknown object" for an object that exists.
//
// The server runs only system calls after fork() (no malloc, no locks: the owner may have
// had other threads), keeps its table in mmap'd memory, and exits when the owner's end of the
// socketpair reaches EOF (the owner shut down or died: the kernel closes a dead process's
// fds) — unlike PR_SET_PDEATHSIG, that does not fire when merely the creating thread exits.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "multiprocessing/manager_protocol.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/manager.hpp"
#include "tandem/threading/lock.hpp"

namespace tandem::mp {
namespace detail {
namespace {

using namespace manager_wire;


[[noreturn]] void fail_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// ---------------------------------------------------------------- the per-process cache

struct CacheEntry {
  ManagedKind kind;
  std::uint64_t tag;
  std::uint64_t count;
  std::shared_ptr<ManagedObject> object;
};

struct Cache {
  tandem::Lock lock;
  std::vector<std::shared_ptr<ManagerLink>> links;
  std::map<std::pair<std::array<std::uint8_t, 16>, std::uint32_t>, CacheEntry> objects;

  std::shared_ptr<ManagerLink> find_link(const ManagerKey& key) const {
    for (const auto& l : links)
      if (l->key() == key) return l;
    return nullptr;
  }
  /// Drops what belongs to `token` (a manager that shut down). Called with `lock` held.
  void forget(const std::array<std::uint8_t, 16>& token,
              std::vector<std::shared_ptr<ManagedObject>>& graveyard,
              std::vector<std::shared_ptr<ManagerLink>>& dead_links) {
    for (auto it = objects.begin(); it != objects.end();) {
      if (it->first.first == token) {
        graveyard.push_back(std::move(it->second.object));
        it = objects.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = links.begin(); it != links.end();) {
      if ((*it)->key().token == token) {
        dead_links.push_back(std::move(*it));
        it = links.erase(it);
      } else {
        ++it;
      }
    }
  }
  /// Drops the objects of every manager that was shut down (their memory stays mapped while
  /// proxies of this process hold it).
  void sweep(std::vector<std::shared_ptr<ManagedObject>>& graveyard,
             std::vector<std::shared_ptr<ManagerLink>>& dead_links) {
    std::vector<std::array<std::uint8_t, 16>> dead;
    for (const auto& l : links)
      if (l->control().state.load(std::memory_order_acquire) != kManagerRunning)
        dead.push_back(l->key().token);
    for (const auto& t : dead) forget(t, graveyard, dead_links);
  }
};

// Never destroyed: proxies may outlive static destruction, and a forked child inherits it.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

// Unmapping runs outside the cache lock (munmap can be slow).
struct Graveyard {
  std::vector<std::shared_ptr<ManagedObject>> objects;
  std::vector<std::shared_ptr<ManagerLink>> links;
};

std::string describe(ManagedKind kind, std::uint32_t id) {
  return std::string(kind_name(kind)) + " #" + std::to_string(id);
}

[[noreturn]] void throw_mismatch(const ObjectRef& ref, ManagedKind kind, std::uint64_t tag,
                                 std::uint64_t count) {
  std::string what = "tandem::mp::Manager: handle type mismatch: object #" +
                     std::to_string(ref.id) + " is a " + kind_name(kind);
  if (kind != ref.kind)
    what += std::string(", not a ") + kind_name(ref.kind);
  else if (tag != ref.tag)
    what += " of another element type";
  else if (count != ref.count)
    what += " of " + std::to_string(count) + " elements, not " + std::to_string(ref.count);
  throw DecodeError(what);
}

/// Connects to the server of `ref` and asks for its object; returns {control fd, object fd}.
std::pair<int, int> request(const ObjectRef& ref) {
  const int s = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) fail_errno("tandem::mp::Manager: socket");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{s};
  set_timeouts(s, kClientTimeoutSeconds);
  socklen_t len = 0;
  const sockaddr_un addr = address_of(ref.key, len);
  int r;
  do r = ::connect(s, reinterpret_cast<const sockaddr*>(&addr), len);
  while (r != 0 && errno == EINTR);
  if (r != 0)
    throw RuntimeError(
        "tandem::mp::Manager: cannot reach the manager's server process (it was shut down or "
        "has died): " + std::string(std::strerror(errno)));
  Request rq{};
  rq.magic = kRequestMagic;
  rq.id = ref.id;
  std::memcpy(rq.secret, ref.key.secret.data(), 16);
  rq.kind = static_cast<std::uint32_t>(ref.kind);
  rq.tag = ref.tag;
  rq.count = ref.count;
  Reply rep{};
  int fds[2] = {-1, -1}, nfds = 0;
  ssize_t n = -1;
  if (send_with_fds(s, &rq, sizeof rq, nullptr, 0))
    n = recv_with_fds(s, &rep, sizeof rep, fds, nfds, 0);
  const int err = errno;
  auto drop = [&] {
    for (int i = 0; i < nfds; ++i) ::close(fds[i]);
  };
  if (n != static_cast<ssize_t>(sizeof rep)) {
    drop();
    if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK))
      throw RuntimeError("tandem::mp::Manager: the manager's server process did not answer "
                         "within " + std::to_string(kClientTimeoutSeconds) + " s");
    throw RuntimeError(
        "tandem::mp::Manager: lost the connection to the manager's server process (it was "
        "shut down or has died)");
  }
  switch (rep.status) {
    case ok:
      if (nfds == 2) return {fds[0], fds[1]};
      drop();
      throw RuntimeError("tandem::mp::Manager: the server sent no shared memory for " +
                         describe(ref.kind, ref.id));
    case auth:
      drop();
      throw RuntimeError("tandem::mp::Manager: the manager refused the handle (authentication "
                         "failed: not its secret, or another user)");
    case mismatch:
      drop();
      throw_mismatch(ref, static_cast<ManagedKind>(rep.kind), rep.tag, rep.count);
    case unknown:
      drop();
      throw RuntimeError("tandem::mp::Manager: the manager has no object #" +
                         std::to_string(ref.id) + " (the handle is not from this manager)");
    default:
      drop();
      throw RuntimeError("tandem::mp::Manager: the server rejected the request");
  }
}

}  // namespace

const char* kind_name(ManagedKind k) noexcept {
  switch (k) {
    case ManagedKind::none: return "empty handle";
    case ManagedKind::lock: return "Lock";
    case ManagedKind::rlock: return "RLock";
    case ManagedKind::event: return "Event";
    case ManagedKind::semaphore: return "Semaphore";
    case ManagedKind::bounded_semaphore: return "BoundedSemaphore";
    case ManagedKind::value: return "Value";
    case ManagedKind::array: return "Array";
    case ManagedKind::queue: return "Queue";
    case ManagedKind::joinable_queue: return "JoinableQueue";
    case ManagedKind::condition: return "Condition";
    case ManagedKind::barrier: return "Barrier";
    case ManagedKind::dict: return "dict";
    case ManagedKind::list: return "list";
    case ManagedKind::ns: return "Namespace";
  }
  return "unknown kind";
}

ManagerLink::ManagerLink(ManagerKey key, SharedRegion control) noexcept
    : key_(key), control_(std::move(control)) {
  const pid_t server = control_.at<ManagerControl>()->server_pid.load(std::memory_order_acquire);
  // The server just answered this process (attach) or was just forked (the owner), so the
  // pid names it; a pidfd then stays bound to that process whatever happens to the pid.
  if (server > 0) pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, server, 0));
}

ManagerLink::~ManagerLink() {
  if (pidfd_ >= 0) ::close(pidfd_);
}

bool ManagerLink::server_alive() const noexcept {
  if (pidfd_ < 0) return true;
  pollfd p{pidfd_, POLLIN, 0};
  // A pidfd polls readable once its process has exited (a zombie included).
  return ::poll(&p, 1, 0) <= 0 || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0;
}

void throw_server_died(ManagedKind kind) {
  throw RuntimeError(std::string("tandem::mp::Manager: the manager's server process died; a "
                                 "blocked call on its ") +
                     kind_name(kind) + " was woken (the object can no longer be relied on)");
}

const std::atomic<std::uint32_t>& empty_state() noexcept {
  static const std::atomic<std::uint32_t> s{kHandleEmpty};
  return s;
}

void throw_proxy_state(std::uint32_t state, ManagedKind kind) {
  if (state == kHandleEmpty)
    throw RuntimeError(std::string("tandem::mp::Manager: this ") + kind_name(kind) +
                       " proxy is empty (default-constructed, not made by a Manager)");
  throw RuntimeError(std::string("tandem::mp::Manager: the manager was shut down; its ") +
                     kind_name(kind) + " can no longer be used");
}

void check_ref(const ObjectRef& ref, std::uint32_t magic, std::uint8_t version,
               ManagedKind expected_kind, std::uint64_t expected_tag) {
  if (magic != kHandleMagic)
    throw DecodeError("not a tandem::mp::Manager handle (bad magic number)");
  if (version != kHandleVersion)
    throw DecodeError("tandem::mp::Manager handle of an unknown version " +
                      std::to_string(version));
  if (ref.id == 0) {
    if (ref.kind != ManagedKind::none && ref.kind != expected_kind)
      throw DecodeError("tandem::mp::Manager: malformed empty handle");
    return;
  }
  if (ref.kind != expected_kind || ref.tag != expected_tag)
    throw_mismatch(ObjectRef{ref.key, ref.id, expected_kind, expected_tag, ref.count}, ref.kind,
                   ref.tag, ref.count);
}

Attached attach(const ObjectRef& ref, std::size_t min_bytes, MakeObject make) {
  Cache& c = cache();
  const auto key = std::make_pair(ref.key.token, ref.id);
  Graveyard grave;
  {
    std::lock_guard g(c.lock);
    if (auto it = c.objects.find(key); it != c.objects.end()) {
      auto link = c.find_link(ref.key);
      if (link != nullptr) {  // same token and secret
        const CacheEntry& e = it->second;
        if (e.kind != ref.kind || e.tag != ref.tag || e.count != ref.count)
          throw_mismatch(ref, e.kind, e.tag, e.count);
        return {std::move(link), e.object};
      }
    }
    c.sweep(grave.objects, grave.links);
  }
  auto [control_fd, object_fd] = request(ref);
  SharedRegion control;
  try {
    control = SharedRegion::attach(control_fd);  // owns the fd from here, also on error
  } catch (...) {
    ::close(object_fd);
    throw;
  }
  SharedRegion region = SharedRegion::attach(object_fd);
  if (control.size() < sizeof(ManagerControl) || region.size() < min_bytes)
    throw DecodeError("tandem::mp::Manager: the shared memory of " + describe(ref.kind, ref.id) +
                      " is smaller than its type needs");
  std::shared_ptr<ManagedObject> object = make(std::move(region));
  std::lock_guard g(c.lock);
  auto link = c.find_link(ref.key);
  if (link == nullptr) {
    link = std::make_shared<ManagerLink>(ref.key, std::move(control));
    c.links.push_back(link);
  }
  auto [it, inserted] = c.objects.try_emplace(key, CacheEntry{ref.kind, ref.tag, ref.count, object});
  if (!inserted) object = it->second.object;  // another thread attached it meanwhile
  return {std::move(link), std::move(object)};
}

// ---------------------------------------------------------------- Manager (owner side)

struct ManagerState {
  ManagerKey key;
  std::shared_ptr<ManagerLink> link;
  int ctl = -1;
  pid_t server = 0;
  int pidfd = -1;
  pid_t owner = 0;
  std::uint32_t next_id = 1;
  bool running = false;
  std::vector<std::shared_ptr<ManagedObject>> objects;
};

}  // namespace detail

namespace {

void random_bytes(std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      detail::fail_errno("tandem::mp::Manager: getrandom");
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

void reap(detail::ManagerState& s) noexcept {
  if (s.server <= 0) return;
  // The server exits at once on shutdown/EOF; a SIGKILL bounds the wait if it is stuck.
  if (s.pidfd >= 0) {
    pollfd p{s.pidfd, POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, 5000);
    while (r < 0 && errno == EINTR);
    if (r == 0) ::kill(s.server, SIGKILL);
  }
  int st;
  while (::waitpid(s.server, &st, 0) < 0 && errno == EINTR) {
  }
  // ECHILD: someone else reaped it (a waitpid(-1) elsewhere); nothing more to do.
  if (s.pidfd >= 0) ::close(s.pidfd);
  s.pidfd = -1;
  s.server = 0;
}

}  // namespace

Manager::Manager() : s_(std::make_unique<detail::ManagerState>()) {
  detail::ManagerState& s = *s_;
  random_bytes(s.key.token.data(), 16);
  random_bytes(s.key.secret.data(), 16);
  detail::SharedRegion control(sizeof(detail::ManagerControl), "tandem-manager");
  ::new (control.data()) detail::ManagerControl();

  const int lsn = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (lsn < 0) detail::fail_errno("tandem::mp::Manager: socket");
  socklen_t len = 0;
  const sockaddr_un addr = detail::manager_wire::address_of(s.key, len);
  int ctl[2];
  if (::bind(lsn, reinterpret_cast<const sockaddr*>(&addr), len) != 0 || ::listen(lsn, 128) != 0 ||
      ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0) {
    const int e = errno;
    ::close(lsn);
    errno = e;
    detail::fail_errno("tandem::mp::Manager: cannot start the server socket");
  }
  const detail::ManagerKey key = s.key;
  const int control_fd = control.fd();
  const pid_t pid = ::fork();
  if (pid == 0) detail::manager_wire::server_main(ctl[1], lsn, control_fd, key);
  const int e = errno;
  ::close(lsn);
  ::close(ctl[1]);
  if (pid < 0) {
    ::close(ctl[0]);
    errno = e;
    detail::fail_errno("tandem::mp::Manager: fork");
  }
  s.ctl = ctl[0];
  s.server = pid;
  control.at<detail::ManagerControl>()->server_pid.store(pid, std::memory_order_release);
  s.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // -1: plain waitpid
  s.owner = ::getpid();
  s.running = true;
  s.link = std::make_shared<detail::ManagerLink>(s.key, std::move(control));
  detail::Cache& c = detail::cache();
  std::lock_guard g(c.lock);
  c.links.push_back(s.link);
}

Manager::~Manager() { shutdown(); }

void Manager::shutdown() noexcept {
  if (!s_) return;
  detail::ManagerState& s = *s_;
  if (s.owner != ::getpid()) {  // a fork()ed copy: the owner's manager is not ours to stop
    if (s.ctl >= 0) ::close(s.ctl);
    s.ctl = -1;
    if (s.pidfd >= 0) ::close(s.pidfd);
    s.pidfd = -1;
    s.running = false;
    return;
  }
  if (!s.running) return;
  s.running = false;
  s.link->control().state.store(detail::kManagerShut, std::memory_order_release);
  // Wake whoever sleeps in a queue of ours: they see the manager shut down.
  for (auto& o : s.objects) o->on_shutdown();
  const detail::manager_wire::CtlMsg m{detail::manager_wire::op_shutdown, 0, 0, 0, 0, 0};
  detail::manager_wire::send_with_fds(s.ctl, &m, sizeof m, nullptr, 0);
  ::close(s.ctl);
  s.ctl = -1;
  reap(s);
  detail::Graveyard grave;
  {
    detail::Cache& c = detail::cache();
    std::lock_guard g(c.lock);
    c.forget(s.key.token, grave.objects, grave.links);
  }
  s.objects.clear();
}

bool Manager::is_running() const noexcept { return s_ && s_->running; }
int Manager::pid() const noexcept { return s_ ? s_->server : 0; }

std::string Manager::address() const {
  socklen_t len = 0;
  const sockaddr_un a = detail::manager_wire::address_of(s_->key, len);
  // Built with append, not "@" + std::string(...): g++ 12 at -O3 reports a false -Wrestrict
  // on operator+(const char*, string&&) (GCC bug 105329).
  std::string out("@");
  out.append(a.sun_path + 1, static_cast<std::size_t>(len) - offsetof(sockaddr_un, sun_path) - 1);
  return out;
}

detail::Attached Manager::publish(detail::ObjectRef& ref, std::shared_ptr<detail::ManagedObject> obj) {
  detail::ManagerState& s = *s_;
  if (s.owner != ::getpid())
    throw RuntimeError("tandem::mp::Manager: objects can only be made in the process that "
                       "created the Manager (send handles to the others)");
  if (!s.running) throw RuntimeError("tandem::mp::Manager: the manager was shut down");
  ref.key = s.key;
  ref.id = s.next_id;
  const detail::manager_wire::CtlMsg m{detail::manager_wire::op_register, ref.id, static_cast<std::uint32_t>(ref.kind), 0,
                         ref.tag, ref.count};
  const int fd = obj->fd();
  if (!detail::manager_wire::send_with_fds(s.ctl, &m, sizeof m, &fd, 1))
    throw RuntimeError(
        "tandem::mp::Manager: the manager's server process has died: cannot register a new " +
        std::string(detail::kind_name(ref.kind)) + " (" + std::strerror(errno) + ")");
  ++s.next_id;
  s.objects.push_back(obj);
  detail::Cache& c = detail::cache();
  std::lock_guard g(c.lock);
  c.objects.try_emplace(std::make_pair(ref.key.token, ref.id),
                        detail::CacheEntry{ref.kind, ref.tag, ref.count, obj});
  return {s.link, std::move(obj)};
}

}  // namespace tandem::mp
