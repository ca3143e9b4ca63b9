// SPDX-License-Identifier: MIT
// See exception_text.hpp.
#include "detail/exception_text.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <typeinfo>

namespace tandem::detail {

std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = (status == 0 && s) ? s : mangled;
  std::free(s);
  return out;
}

void describe(std::exception_ptr e, std::string* type, std::string* what) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    *type = demangle(typeid(ex).name());
    *what = ex.what();
  } catch (...) {
    const std::type_info* ti = abi::__cxa_current_exception_type();
    *type = ti ? demangle(ti->name()) : "unknown exception";
  }
}

}  // namespace tandem::detail
