// SPDX-License-Identifier: MIT
// Starting a child: PopenOptions → posix_spawn (or vfork when umask is set), reporting an exec
// failure in the parent with its errno.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tandem/subprocess/options.hpp"

namespace tandem::subprocess::detail {

struct Spawned {
  pid_t pid = -1;
  int pidfd = -1;  // O_CLOEXEC
  int in = -1, out = -1, err = -1;  // this process's ends of the PIPEs (O_CLOEXEC), or -1
  bool leads_group = false;
};

/// Validates args and options (ValueError), starts the child, opens its pidfd. Throws the
/// OSError subclass of the errno when the child could not be started; nothing leaks then.
Spawned spawn(const std::vector<std::string>& args, const PopenOptions& options);

/// pidfd_open(2) / pidfd_send_signal(2) / waitid(P_PIDFD) (glibc 2.36 has no wrappers for all).
int pidfd_open(pid_t pid) noexcept;
int pidfd_send_signal(int pidfd, int sig) noexcept;
/// Reaps the child behind pidfd: its returncode (-N for signal N), or -1 when it is still
/// running (block = false). ECHILD (someone else reaped it: SIGCHLD set to SIG_IGN) gives 0,
/// as Python.
bool reap_pidfd(int pidfd, bool block, int& returncode) noexcept;

}  // namespace tandem::subprocess::detail
