// SPDX-License-Identifier: MIT
// The translation unit that builds the tests' precompiled header (tests/CMakeLists.txt,
// TANDEM_TEST_PCH); it has no code of its own.
