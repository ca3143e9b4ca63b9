// SPDX-License-Identifier: MIT
// <tandem/multiprocessing/start_method.hpp> — multiprocessing's start methods, in a header of
// their own so that an executor's options do not pull in all of mp::Process
// (docs/multiprocessing.md#start-methods).
#pragma once

#include <vector>

namespace tandem::mp {

/// How a new process begins: `fork` (a copy of this one; Linux's default before Python 3.14),
/// `forkserver` (forked from a single-threaded server started by mp::init; Python 3.14's
/// default), `spawn` (a fresh exec of this program; needs mp::init as main()'s first line).
/// <tandem/multiprocessing/process.hpp> says what each costs and allows.
enum class StartMethod { fork, forkserver, spawn };

/// multiprocessing.set_start_method(method, force=False): the start method of every
/// mp::Process created without one (ProcessOptions::start_method empty); ProcessPoolExecutor
/// keeps its own option. RuntimeError("context has already been set") once the default was
/// set or used — by an earlier set_start_method(), by get_start_method() or get_context(),
/// or by a Process created without a start method (one given a method, or made by a
/// Context, does not count) — unless `force`. Children inherit the default, fixed or not.
/// Thread-safe (one atomic word). <tandem/multiprocessing/functions.hpp> has the rest.
void set_start_method(StartMethod method, bool force = false);
/// multiprocessing.get_start_method(): the default start method — StartMethod::fork unless
/// set_start_method() chose another (Python 3.14 on Linux defaults to forkserver; tandem keeps
/// fork, ProcessOptions' default before these functions existed). As in Python, the call
/// fixes the default: a later set_start_method() without `force` throws. Thread-safe.
StartMethod get_start_method();
// Not offered: Python's set_start_method(None, force=True) (back to "not set") and
// get_start_method(allow_none=True) (asks without fixing).

/// multiprocessing.get_all_start_methods(): every method available, the default first.
std::vector<StartMethod> get_all_start_methods();

}  // namespace tandem::mp
