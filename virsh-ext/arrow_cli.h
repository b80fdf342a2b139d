// Shared pieces of the `arrow` command: the connection (with the advice
// when no daemon answers), error reporting, exit codes, domain facts read
// through the stock libvirt API, and the subcommands' entry points.
#pragma once

#include <libvirt/libvirt.h>

#include <optional>
#include <string>
#include <vector>

namespace arrow::cli {

// Exit codes of arrow itself (an application's own status passes through):
// as docker and env(1) use them.
inline constexpr int kExitFailure = 125;      // arrow could not do what was asked
inline constexpr int kExitNotFound = 127;     // the program is not on the host
inline constexpr int kExitNotExecutable = 126;

struct Global {
  std::string uri = "arrow:///system";
};

// Prints "arrow: MESSAGE" on stderr.
void say(const std::string& message);
// Prints "arrow: WHAT: <libvirt's last error>".
void say_libvirt(const std::string& what);

// A connection, closed on scope exit. Opening failures print what to do.
class Connection {
 public:
  Connection() = default;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  bool open(const Global& g);
  virConnectPtr get() const { return conn_; }

 private:
  virConnectPtr conn_ = nullptr;
};

// The domain NAME, or nullptr after "no Arrow named NAME" was said.
virDomainPtr find_domain(virConnectPtr conn, const std::string& name);

// The application's last exit as an exit code (status, or 128+signal), from
// the arrow.exit.* stats; nothing when the Arrow reported none.
std::optional<int> last_exit_code(virDomainPtr dom);
// "running (booted)", "shut off (shutdown)" …
std::string state_text(virDomainPtr dom);

// Subcommands; ARGS are those after the subcommand's name.
int cmd_run(const Global& g, const std::vector<std::string>& args);
int cmd_ps(const Global& g, const std::vector<std::string>& args);
int cmd_logs(const Global& g, const std::vector<std::string>& args);
int cmd_stop(const Global& g, const std::vector<std::string>& args);
int cmd_rm(const Global& g, const std::vector<std::string>& args);
int cmd_inspect(const Global& g, const std::vector<std::string>& args);
int cmd_events(const Global& g, const std::vector<std::string>& args);

}  // namespace arrow::cli
