// What `arrow run` is asked to run, and the pure steps from its command line
// to an Arrow domain XML: option values (memory sizes, -v, -p, -e), program
// resolution on the host (PATH as a shell searches it), and the XML itself,
// every value escaped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"

namespace arrow::cli {

struct Share {
  std::string host;   // absolute
  std::string guest;  // absolute
  bool readonly = false;
};

struct Forward {
  unsigned host_port = 0;
  unsigned guest_port = 0;
};

struct RunSpec {
  std::string name;
  uint64_t memory_kib = 64 * 1024;
  unsigned cpus = 1;
  std::vector<Share> shares;
  std::vector<Forward> forwards;
  std::vector<std::pair<std::string, std::string>> env;
  std::string workdir;
  std::string user;
  std::string program;  // absolute, resolved on the host
  std::vector<std::string> args;
  bool pipe_console = false;  // <arrow:console mode='pipe'/>: the host side is no terminal
};

// "64M", "1G", "512K", "65536K", "128" (MiB when no unit; binary units).
Result<uint64_t> parse_memory_kib(const std::string& text);
// HOST:GUEST[:ro|:rw]; a relative HOST is taken from CWD.
Result<Share> parse_share(const std::string& text, const std::string& cwd);
// HOSTPORT:GUESTPORT, each 1…65535.
Result<Forward> parse_forward(const std::string& text);
// K=V, or K alone for the host's value of K (nothing when unset).
Result<std::optional<std::pair<std::string, std::string>>> parse_env(const std::string& text);

// PROGRAM as a shell finds it: with a '/', relative to CWD; without, the
// first executable regular file of that name in PATH. VIR_ERR_NO_SOURCE
// ("program not found on the host") or VIR_ERR_ACCESS_DENIED otherwise.
Result<std::string> resolve_program(const std::string& program, const std::string& path_env,
                                    const std::string& cwd);

// True when PATH lies in what every Arrow sees of the host: /usr (and the
// merged-/usr links /bin, /sbin, /lib*).
bool visible_in_guest(const std::string& path);

// The Arrow domain XML for SPEC.
std::string build_domain_xml(const RunSpec& spec);

// "NAME-1a2b3c" from the program's base name (characters a domain name may
// hold) and 6 random hex digits.
std::string generated_name(const std::string& program);

}  // namespace arrow::cli
