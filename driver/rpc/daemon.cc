// virtarrowd's main program (see daemon.h).
#include "driver/rpc/daemon.h"

#include <glib.h>

#include <clocale>
#include <cstdio>

#include "driver/rpc/server.h"
#include "util/i18n.h"

namespace arrow::rpc {

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

Status serve(const Options& o, const DriverFactory& make_driver) {
  DaemonPaths paths = TRY(daemon_paths(o.root ? o.root : ""));
  TRY(make_daemon_dirs(paths));
  std::unique_ptr<DriverApi> driver = TRY(make_driver(paths));
  ServerOptions so;
  so.verbose = o.verbose;
  so.timeout_s = static_cast<unsigned>(o.timeout);
  so.uri = paths.uri;
  Server server(*driver, so);
  TRY(server.listen(paths.socket_rw, 0600, false));
  if (!paths.socket_ro.empty()) TRY(server.listen(paths.socket_ro, 0666, true));
  server.run();
  server.log("shutting down");
  return {};  // ~Server removes the socket files, then the driver goes
}

}  // namespace

int run_daemon(int argc, char** argv, const DriverFactory& make_driver) {
  std::setlocale(LC_ALL, "");
  Options o;
  if (!parse_options(argc, argv, o)) return 2;
  Status st = serve(o, make_driver);
  if (!st.ok()) {
    std::fprintf(stderr, "virtarrowd: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace arrow::rpc
