// SPDX-License-Identifier: MIT
// tandem::shipping function identity — see <tandem/shipping/function_id.hpp> — and the
// sealing/resolving of Tasks (<tandem/shipping/task.hpp>), which validates it.
#include "tandem/shipping/function_id.hpp"

#include <link.h>

#include <cstdio>
#include <string>

#include "tandem/errors.hpp"
#include "tandem/shipping/build_id.hpp"
#include "tandem/shipping/task.hpp"

namespace tandem::shipping {
namespace {

int read_image(dl_phdr_info* info, std::size_t, void* out) {
  auto* img = static_cast<ExecutableImage*>(out);
  img->base = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum && img->ranges < ExecutableImage::kMaxRanges; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    const std::uintptr_t b = info->dlpi_addr + ph.p_vaddr;
    img->text[img->ranges++] = {b, b + ph.p_memsz};
  }
  return 1;  // the first entry is the main program; stop there
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

const ExecutableImage& executable_image() {
  static const ExecutableImage img = [] {
    ExecutableImage i;
    dl_iterate_phdr(read_image, &i);
    return i;
  }();
  return img;
}

std::uint64_t function_offset(std::uintptr_t addr) {
  const ExecutableImage& img = executable_image();
  if (!img.contains(addr))
    throw ValueError("tandem::ship: function at " + hex(addr) +
                     " is not in the executable's code (functions in shared libraries cannot "
                     "be shipped to another process)");
  return static_cast<std::uint64_t>(addr - img.base);
}

std::uintptr_t function_address(std::uint64_t offset) {
  const ExecutableImage& img = executable_image();
  const std::uintptr_t addr = img.base + static_cast<std::uintptr_t>(offset);
  if (offset >= UINTPTR_MAX - img.base || !img.contains(addr))
    throw DecodeError("tandem: shipped function offset " + hex(offset) +
                      " is outside the executable's code (a corrupt task, or another binary)");
  return addr;
}

}  // namespace tandem::shipping

// ---- Task sealing / resolving (<tandem/shipping/task.hpp>) -------------------------------------

namespace tandem::shipping {
namespace {

std::uint64_t task_check(const Task& t) noexcept {
  const std::uint64_t words[4] = {build_id().key(), static_cast<std::uint64_t>(t.kind),
                                  t.trampoline, t.function};
  return digest64(words, sizeof words);
}

}  // namespace

void seal(Task& task, std::uintptr_t trampoline, std::uintptr_t function, TaskKind kind) {
  task.kind = kind;
  task.trampoline = function_offset(trampoline);
  task.function = function_offset(function);
  task.check = task_check(task);
}

ResolvedTask resolve(const Task& task, TaskKind expected) {
  if (task.kind != expected)
    throw DecodeError("tandem: shipped task of kind " +
                      std::to_string(static_cast<int>(task.kind)) + " where kind " +
                      std::to_string(static_cast<int>(expected)) + " was expected");
  if (task.check != task_check(task))
    throw DecodeError(
        "tandem: shipped task fails its integrity check (corrupt, or built by another binary)");
  return {function_address(task.trampoline), function_address(task.function)};
}

}  // namespace tandem::shipping
