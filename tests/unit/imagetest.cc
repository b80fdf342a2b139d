// Unit tests of the saved-image format (driver/engine/saved_image): an image
// written by finish_saved_image reads back whole; a truncated one, one with a
// damaged byte in its state, XML, layout or footer, one of another format
// version and a file that is no image are refused, each naming what is
// wrong; copy_saved_image keeps RAM and state and replaces the XML; and
// layout_mismatch names the first difference (QEMU, kernel, initramfs, or a
// device line).
#include <cppunit/extensions/HelperMacros.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "driver/engine/saved_image.h"
#include "util/fd.h"

using namespace arrow;

namespace {

constexpr uint64_t kRam = 8192;

std::string tmp_path(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/arrow-imagetest-" + std::to_string(::getpid()) + "-" + name;
}

// An image: RAM of 'r' bytes, a 3000-byte state, then what finish writes.
UniqueFd make_image(const std::string& path, const std::string& xml, const std::string& layout, uint64_t flags = 0) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  const std::string ram(kRam, 'r'), state(3000, 's');
  CPPUNIT_ASSERT(::pwrite(fd.get(), ram.data(), ram.size(), 0) == static_cast<ssize_t>(ram.size()));
  CPPUNIT_ASSERT(::pwrite(fd.get(), state.data(), state.size(), kRam) == static_cast<ssize_t>(state.size()));
  Status st = finish_saved_image(fd.get(), path, kRam, xml, layout, flags);
  CPPUNIT_ASSERT_MESSAGE(st.ok() ? "" : st.error().message, st.ok());
  return fd;
}

void flip(int fd, off_t at) {
  unsigned char c = 0;
  CPPUNIT_ASSERT(::pread(fd, &c, 1, at) == 1);
  c ^= 0x20;
  CPPUNIT_ASSERT(::pwrite(fd, &c, 1, at) == 1);
}

std::string refusal(int fd, const std::string& path) {
  Result<SavedImage> img = read_saved_image(fd, path);
  return img.ok() ? std::string("accepted") : img.error().message;
}

}  // namespace

class ImageTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ImageTest);
  CPPUNIT_TEST(round_trip);
  CPPUNIT_TEST(damage_is_refused);
  CPPUNIT_TEST(copy_replaces_xml);
  CPPUNIT_TEST(mismatch_names_the_difference);
  CPPUNIT_TEST_SUITE_END();

 public:
  void tearDown() override {
    for (const char* n : {"a", "b"}) ::unlink(tmp_path(n).c_str());
  }

  void round_trip() {
    const std::string path = tmp_path("a");
    UniqueFd fd = make_image(path, "<domain/>", "layout\n", kImagePaused);
    Result<SavedImage> img = read_saved_image(fd.get(), path);
    CPPUNIT_ASSERT_MESSAGE(img.ok() ? "" : img.error().message, img.ok());
    CPPUNIT_ASSERT_EQUAL(kRam, img->ram_size);
    CPPUNIT_ASSERT_EQUAL(uint64_t(3000), img->state_length);
    CPPUNIT_ASSERT_EQUAL(kRam, img->state_offset());
    CPPUNIT_ASSERT_EQUAL(std::string("<domain/>"), img->xml);
    CPPUNIT_ASSERT_EQUAL(std::string("layout\n"), img->layout);
    CPPUNIT_ASSERT_EQUAL(kImagePaused, img->flags);
  }

  void damage_is_refused() {
    const std::string path = tmp_path("a");
    const off_t size = static_cast<off_t>(kRam + 3000 + 9 + 7 + kImageFooterSize);
    struct Case {
      off_t at;  // the byte flipped; -1: truncated by 100 bytes
      const char* says;
    } cases[] = {{-1, "truncated"},
                 {static_cast<off_t>(kRam + 10), "device state is damaged"},
                 {static_cast<off_t>(kRam + 3000 + 2), "domain XML is damaged"},
                 {static_cast<off_t>(kRam + 3000 + 9 + 1), "layout is damaged"},
                 {size - 40, "footer is damaged"},
                 {size - static_cast<off_t>(kImageFooterSize), "no image footer"}};
    for (const Case& c : cases) {
      UniqueFd fd = make_image(path, "<domain/>", "layout\n");
      if (c.at < 0)
        CPPUNIT_ASSERT(::ftruncate(fd.get(), size - 100) == 0);
      else
        flip(fd.get(), c.at);
      const std::string why = refusal(fd.get(), path);
      CPPUNIT_ASSERT_MESSAGE(why, why.find(c.says) != std::string::npos);
      CPPUNIT_ASSERT_MESSAGE(why, why.find(path) != std::string::npos);
    }
    UniqueFd text(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    const std::string junk(10000, 'x');
    CPPUNIT_ASSERT(::write(text.get(), junk.data(), junk.size()) == static_cast<ssize_t>(junk.size()));
    CPPUNIT_ASSERT(refusal(text.get(), path).find("not a usable Arrow saved image") != std::string::npos);
  }

  void copy_replaces_xml() {
    const std::string a = tmp_path("a"), b = tmp_path("b");
    UniqueFd src = make_image(a, "<domain>old</domain>", "layout\n");
    SavedImage img = read_saved_image(src.get(), a).value();
    UniqueFd dst(::open(b.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    Status st = copy_saved_image(src.get(), img, dst.get(), b, "<domain>new</domain>", 0);
    CPPUNIT_ASSERT_MESSAGE(st.ok() ? "" : st.error().message, st.ok());
    Result<SavedImage> copy = read_saved_image(dst.get(), b);
    CPPUNIT_ASSERT(copy.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("<domain>new</domain>"), copy->xml);
    CPPUNIT_ASSERT_EQUAL(img.ram_size, copy->ram_size);
    CPPUNIT_ASSERT_EQUAL(img.state_length, copy->state_length);
    char ram[4] = {};
    CPPUNIT_ASSERT(::pread(dst.get(), ram, 4, 100) == 4 && std::string(ram, 4) == "rrrr");
  }

  void mismatch_names_the_difference() {
    const std::string base = "/usr/bin/qemu 10 1.0\n-m 64M\n/k/bzImage 5 2.0\n";
    CPPUNIT_ASSERT_EQUAL(std::string(), layout_mismatch(base, base));
    std::string why = layout_mismatch(base, "/usr/bin/qemu 10 1.0\n-m 64M\n/k/bzImage 5 3.0\n");
    CPPUNIT_ASSERT_MESSAGE(why, why.find("/k/bzImage 5 2.0") != std::string::npos && why.find("made with") != std::string::npos);
    why = layout_mismatch(base, "/usr/bin/qemu 10 1.0\n-m 128M\n/k/bzImage 5 2.0\n");
    CPPUNIT_ASSERT_MESSAGE(why, why.find("-m 64M") != std::string::npos && why.find("-m 128M") != std::string::npos);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ImageTest);
