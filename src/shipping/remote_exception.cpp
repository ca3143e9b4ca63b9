// SPDX-License-Identifier: MIT
// tandem::shipping exception mapping — see <tandem/shipping/remote_exception.hpp>.
#include "tandem/shipping/remote_exception.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <typeinfo>

#include "detail/exception_text.hpp"
#include "tandem/errors.hpp"

namespace tandem::shipping {
namespace {

using detail::demangle;

struct Entry {
  const std::type_info& type;
  const char* name;
  void (*raise)(const ExceptionRecord&);  // always throws
};

template <class E>
[[noreturn]] void raise_as(const ExceptionRecord& r) {
  throw E(r.what);
}

[[noreturn]] void raise_bad_alloc(const ExceptionRecord&) { throw std::bad_alloc(); }
[[noreturn]] void raise_remote(const ExceptionRecord& r) { throw RemoteError(r.type, r.what); }
[[noreturn]] void raise_worker_died(const ExceptionRecord& r) {
  throw WorkerDied(r.what, static_cast<int>(r.pid), static_cast<int>(r.exit_code),
                   static_cast<int>(r.signal));
}

#define TANDEM_ENTRY(T) Entry{typeid(T), #T, &raise_as<T>}
const Entry kTable[] = {
    TANDEM_ENTRY(std::logic_error),
    TANDEM_ENTRY(std::invalid_argument),
    TANDEM_ENTRY(std::out_of_range),
    TANDEM_ENTRY(std::length_error),
    TANDEM_ENTRY(std::domain_error),
    TANDEM_ENTRY(std::runtime_error),
    TANDEM_ENTRY(std::range_error),
    TANDEM_ENTRY(std::overflow_error),
    TANDEM_ENTRY(std::underflow_error),
    Entry{typeid(std::bad_alloc), "std::bad_alloc", &raise_bad_alloc},
    TANDEM_ENTRY(tandem::Error),
    TANDEM_ENTRY(tandem::RuntimeError),
    TANDEM_ENTRY(tandem::ValueError),
    TANDEM_ENTRY(tandem::DecodeError),
    TANDEM_ENTRY(tandem::TimeoutError),
    TANDEM_ENTRY(tandem::Empty),
    TANDEM_ENTRY(tandem::Full),
    TANDEM_ENTRY(tandem::ShutDown),
    TANDEM_ENTRY(tandem::CancelledError),
    TANDEM_ENTRY(tandem::InvalidStateError),
    TANDEM_ENTRY(tandem::KeyError),
    TANDEM_ENTRY(tandem::AttributeError),
    TANDEM_ENTRY(tandem::BrokenBarrierError),
    TANDEM_ENTRY(tandem::BrokenExecutor),
    TANDEM_ENTRY(tandem::BrokenThreadPool),
    TANDEM_ENTRY(tandem::BrokenProcessPool),
    Entry{typeid(tandem::WorkerDied), "tandem::WorkerDied", &raise_worker_died},
};
#undef TANDEM_ENTRY

}  // namespace

std::string current_exception_type_name() {
  const std::type_info* ti = abi::__cxa_current_exception_type();
  return ti ? demangle(ti->name()) : "unknown";
}

ExceptionRecord record_exception(std::exception_ptr e) {
  ExceptionRecord r;
  try {
    std::rethrow_exception(e);
  } catch (const RemoteError& ex) {
    r.type = ex.type_name();
    const std::string w = ex.what(), prefix = r.type + ": ";
    r.what = w.compare(0, prefix.size(), prefix) == 0 ? w.substr(prefix.size()) : w;
    if (typeid(ex) != typeid(RemoteError)) r.type = demangle(typeid(ex).name());
  } catch (const std::exception& ex) {
    const std::type_info& ti = typeid(ex);
    r.what = ex.what();
    r.type.clear();
    for (const Entry& en : kTable)
      if (en.type == ti) r.type = en.name;
    if (r.type.empty()) r.type = demangle(ti.name());
    if (const auto* wd = dynamic_cast<const WorkerDied*>(&ex); wd && ti == typeid(WorkerDied)) {
      r.pid = wd->pid();
      r.exit_code = wd->exit_code();
      r.signal = wd->signal();
    }
  } catch (...) {
    r.type = current_exception_type_name();
  }
  return r;
}

void rethrow_remote(const ExceptionRecord& r) {
  for (const Entry& en : kTable)
    if (r.type == en.name) en.raise(r);
  raise_remote(r);
}

}  // namespace tandem::shipping
