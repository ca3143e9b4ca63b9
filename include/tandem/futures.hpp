// SPDX-License-Identifier: MIT
// <tandem/futures.hpp> — Python's `concurrent.futures` for C++ (docs/futures.md).
//
//   concurrent.futures.Future              tandem::Future<T>            <tandem/futures/future.hpp>
//   wait / as_completed / FIRST_COMPLETED  tandem::wait / as_completed / ReturnWhen
//                                                                       <tandem/futures/wait.hpp>
//   ThreadPoolExecutor                     tandem::ThreadPoolExecutor   <tandem/futures/thread_pool.hpp>
//   (beyond Python) a progress bar         tandem::progress(range)      <tandem/futures/progress.hpp>
//   (beyond Python) when_all / when_any    tandem::when_all(f, g, ...)  <tandem/futures/combinators.hpp>
//   (asyncio's) call_later / call_at       executor.call_later(d, fn)   <tandem/futures/timers.hpp>
//   (beyond Python) priorities, timeouts   submit(TaskOptions{...}, fn) <tandem/futures/options.hpp>
//   CancelledError, InvalidStateError, TimeoutError, BrokenThreadPool   <tandem/errors.hpp>
#pragma once

#include "tandem/errors.hpp"
#include "tandem/futures/future.hpp"
#include "tandem/futures/wait.hpp"
#include "tandem/futures/thread_pool.hpp"
#include "tandem/futures/progress.hpp"
#include "tandem/futures/combinators.hpp"
#include "tandem/futures/timers.hpp"
