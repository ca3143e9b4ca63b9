// SPDX-License-Identifier: MIT
// How the library names an exception in what it prints and ships: Python's "TYPE: message"
// for a Thread's excepthook, a Process's dying report and a task's ExceptionRecord. One place
// so that the three read alike.
#pragma once

#include <exception>
#include <string>

namespace tandem::detail {

/// The readable C++ type name for a typeid(...).name(); the mangled name if it can't be read.
std::string demangle(const char* mangled);

/// Rethrows `e` to read its dynamic type and, for a std::exception, what(). Not a
/// std::exception: the type as the ABI reports it ("unknown exception" if none), empty what.
void describe(std::exception_ptr e, std::string* type, std::string* what);

}  // namespace tandem::detail
