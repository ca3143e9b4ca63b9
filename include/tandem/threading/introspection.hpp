// SPDX-License-Identifier: MIT
// threading's module functions about threads: enumerate(), active_count(), main_thread(),
// get_ident(), get_native_id(), stack_size() (docs/threading.md#introspection).
//
// What enumerate() covers: the main thread, every tandem::Thread between the moment its
//  start() made it running and the end of its run() and excepthook (exactly while
//  is_alive() is true), and every thread tandem starts without a Thread — the workers of a
//  ThreadPoolExecutor and a process pool's dispatcher — from when it names itself until it
//  exits. Threads started with std::thread or pthread_create directly are not listed
//  (Python lists a foreign thread as a _DummyThread once it calls current_thread(); tandem
//  does not).
// Thread-safety: all functions may be called from any thread at any time. enumerate() is a
//  snapshot under one lock: a thread in it had started and not yet ended at some instant
//  during the call.
// Cost: enumerate() and active_count() take a process-wide lock held for one copy of the
//  list (O(number of threads)); a Thread's start and end add one lock round trip each.
//  get_ident() is pthread_self(); get_native_id() a thread_local read (the kernel id is
//  cached per thread, as the locks' owner id is).
// Differences from Python:
//  * ThreadInfo is a snapshot of the thread's name, ident, native id and daemon flag, not
//    the Thread object (a pool worker has none).
//  * main_thread() is the process's initial thread, whose ident is recorded when the library
//    is initialised (static initialisation, which runs on the main thread unless the library
//    is dlopen()ed from another thread).
#pragma once

#include <cstddef>
#include <string>
#include <thread>
#include <vector>

namespace tandem {

/// A live thread as enumerate() lists it (the fields of Python's Thread it reports).
struct ThreadInfo {
  std::string name;       // Thread.name ("MainThread", "Thread-3", "ThreadPoolExecutor-0_1")
  std::thread::id ident;  // Thread.ident
  long native_id = 0;     // Thread.native_id: the kernel thread id (gettid)
  bool daemon = false;    // Thread.daemon (pool workers: false, as Python's since 3.9)
};

/// threading.enumerate(): the live threads; the main thread first, then in start order.
std::vector<ThreadInfo> enumerate();
/// threading.active_count(): enumerate().size().
std::size_t active_count();
/// threading.main_thread(): the process's initial thread, named "MainThread".
ThreadInfo main_thread();
/// threading.get_ident(): the calling thread's identifier.
std::thread::id get_ident() noexcept;
/// threading.get_native_id(): the calling thread's kernel thread id (gettid()).
long get_native_id() noexcept;
/// threading.stack_size(): the stack size later Thread starts use (0: the system default,
/// 8 MiB on Linux unless ulimit -s says otherwise).
std::size_t stack_size() noexcept;
/// threading.stack_size(size): sets it for Threads started from now on and returns the
/// previous value. ValueError("size not valid: N bytes") when size is neither 0 nor at least
/// 32 KiB, as Python. Pool workers keep the system default.
std::size_t stack_size(std::size_t size);

}  // namespace tandem
