// The libvirt RPC wire format, whatever the program: the message header, the
// keepalive program, size limits, framing and remote_error. Numbers and
// layouts are libvirt 9.0's (src/rpc/virnetprotocol.x; ARCHITECTURE.md,
// "The libvirt wire protocol").
#pragma once

#include <cstdint>
#include <string>

#include "util/result.h"
#include "driver/rpc/xdr.h"

namespace arrow::rpc {

inline constexpr uint32_t kKeepaliveProgram = 0x6b656570;
inline constexpr uint32_t kProgramVersion = 1;

inline constexpr int kKeepalivePing = 1;
inline constexpr int kKeepalivePong = 2;

// Size limits (VIR_NET_MESSAGE_*, REMOTE_*_MAX).
inline constexpr size_t kLenWord = 4;
inline constexpr size_t kHeaderSize = 24;
inline constexpr size_t kMessageMax = 33554432;  // header + payload
inline constexpr size_t kStringMax = 4194304;

enum class MessageType : int32_t { Call = 0, Reply = 1, Message = 2, Stream = 3, CallWithFds = 4, ReplyWithFds = 5,
                                   StreamHole = 6 };
enum class MessageStatus : int32_t { Ok = 0, Error = 1, Continue = 2 };

struct MessageHeader {
  uint32_t prog = 0;
  uint32_t vers = kProgramVersion;
  int32_t proc = 0;
  MessageType type = MessageType::Call;
  uint32_t serial = 0;
  MessageStatus status = MessageStatus::Ok;
};

// virErrorDomain values the daemon sends (no "arrow" domain exists).
enum class ErrorDomain : int32_t { None = 0, Rpc = 7, Storage = 18, Network = 19, Domain = 20, NodeDev = 22 };

// A whole frame: length word, header, then what PAYLOAD wrote. Call with the
// payload already encoded in *payload; returns the frame.
std::string encode_frame(const MessageHeader& h, std::string_view payload);
// Decodes the 24-byte header following the length word.
MessageHeader decode_header(XdrReader& in);

// remote_error. This is the one place an arrow::Error becomes a wire error.
void write_error(XdrWriter& out, const Error& err, ErrorDomain domain);

}  // namespace arrow::rpc
