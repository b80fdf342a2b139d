// `arrow template create NAME FILE | ls | rm FILE`: templates are saved
// images (ARCHITECTURE.md, "Templates") that `arrow run --from FILE` and
// `virsh restore FILE --xml CLONE.xml` start clones of.
//
// A template is taken before the application starts: create starts NAME
// paused (its guest restored from the boot template, its vCPUs stopped) and
// saves it (virDomainSaveFlags). QEMU 7.2 cannot save a guest whose
// application runs, since the application runs from a mounted 9p share.
#include <libvirt/virterror.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>

#include "driver/api/arrow_names.h"
#include "util/i18n.h"
#include "virsh-ext/arrow_cli.h"

namespace arrow::cli {

namespace {

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  return std::string(::getcwd(cwd, sizeof cwd) ? cwd : "/") + "/" + path;
}

// The image each running Arrow was restored from (the arrow.image stat).
std::multimap<std::string, std::string> images_in_use(virConnectPtr conn) {
  std::multimap<std::string, std::string> used;
  virDomainPtr* doms = nullptr;
  const int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  for (int i = 0; i < n; i++) {
    Owned<virDomain> dom(doms[i]);
    for_each_stat(dom.get(), VIR_DOMAIN_STATS_STATE, [&](const virTypedParameter& p) {
      if (std::strcmp(p.field, kStatImage) == 0 && p.type == VIR_TYPED_PARAM_STRING)
        used.emplace(p.value.s, virDomainGetName(dom.get()));
    });
  }
  std::free(doms);
  return used;
}

int create(const Global& g, const std::string& name, const std::string& file) {
  Owned<virConnect> conn = open_connection(g);
  if (!conn) return kExitFailure;
  Owned<virDomain> dom = find_domain(conn.get(), name);
  if (!dom) return kExitFailure;
  if (virDomainIsActive(dom.get()) == 1) {
    say(fmt(_("the Arrow '%1$s' is running: a template is taken before its application starts (stop it first: "
              "arrow stop %1$s)"),
            name.c_str()));
    return kExitFailure;
  }
  if (virDomainCreateWithFlags(dom.get(), VIR_DOMAIN_START_PAUSED) < 0) {
    say_libvirt(fmt(_("cannot start '%1$s' paused"), name.c_str()));
    return kExitFailure;
  }
  const std::string path = absolute(file);
  if (virDomainSaveFlags(dom.get(), path.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) < 0) {
    say_libvirt(fmt(_("cannot save '%1$s' to '%2$s'"), name.c_str(), path.c_str()));
    virDomainDestroy(dom.get());
    return kExitFailure;
  }
  std::printf("%s\n", path.c_str());
  return 0;
}

int list(const Global& g) {
  Owned<virConnect> conn = open_connection(g);
  if (!conn) return kExitFailure;
  const auto used = images_in_use(conn.get());
  std::printf("%-50s %s\n", "IMAGE", "ARROWS");
  for (auto it = used.begin(); it != used.end();) {
    const std::string image = it->first;
    std::string names;
    for (; it != used.end() && it->first == image; ++it) names += (names.empty() ? "" : ",") + it->second;
    std::printf("%-50s %s\n", image.c_str(), names.c_str());
  }
  return 0;
}

int remove(const Global& g, const std::string& file) {
  Owned<virConnect> conn = open_connection(g);
  if (!conn) return kExitFailure;
  const std::string path = absolute(file);
  char real[PATH_MAX];
  const std::string resolved = ::realpath(path.c_str(), real) ? real : path;
  std::string users;
  for (const auto& [image, name] : images_in_use(conn.get())) {
    char image_real[PATH_MAX];
    const std::string r = ::realpath(image.c_str(), image_real) ? image_real : image;
    if (r == resolved) users += (users.empty() ? "" : ", ") + name;
  }
  if (!users.empty()) {
    say(fmt(_("the template '%1$s' is in use by the running Arrows %2$s: stop them first"), path.c_str(),
            users.c_str()));
    return kExitFailure;
  }
  // Is it an image at all? The daemon reads it (and refuses anything else).
  char* xml = virDomainSaveImageGetXMLDesc(conn.get(), path.c_str(), 0);
  if (!xml) {
    say_libvirt(fmt(_("'%1$s' is no template"), path.c_str()));
    return kExitFailure;
  }
  std::free(xml);
  if (::unlink(path.c_str()) < 0) {
    say(fmt(_("cannot remove '%1$s': %2$s"), path.c_str(), std::strerror(errno)));
    return kExitFailure;
  }
  return 0;
}

}  // namespace

int cmd_template(const Global& g, const std::vector<std::string>& args) {
  const std::string sub = args.empty() ? "" : args[0];
  if (sub == "create" && args.size() == 3) return create(g, args[1], args[2]);
  if (sub == "ls" && args.size() == 1) return list(g);
  if (sub == "rm" && args.size() == 2) return remove(g, args[1]);
  say(_("usage: arrow template create NAME FILE | arrow template ls | arrow template rm FILE"));
  return kExitFailure;
}

}  // namespace arrow::cli
