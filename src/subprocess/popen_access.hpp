// SPDX-License-Identifier: MIT
// What run() and the run_async watcher need of a Popen beyond its public interface.
#pragma once

#include <signal.h>

#include "subprocess/spawn.hpp"
#include "tandem/subprocess/popen.hpp"

namespace tandem::subprocess::detail {

struct PopenAccess {
  /// SIGKILL to the child, and first to its whole process group when it leads one. The group
  /// id is still ours to use: the leader is not reaped yet (a zombie keeps its pgid in use).
  static void kill_tree(Popen& p) {
    if (p.leads_group_ && !p.returncode()) ::kill(-p.pid_, SIGKILL);
    p.kill();
  }
  static int reap(Popen& p) { return *p.reap(true); }
  static Output communicate_until(Popen& p, std::string_view input, const tandem::detail::Deadline& dl,
                                  std::optional<duration> timeout) {
    return p.communicate_until(input, dl, timeout);
  }
  /// Hands the child and its pipes over (to the watcher): the Popen forgets them, and its
  /// destructor does nothing.
  static Spawned detach(Popen& p) {
    Spawned s;
    s.pid = p.pid_;
    s.pidfd = std::exchange(p.pidfd_, -1);
    s.in = p.in_.release();
    s.out = p.out_.release();
    s.err = p.err_.release();
    s.leads_group = p.leads_group_;
    return s;
  }
};

}  // namespace tandem::subprocess::detail
