// SPDX-License-Identifier: MIT
// tandem::mp::SharedMemoryManager and its tracker process (see the header for the design).
#include "tandem/multiprocessing/shared_memory_manager.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "multiprocessing/shared_memory_name.hpp"
#include "tandem/errors.hpp"

namespace tandem::mp {

namespace {

// A ledger record: byte 0 is 1 while the segment must be unlinked at the owner's death,
// then "/name" NUL-terminated.
constexpr std::size_t kRecord = 64;
constexpr char kQuit = 'Q';  // owner → tracker: shut down cleanly, unlink nothing

void close_range_from(unsigned first, unsigned last) noexcept {
  if (first > last) return;
  if (::syscall(SYS_close_range, first, last, 0) == 0) return;
  for (unsigned fd = first; fd <= last && fd < 65536; ++fd) ::close(static_cast<int>(fd));
}

// "lo-hi perms ..." at the start of a /proc/self/maps line: whether it is a shared mapping.
bool shared_range(const char* p, const char* end, std::uintptr_t& lo, std::uintptr_t& hi) noexcept {
  auto hex = [&](std::uintptr_t& v) {
    v = 0;
    const char* start = p;
    for (; p < end; ++p) {
      const char c = *p;
      const int d = c >= '0' && c <= '9' ? c - '0' : (c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1);
      if (d < 0) break;
      v = v * 16 + static_cast<std::uintptr_t>(d);
    }
    return p > start;
  };
  if (!hex(lo) || p == end || *p++ != '-' || !hex(hi) || p == end || *p++ != ' ') return false;
  return end - p >= 4 && p[3] == 's' && hi > lo;
}

// Unmaps every shared mapping inherited from the parent — SharedMemory segments, the memfd
// regions of mp::Lock, Value, Queue... — so that the tracker never keeps their memory alive
// once the owner lets go of it. Each pass collects a batch of ranges from /proc/self/maps
// (with a stack buffer: no allocation after fork), then unmaps them, never while reading.
void unmap_shared() noexcept {
  for (;;) {
    std::uintptr_t ranges[64][2];
    std::size_t n = 0;
    const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    std::size_t len = 0;
    bool eof = false, skip = false;  // skip: the rest of a line longer than buf
    while (n < 64) {
      char* nl = static_cast<char*>(std::memchr(buf, '\n', len));
      if (!nl && !eof && len < sizeof buf) {
        const ssize_t r = ::read(fd, buf + len, sizeof buf - len);
        if (r > 0) len += static_cast<std::size_t>(r);
        else if (r == 0 || errno != EINTR) eof = true;
        continue;
      }
      if (!nl && len == 0) break;
      if (!skip && shared_range(buf, nl ? nl : buf + len, ranges[n][0], ranges[n][1])) ++n;
      skip = !nl && !eof;
      const std::size_t used = nl ? static_cast<std::size_t>(nl + 1 - buf) : len;
      std::memmove(buf, buf + used, len - used);
      len -= used;
    }
    ::close(fd);
    bool unmapped = false;
    for (std::size_t i = 0; i < n; ++i)
      unmapped |= ::munmap(reinterpret_cast<void*>(ranges[i][0]), ranges[i][1] - ranges[i][0]) == 0;
    if (!unmapped) return;  // none left (or none that can go: do not loop on them)
  }
}

// The tracker, in the forked child: async-signal-safe calls only (the parent may have had
// other threads holding locks at fork()).
[[noreturn]] void tracker_main(int sock, int ledger) noexcept {
  // The parent's handlers are its code about its state (which may be unmapped below): back
  // to the default, keeping what it ignores. What a terminal or a `kill -- -pgid` sends the
  // whole group must not stop the cleanup of the owner it also stops: ignored.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler == SIG_IGN) continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
  }
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &ignore, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Keep only our two descriptors: an inherited pipe end or socket would keep some other
  // peer of the parent waiting for an EOF that never comes while the tracker lives.
  const auto lo = static_cast<unsigned>(std::min(sock, ledger));
  const auto hi = static_cast<unsigned>(std::max(sock, ledger));
  if (lo > 0) close_range_from(0, lo - 1);
  close_range_from(lo + 1, hi - 1);
  close_range_from(hi + 1, ~0U);
  unmap_shared();

  char c = 0;
  for (;;) {
    const ssize_t n = ::read(sock, &c, 1);
    if (n > 0 && c == kQuit) ::_exit(0);
    if (n == 0 || (n < 0 && errno != EINTR)) break;  // the owner is gone
  }
  char records[16][kRecord];
  for (off_t at = 0;; at += static_cast<off_t>(sizeof records)) {
    ssize_t got;
    do got = ::pread(ledger, records, sizeof records, at);
    while (got < 0 && errno == EINTR);
    if (got <= 0) break;
    for (std::size_t r = 0; r < static_cast<std::size_t>(got) / kRecord; ++r) {
      records[r][kRecord - 1] = '\0';
      if (records[r][0] == 1) ::shm_unlink(records[r] + 1);
    }
  }
  ::_exit(0);
}

}  // namespace

SharedMemoryManager::~SharedMemoryManager() { shutdown(); }

void SharedMemoryManager::start() {
  std::lock_guard lock(mu_);
  if (state_ == State::started) throw RuntimeError("Already started server");
  if (state_ == State::shut_down) throw RuntimeError("Manager has shut down");
  const int ledger = ::memfd_create("tandem-shm-tracker", MFD_CLOEXEC);
  if (ledger < 0) raise_os_error(errno);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    const int err = errno;
    ::close(ledger);
    raise_os_error(err);
  }
  const pid_t pid = ::fork();
  if (pid == 0) tracker_main(sv[1], ledger);
  const int err = errno;
  ::close(sv[1]);
  if (pid < 0) {
    ::close(sv[0]);
    ::close(ledger);
    raise_os_error(err);
  }
  owner_ = ::getpid();
  tracker_ = pid;
  socket_ = sv[0];
  ledger_ = ledger;
  state_ = State::started;
}

void SharedMemoryManager::write_record(std::size_t index, const std::string& name) {
  char record[kRecord] = {};
  record[0] = 1;
  record[1] = '/';
  std::memcpy(record + 2, name.data(), std::min(name.size(), kRecord - 3));
  if (::pwrite(ledger_, record, kRecord, static_cast<off_t>(index * kRecord)) !=
      static_cast<ssize_t>(kRecord))
    raise_os_error(errno);
}

void SharedMemoryManager::cross_out(std::size_t index) noexcept {
  const char dead = 0;
  [[maybe_unused]] const ssize_t n = ::pwrite(ledger_, &dead, 1, static_cast<off_t>(index * kRecord));
}

// Records a fresh name, then makes the segment under it; a taken name is crossed out and
// another one tried. Recording first means a crash at any point leaves nothing unlisted.
template <class Make>
auto SharedMemoryManager::track(Make make) {
  std::lock_guard lock(mu_);
  if (state_ != State::started || owner_ != ::getpid())
    throw ValueError(state_ == State::initial ? "SharedMemoryManager has not been started"
                                              : "SharedMemoryManager is not running here");
  for (;;) {
    std::string name = detail::make_shm_name();
    const std::size_t index = segments_.size();
    std::string path = "/" + name;
    segments_.reserve(index + 1);  // so that nothing can throw once the segment exists
    write_record(index, name);
    try {
      auto made = make(name);
      segments_.emplace_back(std::move(path), index);
      return made;
    } catch (const FileExistsError&) {
      cross_out(index);
      segments_.emplace_back(std::string(), index);  // the record stays used, as a hole
    } catch (...) {
      cross_out(index);
      segments_.emplace_back(std::string(), index);
      throw;
    }
  }
}

mp::SharedMemory SharedMemoryManager::SharedMemory(std::size_t size) {
  if (size == 0) throw ValueError("'size' must be a positive number different from zero");
  return track([&](const std::string& name) { return mp::SharedMemory(name, true, size); });
}

mp::ShareableList SharedMemoryManager::ShareableList(
    std::vector<mp::ShareableList::value_type> sequence) {
  return track([&](const std::string& name) { return mp::ShareableList(sequence, name); });
}

void SharedMemoryManager::shutdown() noexcept {
  std::lock_guard lock(mu_);
  if (state_ != State::started) return;
  state_ = State::shut_down;
  const bool owner = owner_ == ::getpid();
  if (owner) {
    for (const auto& [path, index] : segments_) {
      if (path.empty()) continue;
      ::shm_unlink(path.c_str());  // ENOENT: unlinked by hand already
      cross_out(index);
    }
    [[maybe_unused]] const ssize_t n = ::send(socket_, &kQuit, 1, MSG_NOSIGNAL);
  }
  ::close(socket_);
  ::close(ledger_);
  socket_ = ledger_ = -1;
  if (owner) {
    int status = 0;
    while (::waitpid(tracker_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  segments_.clear();
}

}  // namespace tandem::mp
