// The two ends of a byte stream between a client and a driver (a console, a
// channel, a log): the RPC transport implements StreamPeer for libvirt's
// stream protocol, the driver implements StreamSink. Neither side knows the
// other's layer.
#pragma once

#include <cstdint>
#include <span>

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
