// SPDX-License-Identifier: MIT
// Which sanitizer this translation unit is built with (internal): TANDEM_ASAN and TANDEM_TSAN,
// defined for GCC (__SANITIZE_*__) and Clang (__has_feature) alike, for the few places that
// tell a sanitizer what it cannot see (a pool's free blocks, a lock taken by clocklock).
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define TANDEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TANDEM_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define TANDEM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TANDEM_TSAN 1
#endif
#endif
