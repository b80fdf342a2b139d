// Shared pieces of the `arrow` command: the connection (with the advice
// when no daemon answers) and the Arrow a subcommand names, error reporting,
// exit codes, domain facts read through the stock libvirt API, and the
// subcommands' entry points.
#pragma once

#include <libvirt/libvirt.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "virsh-ext/arrow_ptr.h"

namespace arrow::cli {

// Exit codes of arrow itself (an application's own status passes through):
// as docker and env(1) use them.
inline constexpr int kExitFailure = 125;      // arrow could not do what was asked
inline constexpr int kExitNotFound = 127;     // the program is not on the host
inline constexpr int kExitNotExecutable = 126;

// The default URI: arrow:///system for root; for anyone else the session
// daemon in libvirt's direct mode, which Debian's client would otherwise
// only use when the daemon's socket already exists (the user unit
// virtarrowd.socket provides it in a systemd user session; without one, the
// client starts virtarrowd itself in direct mode).
inline constexpr const char* kSystemUri = "arrow:///system";
inline constexpr const char* kSessionUri = "arrow:///session?mode=direct";

struct Global {
  std::string uri = kSystemUri;
};

// Prints "arrow: MESSAGE" on stderr.
void say(const std::string& message);
// Prints "arrow: WHAT: <libvirt's last error>".
void say_libvirt(const std::string& what);

// The connection to G's URI; nullptr after saying what to do.
Owned<virConnect> open_connection(const Global& g);

// The domain NAME, or nullptr after "no Arrow named NAME" was said.
Owned<virDomain> find_domain(virConnectPtr conn, const std::string& name);

// The connection and the Arrow a subcommand acts on: the one operand among
// ARGS names it. With OPTIONAL (`arrow events`), no operand means no Arrow.
struct Target {
  Owned<virConnect> conn;
  Owned<virDomain> dom;
  std::string name;
};
// False after saying why (usage, no daemon, no such Arrow).
bool open_target(const Global& g, const std::vector<std::string>& args, const char* cmd, Target& t,
                 bool optional = false);

// Calls FN with each typed statistic of DOM in the groups STATS
// (virDomainStatsTypes; 0: all); false when libvirt has none to give.
bool for_each_stat(virDomainPtr dom, unsigned stats, const std::function<void(const virTypedParameter&)>& fn);

// The application's last exit as an exit code (status, or 128+signal), from
// the arrow.exit.* stats; nothing when the Arrow reported none.
std::optional<int> last_exit_code(virDomainPtr dom);
// "running", "exited", "stopped", "failed" …
std::string state_text(virDomainPtr dom);

// Subcommands; ARGS are those after the subcommand's name.
int cmd_run(const Global& g, const std::vector<std::string>& args);
int cmd_ps(const Global& g, const std::vector<std::string>& args);
int cmd_logs(const Global& g, const std::vector<std::string>& args);
int cmd_stop(const Global& g, const std::vector<std::string>& args);
int cmd_rm(const Global& g, const std::vector<std::string>& args);
int cmd_inspect(const Global& g, const std::vector<std::string>& args);
int cmd_events(const Global& g, const std::vector<std::string>& args);
int cmd_template(const Global& g, const std::vector<std::string>& args);
int cmd_exec(const Global& g, const std::vector<std::string>& args);
int cmd_debug(const Global& g, const std::vector<std::string>& args);

}  // namespace arrow::cli
