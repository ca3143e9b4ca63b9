// SPDX-License-Identifier: MIT
// <tandem/contextvars.hpp> under load: many threads set variables, copy their contexts
// and hand the copies to other threads, which run them (setting more) and hand them back.
// Every value read must be the one its own context holds: no thread ever sees another's
// set(), no copy sees a later change of its original, and every map is freed (ASan).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tandem/contextvars.hpp"
#include "tandem/queue/simple_queue.hpp"
#include "tandem/threading/thread.hpp"

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kRounds = 2'000;
#else
constexpr int kRounds = 20'000;
#endif
constexpr int kThreads = 8;

struct Parcel {
  tandem::Context ctx;
  int owner;
  int round;
};

TEST(ContextvarsStress, IsolationAcrossThreads) {
  tandem::ContextVar<int> who("who", -1);
  tandem::ContextVar<int> round("round", -1);
  tandem::ContextVar<std::shared_ptr<const std::string>> blob("blob", nullptr);
  // Thread i sends its parcels to thread (i + 1) % kThreads, which returns them by `back`.
  std::vector<std::unique_ptr<tandem::SimpleQueue<Parcel>>> inbox, back;
  for (int i = 0; i < kThreads; ++i) {
    inbox.push_back(std::make_unique<tandem::SimpleQueue<Parcel>>());
    back.push_back(std::make_unique<tandem::SimpleQueue<Parcel>>());
  }
  std::vector<int> errors(kThreads, 0);
  std::vector<std::unique_ptr<tandem::Thread>> threads;
  for (int me = 0; me < kThreads; ++me) {
    threads.push_back(std::make_unique<tandem::Thread>([&, me] {
      int bad = 0;
      who.set(me);
      auto next = static_cast<std::size_t>((me + 1) % kThreads);
      for (int r = 0; r < kRounds; ++r) {
        auto tok = round.set(r);
        blob.set(std::make_shared<const std::string>(std::to_string(me * 1'000'000 + r)));
        inbox[next]->put(Parcel{tandem::copy_context(), me, r});
        round.set(-7);  // after the copy: must not reach it
        // Serve the parcel from the previous thread: run it, check it, change it.
        Parcel p = inbox[static_cast<std::size_t>(me)]->get();
        p.ctx.run([&] {
          bad += who.get() != p.owner;
          bad += round.get() != p.round;
          bad += *blob.get() != std::to_string(p.owner * 1'000'000 + p.round);
          who.set(1000 + me);
          Parcel nested{tandem::copy_context(), 0, 0};
          std::move(nested.ctx).run([&] {
            round.set(-1);
            bad += who.get() != 1000 + me;
          });
          bad += round.get() != p.round;
        });
        back[static_cast<std::size_t>(p.owner)]->put(std::move(p));
        // Our own parcel came back changed by the server; our context is untouched.
        Parcel mine = back[static_cast<std::size_t>(me)]->get();
        bad += mine.ctx.get(who) != 1000 + static_cast<int>(next);
        bad += mine.ctx.get(round) != r;
        bad += who.get() != me;
        bad += round.get() != -7;
        round.reset(tok);
        bad += round.get() != -1;
      }
      errors[static_cast<std::size_t>(me)] = bad;
    }));
  }
  for (auto& t : threads) t->start();
  for (auto& t : threads) t->join();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(errors[static_cast<std::size_t>(i)], 0) << i;
}

}  // namespace
