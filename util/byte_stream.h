// The two ends of a byte stream between a client and a driver (a console, a
// channel, a log): the RPC transport implements StreamPeer for libvirt's
// stream protocol, the driver implements StreamSink. Neither side knows the
// other's layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "util/result.h"

namespace arrow {

// The client's end of an open stream, as the driver sees it. Contract: main
// loop only; every call after the stream ended (EOF sent, aborted, or the
// client closed it) is ignored.
class StreamPeer {
 public:
  virtual ~StreamPeer() = default;
  // Bytes for the client, in order.
  virtual void send(std::span<const uint8_t> bytes) = 0;
  // End of data: the client then finishes the stream.
  virtual void send_eof() = 0;
  // Ends the stream with ERROR, which the client reports (e.g. a console
  // taken over by another client).
  virtual void abort(const Error& error) = 0;
  // Flow control, for a driver end that can wait (a channel). BACKLOG: bytes
  // sent to the client and not yet taken by it (0 when unknown); a sender
  // stops reading its source past a bound and looks again later.
  virtual size_t backlog() const { return 0; }
  // While held, nothing more is read from the client (its connection waits,
  // as libvirtd's does for a full stream), so a sink whose destination is
  // full never has to drop bytes. Released by hold_input(false) or when the
  // stream ends.
  virtual void hold_input(bool /*hold*/) {}
  // Who is at the other end, for the log ("client 7 (uid 0, pid 123)").
  virtual std::string describe() const { return "a client"; }
};

// The driver's end of an open stream: what the client sends.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void on_data(std::span<const uint8_t> bytes) = 0;
  // Once: the client finished or aborted the stream, or its connection
  // closed. The sink drops its StreamPeer here.
  virtual void on_closed() = 0;
};

}  // namespace arrow
