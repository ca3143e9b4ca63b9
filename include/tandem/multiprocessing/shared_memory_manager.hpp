// SPDX-License-Identifier: MIT
// tandem::mp::SharedMemoryManager — multiprocessing.managers.SharedMemoryManager
// (docs/multiprocessing.md#shared-memory-that-python-can-read).
//
//   mp::SharedMemoryManager smm;
//   smm.start();
//   mp::SharedMemory shm = smm.SharedMemory(1 << 20);
//   mp::ShareableList sl = smm.ShareableList({std::int64_t{1}, std::string("a")});
//   smm.shutdown();          // both segments unlinked (also by the destructor)
//
// Guarantees
//  * Every segment made through the manager is unlinked by shutdown() (or the destructor),
//    whatever the SharedMemory/ShareableList objects did meanwhile (one already unlinked by
//    hand is skipped). The returned objects stay usable until they are closed; only the
//    names go.
//  * Stronger than Python: the segments are unlinked even when the owner process dies
//    without shutdown() — SIGKILL, abort, a crash. start() forks a tracker process (as
//    Python's resource_tracker) that holds one end of a socket pair and a ledger (a memfd)
//    of the names; the owner writes each name to the ledger *before* creating the segment
//    and crosses it out when it unlinks it. When the socket reaches EOF — every process
//    holding the owner's end is gone — the tracker unlinks what the ledger still lists and
//    exits. A clean shutdown() tells the tracker to exit without that and reaps it.
//  * The tracker keeps nothing of its parent but those two descriptors: every other
//    descriptor is closed and every shared mapping (segments, mp:: objects) unmapped at
//    once, so it never keeps a peer waiting for an EOF or a segment's memory alive. It
//    ignores SIGINT, SIGTERM, SIGHUP and SIGQUIT (a Ctrl-C or a hang-up reaches the whole
//    process group: it must not stop the cleanup of the owner it stops), drops the
//    parent's signal handlers, and runs only async-signal-safe calls (so forking it from a
//    multithreaded program is sound). It never outlives the owner by more than the cleanup.
//  * SharedMemory()/ShareableList() before start() or after shutdown(): ValueError.
//    start() twice or after shutdown(): RuntimeError (Python's ProcessError texts).
// Ownership across fork: the manager belongs to the process that called start(). A copy
//  inherited by fork() is inert: its methods throw ValueError, its shutdown()/destructor
//  only close the copy's descriptors and never unlink. While such a child lives, it keeps
//  the owner's end of the socket open, so a crash of the owner is cleaned up once that
//  child has exited too (as with Python's resource tracker, shared by children).
// Thread safety: all members may be called from any threads of the owner at once.
// Cost: start() is one fork() (pages are shared copy-on-write; the tracker touches almost
//  none) and one memfd; each segment adds 64 bytes of ledger and two pwrite() calls.
// Differences from Python: no server process and no proxies — the manager hands out plain
//  SharedMemory/ShareableList objects of this process (Python's SharedMemoryManager returns
//  such objects too, made by its server); no address/authkey; the names are always
//  generated ("psm_…"); only the starting process makes segments (see above).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "tandem/multiprocessing/shareable_list.hpp"
#include "tandem/multiprocessing/shared_memory.hpp"

namespace tandem::mp {

class SharedMemoryManager {
 public:
  SharedMemoryManager() = default;
  SharedMemoryManager(const SharedMemoryManager&) = delete;
  SharedMemoryManager& operator=(const SharedMemoryManager&) = delete;
  /// shutdown().
  ~SharedMemoryManager();

  /// Starts the tracker process.
  void start();
  /// A new segment of at least `size` bytes, unlinked at shutdown.
  mp::SharedMemory SharedMemory(std::size_t size);
  /// A new list holding `sequence`, unlinked at shutdown.
  mp::ShareableList ShareableList(std::vector<mp::ShareableList::value_type> sequence);
  /// Unlinks every segment made here and stops the tracker. Idempotent.
  void shutdown() noexcept;

 private:
  template <class Make>
  auto track(Make make);
  void write_record(std::size_t index, const std::string& name);
  void cross_out(std::size_t index) noexcept;

  enum class State { initial, started, shut_down };

  std::mutex mu_;
  State state_ = State::initial;
  pid_t owner_ = -1;    // the process that called start()
  pid_t tracker_ = -1;  // its child
  int socket_ = -1;     // the owner's end: EOF at the tracker means "owner gone"
  int ledger_ = -1;     // memfd of 64-byte records: a live flag and a name
  std::vector<std::pair<std::string, std::size_t>> segments_;  // "/name"s and their records
};

}  // namespace tandem::mp
