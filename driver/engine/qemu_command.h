// ArrowDef -> QEMU command line: a pure function of the definition and a
// CommandContext holding everything that is not in the XML (host paths,
// accelerator, the resolved user). The host look-ups that fill the context
// (passwd, group, /dev/kvm) are separate functions, so golden tests never
// depend on the host they run on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "anotify/anotify_proto.h"
#include "domain-xml/arrow_def.h"
#include "util/result.h"

namespace arrow {

// <inituser> as ainit needs it: arrow.user=NAME,UID,GID,HOME.
struct InitUser {
  std::string name = "root";
  unsigned uid = 0;
  unsigned gid = 0;
  std::string home = "/root";
};

// <initgroup>: arrow.group=NAME,GID.
struct InitGroup {
  std::string name;
  unsigned gid = 0;
};

struct CommandContext {
  std::string emulator;       // QEMU used when the XML has no <emulator>
  std::string kernel;         // bzImage used when the XML has no <kernel>
  std::string initramfs;      // the ainit initramfs
  std::string log_path;       // the serial console (kernel messages) is appended here
  bool kvm = false;           // /dev/kvm usable: -accel kvm -cpu host, no PIT
  unsigned tb_size_mib = 0;   // TCG's code buffer (-accel tcg,tb-size=N); 0: QEMU's default (1 GiB)
  InitUser user;              // <inituser>, resolved on the host
  std::optional<InitGroup> group;  // <initgroup>, resolved on the host
  unsigned heartbeat_s = 10;  // arrow.hb; 0 turns the heartbeat off
  bool console_pipe = false;  // arrow.tty=pipe: the console's host side is no terminal
  uint64_t wall_clock_ms = 0; // arrow.time: host Unix time in ms; 0 leaves it out
  std::string host_usr = "/usr";  // shared read-only at /usr unless a share targets /usr
  // Listening sockets the launcher creates and passes to QEMU at these fds.
  int monitor_fd = 3;
  int console_fd = 4;
  int anotify_fd = 5;
  // The serial port (ttyS0: the kernel's messages, and whatever a root
  // process in the guest writes there): a socket the daemon reads and
  // appends to the log with rotation, so a guest cannot grow the log past
  // its bound (QEMU holds the guest back when the daemon is slow).
  int serial_fd = 6;
  // The application's stdout/stderr in pipe mode (arrow.tty=pipe): a
  // virtserialport, which QEMU holds back when the host is slow instead of
  // dropping output as the virtconsole does.
  int stdout_fd = 7;
  // The TAP of an <interface type='bridge'>, opened by the launcher as root
  // (tap.h) and passed to QEMU at this fd.
  int tap_fd = 8;
  // Adebug: QEMU's gdbstub on 127.0.0.1:PORT (<arrow:debug gdbstub=>); 0: none.
  unsigned gdbstub_port = 0;
  // Adebug's exec port org.arrow.exec.0 (qemu_channel.h): a listening socket.
  int exec_fd = 9;
  // Channel i's socket (qemu_channel.h) is passed at first_channel_fd + i.
  int first_channel_fd = 10;

  // Templates (ARCHITECTURE.md, "Templates"). WAIT: the command line says
  // only arrow.wait=1 and ainit waits for every instruction over Anotify
  // (build_instruction_tokens), so the guest's memory does not depend on the
  // Arrow. RAM_FD >= 0: guest RAM is the file open at that fd
  // (memory-backend-file through /proc/self/fd; the process uses
  // kImageRamFd), mapped shared (a template being made: what the guest writes
  // lands in the file) or private (a restore: copy-on-write, the file never
  // changes). INCOMING: QEMU waits for a migration stream (-incoming defer),
  // which the process hands over with QMP getfd.
  bool wait = false;
  int ram_fd = -1;
  bool ram_shared = false;
  bool incoming = false;
};

// The kernel's x86 COMMAND_LINE_SIZE, the terminating NUL included.
inline constexpr size_t kKernelCmdlineMax = 2048;

// Guest network of QEMU user networking, given to ainit as arrow.net. A
// bridge interface gives its own <ip>, <route> and no DNS server instead.
inline constexpr const char* kGuestNet = "10.0.2.15/24,10.0.2.2,10.0.2.3";

// One environment variable ("NAME=VALUE") at most: one Anotify SETENV frame.
inline constexpr size_t kInitEnvVarMax = ANOTIFY_MAX_PAYLOAD;
// All of them together (the frames' payloads): far below what execve takes,
// and what the daemon queues for a guest that has not read them yet.
inline constexpr size_t kInitEnvTotalMax = 65536;

// Percent-encodes one field as kernel/CMDLINE.md specifies.
std::string cmdline_escape(std::string_view value);

// ainit's instructions as arrow.* tokens (kernel/CMDLINE.md): on the
// command line, or over Anotify when CTX.wait. Fails as build_kernel_cmdline.
Result<std::string> build_instruction_tokens(const ArrowDef& def, const CommandContext& ctx);

// What makes two Arrows able to share a template: the command line of DEF
// with everything a restore may change left out (names, host paths, port
// forwards, addresses), and the identity (path, size, mtime) of QEMU, the
// kernel and the initramfs. Equal strings: the guest's memory and device
// state of one fit the other's QEMU.
Result<std::string> template_layout(const ArrowDef& def, const CommandContext& ctx);

// The whole -append string: what is not private. VIR_ERR_CONFIG_UNSUPPORTED
// when it would not fit in kKernelCmdlineMax, naming the limit.
Result<std::string> build_kernel_cmdline(const ArrowDef& def, const CommandContext& ctx);

// ainit's private instructions, kept off the command line (which every local
// user reads in ps and /proc/PID/cmdline): every <initenv> as an Anotify
// SETENV frame, then INSTRUCTIONS_END; the command line says only how many
// (arrow.nenv). ainit asks for them (INSTRUCTIONS_WANTED) when arrow.nenv is
// not 0 and the process answers with these bytes (anotify/PROTOCOL.md).
// Fails as check_init_environment does.
Result<std::vector<uint8_t>> build_private_instructions(const ArrowDef& def);
// VIR_ERR_CONFIG_UNSUPPORTED naming the <initenv> (never its value) and the
// limit when one variable is over kInitEnvVarMax bytes as NAME=VALUE, or all
// of them over kInitEnvTotalMax. At define and at every start.
Status check_init_environment(const ArrowDef& def);

// argv for execv(), argv[0] being the emulator path. Errors:
// VIR_ERR_CONFIG_UNSUPPORTED for a definition QEMU microvm cannot run
// (architecture, machine, port ranges, an over-long command line).
Result<std::vector<std::string>> build_qemu_argv(const ArrowDef& def, const CommandContext& ctx);

// Whether build_qemu_argv gives DEF a balloon (qemu_balloon.h,
// balloon_wanted): the driver asks before it sends balloon commands.
bool has_balloon(const ArrowDef& def, const CommandContext& ctx);

// The golden-file form: the emulator on the first line, then one option per
// line with its value ("-m 64M").
std::string format_argv_lines(const std::vector<std::string>& argv);

// --- Host look-ups (not pure) -------------------------------------------

// <inituser> NAME or number: getpwnam/getpwuid. A number with no passwd
// entry runs as that uid with gid = uid, named by the number, home "/".
// Unknown names are VIR_ERR_CONFIG_UNSUPPORTED naming <inituser>.
Result<InitUser> resolve_init_user(std::string_view user);
// <initgroup> NAME or number, the same way (getgrnam/getgrgid).
Result<InitGroup> resolve_init_group(std::string_view group);

// True when /dev/kvm opens, creates a VM and the CPU flags show vmx or svm.
// ARROW_ACCEL=kvm or =tcg in the environment overrides the probe.
bool kvm_usable();

// TCG's code buffer size: $ARROW_QEMU_TB_SIZE (MiB, a benchmark hook:
// bench/memory_breakdown.py --tb-size) or 0, QEMU's default.
unsigned tcg_tb_size_mib();

// A context with the host's defaults: the configured QEMU, KERNEL_DIR's
// bzImage and initramfs.cpio, kvm_usable(), and DEF's user and group
// resolved. LOG_PATH as given.
Result<CommandContext> make_command_context(const ArrowDef& def, const std::string& kernel_dir,
                                            const std::string& log_path);

}  // namespace arrow
