// SPDX-License-Identifier: MIT
// tandem::mp::get_context (<tandem/multiprocessing/context.hpp>).
#include "tandem/multiprocessing/context.hpp"

namespace tandem::mp {

Context get_context(StartMethod method) { return Context(method); }

Context get_context() { return Context(get_start_method()); }

}  // namespace tandem::mp
