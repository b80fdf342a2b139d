// Wire encoding of the REMOTE program's own types (see remote_types.h).
#include "driver/remote/remote_types.h"

namespace arrow::remote {

using namespace rpc;

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

}  // namespace arrow::remote
