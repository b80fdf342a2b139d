// The REMOTE program's constants and its own wire types:
// remote_nonnull_domain and typed parameters (libvirt 9.0's
// src/remote/remote_protocol.x).
#pragma once

#include <cstdint>
#include <optional>

#include "driver/api/driver_api.h"
#include "driver/rpc/protocol.h"
#include "driver/rpc/xdr.h"

namespace arrow::remote {

inline constexpr uint32_t kRemoteProgram = 0x20008086;
inline constexpr uint32_t kQemuProgram = 0x20008087;
inline constexpr uint32_t kLxcProgram = 0x00068000;

// REMOTE_*_MAX.
inline constexpr size_t kDomainListMax = 16384;
inline constexpr size_t kAuthTypeListMax = 20;
inline constexpr size_t kTypedParamMax = 262144;
inline constexpr size_t kTypedParamFieldMax = 79;  // char[80] with NUL on the client
inline constexpr size_t kCpumapMax = 2048;
inline constexpr size_t kCpuModelNameMax = 79;

// remote_nonnull_domain {name, uuid, id}.
void write_domain(rpc::XdrWriter& out, const DomainRef& dom);
DomainRef read_domain(rpc::XdrReader& in);
// remote_domain (optional pointer).
std::optional<DomainRef> read_optional_domain(rpc::XdrReader& in);

// remote_typed_param.
void write_typed_param(rpc::XdrWriter& out, const TypedParam& p);
TypedParam read_typed_param(rpc::XdrReader& in);

}  // namespace arrow::remote
