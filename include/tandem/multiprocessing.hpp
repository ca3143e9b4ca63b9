// SPDX-License-Identifier: MIT
// <tandem/multiprocessing.hpp> — Python's `multiprocessing` module for C++ (namespace
// tandem::mp; docs/multiprocessing.md).
//
//   multiprocessing.Process            tandem::mp::Process     <tandem/multiprocessing/process.hpp>
//   current_process().name             mp::current_process_name()
//   active_children, cpu_count, process_cpu_count, current_process, parent_process
//                                      mp::active_children(), ...  functions.hpp
//   set/get_start_method, get_context  mp::set_start_method(), mp::Context  start_method.hpp,
//                                      context.hpp
//   (a cross-process stop request)     mp::StopToken, mp::sleep(d, token), Process::request_stop()
//   set_start_method / forkserver      mp::StartMethod, mp::init(argc, argv)
//   Lock, RLock (crash-safe: robust)   mp::Lock, mp::RLock     <tandem/multiprocessing/lock.hpp>,
//   rlock.hpp
//   Semaphore, BoundedSemaphore        mp::Semaphore, ...     
//   <tandem/multiprocessing/semaphore.hpp>
//   Event, Condition, Barrier          mp::Event, ...          event.hpp, condition.hpp,
//   barrier.hpp
//   Value, Array (sharedctypes)        mp::Value<T>, mp::Array<T>   value.hpp, array.hpp
//   Queue, JoinableQueue, SimpleQueue  mp::Queue<T>, ...       queue.hpp, joinable_queue.hpp,
//   simple_queue.hpp
//   Pipe(), connection.Connection      mp::Pipe(), mp::Connection  connection.hpp
//   connection.Listener, Client, wait  mp::connection::Listener, ...  listener.hpp
//   shared_memory.SharedMemory         mp::SharedMemory        shared_memory.hpp (Python's names)
//   shared_memory.ShareableList        mp::ShareableList       shareable_list.hpp (Python's layout)
//   managers.SharedMemoryManager       mp::SharedMemoryManager shared_memory_manager.hpp
//   Pool, pool.AsyncResult             mp::Pool, mp::AsyncResult<R>  pool.hpp, async_result.hpp
//
// The child of a Process is a fork()ed copy; what it shares with its parent after start()
// lives in MAP_SHARED memory (<tandem/multiprocessing/detail/shm.hpp>), and every wait on it goes
// through the one waiting layer with process-shared futexes (detail::Scope::shared).
#pragma once

#include "tandem/errors.hpp"
#include "tandem/multiprocessing/array.hpp"
#include "tandem/multiprocessing/barrier.hpp"
#include "tandem/multiprocessing/condition.hpp"
#include "tandem/multiprocessing/connection.hpp"
#include "tandem/multiprocessing/context.hpp"
#include "tandem/multiprocessing/event.hpp"
#include "tandem/multiprocessing/functions.hpp"
#include "tandem/multiprocessing/lock.hpp"
#include "tandem/multiprocessing/manager.hpp"
#include "tandem/multiprocessing/pool.hpp"
#include "tandem/multiprocessing/process.hpp"
#include "tandem/multiprocessing/queue.hpp"
#include "tandem/multiprocessing/joinable_queue.hpp"
#include "tandem/multiprocessing/listener.hpp"
#include "tandem/multiprocessing/simple_queue.hpp"
#include "tandem/multiprocessing/rlock.hpp"
#include "tandem/multiprocessing/semaphore.hpp"
#include "tandem/multiprocessing/shareable_list.hpp"
#include "tandem/multiprocessing/shared_memory.hpp"
#include "tandem/multiprocessing/shared_memory_manager.hpp"
#include "tandem/multiprocessing/value.hpp"
