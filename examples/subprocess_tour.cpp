// SPDX-License-Identifier: MIT
// A tour of tandem::subprocess: Python's subprocess, in C++.
//   1. a pipeline:   printf ... | sort | uniq -c   (p1.stdout_() feeds p2's stdin)
//   2. a timeout that kills a whole tree (a shell and its grandchild), returning on time
//   3. 100 commands at once with run_async, watched by one thread, with a progress bar
#include <tandem/futures.hpp>
#include <tandem/subprocess.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/demo.hpp"

using namespace tandem::subprocess;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  demo::init(argc, argv, "a tour of tandem::subprocess: a pipeline, a timeout that kills a tree, 100 commands in parallel");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  std::puts("1. pipeline: printf | sort | uniq -c");
  {
    PopenOptions a;
    a.stdout_ = PIPE;
    Popen p1({"printf", "pear\\napple\\npear\\nfig\\npear\\n"}, a);
    PopenOptions b;
    b.stdin_ = p1.stdout_().fileno();  // p1's stdout is p2's stdin
    b.stdout_ = PIPE;
    Popen p2({"sort"}, b);
    PopenOptions c;
    c.stdin_ = p2.stdout_().fileno();
    c.stdout_ = PIPE;
    Popen p3({"uniq", "-c"}, c);
    p1.stdout_().close();  // the children hold the pipes now
    p2.stdout_().close();
    for (const std::string& line : p3.stdout_()) std::printf("   %s", line.c_str());
  }  // each Popen waits for its child here: no zombie

  std::puts("2. run(timeout=1s) on a shell whose grandchild holds the output pipe");
  {
    RunOptions o;
    o.capture_output = true;
    o.timeout = 1s;
    o.start_new_session = true;  // the child leads a group: the timeout kills all of it
    auto t0 = std::chrono::steady_clock::now();
    try {
      run({"sh", "-c", "echo started; sleep 60 & sleep 60"}, o);
    } catch (const TimeoutExpired& e) {
      double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("   TimeoutExpired after %.1f s, output so far: %s", took, e.output.c_str());
    }
  }

  std::puts("3. 100 commands in parallel (run_async: one watcher thread, pidfds + epoll)");
  {
    std::vector<tandem::Future<CompletedProcess>> fs;
    RunOptions o;
    o.capture_output = true;
    for (int i = 0; i < 100; ++i) fs.push_back(run_async({"sh", "-c", "echo $(($1 * $1))", "sh", std::to_string(i)}, o));
    long sum = 0;
    tandem::ProgressOptions po;
    po.desc = "   commands";
    for (auto& f : tandem::progress(tandem::as_completed(fs), po)) sum += std::stol(f.result().stdout_);
    std::printf("   sum of squares 0..99 = %ld (expected 328350)\n", sum);
  }
  std::puts("subprocess tour done");
}
