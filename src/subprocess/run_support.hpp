// SPDX-License-Identifier: MIT
// Shared by run() and run_async(): option checks, the outcome, and the reading grace after a
// kill (cpython#76116).
#pragma once

#include "tandem/detail/wait.hpp"
#include "tandem/subprocess/options.hpp"

namespace tandem::subprocess::detail {

/// After the child is killed and reaped, pipes still held open by a grandchild are read for
/// this long, then abandoned: run(timeout) returns instead of waiting for their EOF.
inline constexpr double kGraceSeconds = 0.1;

/// Python's argument checks (ValueError), then input → stdin PIPE, capture_output → PIPEs.
void prepare_run(RunOptions& o);

/// CompletedProcess, or CalledProcessError when o.check and the status is not 0.
CompletedProcess finish_run(std::vector<std::string> args, int rc, std::string out, std::string err,
                            bool check);

}  // namespace tandem::subprocess::detail
