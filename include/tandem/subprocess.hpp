// SPDX-License-Identifier: MIT
// <tandem/subprocess.hpp> — Python's subprocess module (docs/subprocess.md).
//
//   using namespace tandem::subprocess;
//   RunOptions o;  o.capture_output = true;  o.timeout = 5;
//   CompletedProcess r = run({"ls", "-l"}, o);
//
// Popen (popen.hpp), run/check_output/call/check_call/run_async (run.hpp), the redirects and
// options (options.hpp), Stream (stream.hpp), the errors (errors.hpp).
#pragma once

#include "tandem/subprocess/errors.hpp"
#include "tandem/subprocess/options.hpp"
#include "tandem/subprocess/popen.hpp"
#include "tandem/subprocess/run.hpp"
#include "tandem/subprocess/stream.hpp"
