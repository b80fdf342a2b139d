// libFuzzer target: virtarrowd's RPC layer on untrusted bytes. Each input is
// sent, after a valid CONNECT_OPEN so that the procedures are reachable, on
// a fresh connection to the real Server over the in-memory fake driver:
// framing, the XDR decoder, the procedure table and every handler's argument
// decoding. The server must answer or close that client, never crash, leak
// or hang; it must still serve a new client afterwards. Random bytes (UUIDs)
// come from a fixed stream restarted for each input: fuzz/fuzz_random.h.
#include <glib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "driver/rpc/protocol.h"
#include "driver/remote/remote_program.h"
#include "driver/rpc/server.h"
#include "fuzz/fuzz_random.h"
#include "tests/unit/fake_driver.h"
#include "util/fd.h"

using namespace arrow;
using namespace arrow::rpc;
using arrow::remote::kRemoteProgram;

namespace {

constexpr int kConnectOpen = 1;

std::string connect_open() {
  XdrWriter args;
  args.u32(0);  // remote_string name: NULL
  args.u32(0);  // flags
  MessageHeader h{kRemoteProgram, kProgramVersion, kConnectOpen, MessageType::Call, 1, MessageStatus::Ok};
  return encode_frame(h, args.bytes());
}

Server& server() {
  static test::FakeDriver* driver = new test::FakeDriver();
  static remote::RemoteProgram* program = new remote::RemoteProgram(*driver, "arrow:///system");
  static Server* s = new Server(*program, ServerOptions{});
  return *s;
}

// Feeds BYTES to a new client and runs the loop until the server has read
// them all and answered (or closed the connection).
void serve(const std::string& bytes) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) std::abort();
  UniqueFd peer(sv[0]);
  server().add_client(UniqueFd(sv[1]), false);
  size_t sent = 0;
  for (int idle = 0; idle < 50;) {
    if (sent < bytes.size()) {
      ssize_t n = ::send(peer.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += size_t(n);
      if (n < 0 && errno != EAGAIN) break;  // the server closed this client
    } else {
      ::shutdown(peer.get(), SHUT_WR);
    }
    char buf[65536];
    ssize_t r = ::recv(peer.get(), buf, sizeof buf, 0);
    if (r == 0) break;
    bool busy = g_main_context_iteration(nullptr, FALSE);
    idle = (busy || r > 0) ? 0 : idle + 1;
  }
  // The client object goes once the server sees EOF.
  peer.reset();
  for (int i = 0; i < 10; i++) g_main_context_iteration(nullptr, FALSE);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  arrow::fuzz::fuzz_random_reset();
  serve(connect_open() + std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
