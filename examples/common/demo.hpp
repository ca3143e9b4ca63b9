// SPDX-License-Identifier: MIT
// examples/common/demo.hpp — what the seed programs need besides tandem itself, so that each
// can run unattended (CI: `prog --speed 20 --seconds 2 </dev/null`) as well as by hand.
//
//   demo::init(argc, argv, about)
//                            parses  --seconds N  (bound the whole run; default: unbounded)
//                                    --speed K    (divide the chapter's sleeps by K; default 1)
//                                    --help       (usage and `about`, then exit 0)
//                                    --about      (`about` alone: scripts/demo prints it
//                                                 before it runs the program)
//   demo::print(a, b, ...)   Python's print(a, b, ...): items joined by one space, one line,
//                            written at once and flushed (lines of different threads never mix)
//   demo::sleep(d)           time.sleep(d / speed), cut at the --seconds bound
//   demo::sleep(d, token)    the same, but woken at once by a stop request (returns false then)
//   demo::input(prompt)      input(prompt): returns when Enter is pressed, when the --seconds
//                            bound passes, or at end of input (at once without --seconds;
//                            with --seconds it waits for the bound, so the demo runs its time).
//                            The prompt is a line of its own (see input() below).
#pragma once

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stop_token>
#include <string>

#include "tandem/threading/thread.hpp"

namespace demo {

using namespace std::chrono_literals;

struct Settings {
  double speed = 1;
  bool bounded = false;
  std::chrono::steady_clock::time_point end{};
};

inline Settings& settings() {
  static Settings s;
  return s;
}

inline void usage(std::FILE* out, const char* argv0, const char* about) {
  const char* slash = std::strrchr(argv0, '/');
  const char* name = slash ? slash + 1 : argv0;
  std::fprintf(out,
               "usage: %s [--speed K] [--seconds N] [--help] [--about]\n"
               "%s\n"
               "  --speed K    make the chapter's sleeps K times shorter (default 1)\n"
               "  --seconds N  end the run after N seconds at most (default: no bound)\n"
               "  --help       this text\n"
               "  --about      only the line above the options\n"
               "Where the book's program waits for Enter (\"Press Enter to stop...\"), so does\n"
               "this one; it also stops at the end of piped input, or when --seconds passes.\n",
               name, about);
}

/// Parses the demo options (see the top of this file); `about` says in one line what the
/// program demonstrates.
inline void init(int argc, char** argv, const char* about) {
  Settings& s = settings();
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      usage(stdout, argv[0], about);
      std::exit(0);
    }
    if (std::strcmp(argv[i], "--about") == 0) {
      std::printf("%s\n", about);
      std::exit(0);
    }
  }
  for (int i = 1; i < argc; i += 2) {
    const double v = i + 1 < argc ? std::strtod(argv[i + 1], nullptr) : -1;
    if (std::strcmp(argv[i], "--speed") == 0 && v > 0) {
      s.speed = v;
    } else if (std::strcmp(argv[i], "--seconds") == 0 && v >= 0) {
      s.bounded = true;
      s.end = std::chrono::steady_clock::now() +
              std::chrono::duration_cast<std::chrono::steady_clock::duration>(tandem::duration(v));
    } else {
      usage(stderr, argv[0], about);
      std::exit(2);
    }
  }
}

/// Time left before the --seconds bound (a very long time when unbounded).
inline tandem::duration remaining() {
  const Settings& s = settings();
  if (!s.bounded) return tandem::duration(1e9);
  auto left = std::chrono::duration_cast<tandem::duration>(s.end - std::chrono::steady_clock::now());
  return std::max(left, tandem::duration(0));
}

/// d / speed, cut at the --seconds bound; once the bound has passed the full scaled time
/// (a loop must not spin: the program is about to stop its threads anyway).
inline tandem::duration scaled(tandem::duration d) {
  const tandem::duration left = remaining();
  d /= settings().speed;
  return left.count() > 0 ? std::min(d, left) : d;
}

inline void sleep(tandem::duration d) { tandem::sleep(scaled(d)); }
inline bool sleep(tandem::duration d, std::stop_token token) {
  return tandem::sleep(scaled(d), std::move(token));
}

template <class... Args>
void print(const Args&... args) {
  std::ostringstream line;
  const char* sep = "";
  ((line << sep << args, sep = " "), ...);
  line << '\n';
  const std::string text = line.str();
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// The prompt is printed as a whole line. Python's input() leaves the cursor after it, and
// the book's threads and processes go on printing while it waits, so their first line was
// glued to the prompt ("Press Enter to stop...counter: 1"). On a terminal the Enter typed
// is echoed, which leaves one empty line; piped input echoes nothing.
inline void input(const char* prompt) {
  print(prompt);
  for (;;) {
    const tandem::duration left = remaining();
    const int timeout_ms =
        settings().bounded ? static_cast<int>(std::ceil(left.count() * 1000)) : -1;
    pollfd fd{0, POLLIN, 0};
    const int n = ::poll(&fd, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the --seconds bound passed (or poll failed): stop waiting
    char c = 0;
    const ssize_t got = (fd.revents & POLLNVAL) ? 0 : ::read(0, &c, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got == 1) {
      if (c == '\n') return;  // Enter: the terminal already echoed the newline
      continue;
    }
    // End of input (or no stdin at all): as if the user never pressed Enter.
    if (settings().bounded) tandem::sleep(remaining());
    break;
  }
}

}  // namespace demo
