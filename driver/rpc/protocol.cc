// Wire encoding of the message header and of remote_error (see protocol.h).
#include "driver/rpc/protocol.h"

namespace arrow::rpc {

std::string encode_frame(const MessageHeader& h, std::string_view payload) {
  std::string frame;
  frame.reserve(kLenWord + kHeaderSize + payload.size());
  XdrWriter w(&frame);
  w.u32(static_cast<uint32_t>(kLenWord + kHeaderSize + payload.size()));
  w.u32(h.prog);
  w.u32(h.vers);
  w.i32(h.proc);
  w.i32(static_cast<int32_t>(h.type));
  w.u32(h.serial);
  w.i32(static_cast<int32_t>(h.status));
  frame.append(payload);
  return frame;
}

MessageHeader decode_header(XdrReader& in) {
  MessageHeader h;
  h.prog = in.u32();
  h.vers = in.u32();
  h.proc = in.i32();
  h.type = static_cast<MessageType>(in.i32());
  h.serial = in.u32();
  h.status = static_cast<MessageStatus>(in.i32());
  return h;
}

namespace {

// libvirt's standard text before the detail of an error code (virErrorMsg).
// libvirt's daemons send it inside the message, clients print the message
// verbatim and some match on it, so it stays untranslated, as the clients'
// own copies of it are.
struct ErrorPrefix {
  int code;
  std::string_view prefix;
};
constexpr ErrorPrefix kErrorPrefixes[] = {
    {VIR_ERR_INTERNAL_ERROR, "internal error: "},
    {VIR_ERR_NO_SUPPORT, "this function is not supported by the connection driver: "},
    {VIR_ERR_INVALID_ARG, "invalid argument: "},
    {VIR_ERR_OPERATION_FAILED, "operation failed: "},
    {VIR_ERR_XML_ERROR, "XML error: "},
    {VIR_ERR_OPERATION_DENIED, "operation forbidden: "},
    {VIR_ERR_NO_DOMAIN, "Domain not found: "},
    {VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: "},
    {VIR_ERR_NO_SECRET, "Secret not found: "},
    {VIR_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: "},
    {VIR_ERR_OPERATION_TIMEOUT, "Timed out during operation: "},
    {VIR_ERR_ARGUMENT_UNSUPPORTED, "argument unsupported: "},
    {VIR_ERR_NO_DOMAIN_METADATA, "metadata not found: "},
    {VIR_ERR_OPERATION_UNSUPPORTED, "Operation not supported: "},
    {VIR_ERR_RESOURCE_BUSY, "resource busy: "},
};

// ERR's message as libvirt's daemons word it: with its code's prefix, unless
// the message already starts with it.
std::string wire_message(const Error& err) {
  for (const ErrorPrefix& p : kErrorPrefixes) {
    if (p.code != err.code) continue;
    if (std::string_view(err.message).substr(0, p.prefix.size()) == p.prefix) break;
    return std::string(p.prefix) + err.message;
  }
  return err.message;
}

}  // namespace

void write_error(XdrWriter& out, const Error& err, ErrorDomain domain) {
  std::string message = wire_message(err);
  out.i32(err.code);
  out.i32(static_cast<int32_t>(domain));
  out.optional_string(message);
  out.i32(2);  // VIR_ERR_ERROR
  out.u32(0);  // dom: none
  out.optional_string(message);  // str1: clients only pass it through
  out.u32(0);                        // str2
  out.u32(0);                        // str3
  out.i32(-1);                       // int1
  out.i32(-1);                       // int2
  out.u32(0);                        // net: none
}

}  // namespace arrow::rpc
