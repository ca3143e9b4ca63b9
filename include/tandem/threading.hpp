// SPDX-License-Identifier: MIT
// <tandem/threading.hpp> — Python's `threading` module for C++ (docs/threading.md).
//
//   threading.Thread            tandem::Thread            <tandem/threading/thread.hpp>
//   threading.Timer             tandem::Timer             <tandem/threading/timer.hpp>
//   threading.Lock              tandem::Lock              <tandem/threading/lock.hpp>
//   threading.RLock             tandem::RLock             <tandem/threading/rlock.hpp>
//   threading.Condition         tandem::Condition         <tandem/threading/condition.hpp>
//   threading.Semaphore         tandem::Semaphore         <tandem/threading/semaphore.hpp>
//   threading.BoundedSemaphore  tandem::BoundedSemaphore  <tandem/threading/semaphore.hpp>
//   threading.Event             tandem::Event             <tandem/threading/event.hpp>
//   threading.Barrier           tandem::Barrier           <tandem/threading/barrier.hpp>
//   threading.local             tandem::local<T>          <tandem/threading/local.hpp>
//   threading.enumerate, active_count, main_thread, get_ident, get_native_id, stack_size
//                               tandem::enumerate, ...    <tandem/threading/introspection.hpp>
//
// All blocking goes through one waiting layer (<tandem/detail/wait.hpp>: futex with
// deadlines on the steady clock); every blocking call has an overload taking a timeout.
#pragma once

#include "tandem/errors.hpp"
#include "tandem/threading/barrier.hpp"
#include "tandem/threading/condition.hpp"
#include "tandem/threading/event.hpp"
#include "tandem/threading/introspection.hpp"
#include "tandem/threading/local.hpp"
#include "tandem/threading/lock.hpp"
#include "tandem/threading/rlock.hpp"
#include "tandem/threading/semaphore.hpp"
#include "tandem/threading/thread.hpp"
#include "tandem/threading/timer.hpp"
