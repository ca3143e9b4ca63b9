// SPDX-License-Identifier: MIT
// Internal: the list of live threads behind enumerate() (<tandem/threading/introspection.hpp>).
// Not installed.
#pragma once

#include <functional>
#include <string>
#include <thread>

namespace tandem::detail {

/// One live thread. Owned by whoever registers it; it must unregister before it is freed.
struct LiveThread {
  std::function<std::string()> name;  // the current name (a Thread may rename itself)
  std::thread::id ident;
  long native_id = 0;
  bool daemon = false;
};

void register_thread(LiveThread* t);
void unregister_thread(LiveThread* t) noexcept;

/// The stack size for the next Thread start (0: the system default).
std::size_t next_stack_size() noexcept;

}  // namespace tandem::detail
