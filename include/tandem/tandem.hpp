// SPDX-License-Identifier: MIT
// <tandem/tandem.hpp> — every tandem module at once (the MPI pool, an optional component,
// is included separately: <tandem/mpi.hpp>, target tandem::mpi).
#pragma once

#include "tandem/contextvars.hpp"
#include "tandem/errors.hpp"
#include "tandem/futures.hpp"
#include "tandem/log.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/queue.hpp"
#include "tandem/sched.hpp"
#include "tandem/serialize.hpp"
#include "tandem/subprocess.hpp"
#include "tandem/threading.hpp"
#include "tandem/version.hpp"
