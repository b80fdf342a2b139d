// The saved-image file of an Arrow: what `virsh save` writes, `virsh
// restore` reads, and what a template is (ARCHITECTURE.md, "Templates").
//
//   [guest RAM, ram_size bytes, at offset 0: QEMU maps it as the guest's memory]
//   [QEMU's device state: a migration stream without RAM (x-ignore-shared)]
//   [the domain XML]
//   [the layout: template_layout() of the Arrow that made it]
//   [footer, kImageFooterSize bytes: magic, format version, the four sizes,
//    a SHA-256 of the state, the XML, the layout and of the footer itself]
//
// RAM comes first because QEMU 7.2's memory-backend-file maps a file from
// its start. The footer is last so that a truncated file has none and is
// refused. RAM is not digested (a restore maps it and never reads it whole);
// every other byte is.
#pragma once

#include <cstdint>
#include <string>

#include "util/result.h"

namespace arrow {

inline constexpr uint32_t kImageFormatVersion = 1;
inline constexpr uint64_t kImageFooterSize = 4096;

// Footer flags.
inline constexpr uint64_t kImagePaused = 1;         // restore with the vCPUs stopped (VIR_DOMAIN_SAVE_PAUSED)
inline constexpr uint64_t kImageNoEnvironment = 2;  // the XML's <initenv> were left out (they may be secrets)

struct SavedImage {
  uint64_t flags = 0;
  uint64_t ram_size = 0;
  uint64_t state_length = 0;
  std::string xml;
  std::string layout;
  uint64_t state_offset() const { return ram_size; }
};

// Reads and checks the image open at FD (PATH names it in errors):
// VIR_ERR_OPERATION_INVALID naming what is wrong for a file that is no Arrow
// image, of another format version, truncated or corrupt.
Result<SavedImage> read_saved_image(int fd, const std::string& path);

// Completes an image whose RAM (RAM_SIZE bytes) and device state QEMU has
// written to FD: appends the XML, the layout and the footer, and syncs.
Status finish_saved_image(int fd, const std::string& path, uint64_t ram_size, const std::string& xml,
                          const std::string& layout, uint64_t flags = 0);

// Writes to DST a copy of the image SRC (open at SRC_FD) with XML as its
// domain XML: RAM and state are copied (copy_file_range, which shares
// extents where the filesystem can), then finished as above.
Status copy_saved_image(int src_fd, const SavedImage& src, int dst_fd, const std::string& dst_path,
                        const std::string& xml, uint64_t flags);

// Why an image made with layout IMAGE cannot be restored where the Arrow
// needs layout HOST, in words naming the first difference (QEMU, the kernel,
// the initramfs, or a device); empty when they are equal.
std::string layout_mismatch(const std::string& image, const std::string& host);

}  // namespace arrow
