// The RPC transport: listening sockets, client connections on the GLib main
// loop, framing, keepalive, streams, bounded output and the idle timeout.
// Calls go to the Program it serves (program.h). Single-threaded (see
// ARCHITECTURE.md, "Threads").
#pragma once

#include <glib.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver/rpc/program.h"
#include "driver/rpc/protocol.h"
#include "util/fd.h"
#include "util/result.h"

namespace arrow::rpc {

struct ServerOptions {
  bool verbose = false;
  unsigned timeout_s = 0;    // 0: never exit when idle
  unsigned keepalive_interval_s = 5;  // PING after this much client silence
  unsigned keepalive_count = 5;       // drop after interval*(count+1) of silence
};

class Client;
class Server;
class ServerStream;

// Answers one call exactly once, now or later. Copies share the call; the
// first answer wins and later ones are ignored. If the client has gone away
// meanwhile, the answer is dropped.
class Responder {
 public:
  Responder(std::weak_ptr<Client> client, MessageHeader call, ErrorDomain domain)
      : state_(std::make_shared<State>(State{std::move(client), call, domain, false})) {}
  // REPLY OK; ENCODE writes the ret payload (none for void procedures).
  void ok(const std::function<void(XdrWriter&)>& encode = {}) const;
  // REPLY OK with an already encoded payload.
  void ok_bytes(std::string_view payload) const;
  void error(const Error& err) const;
  // OK with no payload, or the error of STATUS.
  void status(const Status& status) const;
  bool answered() const { return state_->answered; }
  const MessageHeader& call() const { return state_->call; }
  std::weak_ptr<Client> client() const { return state_->client; }

 private:
  struct State {
    std::weak_ptr<Client> client;
    MessageHeader call;
    ErrorDomain domain = ErrorDomain::None;
    bool answered = false;
  };
  std::shared_ptr<State> state_;
};

// One client connection. Owned by the Server; Responders hold weak pointers.
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(Server& server, UniqueFd fd, bool readonly, uint64_t id);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void start();
  // Queues a frame and writes what the socket takes now.
  void send(std::string frame);
  void send_reply(const MessageHeader& call, MessageStatus status, std::string_view payload);
  // Closes the connection (logged with WHY); the Server forgets the client.
  void close(const char* why);
  // Called once a second: keepalive pings and dead-client detection.
  void tick(gint64 now_us);

  uint64_t id() const { return id_; }
  bool closed() const { return closed_; }
  // Accepted on a read-only socket.
  bool readonly_socket() const { return readonly_; }
  // The program's state of this connection.
  Session& session() { return *session_; }
  // The client asked for keepalive (it answers PINGs): the server pings it
  // and drops it after keepalive_count unanswered intervals.
  void enable_keepalive() { keepalive_ = true; }
  // An open stream, until it ends or the connection closes. STREAM frames
  // with its serial go to it.
  void add_stream(uint32_t serial, std::shared_ptr<ServerStream> stream);
  void remove_stream(uint32_t serial) { streams_.erase(serial); }
  Server& server() { return server_; }

 private:
  static gboolean on_readable(gint fd, GIOCondition cond, gpointer data);
  static gboolean on_writable(gint fd, GIOCondition cond, gpointer data);
  bool read_some();
  bool flush();
  bool take_frames();
  void handle_frame(const uint8_t* data, size_t len);
  void handle_keepalive(const MessageHeader& h);

  Server& server_;
  UniqueFd fd_;
  uint64_t id_;
  bool readonly_;
  bool keepalive_ = false;
  std::unique_ptr<Session> session_;
  std::map<uint32_t, std::shared_ptr<ServerStream>> streams_;  // by the opening call's serial
  guint read_source_ = 0;
  guint write_source_ = 0;
  bool closed_ = false;
  std::string inbuf_;
  std::deque<std::string> outq_;
  size_t out_off_ = 0;  // bytes of outq_.front() already written
  gint64 last_rx_us_ = 0;
  gint64 last_ping_us_ = 0;
};

class Server {
 public:
  Server(Program& program, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds PATH with MODE (and GROUP, when given), refusing when another
  // daemon answers there and removing a stale socket file nobody answers.
  // Connections accepted on it are read-only when READONLY. The file is
  // removed when the Server goes.
  Status listen(const std::string& path, mode_t mode, bool readonly, std::optional<gid_t> group = {});
  // Serves FD, a listening socket bound to PATH that systemd passed (socket
  // activation). systemd owns the file: it is left in place when we go.
  Status adopt(UniqueFd fd, const std::string& path, bool readonly);
  // Serves an already connected socket (accepted, or one end of a socketpair
  // in tests).
  void add_client(UniqueFd fd, bool readonly);
  // Runs the main loop until quit() (SIGTERM/SIGINT) or the idle timeout.
  void run();
  void quit();

  Program& program() { return program_; }
  const ServerOptions& options() const { return options_; }
  // LOG: only with --verbose; WARN: always (stderr, the journal under systemd).
  void log(const char* format, ...) const __attribute__((format(printf, 2, 3)));
  void warn(const char* format, ...) const __attribute__((format(printf, 2, 3)));
  void forget(uint64_t client_id);
  size_t client_count() const { return clients_.size(); }

 private:
  struct Listener {
    UniqueFd fd;
    std::string path;
    UniquePath owned;  // the file we bound; empty for adopted sockets
    bool readonly = false;
    guint source = 0;
  };
  void serve_listener(std::unique_ptr<Listener> l);
  static gboolean on_accept(gint fd, GIOCondition cond, gpointer data);
  static gboolean on_tick(gpointer data);
  void accept_on(Listener& l);

  Program& program_;
  ServerOptions options_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::map<uint64_t, std::shared_ptr<Client>> clients_;
  uint64_t next_client_id_ = 1;
  GMainLoop* loop_ = nullptr;
  guint tick_source_ = 0;
  gint64 idle_since_us_ = 0;
};

}  // namespace arrow::rpc
