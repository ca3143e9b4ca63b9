// SPDX-License-Identifier: MIT
// Internal to src/multiprocessing/process.cpp and src/multiprocessing/process_support.cpp: the
// per-process module state of
// tandem::mp (Python's current_process() and its _children counter) and the pool of stop
// words that fork-started Processes share. Not installed.
//
// Why one page-aligned struct: a fork()ed child writes this state before it runs user code,
// and every page a child writes costs it a copy-on-write fault (a page copy; the parent pays
// a fault of its own on its next write to it). Kept together, the writes of the child's
// start-up land on one page of .bss instead of three or four scattered ones (issue 4's
// start+join latency: the faults, not the syscalls, were most of the difference from a bare
// fork() + _exit()).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "tandem/detail/futex_mutex.hpp"
#include "tandem/multiprocessing/process.hpp"

namespace tandem::mp::detail {

/// One page of MAP_SHARED | MAP_ANONYMOUS memory cut into stop words (ProcessShared), and
/// which of them are taken. The words are shared with every child forked after the page was
/// mapped; the bitmap is private to the process that mapped it.
struct StopChunk {
  static constexpr std::size_t kBytes = 4096;
  static constexpr std::size_t kWords = kBytes / sizeof(ProcessShared);
  ProcessShared* words = nullptr;
  std::uint64_t used[kWords / 64] = {};
  StopChunk* next = nullptr;
};

struct alignas(4096) ModuleState {
  // Rewritten in each child right after fork() (or by boot_worker()), single-threaded then;
  // otherwise written only by init().
  Process* self = nullptr;                  // in a child: the object whose run() runs
  const std::vector<int>* identity = nullptr;  // current_process()._identity (null: empty)
  std::atomic<int> counter{0};              // Python's _children counter
  bool daemon_process = false;              // this process is a daemon child
  std::atomic<bool> warned_threads{false};
  std::string current_name = "MainProcess";  // current_process().name
  // The stop-word pool (src/multiprocessing/process_support.cpp). Reset in a fork child by a
  // pthread_atfork
  // handler: the parent's chunks and bitmaps are the parent's (its Processes own those
  // words), and a thread of the parent may have held the mutex at fork().
  tandem::detail::FutexMutex pool_mu;
  StopChunk first;                          // on this page, not the heap: one page less
  StopChunk* pool = nullptr;                // further chunks (heap), mapped by this process
  bool pool_atfork = false;
  // parent_process() (src/multiprocessing/functions.cpp): 0 in the main process; in a child,
  // the creator's pid and current_process().name, set with self/current_name above.
  int parent_pid = 0;
  std::string parent_name;
  // active_children(): the Processes this process started and has not destroyed (Python's
  // process._children). Reset in a child: by child_main()/boot_worker(), and by a
  // pthread_atfork handler for any other fork() (a thread may have held the mutex).
  tandem::detail::FutexMutex children_mu;
  std::vector<Process*> children;           // guarded by children_mu
  bool children_atfork = false;             // guarded by children_mu
  // get_start_method(): the method (low byte) | kMethodFixed once set or used.
  std::atomic<std::uint32_t> start_method{0};
};

inline constexpr std::uint32_t kMethodFixed = 0x100;

extern ModuleState g_mp;

/// A zeroed stop word for a fork-started Process, from this process's pool. RuntimeError when
/// no page can be mapped.
ProcessShared* acquire_stop_word();
/// Gives the word back; only in the process that acquired it (else ignored), once the child
/// that watched it is gone.
void release_stop_word(ProcessShared* word) noexcept;

/// active_children()'s registry: start() adds a started Process, ~Process removes it.
void register_child(Process* p);
void unregister_child(Process* p) noexcept;
/// In a new child, single-threaded: forget the creator's children (no free, no malloc: the
/// creator's vector is leaked in the child's copy, which _exit()s anyway).
void forget_children() noexcept;

/// The child's title: comm (15 bytes, cut on a UTF-8 boundary) and, after init(), argv.
void set_process_title(const std::string& name);
/// Python's "Process NAME:" + traceback, as "Process NAME:\nTYPE: what()\n".
void report_exception(const std::string& name, std::exception_ptr e);

}  // namespace tandem::mp::detail
