// <tandem/multiprocessing.hpp> — Python's `multiprocessing` module for C++ (namespace
// tandem::mp; python-semantics.md §10–§13).
//
//   multiprocessing.Process            tandem::mp::Process     <tandem/multiprocessing/process.hpp>
//   current_process().name             mp::current_process_name()
//   (a cross-process stop request)     mp::StopToken, mp::sleep(d, token), Process::request_stop()
//   set_start_method / forkserver      mp::StartMethod, mp::init(argc, argv)
//
// The child of a Process is a fork()ed copy; what it shares with its parent after start()
// lives in MAP_SHARED memory (<tandem/multiprocessing/shm.hpp>), and every wait on it goes
// through the one waiting layer with process-shared futexes (detail::Scope::shared).
#pragma once

#include "tandem/errors.hpp"
#include "tandem/multiprocessing/process.hpp"
