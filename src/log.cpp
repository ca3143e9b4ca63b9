// SPDX-License-Identifier: MIT
// <tandem/log.hpp>: the process-wide log handler.
//
// The handler is read on every message from any thread, and may be read in a child right after
// fork() — where a mutex another thread held at the fork would stay locked forever. So it is
// published through an atomic pointer and never freed: set_log_handler() allocates the new one
// and retires the old one into a list that lives as long as the process (a handful of objects
// in a program's life; a reader that loaded the old pointer can still call it safely).
#include "tandem/log.hpp"

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tandem {
namespace {

std::atomic<const LogHandler*> g_handler{nullptr};  // nullptr: the default

struct Retired {
  std::mutex mutex;  // taken only by set_log_handler(), never by log()
  std::vector<std::unique_ptr<LogHandler>> handlers;
};
Retired& retired() {
  static Retired* r = new Retired;  // never destroyed: log() may run during static destruction
  return *r;
}

void write_default(std::string_view message) noexcept {
  std::string line;
  try {
    line.reserve(message.size() + 1);
    line.append(message);
    line.push_back('\n');
  } catch (...) {
    std::fwrite(message.data(), 1, message.size(), stderr);
    std::fputc('\n', stderr);
    std::fflush(stderr);
    return;
  }
  // One write, so that reports from several threads or processes do not interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

LogHandler set_log_handler(LogHandler handler) {
  Retired& r = retired();
  std::lock_guard<std::mutex> g(r.mutex);
  const LogHandler* next = nullptr;
  if (handler) {
    r.handlers.push_back(std::make_unique<LogHandler>(std::move(handler)));
    next = r.handlers.back().get();
  }
  const LogHandler* prev = g_handler.exchange(next, std::memory_order_acq_rel);
  return prev != nullptr ? *prev : LogHandler{};
}

void log(LogLevel level, std::string_view source, std::string_view message) noexcept {
  if (const LogHandler* h = g_handler.load(std::memory_order_acquire)) {
    try {
      (*h)(level, source, message);
      return;
    } catch (...) {
    }
  }
  write_default(message);
}

std::string_view level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "INFO";
    case LogLevel::warning: return "WARNING";
    case LogLevel::error: return "ERROR";
    case LogLevel::critical: return "CRITICAL";
  }
  return "LEVEL";
}

}  // namespace tandem
