// The daemon's end of a Crossbow channel opened by a client
// (virDomainOpenChannel, or virDomainOpenConsole with the channel's name):
// a ChannelRelay joins a connection to the channel's socket with the
// client's stream, both ways, with flow control each way, so neither a slow
// client nor a guest that does not read makes the daemon buffer without
// bound or drop a byte: past kBacklogMax bytes waiting for the client the
// socket is not read; past kPendingMax bytes waiting for the guest the
// client is not read (StreamPeer::hold_input). Bytes the client sent before
// it finished are still written to the channel, for up to kFlushMs.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "util/byte_stream.h"
#include "util/fd.h"

namespace arrow {

class ChannelRelay final : public StreamSink, public std::enable_shared_from_this<ChannelRelay> {
 public:
  static constexpr size_t kBacklogMax = 1 << 20;
  static constexpr size_t kPendingMax = 1 << 20;
  static constexpr unsigned kFlushMs = 30000;

  // FD: a connected, non-blocking socket to the channel.
  static std::shared_ptr<ChannelRelay> start(UniqueFd fd, std::shared_ptr<StreamPeer> peer);
  ~ChannelRelay() override;
  ChannelRelay(const ChannelRelay&) = delete;
  ChannelRelay& operator=(const ChannelRelay&) = delete;

  void on_data(std::span<const uint8_t> bytes) override;
  void on_closed() override;

  // Ends the stream with ERROR (another client took the channel over).
  void abort(const Error& error);
  // Calls FN once with the client's first line (without its newline), as it
  // goes through: Adebug's request, logged. A first line over kLineMax
  // bytes ends the stream with an error.
  void observe_first_line(std::function<void(const std::string&)> fn) { first_line_fn_ = std::move(fn); }
  static constexpr size_t kLineMax = 64 * 1024;
  // Bytes written to the channel after the client's, when it finished,
  // aborted or vanished: Adebug's hang-up frame, which tells the guest
  // that the session is over before the next client's bytes come.
  void set_farewell(std::string bytes) { farewell_ = std::move(bytes); }
  bool open() const { return fd_.valid(); }

 private:
  ChannelRelay() = default;
  static gboolean on_readable(gint fd, GIOCondition cond, gpointer self);
  static gboolean on_writable(gint fd, GIOCondition cond, gpointer self);
  static gboolean on_backlog_tick(gpointer self);
  static gboolean on_flush_timeout(gpointer self);
  void watch_read();
  void watch_write();
  bool flush();  // false once the socket failed
  void finish(bool eof_to_client);
  void remove_sources();

  UniqueFd fd_;
  std::shared_ptr<StreamPeer> peer_;  // null once the client's end is closed
  std::string pending_;               // for the channel, not yet written
  size_t pending_off_ = 0;
  bool holding_ = false;
  guint read_source_ = 0;
  guint write_source_ = 0;
  guint tick_source_ = 0;
  guint flush_timer_ = 0;
  std::shared_ptr<ChannelRelay> self_;  // while flushing after the client left
  std::function<void(const std::string&)> first_line_fn_;
  std::string first_line_;
  std::string farewell_;
};

}  // namespace arrow
