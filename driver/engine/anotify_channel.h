// AnotifyChannel: the host end of an Arrow's Anotify port, a connected socket
// to QEMU's org.arrow.anotify.0 chardev, on the GLib main loop. Decodes guest
// frames into AnotifyEvents and sends host->guest frames.
#pragma once

#include <functional>
#include <memory>

#include "anotify/anotify_decoder.h"
#include "driver/engine/fd_stream.h"
#include "util/fd.h"
#include "util/result.h"

namespace arrow {

class AnotifyChannel {
 public:
  using EventFn = std::function<void(const AnotifyEvent&)>;
  using ClosedFn = std::function<void()>;

  AnotifyChannel(UniqueFd fd, EventFn on_event, ClosedFn on_closed);
  ~AnotifyChannel();
  AnotifyChannel(const AnotifyChannel&) = delete;
  AnotifyChannel& operator=(const AnotifyChannel&) = delete;

  bool is_open() const { return stream_->is_open(); }
  const AnotifyDecoderStats& stats() const { return decoder_.stats(); }

  // Asks ainit to stop the application: SIGTERM now, SIGKILL after GRACE_MS;
  // ainit then powers the VM off. Fails when the channel is closed.
  Status send_shutdown(uint32_t grace_ms);
  Status send_signal(int32_t signal);
  Status send_output_ack();
  // ainit's private instructions, as build_private_instructions encodes them.
  Status send_instructions(std::span<const uint8_t> frames);

  // OUTPUT_END (the guest waits for the host to have read its output) goes
  // here instead of to the event callback: the process's output relay
  // acknowledges it.
  void on_output_end(std::function<void(uint64_t bytes)> fn) { on_output_end_ = std::move(fn); }
  // INSTRUCTIONS_WANTED goes here instead of to the event callback: the
  // process answers it. ALL: ainit waits for every instruction (arrow.wait=1).
  void on_instructions_wanted(std::function<void(bool all)> fn) { on_instructions_wanted_ = std::move(fn); }
  // The guest reported the application's exit (APP_EXITED) on this channel.
  bool app_exit_reported() const { return app_exit_reported_; }

  // Called after a read in which the decoder threw bytes or frames away
  // (garbage from the guest), with the totals so far, so it can be logged.
  void on_ignored(std::function<void(const AnotifyDecoderStats&)> fn) { on_ignored_ = std::move(fn); }

  // Delivers the events already sent by a guest whose QEMU has exited.
  void drain() { stream_->drain(); }

 private:
  std::unique_ptr<FdStream> stream_;
  AnotifyDecoder decoder_;
  EventFn on_event_;
  ClosedFn on_closed_;
  std::function<void(uint64_t)> on_output_end_;
  std::function<void(bool)> on_instructions_wanted_;
  bool app_exit_reported_ = false;
  std::function<void(const AnotifyDecoderStats&)> on_ignored_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace arrow
