// SPDX-License-Identifier: MIT
// <tandem/log.hpp> — where tandem's own warnings and error reports go (beyond Python: Python
// prints these with print(..., file=sys.stderr) or the warnings module; a C++ program that
// owns its stderr needs to route or silence them).
//
// Everything tandem prints goes through one handler: the default excepthook's "Exception in
// thread NAME:" report, a Process's "Process NAME:" report of its target's exception, "Exception
// in initializer" of a pool, "exception calling callback for <Future at ...>", the once-per-
// process "This process (pid=N) is multi-threaded, use of fork() may lead to deadlocks in the
// child." warning, the process pool's and the MPI runtime's fatal reports. The default handler
// writes the message and a newline to stderr in one write, as tandem always did; texts are
// Python's where Python has them (docs/threading.md#thread).
//
//   tandem::set_log_handler([](tandem::LogLevel level, std::string_view source,
//                              std::string_view message) {
//     if (level >= tandem::LogLevel::error) my_logger.error("{}: {}", source, message);
//   });
//
// Guarantees
//  * set_log_handler() is thread-safe and may run while other threads log: a message goes to
//    the old handler or the new one, whole. A handler may be called from any thread at once
//    (pool workers, dispatcher threads, Thread objects): it must be thread-safe itself.
//  * Processes: a child started with StartMethod::fork (an mp::Process, a ProcessPoolExecutor
//    worker, a Manager server) keeps the handler it had at the fork — it runs in the child;
//    one started with spawn or forkserver is a fresh program and uses the default until it
//    installs its own (mp::init() returns before the child's target runs; install the handler
//    before it in main(), as the parent does, and both share it).
//  * An exception thrown by the handler is swallowed and that message is written by the
//    default handler instead: a report is never lost, and logging never throws into tandem.
// Cost: one atomic load and an indirect call per message (messages are rare: failures only).
#pragma once

#include <functional>
#include <string_view>

namespace tandem {

/// Python logging's levels and numbers.
enum class LogLevel { debug = 10, info = 20, warning = 30, error = 40, critical = 50 };

/// `source`: the module that speaks ("threading", "futures", "multiprocessing",
/// "process_pool", "mpi"); `message`: the text, without a final newline (a report may span
/// lines, as Python's do).
using LogHandler =
    std::function<void(LogLevel level, std::string_view source, std::string_view message)>;

/// Installs `handler` for the whole process and returns the one it replaces (empty when that
/// was the default). An empty `handler` restores the default (stderr). A handler that does
/// nothing silences tandem.
LogHandler set_log_handler(LogHandler handler);

/// Sends one message through the current handler (what tandem itself calls; programs may too).
void log(LogLevel level, std::string_view source, std::string_view message) noexcept;

/// Python's level names: "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL".
std::string_view level_name(LogLevel level) noexcept;

}  // namespace tandem
