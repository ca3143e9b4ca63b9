// SPDX-License-Identifier: MIT
// ProcessPoolExecutor's core: results — the frames a worker sends (bounds-checked; a frame
// that does not decode kills the worker as corrupt) and, when a worker dies, the results its
// log kept that the socket had not brought yet (src/process_pool/wire.hpp, WorkerPage).
// See pool_core.cpp.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "detail/cpu_count.hpp"
#include "detail/thread_names.hpp"
#include "process_pool/pool_core.hpp"
#include "process_pool/wire.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/shipping/build_id.hpp"
#include "tandem/shipping/function_id.hpp"

namespace tandem::detail {

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
      if (!w.seen_ready) {  // its first results frame (empty: "my initializer returned")
        w.seen_ready = true;
        init_failures_ = 0;
        init_kills_ = 0;
        if (is_spare(slot)) publish_pid(slot, w.pid);
      }
      for_each_result(body, [&](const ResultRecord& r, std::span<const std::byte> outcome) {
        if (w.inflight.empty() || w.inflight.front()->id != r.id)
          throw DecodeError("a result for a task the worker was not running");
        PTask* t = w.inflight.front();
        w.inflight.pop_front();
        if (t->timeout_s > 0) --w.timed;
        // A sample is clipped to 4x the mean (and 50 µs): one preempted quick task (a 10 ms
        // time slice lost on a loaded machine) must not collapse the window to 1 for the next
        // hundred tasks; a real change of task length still moves the mean by up to 30% a task.
        const double us = avg_us_ < 0 ? r.run_us
                                      : std::min<double>(r.run_us, std::max(4 * avg_us_, 50.0));
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

// The results a dead worker had finished but not sent: the records of its result log
// (wire.hpp, WorkerPage) whose tasks are still in flight, delivered in the log's order. A
// record the socket brought already is skipped (its task is done). Read after the socket, so
// nothing is delivered twice; never for a worker killed as corrupt (its bytes are not
// trusted: its tasks fail).
// The items of the map chunk it was running (ChunkProgress) come out in `partial`.
void PoolCore::drain_log(Worker& w, Partial& partial) {
  if (w.memfd < 0 || !w.page || w.inflight.empty() || w.kill_reason == kCorrupt) return;
  const std::uint64_t committed =
      std::atomic_ref<std::uint64_t>(w.page->committed).load(std::memory_order_acquire);
  partial.id = std::atomic_ref<std::uint64_t>(w.page->partial_id).load(std::memory_order_acquire);
  partial.count =
      partial.id ? std::atomic_ref<std::uint64_t>(w.page->partial_count).load(std::memory_order_acquire)
                 : 0;
  const std::uint64_t pbytes =
      partial.count ? std::atomic_ref<std::uint64_t>(w.page->partial_bytes).load(std::memory_order_relaxed)
                    : 0;
  struct stat st {};
  if ((committed == 0 && partial.count == 0) || ::fstat(w.memfd, &st) < 0 ||
      st.st_size <= static_cast<off_t>(kLogOffset + sizeof(FrameHeader)))
    return;
  const auto region = static_cast<std::size_t>(st.st_size) - kLogOffset;
  void* p = ::mmap(nullptr, region, PROT_READ, MAP_SHARED, w.memfd, static_cast<off_t>(kLogOffset));
  if (p == MAP_FAILED) return;
  const auto* records = static_cast<const std::byte*>(p) + sizeof(FrameHeader);
  const std::size_t n = std::min<std::uint64_t>(committed, region - sizeof(FrameHeader));
  try {
    for_each_result(std::span<const std::byte>(records, n),
                    [&](const ResultRecord& r, std::span<const std::byte> outcome) {
                      auto it = std::find_if(w.inflight.begin(), w.inflight.end(),
                                             [&](PTask* t) { return t->id == r.id; });
                      if (it == w.inflight.end()) return;  // came through the socket
                      PTask* t = *it;
                      w.inflight.erase(it);
                      if (t->timeout_s > 0) --w.timed;
                      t->deliver(outcome);
                      finish(t);
                    });
  } catch (const DecodeError&) {
    // Committed records are whole; a worker that scribbled over its log loses the rest.
  }
  if (partial.count != 0 && sizeof(FrameHeader) + committed + pbytes <= region) {
    const auto* b = records + committed;
    partial.bytes.assign(b, b + pbytes);
  } else {
    partial.count = 0;
  }
  ::munmap(p, region);
}

}  // namespace tandem::detail
