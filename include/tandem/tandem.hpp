// <tandem/tandem.hpp> — every tandem module at once.
#pragma once

#include "tandem/errors.hpp"
#include "tandem/queue.hpp"
#include "tandem/threading.hpp"
