// SPDX-License-Identifier: MIT
// tandem::MpiMapResult — the lazy, in-order range MpiPoolExecutor::map returns: a MapRange
// (futures/map_range.hpp: order, chunksize, buffersize, one timeout from the call, an
// exception at its position, cancellation of the rest on destruction) whose chunks are
// shipped tasks (shipping/detail/shipped_map.hpp) sent through the executor's communicator thread.
// Cancelling a chunk cancels it only while it has not left for a worker rank. At world size 1
// the chunks go to the executor's local ProcessPoolExecutor and behave as its map's chunks.
// The executor must outlive the range.
#pragma once

#include <vector>

#include "tandem/futures/map_range.hpp"
#include "tandem/shipping/detail/shipped_map.hpp"
#include "tandem/mpi/detail/job.hpp"
#include "tandem/mpi/detail/pool_core.hpp"
#include "tandem/process_pool.hpp"

namespace tandem::mpi::detail {

/// MapRange's Submit for MpiPoolExecutor::map: one Job per chunk.
template <class C>
struct MapSubmit {
  using SM = tandem::detail::ShippedMap<C>;
  using Chunk = tandem::detail::MapChunk<typename SM::Result>;

  PoolCore* core;
  C fn;  // shipping::callee_t: a function pointer, or a serializable function object

  Future<Chunk> operator()(std::vector<typename SM::Item> items) {
    if (ProcessPoolExecutor* local = core->local_pool())
      return local->template submit_wire<Chunk>(SM::task(fn, std::move(items)));
    auto* st = new JobState<Chunk>(&decode_result<Chunk>);
    try {
      st->task = SM::task(fn, std::move(items));
    } catch (...) {
      st->release();
      throw;
    }
    st->init_refs(2);
    try {
      core->submit(st);
    } catch (...) {
      st->release();
      st->release();
      throw;
    }
    return Future<Chunk>(st, tandem::detail::AdoptRef{});
  }
};

}  // namespace tandem::mpi::detail

namespace tandem {

template <class C, class... Rs>
using MpiMapResult = MapRange<typename detail::ShippedMap<C>::Result,
                              typename detail::ShippedMap<C>::Item, mpi::detail::MapSubmit<C>,
                              Rs...>;

}  // namespace tandem
