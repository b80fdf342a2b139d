// The names virtarrowd exposes to its clients, in one place for the daemon
// and the clients built with it (the `arrow` command): channel names, typed
// statistics fields and the Arrow metadata namespace with its elements
// (anotify/PROTOCOL.md describes the last two). Changing one changes what
// every client already deployed sees. Depends on nothing but the language.
#pragma once

namespace arrow {

// virDomainOpenChannel: the Arrow's log; with the ".follow" name the stream
// goes on with what is written until the Arrow stops (`arrow logs [-f]`).
inline constexpr char kLogChannel[] = "org.arrow.log";
inline constexpr char kLogChannelFollow[] = "org.arrow.log.follow";
// virDomainOpenChannel: Adebug, a program run inside the Arrow (`arrow
// exec`): a request line, then frames both ways (ARCHITECTURE.md, "Adebug").
inline constexpr char kExecChannel[] = "org.arrow.exec";

// virDomainListGetStats, "state" group (VIR_DOMAIN_STATS_STATE); the table
// in anotify/PROTOCOL.md says when each is present.
inline constexpr char kStatExitStatus[] = "arrow.exit.status";            // int, -1 if killed by a signal
inline constexpr char kStatExitSignal[] = "arrow.exit.signal";            // int, 0 if it exited on its own
inline constexpr char kStatHeartbeatPeriod[] = "arrow.heartbeat.period";  // uint, s (0: off)
inline constexpr char kStatHeartbeatLastMs[] = "arrow.heartbeat.last_ms"; // ullong, guest uptime in ms
inline constexpr char kStatHeartbeatMissed[] = "arrow.heartbeat.missed";  // boolean
inline constexpr char kStatOomPid[] = "arrow.oom.pid";                    // uint, the guest pid killed
inline constexpr char kStatReady[] = "arrow.ready";                       // boolean: READY=1 came (notify protocol)
inline constexpr char kStatImage[] = "arrow.image";                       // string: the image or template it was restored from
// The guest agent (an Arrow with the org.qemu.guest_agent.0 channel, running):
inline constexpr char kStatAgentConnected[] = "arrow.agent.connected";   // boolean: ainit has the port open
inline constexpr char kStatAgentAnswered[] = "arrow.agent.answered";     // boolean: the last command got its answer
inline constexpr char kStatAgentLastAnswer[] = "arrow.agent.last_answer"; // ullong, Unix time in ms

// <metadata>: the namespace of Arrow's own elements, and those elements.
inline constexpr char kArrowMetadataNs[] = "urn:x-arrow:domain:1";
inline constexpr char kArrowElementConsole[] = "console";  // <arrow:console mode='tty|pipe'/>, set by clients
inline constexpr char kArrowElementAnotify[] = "anotify";  // <arrow:anotify heartbeat='S'/>, set by clients
inline constexpr char kArrowElementDebug[] = "debug";      // <arrow:debug gdbstub='PORT'/>: QEMU's gdbstub on 127.0.0.1
inline constexpr char kArrowElementStatus[] = "status";    // <arrow:status exit-status='N' signal='N'/>, by the daemon
// <arrow:autoballoon state='on|off' margin='MiB' floor='MiB'/>, set by clients
inline constexpr char kArrowElementAutoBalloon[] = "autoballoon";

}  // namespace arrow
