// Console sessions of running Arrows: at most one client stream attached to
// each Arrow's console (virDomainOpenConsole), as libvirt's qemu driver
// does: a second attach is refused unless FORCE, which takes the console
// over and ends the old stream with an error; SAFE is always honoured.
// Output produced while nobody is attached waits in a bounded backlog (as a
// pty would keep it) and goes to the next session. Also the console mode an
// Arrow's XML asks for (<arrow:console mode='tty|pipe'/> in <metadata>).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "domain-xml/arrow_def.h"
#include "driver/api/driver_api.h"
#include "util/result.h"

namespace arrow {

// How ainit sets up the guest console (kernel/CMDLINE.md, arrow.tty).
enum class ConsoleMode {
  Tty,   // a terminal: echo, line editing, ^C, output \n -> \r\n (virsh console, arrow run on a terminal)
  Pipe,  // the host side is no terminal: no echo, no output processing, no
         // signal characters; lines with ^D for end of input
};
const char* console_mode_name(ConsoleMode mode);
// VIR_ERR_XML_ERROR naming the attribute for an unknown name.
Result<ConsoleMode> console_mode_parse(std::string_view name);
// The mode DEF asks for in <metadata><arrow:console mode='…'/>; Tty when absent.
Result<ConsoleMode> metadata_console_mode(const ArrowDef& def);

class ConsoleHub {
 public:
  // The Arrow's console input (the launcher's console); an error when no
  // QEMU is there to take it.
  using InputFn = std::function<Status(std::span<const uint8_t>)>;
  // Bytes kept for the next session while none is attached.
  static constexpr size_t kBacklogMax = 64 * 1024;

  ConsoleHub();
  ~ConsoleHub();
  ConsoleHub(const ConsoleHub&) = delete;
  ConsoleHub& operator=(const ConsoleHub&) = delete;

  // Attaches PEER to the console of the Arrow KEY (its UUID). FLAGS:
  // VIR_DOMAIN_CONSOLE_FORCE / _SAFE. Busy without FORCE: VIR_ERR_OPERATION_FAILED
  // "Active console session exists for this domain". The backlog is sent
  // (held by PEER until its reply is out).
  Result<std::shared_ptr<StreamSink>> attach(const std::string& key, const std::string& name, unsigned flags,
                                             std::shared_ptr<StreamPeer> peer, InputFn input);
  // Guest console output of the Arrow KEY.
  void output(const std::string& key, std::span<const uint8_t> bytes);
  // Whether the Arrow's application runs (Anotify APP_STARTED; false for a
  // new QEMU). Input typed before it runs is kept and given to it then, as
  // a terminal keeps typeahead: before, ainit has not yet set the console up
  // (arrow.tty) and the guest would echo it in the wrong mode.
  void set_app_running(const std::string& key, bool running);
  // The Arrow stopped: its session gets EOF, its backlog goes.
  void stopped(const std::string& key);
  bool attached(const std::string& key) const;

 private:
  class Session;
  struct Entry {
    std::shared_ptr<Session> session;  // null: nobody attached
    std::string backlog;
    bool app_running = false;
    std::string typeahead;  // input held until app_running
  };
  using Table = std::map<std::string, Entry>;
  // Shared with the sessions, which may outlive the hub (their streams
  // belong to connections); they only touch it while it exists.
  std::shared_ptr<Table> table_;
};

}  // namespace arrow
