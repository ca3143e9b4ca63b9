// SPDX-License-Identifier: MIT
// tandem::progress(range) — progress reporting around any range (beyond Python; in the
// spirit of tqdm):
//
//   for (auto& f : tandem::progress(tandem::as_completed(fs))) use(f.result());
//   for (int r : tandem::progress(ex.map(work, inputs), {.desc = "work"})) use(r);
//
// Guarantees
//  * Iterating the returned range iterates `range` itself (same elements, same references,
//    same exceptions: a TimeoutError from as_completed propagates unchanged). An lvalue
//    range is held by reference, a temporary is moved in.
//  * Each step counts one item done. The total is, first found: opts.total; the range's
//    size() (every container, as_completed's range); its size_hint() when that holds a value
//    (every executor's map() over inputs that have a size: MapRange::size_hint). Otherwise it
//    is unknown.
//  * Where it goes (opts.fd, stderr by default) decides the style (opts.style overrides):
//     - a terminal: one bar, redrawn in place at most every opts.interval and once at the
//       end, then ended with a newline:
//         desc [##########..........]  50% 500/1000 12.3/s ETA 0:41
//       (without a total: "desc 500 done 12.3/s 0:40"); the last drawing says "in 1:21"
//       instead of the ETA, or "stopped after 0:40" when the iteration ended early. Times
//       under 10 s read "4.2s".
//     - anything else (a log, a pipe, CI): whole lines, one each time the count reaches
//       another 10% of the total (10 lines for a whole run; fewer when an item spans several
//       tenths), each as final as a log needs it:
//         desc: 30% 300/1000 12.3/s ETA 0:57
//       The line at 100% (and any line drawn at the end) says "in m:ss" or "stopped after
//       m:ss" instead of the ETA. A run that ends away from a tenth (early, or past a total
//       that was too small) gets one more line at the end. Without a total, a line
//       "desc: 500 done 12.3/s 0:40" at most every opts.line_interval (10 s; a log of a long
//       run should still show that it moves) — 0 for none — and the end line
//       "desc: 1234 done 12.3/s in 1:40". With no desc, lines start at the percentage.
//  * opts.enabled = false: nothing is written.
// Cost: one clock read per item, one write(2) per line or redraw. Not thread-safe: one
// thread iterates.
#pragma once

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace tandem {

/// How progress() reports: chosen from the stream by default.
enum class ProgressStyle {
  automatic,  // bar on a terminal, lines otherwise
  bar,        // one line redrawn in place with "\r" (for a terminal)
  lines,      // a line per 10% of the total (for logs and pipes)
};

struct ProgressOptions {
  std::string desc{};                        // printed before the bar or line
  std::optional<std::size_t> total{};        // items expected; default: the range's size
  int fd = 2;                                // stderr
  bool enabled = true;                       // false: write nothing
  std::chrono::milliseconds interval{100};   // bar: minimum time between redraws
  ProgressStyle style = ProgressStyle::automatic;
  std::chrono::milliseconds line_interval{10'000};  // lines, unknown total: at most this often
};

namespace detail {

class ProgressBar {
  using Clock = std::chrono::steady_clock;

 public:
  /// `size`: the range's own count, if it knows one (opts.total wins over it).
  ProgressBar(ProgressOptions opts, std::optional<std::size_t> size)
      : opts_(std::move(opts)),
        total_(opts_.total ? opts_.total : size),
        on_(opts_.enabled),
        bar_(opts_.style == ProgressStyle::bar ||
             (opts_.style == ProgressStyle::automatic && ::isatty(opts_.fd) == 1)),
        start_(Clock::now()),
        last_(start_) {}
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() { finish(); }

  std::optional<std::size_t> total() const noexcept { return total_; }

  void step() {
    ++count_;
    if (!on_) return;
    const auto now = Clock::now();
    if (bar_) {
      if (now - last_ >= opts_.interval || done()) {
        last_ = now;
        draw_bar(now, false);
      }
    } else if (total_) {
      // A line when the count enters a new tenth of the total (up to 100%).
      const std::size_t tenth = tenth_of(count_);
      if (tenth > tenth_) {
        tenth_ = tenth;
        line(now, done());
      }
    } else if (opts_.line_interval.count() > 0 && now - last_ >= opts_.line_interval) {
      last_ = now;
      line(now, false);
    }
  }
  /// The iteration begins: the bar shows 0 at once; a log gets nothing until a tenth.
  void start() {
    started_ = true;
    start_ = last_ = Clock::now();
    if (on_ && bar_) draw_bar(start_, false);
  }
  void finish() {
    if (!on_ || !started_ || finished_) return;
    finished_ = true;
    const auto now = Clock::now();
    if (bar_)
      draw_bar(now, true);
    else if (!lined_final_ || lined_count_ != count_)
      line(now, true);  // the last line written (if any) did not tell the end
  }

 private:
  bool done() const { return total_ && count_ >= *total_; }
  std::size_t tenth_of(std::size_t n) const {
    const std::size_t t = *total_;
    if (n >= t) return 10;
    return t <= SIZE_MAX / 10 ? n * 10 / t : n / (t / 10);  // n < t: n * 10 fits
  }
  // "4.2s" under 10 s (a short run is not "0:00"), then "0:42", "1:02:03".
  static std::string clock(double s) {
    char buf[32];
    if (s < 9.95) {
      std::snprintf(buf, sizeof buf, "%.1fs", s < 0 ? 0.0 : s);
      return buf;
    }
    long t = static_cast<long>(s + 0.5);
    if (t >= 3600)
      std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
      std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
    return buf;
  }
  // Three significant digits at most, with k/M/G: a rate stays readable at any speed.
  static std::string rate_text(double r) {
    const char* unit = "";
    if (r >= 1e9) {
      r /= 1e9, unit = "G";
    } else if (r >= 1e6) {
      r /= 1e6, unit = "M";
    } else if (r >= 1e4) {
      r /= 1e3, unit = "k";
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, r < 10 ? "%.2f%s/s" : r < 100 ? "%.1f%s/s" : "%.0f%s/s", r, unit);
    return buf;
  }
  // " 42% 42/100 12.3/s ETA 0:05" (or "... in 0:09", "... stopped after 0:04"), or, without
  // a total, " 42 done 12.3/s 0:05" (or "... in 0:05").
  std::string stats(Clock::time_point now, bool final) const {
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(count_) / elapsed : 0;
    // (Appends, not "text" + std::string: g++ 12 -O2 warns falsely there, -Wrestrict.)
    std::string when;
    if (final || done())
      when.append(done() || !total_ ? "in " : "stopped after ").append(clock(elapsed));
    else if (total_)
      when.append("ETA ").append(rate > 0 ? clock(static_cast<double>(*total_ - count_) / rate) : "?");
    else
      when = clock(elapsed);
    char buf[96];
    if (total_) {
      const std::size_t pct = *total_ ? static_cast<std::size_t>(100.0 * static_cast<double>(count_) /
                                                                 static_cast<double>(*total_))
                                      : 100;
      std::snprintf(buf, sizeof buf, "%3zu%% %zu/%zu", pct, count_, *total_);
    } else {
      std::snprintf(buf, sizeof buf, "%zu done", count_);
    }
    std::string out(buf);
    out.append(" ").append(rate_text(rate)).append(" ").append(when);
    return out;
  }
  int width() const {
    winsize ws{};
    if (::ioctl(opts_.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
    return 80;
  }
  void line(Clock::time_point now, bool final) {
    lined_final_ = final;
    lined_count_ = count_;
    std::string s;
    if (!opts_.desc.empty()) s.append(opts_.desc).append(": ");
    const std::string st = stats(now, final);
    s.append(st, st.find_first_not_of(' '));  // no padding in a log
    s += '\n';
    write_all(s);
  }
  void draw_bar(Clock::time_point now, bool final) {
    const std::string st = stats(now, final);
    std::string line = "\r";
    if (!opts_.desc.empty()) line.append(opts_.desc).append(" ");
    if (total_) {
      // The bar takes what the terminal's width leaves, 5 to 40 cells.
      int room = width() - 1 - static_cast<int>(line.size() - 1) - static_cast<int>(st.size()) - 3;
      if (room > 40) room = 40;
      if (room >= 5) {
        const std::size_t n = static_cast<std::size_t>(room);
        const std::size_t filled = *total_ ? std::min(n, count_ * n / *total_) : n;
        line += '[';
        line.append(filled, '#').append(n - filled, '.').append("] ");
      }
    }
    line += st;
    line += "\x1b[K";  // clear what a longer previous line left
    if (final) line += "\n";
    write_all(line);
  }
  void write_all(const std::string& s) const {
    const char* p = s.data();
    std::size_t left = s.size();
    while (left > 0) {
      ssize_t w = ::write(opts_.fd, p, left);
      if (w <= 0) break;  // a failed write is dropped: progress output never throws
      p += w;
      left -= static_cast<std::size_t>(w);
    }
  }

  ProgressOptions opts_;
  std::optional<std::size_t> total_;
  bool on_;
  bool bar_;
  bool started_ = false;
  bool finished_ = false;
  bool lined_final_ = false;     // lines: the last line written told the end (in/stopped)
  std::size_t lined_count_ = 0;  // lines: the count the last line showed
  std::size_t tenth_ = 0;        // lines: the last tenth of the total a line was written for
  std::size_t count_ = 0;
  Clock::time_point start_, last_;
};

template <class T>
concept HasSize = requires(T& t) {
  { t.size() } -> std::convertible_to<std::size_t>;
};
template <class T>
concept HasSizeHint = requires(T& t) {
  { t.size_hint() } -> std::convertible_to<std::optional<std::size_t>>;
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
      : r_(store(std::forward<R>(r))), bar_(std::move(opts), size_of(get())) {}

  /// The total the progress is measured against (opts.total or the range's), if known.
  std::optional<std::size_t> total() const noexcept { return bar_.total(); }

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
  static std::optional<std::size_t> size_of(Range& r) {
    if constexpr (detail::HasSize<Range>)
      return static_cast<std::size_t>(r.size());
    else if constexpr (detail::HasSizeHint<Range>)
      return r.size_hint();
    else
      return std::nullopt;
  }

  Store r_;
  detail::ProgressBar bar_;
  std::optional<End> end_;
};

/// Wraps `range` with progress output on stderr: a bar on a terminal, a line per 10% in a
/// log (see the top of this header).
template <class R>
Progress<R> progress(R&& range, ProgressOptions opts = {}) {
  return Progress<R>(std::forward<R>(range), std::move(opts));
}

}  // namespace tandem
