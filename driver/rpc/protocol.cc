// Wire encoding of the libvirt remote protocol's common types (see protocol.h).
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

void write_domain(XdrWriter& out, const DomainRef& dom) {
  out.string(dom.name);
  out.fixed_opaque(dom.uuid.data(), dom.uuid.size());
  out.i32(dom.id);
}

DomainRef read_domain(XdrReader& in) {
  DomainRef dom;
  dom.name = in.string(kStringMax);
  in.fixed_opaque(dom.uuid.data(), dom.uuid.size());
  dom.id = in.i32();
  return dom;
}

std::optional<DomainRef> read_optional_domain(XdrReader& in) {
  uint32_t present = in.u32();
  if (present > 1) in.fail("bad optional-pointer marker");
  if (!in.ok() || present == 0) return std::nullopt;
  return read_domain(in);
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

void write_typed_param(XdrWriter& out, const TypedParam& p) {
  out.string(p.field);
  out.i32(static_cast<int32_t>(p.type));
  switch (p.type) {
    case TypedParam::Type::Int:
    case TypedParam::Type::UInt:
    case TypedParam::Type::Boolean:
      out.u32(static_cast<uint32_t>(p.i));
      return;
    case TypedParam::Type::LLong:
    case TypedParam::Type::ULLong:
      out.u64(static_cast<uint64_t>(p.i));
      return;
    case TypedParam::Type::Double:
      out.f64(p.d);
      return;
    case TypedParam::Type::String:
      out.string(p.s);
      return;
  }
}

TypedParam read_typed_param(XdrReader& in) {
  TypedParam p;
  p.field = in.string(kTypedParamFieldMax);
  int32_t type = in.i32();
  if (!in.ok()) return p;
  switch (type) {
    case 1: case 2: case 6: p.i = in.u32(); break;
    case 3: case 4: p.i = static_cast<int64_t>(in.u64()); break;
    case 5: p.d = in.f64(); break;
    case 7: p.s = in.string(kStringMax); break;
    default: in.fail("unknown typed parameter type"); return p;
  }
  p.type = static_cast<TypedParam::Type>(type);
  if (p.type == TypedParam::Type::Int) p.i = static_cast<int32_t>(p.i);
  return p;
}

}  // namespace arrow::rpc
