// SPDX-License-Identifier: MIT
// Internal to tandem's process machinery (src/multiprocessing/process.cpp, spawn.cpp,
// forkserver.cpp): how a
// Process whose target was shipped is launched with StartMethod::spawn or ::forkserver, and
// how the child boots. Not installed.
//
// Both methods hand the child the same two descriptors: a memfd holding the BootMessage
// (serialized; a memfd, not a pipe, so the parent never blocks on a large message) and the
// memfd of the Process's stop page. The child — a fresh exec of /proc/self/exe taken over in
// mp::init(), or a fork of the fork server — calls boot_worker(), which checks the build-id,
// maps the stop page, rebuilds the module state, runs the task and _exit()s.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tandem/log.hpp"
#include "tandem/shipping/task.hpp"

namespace tandem::mp::detail {

struct BootMessage {
  std::vector<std::byte> build_id;
  std::uint8_t build_source = 0;
  shipping::Task task;
  std::string name;
  std::vector<int> identity;
  bool daemon = false;
  int parent_pid = 0;  // the process whose death kills a daemon child (the creator)
  std::string parent_name;  // the creator's current_process().name (parent_process())
  std::uint32_t start_method = 0;  // the creator's g_mp.start_method (get_start_method())
};

/// What the parent gets back: the child's pid, a pidfd for it, and — forkserver only — the
/// socket on which the server reports its exit status (-1: the child is our own; waitid).
struct Launched {
  int pid = 0;
  int pidfd = -1;
  int status_fd = -1;
};

// spawn.cpp
Launched spawn_worker(const std::vector<std::byte>& boot, int stop_fd);
/// Called first by mp::init(): when argv carries the spawn marker, boots and never returns.
void spawn_child_entry(int argc, char** argv);

// forkserver.cpp
Launched forkserver_worker(const std::vector<std::byte>& boot, int stop_fd);
/// Starts the fork server now (mp::init) unless it runs already.
void forkserver_start();
/// Blocks until the server reports the child's exit code; 255 when it cannot (server gone).
int forkserver_exit_code(int status_fd);

// process.cpp
/// Reads the BootMessage from payload_fd, runs it, _exit()s. expected_parent: the pid whose
/// death must kill a daemon child (0: the message's parent_pid).
[[noreturn]] void boot_worker(int payload_fd, int stop_fd, int expected_parent) noexcept;
bool init_was_called() noexcept;
void flush_all() noexcept;
/// Through the log handler (<tandem/log.hpp>), from "multiprocessing"; a final newline is
/// dropped (the default handler adds it back).
void write_stderr(const std::string& text, LogLevel level = LogLevel::error);
/// Python 3.12's warning, once per process, when this process has more than one thread.
bool is_multithreaded();
/// _exit(code) for a fork()ed child: the raw exit_group syscall. Why: a child calls _exit()
/// and prctl() for the first time in its life, so with lazy binding (the default) each child
/// resolved them again in the dynamic loader — a symbol lookup through every library's hash
/// table, a dozen page faults on the loader's and the libraries' pages and a copy-on-write
/// fault on the GOT, more than all of start()'s syscalls together. syscall() is bound once,
/// by the parent's own calls. Under a sanitizer, ::_exit() (its interceptor reports and sets
/// the exit code, e.g. TSan's 66).
[[noreturn]] void child_exit(int code) noexcept;
/// prctl(option, arg) as a raw syscall, for the same reason.
int child_prctl(int option, unsigned long arg) noexcept;

/// A memfd holding `bytes`, CLOEXEC. RuntimeError on failure.
int bytes_to_memfd(const std::vector<std::byte>& bytes, const char* name);

}  // namespace tandem::mp::detail
