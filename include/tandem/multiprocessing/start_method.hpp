// SPDX-License-Identifier: MIT
// <tandem/multiprocessing/start_method.hpp> — multiprocessing's start methods, in a header of
// their own so that an executor's options do not pull in all of mp::Process
// (docs/multiprocessing.md#start-methods).
#pragma once

namespace tandem::mp {

/// How a new process begins: `fork` (a copy of this one; Linux's default before Python 3.14),
/// `forkserver` (forked from a single-threaded server started by mp::init; Python 3.14's
/// default), `spawn` (a fresh exec of this program; needs mp::init as main()'s first line).
/// <tandem/multiprocessing/process.hpp> says what each costs and allows.
enum class StartMethod { fork, forkserver, spawn };

}  // namespace tandem::mp
