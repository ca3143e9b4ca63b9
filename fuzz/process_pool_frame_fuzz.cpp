// SPDX-License-Identifier: MIT
// libFuzzer target for the process pool's frame decoder (<src/process_pool/wire.hpp>): what
// the parent does with bytes a (possibly corrupt) worker sent. Arbitrary input must either
// decode or throw tandem::DecodeError — never crash, over-read, or hit undefined behaviour
// (built with ASan+UBSan) — and the pool turns that DecodeError into "kill this worker, fail
// its tasks". The outcome bytes inside result records are then decoded as the pool does
// (shipping::take_result for a few result types), which must obey the same rule.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "process_pool/wire.hpp"
#include "tandem/shipping/ship.hpp"

namespace {

void outcome(std::span<const std::byte> b, unsigned sel) {
  try {
    switch (sel % 3) {
      case 0: (void)tandem::shipping::take_result<int>(b); break;
      case 1: (void)tandem::shipping::take_result<std::string>(b); break;
      default: (void)tandem::shipping::take_result<std::vector<long>>(b); break;
    }
  } catch (const tandem::DecodeError&) {
  } catch (const std::exception&) {  // a well-formed remote exception, rethrown
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
  using namespace tandem::detail;
  try {
    for (;;) {
      FrameType type;
      std::span<const std::byte> body;
      const std::size_t used = next_frame(buf, type, body);
      if (used == 0) break;
      buf = buf.subspan(used);
      if (type == FrameType::hello) {
        std::span<const std::byte> id;
        (void)decode_hello(body, id);
      } else if (type == FrameType::results) {
        for_each_result(body, [](const ResultRecord& r, std::span<const std::byte> o) {
          outcome(o, static_cast<unsigned>(r.id));
        });
      } else {
        for_each_task(body, [](const TaskRecord&, std::span<const std::byte>) {});
      }
    }
  } catch (const tandem::DecodeError&) {
  }
  return 0;
}
