// Host end of the Anotify port (see anotify_channel.h): the first file a
// guest event crosses on its way to a client (ARCHITECTURE.md, "Paths").
#include "driver/engine/anotify_channel.h"

namespace arrow {

AnotifyChannel::AnotifyChannel(UniqueFd fd, EventFn on_event, ClosedFn on_closed)
    : on_event_(std::move(on_event)), on_closed_(std::move(on_closed)) {
  stream_ = std::make_unique<FdStream>(
      std::move(fd),
      [this](std::span<const uint8_t> bytes) {
        std::shared_ptr<bool> alive = alive_;
        const AnotifyDecoderStats before = decoder_.stats();
        for (const AnotifyEvent& ev : decoder_.feed(bytes)) {
          if (const auto* end = std::get_if<AnotifyOutputEnd>(&ev)) {
            if (on_output_end_) on_output_end_(end->bytes);
          } else if (const auto* wanted = std::get_if<AnotifyInstructionsWanted>(&ev)) {
            if (on_instructions_wanted_) on_instructions_wanted_(wanted->all);
          } else {
            app_exit_reported_ = app_exit_reported_ || std::holds_alternative<AnotifyAppExited>(ev);
            if (on_event_) on_event_(ev);
          }
          if (!*alive) return;
        }
        const AnotifyDecoderStats& after = decoder_.stats();
        if (on_ignored_ && (after.skipped_bytes != before.skipped_bytes ||
                            after.unknown_frames != before.unknown_frames ||
                            after.rejected_frames != before.rejected_frames))
          on_ignored_(after);
      },
      [this](int) {
        if (on_closed_) on_closed_();
      });
}

AnotifyChannel::~AnotifyChannel() { *alive_ = false; }

Status AnotifyChannel::send_shutdown(uint32_t grace_ms) { return stream_->write(anotify_encode_shutdown(grace_ms)); }

Status AnotifyChannel::send_signal(int32_t signal) { return stream_->write(anotify_encode_signal(signal)); }
Status AnotifyChannel::send_output_ack() { return stream_->write(anotify_encode_output_ack()); }
Status AnotifyChannel::send_instructions(std::span<const uint8_t> frames) { return stream_->write(frames); }

}  // namespace arrow
