// SPDX-License-Identifier: MIT
// tandem::progress(range) — a one-line progress bar around any range (beyond Python; in the
// spirit of tqdm):
//
//   for (auto& f : tandem::progress(tandem::as_completed(fs))) use(f.result());
//
// Guarantees
//  * Iterating the returned range iterates `range` itself (same elements, same references,
//    same exceptions: a TimeoutError from as_completed propagates unchanged). An lvalue
//    range is held by reference, a temporary is moved in.
//  * Each step counts one item done. The bar — "desc [#####.....] 42/100 12.3/s ETA 0:05" —
//    is drawn on stderr (opts.fd), redrawn at most every opts.interval and once more at the
//    end, then ended with a newline. The total is known when the range has a size() (as
//    as_completed's range and every container have); otherwise the line shows the count,
//    the rate and the elapsed time.
//  * Silent unless the stream is a terminal (isatty), so logs and pipes get nothing; force
//    it either way with opts.enabled.
// Cost: one clock read per item, one write(2) per redraw. Not thread-safe: one thread iterates.
#pragma once

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace tandem {

struct ProgressOptions {
  std::string desc{};                      // printed before the bar
  int fd = 2;                              // stderr
  std::optional<bool> enabled{};           // default: isatty(fd)
  std::chrono::milliseconds interval{100};  // minimum time between redraws
};

namespace detail {

class ProgressBar {
 public:
  ProgressBar(ProgressOptions opts, std::optional<std::size_t> total)
      : opts_(std::move(opts)),
        total_(total),
        on_(opts_.enabled ? *opts_.enabled : ::isatty(opts_.fd) == 1),
        start_(std::chrono::steady_clock::now()),
        last_(start_) {}
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() { finish(); }

  void step() {
    ++count_;
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ >= opts_.interval || (total_ && count_ == *total_)) {
      last_ = now;
      draw(now, false);
    }
  }
  void start() {
    if (on_ && !drawn_) draw(std::chrono::steady_clock::now(), false);
  }
  void finish() {
    if (!on_ || finished_) return;
    finished_ = true;
    draw(std::chrono::steady_clock::now(), true);
  }

 private:
  static std::string clock(double s) {
    long t = s < 0 ? 0 : static_cast<long>(s + 0.5);
    char buf[32];
    if (t >= 3600)
      std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
      std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
    return buf;
  }
  int width() const {
    winsize ws{};
    if (::ioctl(opts_.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
    return 80;
  }
  void draw(std::chrono::steady_clock::time_point now, bool final) {
    drawn_ = true;
    double elapsed = std::chrono::duration<double>(now - start_).count();
    double rate = elapsed > 0 ? static_cast<double>(count_) / elapsed : 0;
    char stats[128];
    if (total_) {
      std::string eta = rate > 0 ? clock(static_cast<double>(*total_ - std::min(count_, *total_)) / rate) : "?";
      std::snprintf(stats, sizeof stats, " %zu/%zu %.1f/s %s %s", count_, *total_, rate,
                    final ? "in" : "ETA", final ? clock(elapsed).c_str() : eta.c_str());
    } else {
      std::snprintf(stats, sizeof stats, " %zu done %.1f/s %s", count_, rate,
                    clock(elapsed).c_str());
    }
    std::string line = "\r";
    if (!opts_.desc.empty()) line += opts_.desc + " ";
    if (total_) {
      int room = width() - 1 - static_cast<int>(line.size() - 1) - static_cast<int>(std::strlen(stats)) - 2;
      if (room > 50) room = 50;
      if (room >= 5) {
        std::size_t n = static_cast<std::size_t>(room);
        std::size_t filled = *total_ ? std::min(n, count_ * n / *total_) : n;
        line += "[" + std::string(filled, '#') + std::string(n - filled, '.') + "]";
      }
    }
    line += stats;
    line += "\x1b[K";  // clear what a longer previous line left
    if (final) line += "\n";
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      ssize_t w = ::write(opts_.fd, p, left);
      if (w <= 0) break;  // a progress bar never fails the program
      p += w;
      left -= static_cast<std::size_t>(w);
    }
  }

  ProgressOptions opts_;
  std::optional<std::size_t> total_;
  bool on_;
  bool drawn_ = false;
  bool finished_ = false;
  std::size_t count_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

template <class T>
concept HasSize = requires(T& t) {
  { t.size() } -> std::convertible_to<std::size_t>;
};

}  // namespace detail

/// The range returned by progress(): iterates the wrapped range and counts the steps.
template <class R>
class Progress {
  using Range = std::remove_reference_t<R>;
  using Store = std::conditional_t<std::is_lvalue_reference_v<R>, Range*, Range>;
  using It = decltype(std::declval<Range&>().begin());
  using End = decltype(std::declval<Range&>().end());

 public:
  Progress(R&& r, ProgressOptions opts)
      : r_(store(std::forward<R>(r))), bar_(std::move(opts), total_of(get())) {}

  class iterator {
   public:
    using difference_type = std::ptrdiff_t;
    iterator(It it, Progress* p) : it_(std::move(it)), p_(p) {}
    decltype(auto) operator*() const { return *it_; }
    iterator& operator++() {
      ++it_;
      p_->bar_.step();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(const iterator& o) const { return it_ == o.it_; }
    friend bool operator==(const iterator& i, std::default_sentinel_t) { return i.at_end(); }

   private:
    bool at_end() const {
      bool end = it_ == *p_->end_;
      if (end) p_->bar_.finish();
      return end;
    }
    It it_;
    Progress* p_;
  };

  iterator begin() {
    end_.emplace(get().end());
    bar_.start();
    return iterator(get().begin(), this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  static Store store(R&& r) {
    if constexpr (std::is_lvalue_reference_v<R>)
      return &r;
    else
      return Store(std::move(r));
  }
  Range& get() {
    if constexpr (std::is_lvalue_reference_v<R>)
      return *r_;
    else
      return r_;
  }
  static std::optional<std::size_t> total_of(Range& r) {
    if constexpr (detail::HasSize<Range>)
      return static_cast<std::size_t>(r.size());
    else
      return std::nullopt;
  }

  Store r_;
  detail::ProgressBar bar_;
  std::optional<End> end_;
};

/// Wraps `range` with a progress bar on stderr (when it is a terminal).
template <class R>
Progress<R> progress(R&& range, ProgressOptions opts = {}) {
  return Progress<R>(std::forward<R>(range), std::move(opts));
}

}  // namespace tandem
