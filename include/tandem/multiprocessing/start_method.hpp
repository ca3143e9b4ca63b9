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

/// multiprocessing.set_start_method(method, force=False): the start method of every Process
/// (and of Context-less factories) created without one. RuntimeError("context has already
/// been set") once the default was set or used — by an earlier set_start_method(), by
/// get_start_method(), or by a Process created without a start method — unless `force`.
/// Thread-safe (one atomic word). <tandem/multiprocessing/functions.hpp> has the details.
void set_start_method(StartMethod method, bool force = false);
/// multiprocessing.get_start_method(): the default start method — StartMethod::fork unless
/// set_start_method() chose another (Python 3.14 on Linux defaults to forkserver; tandem keeps
/// fork, ProcessOptions' default before these functions existed). As in Python, the call
/// fixes the default: a later set_start_method() without `force` throws. Thread-safe.
StartMethod get_start_method();
/// multiprocessing.get_all_start_methods(): every method available, the default first.
std::vector<StartMethod> get_all_start_methods();

}  // namespace tandem::mp
