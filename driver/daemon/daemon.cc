// virtarrowd's main program (see daemon.h): options, paths, sockets (created,
// or adopted from systemd), the driver and its two front ends, the main loop.
#include "driver/daemon/daemon.h"

#include <glib.h>

#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "driver/daemon/activation.h"
#include "driver/daemon/daemon_conf.h"
#include "driver/dbus/arrow_dbus.h"
#include "driver/remote/remote_program.h"
#include "driver/rpc/server.h"
#include "util/i18n.h"

namespace arrow::daemon {

namespace {

struct Options {
  gchar* root = nullptr;
  gint timeout = 0;
  gboolean verbose = FALSE;
  ~Options() { g_free(root); }
};

bool parse_options(int& argc, char**& argv, Options& o) {
  GOptionEntry entries[] = {
      {"root", 0, 0, G_OPTION_ARG_FILENAME, &o.root, _("Put sockets, configs, state and logs under DIR"), "DIR"},
      {"timeout", 't', 0, G_OPTION_ARG_INT, &o.timeout, _("Exit after SECS idle (no client, no running Arrow)"),
       "SECS"},
      {"verbose", 'v', 0, G_OPTION_ARG_NONE, &o.verbose, _("Log connections and protocol events"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContext* ctx = g_option_context_new(_("- the Arrow libvirt driver daemon"));
  g_option_context_add_main_entries(ctx, entries, nullptr);
  GError* err = nullptr;
  bool ok = g_option_context_parse(ctx, &argc, &argv, &err);
  g_option_context_free(ctx);
  if (!ok) {
    std::fprintf(stderr, "virtarrowd: %s\n", err->message);
    g_error_free(err);
    return false;
  }
  if (o.timeout < 0 || argc > 1) {
    std::fprintf(stderr, "%s\n", _("virtarrowd: bad arguments (see --help)"));
    return false;
  }
  return true;
}

// PATH with its directory resolved, so that /var/run/x and /run/x compare
// equal; PATH itself when the directory does not resolve.
std::string canonical_socket_path(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return path;
  char* dir = ::realpath(slash == 0 ? "/" : path.substr(0, slash).c_str(), nullptr);
  if (!dir) return path;
  std::string out = std::string(dir) + path.substr(slash);
  std::free(dir);
  return out;
}

bool same_socket(const std::string& a, const std::string& b) {
  return !b.empty() && (a == b || canonical_socket_path(a) == canonical_socket_path(b));
}

// Serves the sockets systemd passed (each must be one of PATHS' sockets) and
// creates those it did not pass.
Status listen_all(rpc::Server& server, const DaemonPaths& paths, const DaemonConf& conf,
                  std::vector<ActivatedSocket> activated) {
  bool have_rw = false, have_ro = false;
  for (ActivatedSocket& s : activated) {
    bool rw = same_socket(s.path, paths.socket_rw);
    bool ro = !rw && same_socket(s.path, paths.socket_ro);
    if ((!rw && !ro) || (rw && have_rw) || (ro && have_ro)) {
      return make_error(
          VIR_ERR_CONFIG_UNSUPPORTED,
          fmt(_("socket activation passed a socket on '%1$s', which is not one of ours ('%2$s', '%3$s')"),
              s.path.c_str(), paths.socket_rw.c_str(), paths.socket_ro.c_str()));
    }
    (rw ? have_rw : have_ro) = true;
    TRY(server.adopt(std::move(s.fd), s.path, ro));
  }
  // Sockets systemd passed keep the unit's SocketMode= and SocketGroup=.
  if (!have_rw) TRY(server.listen(paths.socket_rw, conf.unix_sock_rw_perms, false, conf.unix_sock_group));
  if (!have_ro && !paths.socket_ro.empty()) TRY(server.listen(paths.socket_ro, 0666, true, conf.unix_sock_group));
  return {};
}

Status serve(const Options& o, const DriverFactory& make_driver, const DaemonFeatures& features) {
  // First, so that the driver's children never inherit the variables.
  std::vector<ActivatedSocket> activated = TRY(take_activated_sockets());
  DaemonPaths paths = TRY(daemon_paths(o.root ? o.root : ""));
  DaemonConf conf = TRY(load_daemon_conf(paths.config_file));
  for (const std::string& key : conf.ignored) {
    std::string msg = fmt(_("%1$s: ignoring unknown setting '%2$s'"), paths.config_file.c_str(), key.c_str());
    std::fprintf(stderr, "virtarrowd: %s\n", msg.c_str());
  }
  TRY(make_daemon_dirs(paths));
  std::unique_ptr<DriverApi> driver = TRY(make_driver(paths, conf));
  // The front ends subscribe before the driver loads, so that they see the
  // autostart Arrows' events too.
  remote::RemoteProgram remote(*driver, paths.uri);
  if (conf.max_client_event_callbacks) remote.set_max_event_callbacks(*conf.max_client_event_callbacks);
  rpc::ServerOptions so = conf.server;
  so.verbose = o.verbose;
  so.timeout_s = static_cast<unsigned>(o.timeout);
  rpc::Server server(remote, so);
  std::shared_ptr<ArrowDbus> dbus;
  if (GBusType bus; features.dbus && dbus_bus_type(bus)) {
    dbus = ArrowDbus::start(*driver, bus, paths.socket_rw, log_to_stderr);
  }
  // The sockets first: a second daemon on the same paths stops here, before
  // its driver adopts, autostarts or moves anything. Clients that connect
  // meanwhile wait in the backlog until the loop runs.
  TRY(listen_all(server, paths, conf, std::move(activated)));
  TRY(driver->load());
  server.run();
  server.log("shutting down");
  return {};  // the front ends go first (~Server removes the socket files), then the driver
}

}  // namespace

int run_daemon(int argc, char** argv, const DriverFactory& make_driver, DaemonFeatures features) {
  std::setlocale(LC_ALL, "");
  Options o;
  if (!parse_options(argc, argv, o)) return 2;
  Status st = serve(o, make_driver, features);
  if (!st.ok()) {
    std::fprintf(stderr, "virtarrowd: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace arrow::daemon
