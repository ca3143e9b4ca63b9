// SPDX-License-Identifier: MIT
// <tandem/queue.hpp> — Python's `queue` module for C++ (docs/queue.md).
//
//   queue.Queue          tandem::Queue<T>
//   queue.LifoQueue      tandem::LifoQueue<T>
//   queue.PriorityQueue  tandem::PriorityQueue<T, Compare>
//   queue.SimpleQueue    tandem::SimpleQueue<T>
//   queue.Empty / Full / ShutDown   tandem::Empty / Full / ShutDown (<tandem/errors.hpp>)
#pragma once

#include "tandem/errors.hpp"
#include "tandem/queue/queue.hpp"
#include "tandem/queue/simple_queue.hpp"
