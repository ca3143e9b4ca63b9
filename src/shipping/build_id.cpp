// SPDX-License-Identifier: MIT
// tandem::shipping::build_id() — see <tandem/shipping/build_id.hpp>.
#include "tandem/shipping/build_id.hpp"

#include <elf.h>
#include <link.h>
#include <sys/stat.h>

#include <cstring>

namespace tandem::shipping {
namespace {

constexpr std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

/// dl_iterate_phdr's first entry is the main program; its PT_NOTE segments are mapped.
int find_note(dl_phdr_info* info, std::size_t, void* out) {
  auto* result = static_cast<std::vector<std::byte>*>(out);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    std::size_t left = ph.p_memsz;
    while (left >= sizeof(ElfW(Nhdr))) {
      ElfW(Nhdr) nh;
      std::memcpy(&nh, p, sizeof nh);
      const std::size_t name = align4(nh.n_namesz), desc = align4(nh.n_descsz);
      if (sizeof nh + name + desc > left) break;
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
          std::memcmp(p + sizeof nh, "GNU", 4) == 0 && nh.n_descsz > 0) {
        const auto* d = reinterpret_cast<const std::byte*>(p + sizeof nh + name);
        result->assign(d, d + nh.n_descsz);
        return 1;
      }
      p += sizeof nh + name + desc;
      left -= sizeof nh + name + desc;
    }
  }
  return 1;  // only the first entry (the executable) matters
}

BuildId compute() {
  std::vector<std::byte> note;
  dl_iterate_phdr(find_note, &note);
  if (!note.empty()) return BuildId(std::move(note), BuildId::Source::gnu_note);
  struct stat st {};
  std::uint64_t fields[5] = {};
  if (::stat("/proc/self/exe", &st) == 0) {
    fields[0] = st.st_dev;
    fields[1] = st.st_ino;
    fields[2] = static_cast<std::uint64_t>(st.st_size);
    fields[3] = static_cast<std::uint64_t>(st.st_mtim.tv_sec);
    fields[4] = static_cast<std::uint64_t>(st.st_mtim.tv_nsec);
  }
  const std::uint64_t h = digest64(fields, sizeof fields);
  std::vector<std::byte> bytes(sizeof h);
  std::memcpy(bytes.data(), &h, sizeof h);
  return BuildId(std::move(bytes), BuildId::Source::file_stat);
}

}  // namespace

std::uint64_t digest64(const void* data, std::size_t n, std::uint64_t seed) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = seed;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

BuildId::BuildId(std::vector<std::byte> bytes, Source source)
    : bytes_(std::move(bytes)),
      source_(source),
      key_(digest64(bytes_.data(), bytes_.size(),
                    source == Source::gnu_note ? 0xcbf29ce484222325ULL : 0x84222325cbf29ce4ULL)) {}

std::string BuildId::hex() const {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (std::byte b : bytes_) {
    const auto v = std::to_integer<unsigned>(b);
    s += digits[v >> 4];
    s += digits[v & 15];
  }
  return s;
}

std::string BuildId::describe() const {
  return source_ == Source::gnu_note
             ? "GNU build-id " + hex()
             : "no GNU build-id (linked with --build-id=none?): size+mtime of /proc/self/exe " +
                   hex();
}

const BuildId& build_id() {
  static const BuildId id = compute();
  return id;
}

}  // namespace tandem::shipping
