// SPDX-License-Identifier: MIT
// tandem::shipping — exceptions across a process boundary.
//
// A task that throws in a worker rethrows in the caller as:
//  * the same type, when the exception's dynamic type is exactly one of: std::logic_error,
//    std::invalid_argument, std::out_of_range, std::length_error, std::domain_error,
//    std::runtime_error, std::range_error, std::overflow_error, std::underflow_error,
//    std::bad_alloc, or one of tandem's own (<tandem/errors.hpp>: Error, RuntimeError,
//    ValueError, DecodeError, TimeoutError, Empty, Full, ShutDown, CancelledError,
//    InvalidStateError, KeyError, AttributeError, BrokenBarrierError, BrokenExecutor, BrokenThreadPool,
//    BrokenProcessPool, WorkerDied — with its pid/exit code/signal — and RemoteError, which
//    keeps its original type name); what() is carried unchanged (bad_alloc's is fixed);
//  * otherwise tandem::RemoteError(type name, what()): a user exception type (even one
//    derived from a type above: the match is exact, so no slicing pretends to be the real
//    type), std::system_error, a thrown int (type name "int", empty message), ….
// The type name is the demangled C++ name, e.g. "std::out_of_range", "my::ParseError".
#pragma once

#include <cstdint>
#include <exception>
#include <string>

namespace tandem::shipping {

/// What crosses the boundary. Serializable (an aggregate of standard types).
struct ExceptionRecord {
  std::string type;   // demangled type name
  std::string what;   // what(); for RemoteError, its message without the "type: " prefix
  std::int64_t pid = 0, exit_code = 0, signal = 0;  // WorkerDied only
};

/// Describes `e` (which must not be null).
ExceptionRecord record_exception(std::exception_ptr e);

/// Throws the exception `r` describes (see the mapping above).
[[noreturn]] void rethrow_remote(const ExceptionRecord& r);

/// The demangled name of the exception currently being handled ("unknown" if none).
std::string current_exception_type_name();

}  // namespace tandem::shipping
