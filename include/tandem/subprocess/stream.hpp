// SPDX-License-Identifier: MIT
// <tandem/subprocess/stream.hpp> — one end of a pipe to a child: Popen::stdin_(), stdout_(),
// stderr_() (Python's p.stdin / p.stdout / p.stderr, binary, unbuffered for writes).
//
//   for (const std::string& line : p.stdout_()) ...   // lines with their '\n', as Python's
//
// Guarantees
//  * write() writes everything (blocking) or throws OSError(EPIPE) (Python's BrokenPipeError)
//    when the child has closed its end: never SIGPIPE in the caller (the signal is blocked in
//    the calling thread around the write and a pending one consumed; see src/subprocess/pipes.cpp).
//  * read() reads to end of file; readline() up to and including '\n' ("" at EOF); both
//    retry on EINTR. A Stream is a range of lines: begin()/end() iterate readline() until EOF.
//  * close() is idempotent; the destructor closes. fileno() is the descriptor (-1 when closed),
//    for a pipeline: `o.stdin_ = p1.stdout_().fileno();`.
//  * Reading and readline share one buffer, so mixing them loses nothing. A Stream is used by
//    one thread at a time (as a Python file object).
// Cost: write() is one write(2) per pipe-full plus two sigprocmask calls; read() grows a string.
#pragma once

#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

namespace tandem::subprocess {

class Stream {
 public:
  Stream() = default;
  explicit Stream(int fd) noexcept : fd_(fd) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& o) noexcept;  // (moves the descriptor and the read-ahead)
  Stream& operator=(Stream&& o) noexcept;
  ~Stream();

  void write(std::string_view data);
  void flush() {}  // writes are unbuffered
  std::string read();
  std::string readline();
  void close() noexcept;
  int fileno() const noexcept { return fd_; }
  bool closed() const noexcept { return fd_ < 0; }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string*;
    using reference = const std::string&;
    iterator() = default;
    explicit iterator(Stream* s) : s_(s) { ++*this; }
    reference operator*() const { return line_; }
    pointer operator->() const { return &line_; }
    iterator& operator++() {
      line_ = s_->readline();
      if (line_.empty()) s_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.s_ == b.s_; }

   private:
    Stream* s_ = nullptr;
    std::string line_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

  /// Data read ahead by readline() and not yet returned (communicate() starts from it).
  std::string take_buffer() {
    buf_.erase(0, std::exchange(pos_, 0));
    return std::exchange(buf_, {});
  }
  /// Gives up the descriptor without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  bool fill();  // one read(2) into buf_; false at EOF
  int fd_ = -1;
  std::string buf_;
  std::size_t pos_ = 0;  // buf_[0, pos_) was returned already
};

}  // namespace tandem::subprocess
