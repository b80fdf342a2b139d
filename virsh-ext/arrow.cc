// arrow: run an application as an Arrow as easily as running it, and manage
// Arrows (ps, logs, stop, rm, inspect, events, exec, debug, template). A
// client of the stock libvirt library: any URI works (-c URI, default
// arrow:///system, or the session daemon for a user other than root).
#include <libvirt/virterror.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "config.h"

#include "util/i18n.h"
#include "virsh-ext/arrow_cli.h"
#include "virsh-ext/arrow_help.h"

namespace {

using arrow::cli::Global;

struct Command {
  const char* name;
  int (*run)(const Global&, const std::vector<std::string>&);
};

constexpr Command kCommands[] = {
    {"run", arrow::cli::cmd_run},         {"ps", arrow::cli::cmd_ps},     {"logs", arrow::cli::cmd_logs},
    {"stop", arrow::cli::cmd_stop},       {"rm", arrow::cli::cmd_rm},     {"inspect", arrow::cli::cmd_inspect},
    {"events", arrow::cli::cmd_events},   {"template", arrow::cli::cmd_template},
    {"exec", arrow::cli::cmd_exec},       {"debug", arrow::cli::cmd_debug},
};

// libvirt prints every error on stderr by default; arrow says them itself.
void quiet_errors(void*, virErrorPtr) {}

}  // namespace

int main(int argc, char** argv) {
  Global g;
  g.uri = geteuid() == 0 ? arrow::cli::kSystemUri : arrow::cli::kSessionUri;
  if (const char* env = std::getenv("ARROW_DEFAULT_URI"); env && *env) g.uri = env;
  int i = 1;
  for (; i < argc; i++) {
    const std::string a = argv[i];
    if ((a == "-c" || a == "--connect") && i + 1 < argc) {
      g.uri = argv[++i];
    } else if (a.rfind("--connect=", 0) == 0) {
      g.uri = a.substr(10);
    } else if (a == "-h" || a == "--help") {
      std::fputs(kArrowHelp, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("arrow %s\n", PACKAGE_VERSION);
      return 0;
    } else {
      break;
    }
  }
  if (i >= argc) {
    std::fputs(kArrowHelp, stderr);
    return arrow::cli::kExitFailure;
  }
  const std::string name = argv[i];
  std::vector<std::string> args(argv + i + 1, argv + argc);
  for (const Command& c : kCommands) {
    if (name != c.name) continue;
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      std::fputs(kArrowHelp, stdout);
      return 0;
    }
    ::signal(SIGPIPE, SIG_IGN);
    virSetErrorFunc(nullptr, quiet_errors);
    // run and events drive libvirt's event loop; the other commands make
    // plain blocking calls, which an event loop nobody runs would stall.
    if ((name == "run" || name == "events" || name == "exec" || name == "debug") && virEventRegisterDefaultImpl() < 0)
      return arrow::cli::kExitFailure;
    return c.run(g, args);
  }
  arrow::cli::say(arrow::fmt(_("unknown command '%1$s' (arrow --help lists them)"), name.c_str()));
  return arrow::cli::kExitFailure;
}
