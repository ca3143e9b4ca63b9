// SPDX-License-Identifier: MIT
// <tandem/errors.hpp> — the exception types of tandem, one per Python exception.
//
// Every type derives from tandem::Error, which is a std::runtime_error, so `catch (const
// std::exception&)` sees them all and `what()` carries the message Python would print.
//
// Python → C++:
//   RuntimeError (threading misuse, ThreadError)   tandem::RuntimeError
//   ValueError                                     tandem::ValueError
//     pickle.UnpicklingError (bad bytes to decode) tandem::DecodeError (a ValueError)
//   TimeoutError (builtin, 3.11+)                  tandem::TimeoutError
//   queue.Empty / queue.Full / queue.ShutDown      tandem::Empty / Full / ShutDown
//   concurrent.futures.CancelledError              tandem::CancelledError
//   concurrent.futures.InvalidStateError           tandem::InvalidStateError
//   LookupError (contextvars)                      tandem::LookupError
//   KeyError (a LookupError; Manager dict)         tandem::KeyError
//   AttributeError (Manager Namespace)             tandem::AttributeError
//   threading.BrokenBarrierError (a RuntimeError)  tandem::BrokenBarrierError
//   concurrent.futures.BrokenExecutor (RuntimeErr.) tandem::BrokenExecutor
//     → BrokenThreadPool, BrokenProcessPool → WorkerDied
//   an exception raised in another process         tandem::RemoteError
//   OSError (errno), FileNotFoundError,            tandem::OSError (errno_()),
//     PermissionError, FileExistsError               FileNotFoundError, PermissionError,
//                                                    FileExistsError
//   EOFError, multiprocessing.AuthenticationError  tandem::EOFError, AuthenticationError
//   subprocess.SubprocessError, TimeoutExpired,    <tandem/subprocess/errors.hpp>
//     CalledProcessError
//
// Error is a *virtual* base of TimeoutError and of subprocess::SubprocessError, so that
// subprocess::TimeoutExpired can be both (as Python's is a SubprocessError and, since 3.3, a
// TimeoutError by duck typing — here by inheritance) and `catch (const tandem::Error&)` still
// catches it unambiguously. The other types keep a plain base: their constructors are
// unchanged.
//
// Where Python's hierarchy says "X is a RuntimeError" the C++ type derives from
// tandem::RuntimeError too, so catching the base works the same way in both languages.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tandem {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RuntimeError : public Error {
 public:
  using Error::Error;
};

class ValueError : public Error {
 public:
  using Error::Error;
};

/// Bytes that are not a valid encoding of the requested type (truncated, corrupt, trailing
/// data): thrown by tandem::deserialize, never anything worse. Python's analogue is
/// pickle.UnpicklingError; here it is a ValueError, since the input value is what is wrong.
class DecodeError : public ValueError {
 public:
  using ValueError::ValueError;
};

class TimeoutError : public virtual Error {
 public:
  explicit TimeoutError(const std::string& what = "timed out") : Error(what) {}
  explicit TimeoutError(const char* what) : Error(what) {}

 protected:
  /// For a class that derives from TimeoutError and another Error: the most derived class
  /// initialises the virtual base, so this one does not.
  struct VirtualBase {};
  explicit TimeoutError(VirtualBase) : Error("") {}
};

/// OSError: a system call failed; errno_() is its errno (Python's OSError.errno). what() is
/// Python's text: "[Errno 2] No such file or directory: 'name'".
class OSError : public Error {
 public:
  OSError(int err, const std::string& what) : Error(what), err_(err) {}
  int errno_() const noexcept { return err_; }

  /// Python's message for errno `err` about `filename` (none when empty).
  static std::string message(int err, const std::string& filename = {}) {
    std::string m = "[Errno " + std::to_string(err) + "] " + std::strerror(err);
    if (!filename.empty()) m += ": '" + filename + "'";
    return m;
  }

 private:
  int err_;
};

/// ENOENT.
class FileNotFoundError : public OSError {
 public:
  using OSError::OSError;
};

/// EACCES, EPERM.
class PermissionError : public OSError {
 public:
  using OSError::OSError;
};

/// EEXIST.
class FileExistsError : public OSError {
 public:
  using OSError::OSError;
};

/// Throws the OSError subclass Python would raise for `err` (FileNotFoundError for ENOENT,
/// PermissionError for EACCES/EPERM, FileExistsError for EEXIST, OSError otherwise).
[[noreturn]] inline void raise_os_error(int err, const std::string& filename = {}) {
  std::string m = OSError::message(err, filename);
  switch (err) {
    case ENOENT: throw FileNotFoundError(err, m);
    case EACCES:
    case EPERM: throw PermissionError(err, m);
    case EEXIST: throw FileExistsError(err, m);
    default: throw OSError(err, m);
  }
}

/// EOFError: the other end closed (Connection.recv on a closed pipe, as Python).
class EOFError : public Error {
 public:
  using Error::Error;
};

/// multiprocessing.AuthenticationError: a connection's authentication failed.
class AuthenticationError : public Error {
 public:
  using Error::Error;
};

/// queue.Empty: a non-blocking or timed get found nothing.
class Empty : public Error {
 public:
  using Error::Error;
  Empty() : Error("queue is empty") {}
};

/// queue.Full: a non-blocking or timed put found no room.
class Full : public Error {
 public:
  using Error::Error;
  Full() : Error("queue is full") {}
};

/// queue.ShutDown (3.13): put after shutdown(), or get on a shut-down queue with nothing left.
class ShutDown : public Error {
 public:
  using Error::Error;
  ShutDown() : Error("queue is shut down") {}
};

class CancelledError : public Error {
 public:
  using Error::Error;
  CancelledError() : Error("future was cancelled") {}
};

class InvalidStateError : public Error {
 public:
  using Error::Error;
};

/// LookupError: a key or variable with no value (ContextVar::get() of an unset variable
/// without a default, as Python's LookupError).
class LookupError : public Error {
 public:
  using Error::Error;
};

/// KeyError: a mapping has no such key (Manager dict: DictProxy::operator[], pop, popitem).
class KeyError : public LookupError {
 public:
  using LookupError::LookupError;
};

/// AttributeError: an object has no such attribute (Manager Namespace: NamespaceProxy::get).
class AttributeError : public Error {
 public:
  using Error::Error;
};

class BrokenBarrierError : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
  BrokenBarrierError() : RuntimeError("barrier is broken") {}
};

class BrokenExecutor : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

class BrokenThreadPool : public BrokenExecutor {
 public:
  using BrokenExecutor::BrokenExecutor;
};

class BrokenProcessPool : public BrokenExecutor {
 public:
  using BrokenExecutor::BrokenExecutor;
};

/// A process-pool worker died while running a task: carries its pid and how it ended.
class WorkerDied : public BrokenProcessPool {
 public:
  WorkerDied(std::string what, int pid, int exit_code, int signal)
      : BrokenProcessPool(std::move(what)), pid_(pid), exit_code_(exit_code), signal_(signal) {}
  int pid() const noexcept { return pid_; }
  /// The exit status when the worker exited, -1 when it was killed by a signal.
  int exit_code() const noexcept { return exit_code_; }
  /// The signal that killed the worker, 0 when it exited.
  int signal() const noexcept { return signal_; }

 private:
  int pid_, exit_code_, signal_;
};

/// An exception thrown in another process whose type has no C++ equivalent here:
/// carries the original type name and message.
class RemoteError : public Error {
 public:
  RemoteError(std::string type_name, const std::string& message)
      : Error(type_name + ": " + message), type_name_(std::move(type_name)) {}
  const std::string& type_name() const noexcept { return type_name_; }

 private:
  std::string type_name_;
};

}  // namespace tandem
