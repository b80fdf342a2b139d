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

// The server's bounds on what a client may make it hold (SECURITY.md, "RPC
// bounds"). Where libvirt has the setting, the name, default and meaning are
// libvirtd.conf's; virtarrowd.conf documents each key.
struct ServerOptions {
  bool verbose = false;
  unsigned timeout_s = 0;    // 0: never exit when idle
  int keepalive_interval_s = 5;   // PING after this much client silence; -1: never
  unsigned keepalive_count = 5;   // drop after interval*(count+1) of silence
  // Connections at once. At the limit the server accepts nothing (new
  // connections wait in the listen backlog) until one closes, as libvirtd.
  size_t max_clients = 5000;
  // Of those, connections the program has not yet marked opened
  // (Client::set_opened; libvirt's "waiting for authentication"). 0: no
  // limit but max_clients.
  size_t max_anonymous_clients = 20;
  // Calls of one client in flight, from their dispatch until their REPLY has
  // gone out on the socket. At the limit the client is not read.
  size_t max_client_requests = 5;
  // Bytes queued for one client beyond which it is not read (throttled).
  // Output other than replies (events, stream data) past 4 times this drops
  // the client at once; replies are bounded by max_client_requests.
  size_t max_client_output = 4 * 1024 * 1024;
  // A client whose queued output has not moved for this long is dropped (it
  // does not read what we send).
  unsigned client_output_timeout_s = 30;
  // A connection not opened this long after it connected is dropped; 0: never.
  unsigned anonymous_timeout_s = 30;
  // A connection that sent nothing for this long is dropped; 0: never.
  unsigned client_idle_timeout_s = 3600;
  // The largest frame accepted before the connection is opened.
  size_t max_anonymous_frame = 65536;
  // How long accepting pauses after accept() ran out of file descriptors
  // (unless a client leaves first).
  unsigned accept_backoff_ms = 100;
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
      : state_(std::make_shared<State>(std::move(client), call, domain)) {}
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
    State(std::weak_ptr<Client> c, MessageHeader h, ErrorDomain d) : client(std::move(c)), call(h), domain(d) {}
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    std::weak_ptr<Client> client;
    MessageHeader call;
    ErrorDomain domain = ErrorDomain::None;
    bool answered = false;
    // A call never answered still frees its place among the client's calls
    // in flight.
    ~State();
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
  // Queues a frame (a MESSAGE, STREAM data, a keepalive) and writes what the
  // socket takes now. Past the output bounds the client is throttled or
  // dropped (ServerOptions).
  void send(std::string frame);
  // Queues the REPLY to CALL; it ends the call's place among those in flight
  // once it has been written out.
  void send_reply(const MessageHeader& call, MessageStatus status, std::string_view payload);
  // Closes the connection (logged with WHY); the Server forgets the client.
  void close(const char* why);
  // Called once a second: keepalive pings, dead, idle, never-opened and
  // not-reading clients.
  void tick(gint64 now_us);
  // The program says the connection is open (libvirt: authenticated): it no
  // longer counts as anonymous and may send frames up to kMessageMax. For
  // the life of the connection.
  void set_opened();
  bool opened() const { return opened_; }
  // A call the program never answered (its Responder went unanswered).
  void release_request();

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
  // with its serial go to it. False (and the stream is closed) when another
  // stream has that serial already: the open one is kept.
  bool add_stream(uint32_t serial, std::shared_ptr<ServerStream> stream);
  void remove_stream(uint32_t serial) { streams_.erase(serial); }
  // A stream's sink cannot take more now: the client is not read while any
  // stream holds it (ServerStream::hold_input), then read again.
  void hold_input(bool hold);
  // "client N (uid U, pid P)", from the socket's peer credentials.
  std::string describe() const;
  Server& server() { return server_; }

  // State of the bounds, for tests and logs.
  size_t requests_in_flight() const { return requests_; }
  size_t queued_output() const { return queued_bytes_; }
  bool reading() const { return read_source_ != 0; }

 private:
  struct OutFrame {
    std::string bytes;
    bool reply = false;  // a REPLY: its call is in flight until it is written
  };
  static gboolean on_readable(gint fd, GIOCondition cond, gpointer data);
  static gboolean on_writable(gint fd, GIOCondition cond, gpointer data);
  static gboolean on_resume(gpointer data);
  static gboolean on_hangup(gint fd, GIOCondition cond, gpointer data);
  bool read_some();
  bool flush();
  bool take_frames();
  void handle_frame(const uint8_t* data, size_t len);
  void handle_keepalive(const MessageHeader& h);
  void enqueue(std::string frame, bool reply);
  // Not read while too many calls are in flight or too much output is queued.
  bool throttled() const;
  // Reads again, after the buffered frames, once no longer throttled.
  void update_reading();
  void request_done();

  Server& server_;
  UniqueFd fd_;
  uint64_t id_;
  bool readonly_;
  bool keepalive_ = false;
  bool opened_ = false;
  std::unique_ptr<Session> session_;
  std::map<uint32_t, std::shared_ptr<ServerStream>> streams_;  // by the opening call's serial
  guint read_source_ = 0;
  guint write_source_ = 0;
  guint resume_source_ = 0;
  guint hup_source_ = 0;  // while throttled: only the peer hanging up is watched
  bool closed_ = false;
  bool in_take_frames_ = false;
  std::string inbuf_;
  std::deque<OutFrame> outq_;
  size_t out_off_ = 0;       // bytes of outq_.front() already written
  size_t queued_bytes_ = 0;  // not yet written, over all of outq_
  size_t queued_other_bytes_ = 0;  // of the frames in outq_ that are no REPLY
  size_t requests_ = 0;      // calls dispatched whose REPLY is not written yet
  size_t input_holds_ = 0;   // streams whose sinks are full (hold_input)
  gint64 connected_us_ = 0;
  gint64 last_rx_us_ = 0;
  gint64 last_ping_us_ = 0;
  gint64 last_tx_us_ = 0;    // output last moved, or the queue last became non-empty
  bool over_output_ = false; // queued output is over max_client_output (logged once per crossing)
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
  // in tests); the new client, or null when max_clients or
  // max_anonymous_clients refuses it (the socket is closed).
  std::shared_ptr<Client> add_client(UniqueFd fd, bool readonly);
  // Runs the main loop until quit() (SIGTERM/SIGINT) or the idle timeout.
  void run();
  void quit();
  // The once-a-second work at time NOW_US (g_get_monotonic_time's clock):
  // each client's timers, and the idle exit. Tests call it with a chosen time.
  void tick(gint64 now_us);

  Program& program() { return program_; }
  const ServerOptions& options() const { return options_; }
  // LOG: only with --verbose; WARN: always (stderr, the journal under systemd).
  void log(const char* format, ...) const __attribute__((format(printf, 2, 3)));
  void warn(const char* format, ...) const __attribute__((format(printf, 2, 3)));
  // WARN for what any client can cause again and again (a client dropped
  // for a bound): the first of KIND in a minute is a warning (with how many
  // were held back before it), the rest only LOG. KIND: a string literal.
  void warn_limited(const char* kind, const char* format, ...) __attribute__((format(printf, 3, 4)));
  void forget(uint64_t client_id);
  // CLIENT was marked opened: one anonymous client less.
  void client_opened(const Client& client);
  size_t client_count() const { return clients_.size(); }
  size_t anonymous_count() const { return anonymous_; }
  // Whether the listening sockets are being accepted on (not at a client
  // limit, not backing off after running out of file descriptors).
  bool accepting() const { return accepting_; }

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
  static gboolean on_backoff_over(gpointer data);
  void accept_on(Listener& l);
  bool at_client_limit() const;
  // Adds or removes the listeners' sources after a change of the client
  // counts or of the back-off; logs the start and end of each episode.
  void update_accepting();

  Program& program_;
  ServerOptions options_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::map<uint64_t, std::shared_ptr<Client>> clients_;
  size_t anonymous_ = 0;  // clients not opened
  uint64_t next_client_id_ = 1;
  GMainLoop* loop_ = nullptr;
  guint tick_source_ = 0;
  gint64 idle_since_us_ = 0;
  bool accepting_ = true;
  bool limit_logged_ = false;    // this episode at max_clients / max_anonymous_clients was logged
  guint backoff_source_ = 0;     // accepting paused after EMFILE/ENFILE until it fires
  bool backoff_logged_ = false;  // this episode of running out of descriptors was logged
  struct Limited {
    gint64 last_us = 0;
    unsigned held_back = 0;
  };
  std::map<std::string, Limited> limited_;  // warn_limited, by kind
};

}  // namespace arrow::rpc
