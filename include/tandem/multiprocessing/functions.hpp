// SPDX-License-Identifier: MIT
// <tandem/multiprocessing/functions.hpp> — the module functions of Python's multiprocessing:
// active_children(), cpu_count(), process_cpu_count(), current_process(), parent_process(),
// and (declared in start_method.hpp, which Process needs) set_start_method(),
// get_start_method(), get_all_start_methods()
// (docs/multiprocessing.md#module-functions-and-contexts).
//
//   multiprocessing.active_children()       mp::active_children()   -> std::vector<ProcessInfo>
//   multiprocessing.cpu_count()             mp::cpu_count()
//   multiprocessing.process_cpu_count()     mp::process_cpu_count()  (Python 3.13)
//   multiprocessing.current_process()       mp::current_process()   -> ProcessInfo
//   multiprocessing.parent_process()        mp::parent_process()    -> std::optional<ProcessInfo>
//   multiprocessing.set_start_method(m, force=False)   mp::set_start_method(m, force = false)
//   multiprocessing.get_start_method()      mp::get_start_method()
//   multiprocessing.get_all_start_methods() mp::get_all_start_methods()
//   multiprocessing.get_context(method)     mp::get_context(m)      (context.hpp)
//
// Guarantees
//  * current_process(): {getpid(), "MainProcess", false} in the main process (any process
//    not started by an mp::Process: a fork() of your own, a ProcessPoolExecutor worker, keeps
//    what its creator had, as in Python). In a child started by mp::Process — fork, forkserver
//    or spawn — the child's pid, its name ("Process-1", "Process-1:2" in a grandchild, or the
//    ProcessOptions name; a set_name() in the child shows here) and its daemon flag.
//  * parent_process(): nullopt in the main process; in a child of an mp::Process, {pid of the
//    process that called start(), that process's current_process().name ("MainProcess" for a
//    child of the main process), false}. The pid is the creator's also with forkserver, whose
//    children the OS sees as the server's (as Python). Only its identity: Python's
//    _ParentProcess also offers is_alive()/join() through a sentinel, which tandem has not.
//  * active_children(): the children this process started with mp::Process::start() that are
//    still running, in start order, as {pid, name, daemon}. As Python, it reaps the children
//    that have exited (the Process's exitcode() is then set without a join()). A Process that
//    is being destroyed is listed until its destructor has joined it. Children started by
//    another process (the creator of this one) are never listed. A ProcessPoolExecutor's
//    workers are mp::Processes, so they are listed (as Python lists its pool's workers);
//    the server of an mp::Manager or SharedMemoryManager is a plain fork(), so it is not
//    (Python's manager server is a Process and is listed).
//  * cpu_count(): the number of CPUs in the system (os.cpu_count(): sysconf
//    _SC_NPROCESSORS_ONLN); process_cpu_count(): the CPUs this process may run on
//    (sched_getaffinity(0), Python 3.13's os.process_cpu_count()). Both at least 1 — where
//    Python returns None, tandem returns 1 (and Python's NotImplementedError never happens).
// Thread safety: all of them may be called from any thread. active_children() holds the
//  registry's lock while it checks each child (Process::is_alive(): never blocks on a running
//  child), so a start() or a ~Process in another thread waits for that long.
// Cost: current_process()/parent_process(): a getpid() and a string copy. active_children():
//  a poll(2) with timeout 0 on each listed child's pidfd, plus the waitid (forkserver: the
//  server's report) of each that has exited; a vector of the results.
//  cpu_count(): one sysconf (reads /sys); process_cpu_count(): one sched_getaffinity.
// Differences from Python:
//  * ProcessInfo is a snapshot (a value), not the Process object: renaming it has no effect
//    on the process; Python returns the live object (current_process().name = "x" renames).
//    Use Process::set_name() in the child for that.
//  * A child inherits its creator's default start method — and whether it was fixed — in
//    every start method (fork: its copy; spawn/forkserver: sent with the target). Python
//    passes it to spawn children only when it was set, and forkserver children get the
//    server's.
//  * ProcessPoolExecutor (concurrent.futures) does not follow set_start_method(): its
//    ProcessPoolOptions::start_method defaults to fork. (Python's uses the default context.)
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "tandem/multiprocessing/start_method.hpp"

namespace tandem::mp {

/// What Python's process objects tell about a process: its pid, name and daemon flag.
struct ProcessInfo {
  int pid;
  std::string name;
  bool daemon;
};

/// multiprocessing.active_children(): the live children of this process (see above).
std::vector<ProcessInfo> active_children();
/// multiprocessing.cpu_count(): CPUs in the system; never 0.
std::size_t cpu_count();
/// multiprocessing.process_cpu_count() (Python 3.13): CPUs usable by this process; never 0.
std::size_t process_cpu_count();
/// multiprocessing.current_process(): this process.
ProcessInfo current_process();
/// multiprocessing.parent_process(): the process that started this one; nullopt in the main
/// process.
std::optional<ProcessInfo> parent_process();

}  // namespace tandem::mp
