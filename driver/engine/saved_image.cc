// The saved-image file format (see saved_image.h).
#include "driver/engine/saved_image.h"

#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace {

constexpr char kMagic[8] = {'A', 'R', 'R', 'O', 'W', 'I', 'M', 'G'};
using Digest = std::array<uint8_t, 32>;

// Footer offsets.
constexpr size_t kOffVersion = 8, kOffFooterSize = 12, kOffRam = 16, kOffState = 24, kOffXml = 32, kOffLayout = 40,
                 kOffStateDigest = 48, kOffXmlDigest = 80, kOffLayoutDigest = 112, kOffFlags = 144,
                 kOffSelfDigest = kImageFooterSize - 32;

class Sha256 {
 public:
  Sha256() : c_(g_checksum_new(G_CHECKSUM_SHA256)) {}
  ~Sha256() { g_checksum_free(c_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t len) { g_checksum_update(c_, static_cast<const guchar*>(data), len); }
  Digest digest() {
    Digest d{};
    gsize len = d.size();
    g_checksum_get_digest(c_, d.data(), &len);
    return d;
  }

 private:
  GChecksum* c_;
};

Digest sha256(const std::string& s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.digest();
}

void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

Status pread_all(int fd, void* buf, size_t len, uint64_t off, const std::string& path) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len) {
    const ssize_t n = ::pread(fd, p, len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error("read", path, errno);
    if (n == 0) return make_error(VIR_ERR_OPERATION_INVALID, fmt(_("'%1$s' is truncated"), path.c_str()));
    p += n, len -= static_cast<size_t>(n), off += static_cast<uint64_t>(n);
  }
  return {};
}

Status pwrite_all(int fd, const void* buf, size_t len, uint64_t off, const std::string& path) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (len) {
    const ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error("write", path, errno);
    p += n, len -= static_cast<size_t>(n), off += static_cast<uint64_t>(n);
  }
  return {};
}

Result<Digest> digest_range(int fd, uint64_t off, uint64_t len, const std::string& path) {
  Sha256 h;
  std::vector<uint8_t> buf(1 << 16);
  while (len) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(len, buf.size()));
    TRY(pread_all(fd, buf.data(), n, off, path));
    h.update(buf.data(), n);
    off += n, len -= n;
  }
  return h.digest();
}

Result<std::string> read_string(int fd, uint64_t off, uint64_t len, const std::string& path) {
  std::string s(len, '\0');
  TRY(pread_all(fd, s.data(), s.size(), off, path));
  return s;
}

Error corrupt(const std::string& path, const char* what) {
  return make_error(VIR_ERR_OPERATION_INVALID,
                    fmt(_("'%1$s' is not a usable Arrow saved image: %2$s"), path.c_str(), what));
}

}  // namespace

Result<SavedImage> read_saved_image(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return system_error("stat", path, errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (!S_ISREG(st.st_mode) || size < kImageFooterSize)
    return corrupt(path, _("too short to hold an image footer (truncated, or not an image)"));
  std::array<uint8_t, kImageFooterSize> f{};
  TRY(pread_all(fd, f.data(), f.size(), size - kImageFooterSize, path));
  if (std::memcmp(f.data(), kMagic, sizeof kMagic) != 0)
    return corrupt(path, _("no image footer at its end (truncated, or not an image)"));
  Sha256 self;
  self.update(f.data(), kOffSelfDigest);
  if (self.digest() != *reinterpret_cast<const Digest*>(f.data() + kOffSelfDigest))
    return corrupt(path, _("its footer is damaged"));
  const uint32_t version = static_cast<uint32_t>(get64(f.data() + kOffVersion) & 0xffffffffu);
  if (version != kImageFormatVersion) {
    return make_error(VIR_ERR_OPERATION_INVALID,
                      fmt(_("'%1$s' is an Arrow image of format version %2$u; this virtarrowd reads version %3$u"),
                          path.c_str(), version, kImageFormatVersion));
  }
  if ((get64(f.data() + kOffFooterSize) & 0xffffffffu) != kImageFooterSize) return corrupt(path, _("bad footer size"));
  SavedImage img;
  img.flags = get64(f.data() + kOffFlags);
  img.ram_size = get64(f.data() + kOffRam);
  img.state_length = get64(f.data() + kOffState);
  const uint64_t xml_len = get64(f.data() + kOffXml), layout_len = get64(f.data() + kOffLayout);
  if (xml_len > (16u << 20) || layout_len > (1u << 20) || img.ram_size % 4096 != 0 ||
      img.ram_size + img.state_length + xml_len + layout_len + kImageFooterSize != size)
    return corrupt(path, _("its size does not match its footer (truncated or extended)"));
  const uint64_t xml_off = img.ram_size + img.state_length;
  Digest d = TRY(digest_range(fd, img.ram_size, img.state_length, path));
  if (d != *reinterpret_cast<const Digest*>(f.data() + kOffStateDigest)) return corrupt(path, _("its device state is damaged"));
  img.xml = TRY(read_string(fd, xml_off, xml_len, path));
  if (sha256(img.xml) != *reinterpret_cast<const Digest*>(f.data() + kOffXmlDigest))
    return corrupt(path, _("its domain XML is damaged"));
  img.layout = TRY(read_string(fd, xml_off + xml_len, layout_len, path));
  if (sha256(img.layout) != *reinterpret_cast<const Digest*>(f.data() + kOffLayoutDigest))
    return corrupt(path, _("its layout is damaged"));
  return img;
}

Status finish_saved_image(int fd, const std::string& path, uint64_t ram_size, const std::string& xml,
                          const std::string& layout, uint64_t flags) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return system_error("stat", path, errno);
  const uint64_t end = static_cast<uint64_t>(st.st_size);
  if (end <= ram_size) return make_error(VIR_ERR_OPERATION_FAILED, fmt(_("QEMU saved no device state to '%1$s'"), path.c_str()));
  const uint64_t state_len = end - ram_size;
  std::array<uint8_t, kImageFooterSize> f{};
  std::memcpy(f.data(), kMagic, sizeof kMagic);
  put64(f.data() + kOffVersion, kImageFormatVersion);
  put64(f.data() + kOffFooterSize, kImageFooterSize);
  put64(f.data() + kOffRam, ram_size);
  put64(f.data() + kOffState, state_len);
  put64(f.data() + kOffXml, xml.size());
  put64(f.data() + kOffLayout, layout.size());
  put64(f.data() + kOffFlags, flags);
  const Digest state = TRY(digest_range(fd, ram_size, state_len, path));
  std::memcpy(f.data() + kOffStateDigest, state.data(), 32);
  std::memcpy(f.data() + kOffXmlDigest, sha256(xml).data(), 32);
  std::memcpy(f.data() + kOffLayoutDigest, sha256(layout).data(), 32);
  Sha256 self;
  self.update(f.data(), kOffSelfDigest);
  std::memcpy(f.data() + kOffSelfDigest, self.digest().data(), 32);
  TRY(pwrite_all(fd, xml.data(), xml.size(), end, path));
  TRY(pwrite_all(fd, layout.data(), layout.size(), end + xml.size(), path));
  TRY(pwrite_all(fd, f.data(), f.size(), end + xml.size() + layout.size(), path));
  if (::fdatasync(fd) < 0) return system_error("sync", path, errno);
  return {};
}

namespace {

// Copies [FROM, TO) of SRC to the same offsets of DST.
Status copy_range(int src_fd, int dst_fd, uint64_t from, uint64_t to, const std::string& dst_path) {
  loff_t in = static_cast<loff_t>(from), out = static_cast<loff_t>(from);
  uint64_t left = to - from;
  while (left) {
    const ssize_t n = ::copy_file_range(src_fd, &in, dst_fd, &out, static_cast<size_t>(std::min<uint64_t>(left, 1 << 30)), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error("copy the image into", dst_path, errno);
    if (n == 0) return make_error(VIR_ERR_OPERATION_FAILED, fmt(_("the image being copied to '%1$s' shrank"), dst_path.c_str()));
    left -= static_cast<uint64_t>(n);
  }
  return {};
}

}  // namespace

Status copy_saved_image(int src_fd, const SavedImage& src, int dst_fd, const std::string& dst_path,
                        const std::string& xml, uint64_t flags) {
  const uint64_t ram = src.ram_size, end = src.ram_size + src.state_length;
  if (::ftruncate(dst_fd, 0) < 0 || ::ftruncate(dst_fd, static_cast<off_t>(end)) < 0)
    return system_error("truncate", dst_path, errno);
  // Guest RAM: only its data, so that what the guest never touched stays a
  // hole (a template's RAM file is sparse).
  uint64_t at = 0;
  while (at < ram) {
    const off_t data = ::lseek(src_fd, static_cast<off_t>(at), SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // holes to the end
    if (data < 0) {                         // no SEEK_DATA here: all of it
      TRY(copy_range(src_fd, dst_fd, at, ram, dst_path));
      break;
    }
    if (static_cast<uint64_t>(data) >= ram) break;
    off_t hole = ::lseek(src_fd, data, SEEK_HOLE);
    const uint64_t stop = hole < 0 ? ram : std::min<uint64_t>(static_cast<uint64_t>(hole), ram);
    TRY(copy_range(src_fd, dst_fd, static_cast<uint64_t>(data), stop, dst_path));
    at = stop;
  }
  TRY(copy_range(src_fd, dst_fd, ram, end, dst_path));
  return finish_saved_image(dst_fd, dst_path, src.ram_size, xml, src.layout, flags);
}

std::string layout_mismatch(const std::string& image, const std::string& host) {
  if (image == host) return {};
  std::vector<std::string> a, b;
  for (const auto* pair : {&image, &host}) {
    std::vector<std::string>& lines = pair == &image ? a : b;
    size_t at = 0;
    while (at < pair->size()) {
      const size_t nl = pair->find('\n', at);
      lines.push_back(pair->substr(at, nl == std::string::npos ? std::string::npos : nl - at));
      at = nl == std::string::npos ? pair->size() : nl + 1;
    }
  }
  for (size_t i = 0; i < std::max(a.size(), b.size()); i++) {
    const std::string x = i < a.size() ? a[i] : "(nothing)", y = i < b.size() ? b[i] : "(nothing)";
    if (x == y) continue;
    // The file lines are "PATH SIZE MTIME": QEMU, the kernel, the initramfs.
    if (!x.empty() && x[0] == '/' && !y.empty() && y[0] == '/')
      return fmt(_("it was made with '%1$s' (size, modification time), this host has '%2$s'"), x.c_str(), y.c_str());
    return fmt(_("its devices differ from this Arrow's: the image has '%1$s' where this Arrow needs '%2$s'"), x.c_str(),
               y.c_str());
  }
  return {};
}

}  // namespace arrow
