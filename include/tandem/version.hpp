// SPDX-License-Identifier: MIT
// <tandem/version.hpp> — the version of the tandem headers in use (included by <tandem/tandem.hpp>).
// Kept equal to project(tandem VERSION …) in CMakeLists.txt by the test version_header.
#pragma once

#define TANDEM_VERSION_MAJOR 0
#define TANDEM_VERSION_MINOR 1
#define TANDEM_VERSION_PATCH 0
#define TANDEM_VERSION_STRING "0.1.0"
/// One number for comparisons: MAJOR * 10000 + MINOR * 100 + PATCH (0.1.0 → 100).
#define TANDEM_VERSION (TANDEM_VERSION_MAJOR * 10000 + TANDEM_VERSION_MINOR * 100 + TANDEM_VERSION_PATCH)
