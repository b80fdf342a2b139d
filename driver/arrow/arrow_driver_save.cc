// Saved images, templates and clones (ARCHITECTURE.md, "Templates"):
// virDomainSave/Restore(Flags), the XML of an image, and managed saves.
//
// An Arrow's guest can be saved only while QEMU can migrate it: QEMU 7.2's
// virtio-9p refuses while a share is mounted, and every application runs from
// one (/usr at least). So what can be saved is an Arrow restored from an image
// (a boot template, or an image saved earlier) whose vCPUs have not run since
// — `virsh start --paused`, `virsh restore --paused` — and saving it is
// copying that image with this Arrow's XML. An Arrow whose application runs
// is refused with the reason.
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "domain-xml/arrow_xml.h"
#include "driver/arrow/arrow_driver.h"
#include "driver/engine/saved_image.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace {

constexpr unsigned kSaveFlags = VIR_DOMAIN_SAVE_BYPASS_CACHE | VIR_DOMAIN_SAVE_RUNNING | VIR_DOMAIN_SAVE_PAUSED;
constexpr unsigned kImageXmlSecure = VIR_DOMAIN_SAVE_IMAGE_XML_SECURE;

// What an image keeps of DEF: everything but the environment, which may hold
// secrets and the image is readable by QEMU's account; FLAGS gets
// kImageNoEnvironment when there was one.
std::string image_xml(const ArrowDef& def, uint64_t& flags) {
  ArrowDef kept = def;
  if (!kept.initenv.empty()) flags |= kImageNoEnvironment;
  kept.initenv.clear();
  return format_domain_xml(kept);
}

uint64_t paused_flag(unsigned flags, uint64_t current) {
  if (flags & VIR_DOMAIN_SAVE_PAUSED) return kImagePaused;
  if (flags & VIR_DOMAIN_SAVE_RUNNING) return 0;
  return current & kImagePaused;
}

// The element of CLONE that differs from IMAGE where a restore may not change
// anything, e.g. "<memory>"; "" when it changes only what it may: the name,
// UUID, title, description, metadata, port forwards, MAC and IP addresses and
// the on_* actions (and the environment, which images do not keep).
std::string forbidden_change(const ArrowDef& image, ArrowDef clone) {
  clone.name = image.name;
  clone.uuid = image.uuid;
  clone.title = image.title;
  clone.description = image.description;
  clone.metadata = image.metadata;
  clone.on_poweroff = image.on_poweroff;
  clone.on_crash = image.on_crash;
  clone.initenv = image.initenv;
  for (size_t i = 0; i < std::min(clone.interfaces.size(), image.interfaces.size()); i++) {
    Interface& c = clone.interfaces[i];
    const Interface& m = image.interfaces[i];
    c.mac = m.mac;
    c.port_forwards = m.port_forwards;
    c.ip_address = m.ip_address;
    c.ip_prefix = m.ip_prefix;
    c.gateway = m.gateway;
  }
  const std::string a = format_domain_xml(image), b = format_domain_xml(clone);
  if (a == b) return {};
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) i++;
  // The innermost element open at the first difference.
  const std::string& text = i < b.size() ? b : a;
  size_t open = text.rfind('<', std::min(i, text.size() - 1));
  if (open != std::string::npos && text.compare(open, 2, "</") == 0) open = text.rfind('<', open - 1);
  if (open == std::string::npos) return "<domain>";
  size_t end = text.find_first_of(" />", open + 1);
  return "<" + text.substr(open + 1, end - open - 1) + ">";
}

Result<SavedImage> open_image(const std::string& path, UniqueFd& fd) {
  if (path.empty() || path[0] != '/')
    return make_error(VIR_ERR_INVALID_ARG, fmt(_("saved image '%1$s': an absolute path is required"), path.c_str()));
  fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return system_error("open the saved image", path, errno);
  return read_saved_image(fd.get(), path);
}

// Writes a copy of the image SRC (open at SRC_FD) with XML and FLAGS to
// PATH, through a temporary file renamed into place, owned by QEMU's account
// (a restore maps it).
Status write_image_copy(int src_fd, const SavedImage& src, const std::string& path, const std::string& xml,
                        uint64_t flags, const std::optional<QemuUser>& qemu_user) {
  const std::string part = path + ".part";
  UniqueFd out(::open(part.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return system_error("create the saved image", part, errno);
  UniquePath part_path(part);
  TRY(copy_saved_image(src_fd, src, out.get(), part, xml, flags));
  if (qemu_user && ::geteuid() == 0 && ::fchown(out.get(), qemu_user->uid, qemu_user->gid) < 0)
    return system_error("chown", part, errno);
  if (::rename(part.c_str(), path.c_str()) < 0) return system_error("rename into", path, errno);
  part_path.release();
  return {};
}

}  // namespace

std::string ArrowDriver::managed_save_path(const std::string& name) const {
  return conf_.save_dir.empty() ? std::string() : conf_.save_dir + "/" + name + ".save";
}

void ArrowDriver::domain_save(const DomainRef& ref, const std::string& to, const std::optional<std::string>& dxml,
                              unsigned flags, Reply<void> done) {
  if (Status st = check_flags(flags, kSaveFlags, "virDomainSaveFlags"); !st.ok()) return done(st.error());
  if (to.empty() || to[0] != '/')
    return done(make_error(VIR_ERR_INVALID_ARG, fmt(_("saved image '%1$s': an absolute path is required"), to.c_str())));
  state_job(ref, DomainOp::Destroy, false, done,
            [this, to, dxml, flags, done](const DomainPtr& dom) { save_job(dom, to, dxml, flags, done); });
}

// Inside a job on an active DOM: writes the image TO, then stops DOM (SAVED).
void ArrowDriver::save_job(const DomainPtr& dom, const std::string& to, const std::optional<std::string>& dxml,
                           unsigned flags, Reply<void> done) {
  auto fail = [this, dom, done](const Error& e) {
    finish_job(dom);
    done(e);
  };
  ArrowLauncher* launcher = dom->launcher.get();
  if (launcher && launcher->image_source().empty() && dom->state == ArrowState::Paused) {
    return fail(make_error(VIR_ERR_OPERATION_INVALID,
                           fmt(_("cannot save Arrow '%1$s': it was booted cold, not restored from a boot template "
                                 "(none could be made for it: its log says why)"),
                               dom->name().c_str())));
  }
  if (!launcher || !launcher->pristine()) {
    return fail(make_error(
        VIR_ERR_OPERATION_INVALID,
        fmt(_("cannot save Arrow '%1$s': its application has run, and QEMU cannot save a guest while one of its 9p "
              "shares (/usr at least) is mounted; an Arrow can be saved before its application starts: start it "
              "paused (virsh start --paused, or virsh restore --paused) and save it then"),
            dom->name().c_str())));
  }
  ArrowDef def = dom->def;
  if (dxml) {
    Result<ArrowDef> parsed = parse_domain_xml(*dxml);
    if (!parsed.ok()) return fail(parsed.error());
    if (const std::string what = forbidden_change(dom->def, parsed.value()); !what.empty()) {
      return fail(make_error(VIR_ERR_INVALID_ARG,
                             fmt(_("the XML given for the image of '%1$s' changes %2$s, which a saved image cannot"),
                                 dom->name().c_str(), what.c_str())));
    }
    def = std::move(parsed.value());
  }
  UniqueFd src_fd;
  Result<SavedImage> src = open_image(launcher->image_source(), src_fd);
  if (!src.ok()) return fail(src.error());
  uint64_t image_flags = paused_flag(flags, 0);
  const std::string xml = image_xml(def, image_flags);
  if (Status st = write_image_copy(src_fd.get(), src.value(), to, xml, image_flags, conf_.qemu_user); !st.ok())
    return fail(st.error());
  note_in_log(dom, fmt("saved to %s", to.c_str()));
  dom->stop_intent = StopIntent::Save;
  dom->stop_waiters.push_back([this, dom, done](Status result) {
    finish_job(dom);
    done(result);
  });
  launcher->kill();
}

void ArrowDriver::domain_restore(const std::string& from, const std::optional<std::string>& dxml, unsigned flags,
                                 Reply<void> done) {
  if (Status st = check_flags(flags, kSaveFlags | VIR_DOMAIN_SAVE_RESET_NVRAM, "virDomainRestoreFlags"); !st.ok())
    return done(st.error());
  UniqueFd fd;
  Result<SavedImage> img = open_image(from, fd);
  if (!img.ok()) return done(img.error());
  Result<ArrowDef> image_def = parse_domain_xml(img->xml);
  if (!image_def.ok()) return done(image_def.error());
  ArrowDef def = image_def.value();
  if (dxml) {
    Result<ArrowDef> clone = parse_domain_xml(*dxml);
    if (!clone.ok()) return done(clone.error());
    if (const std::string what = forbidden_change(def, clone.value()); !what.empty()) {
      return done(make_error(
          VIR_ERR_INVALID_ARG,
          fmt(_("cannot restore '%1$s' with this XML: it changes %2$s; a restore may change the name, UUID, title, "
                "description, metadata, port forwards, MAC and IP addresses, the on_* actions and the environment, "
                "nothing else"),
              from.c_str(), what.c_str())));
    }
    def = std::move(clone.value());
  } else if (img->flags & kImageNoEnvironment) {
    return done(make_error(VIR_ERR_OPERATION_INVALID,
                           fmt(_("cannot restore '%1$s' as it is: the Arrow had <initenv> variables, which an image "
                                 "never keeps (they may be secrets); give them with --xml"),
                               from.c_str())));
  }
  if (Status st = check_name_uuid_clash(def); !st.ok()) return done(st.error());
  DomainPtr dom = find_by_name(def.name);
  if (dom && (dom->active() || dom->job()))
    return done(make_error(VIR_ERR_OPERATION_INVALID, fmt(_("domain '%1$s' is already active"), dom->name().c_str())));
  if (dom) {
    dom->next_def = std::move(dom->def);
    dom->def = std::move(def);
  } else {
    std::string name = def.name;
    dom = std::make_shared<ArrowDomain>(std::move(def), false);
    domains_[name] = dom;
  }
  dom->restore_from = from;
  const bool paused = paused_flag(flags, img->flags) != 0;
  dom->begin_job(DomainOp::Start, [this, dom, paused, done] {
    start_job(dom, paused ? VIR_DOMAIN_START_PAUSED : 0, [done](Result<DomainRef> r) {
      done(r.ok() ? Status() : Status(r.error()));
    });
  });
}

Result<std::string> ArrowDriver::save_image_get_xml_desc(const std::string& file, unsigned flags) {
  TRY(check_flags(flags, kImageXmlSecure, "virDomainSaveImageGetXMLDesc"));
  UniqueFd fd;
  SavedImage img = TRY(open_image(file, fd));
  ArrowDef def = TRY(parse_domain_xml(img.xml));
  return format_domain_xml(def, (flags & kImageXmlSecure) ? 0u : unsigned(FORMAT_HIDE_SECRETS));
}

Status ArrowDriver::save_image_define_xml(const std::string& file, const std::string& dxml, unsigned flags) {
  TRY(check_flags(flags, VIR_DOMAIN_SAVE_RUNNING | VIR_DOMAIN_SAVE_PAUSED, "virDomainSaveImageDefineXML"));
  UniqueFd fd;
  SavedImage img = TRY(open_image(file, fd));
  ArrowDef image_def = TRY(parse_domain_xml(img.xml));
  ArrowDef def = TRY(parse_domain_xml(dxml));
  if (const std::string what = forbidden_change(image_def, def); !what.empty()) {
    return make_error(VIR_ERR_INVALID_ARG,
                      fmt(_("the XML given for the image '%1$s' changes %2$s, which a saved image cannot"),
                          file.c_str(), what.c_str()));
  }
  uint64_t image_flags = paused_flag(flags, img.flags);
  const std::string xml = image_xml(def, image_flags);
  return write_image_copy(fd.get(), img, file, xml, image_flags, conf_.qemu_user);
}

void ArrowDriver::domain_managed_save(const DomainRef& ref, unsigned flags, Reply<void> done) {
  if (Status st = check_flags(flags, kSaveFlags, "virDomainManagedSave"); !st.ok()) return done(st.error());
  state_job(ref, DomainOp::Destroy, false, done, [this, flags, done](const DomainPtr& dom) {
    if (!dom->persistent || managed_save_path(dom->name()).empty()) {
      finish_job(dom);
      return done(make_error(VIR_ERR_OPERATION_INVALID, _("cannot do managed save for transient domain")));
    }
    save_job(dom, managed_save_path(dom->name()), std::nullopt, flags, done);
  });
}

// A start of DOM with its managed save image MANAGED: with
// VIR_DOMAIN_START_FORCE_BOOT the image is dropped and the Arrow boots;
// otherwise it restores from the image, with the image's XML as the live
// definition (managedsave-define may have changed what a clone may change;
// the environment is the config's, which images never keep) and paused when
// the image says so.
void ArrowDriver::prepare_managed_start(const DomainPtr& dom, const std::string& managed, unsigned flags,
                                        bool& paused) {
  if (flags & VIR_DOMAIN_START_FORCE_BOOT) {
    ::unlink(managed.c_str());
    return;
  }
  dom->restore_from = managed;
  UniqueFd fd;
  Result<SavedImage> img = open_image(managed, fd);
  if (!img.ok()) return;  // the start fails on it, with the reason
  if (img->flags & kImagePaused) paused = true;
  Result<ArrowDef> image_def = parse_domain_xml(img->xml);
  if (!image_def.ok() || !forbidden_change(dom->def, image_def.value()).empty()) return;
  image_def->initenv = dom->def.initenv;
  if (format_domain_xml(image_def.value()) == format_domain_xml(dom->def)) return;
  if (!dom->next_def) dom->next_def = dom->def;  // the config, for the next start
  dom->def = std::move(image_def.value());
}

Result<bool> ArrowDriver::domain_has_managed_save_image(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, 0, "virDomainHasManagedSaveImage"));
  DomainPtr dom = TRY(find(ref));
  const std::string path = managed_save_path(dom->name());
  return !path.empty() && ::access(path.c_str(), F_OK) == 0;
}

Status ArrowDriver::domain_managed_save_remove(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, 0, "virDomainManagedSaveRemove"));
  DomainPtr dom = TRY(find(ref));
  const std::string path = managed_save_path(dom->name());
  if (!path.empty() && ::unlink(path.c_str()) < 0 && errno != ENOENT) return system_error("remove", path, errno);
  return {};
}

Result<std::string> ArrowDriver::domain_managed_save_get_xml_desc(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, kImageXmlSecure, "virDomainManagedSaveGetXMLDesc"));
  DomainPtr dom = TRY(find(ref));
  const std::string path = managed_save_path(dom->name());
  if (path.empty() || ::access(path.c_str(), F_OK) != 0)
    return make_error(VIR_ERR_OPERATION_INVALID, fmt(_("domain '%1$s' has no managed save image"), dom->name().c_str()));
  return save_image_get_xml_desc(path, flags);
}

Status ArrowDriver::domain_managed_save_define_xml(const DomainRef& ref, const std::optional<std::string>& dxml,
                                                   unsigned flags) {
  DomainPtr dom = TRY(find(ref));
  const std::string path = managed_save_path(dom->name());
  if (path.empty() || ::access(path.c_str(), F_OK) != 0)
    return make_error(VIR_ERR_OPERATION_INVALID, fmt(_("domain '%1$s' has no managed save image"), dom->name().c_str()));
  if (!dxml) return make_error(VIR_ERR_INVALID_ARG, _("virDomainManagedSaveDefineXML: an XML is required"));
  return save_image_define_xml(path, *dxml, flags);
}

}  // namespace arrow
