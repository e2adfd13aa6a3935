#include "proxy/transaction_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pgwire/frontend_messages.h"
#include "pgwire/message_builder.h"
#include "proxy/client_output.h"
#include "proxy/relay_io.h"
#include "proxy/request_tracker.h"
#include "proxy/transaction_relay.h"
#include "proxy/wakeup.h"

namespace keel::proxy {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
namespace sqlstate = pgwire::sqlstate;

constexpr std::size_t kReadSize = 16 * 1024;
constexpr std::size_t kIdleReadSize = 512;
constexpr std::uint32_t kStreamThreshold = 64 * 1024;
// Between reads of the client the session runs no coroutine: the pending read's completion
// handler owns it (an idle client is that handler, its socket, this object, the login session it
// took over and a small read buffer). Each completion relays what arrived and issues the next
// read (clientRead()); only what must wait (a connection that is not idle, a socket that does
// not take a write whole) goes on in a short coroutine, step(). A server reader runs beside it
// while a connection is borrowed, the same way (serverRun(), serverSlow()); it refers to the
// session, which ends only after it stops. A plain transaction thus runs no coroutine at all.
class TransactionSession;

// A transaction-mode session queued in a full pool: it owns the session while it waits.
struct QueuedSession final : ServerPool::Waiter {
  using ServerPool::Waiter::Waiter;
  void wake() override;
  void abandon() override;
  std::unique_ptr<TransactionSession> session;
};

class TransactionSession {
 public:
  TransactionSession(TransactionSessionParts parts, std::unique_ptr<ServerLender> owner)
      : owner_(std::move(owner)),
        p_(std::move(parts)),
        relay_(static_cast<std::size_t>(p_.ctx.proxy().max_prepared_statements)) {}

  // The pool woke the waiter: with a connection, a slot to open one, or its refusal.
  static void granted(std::unique_ptr<TransactionSession> self,
                      std::unique_ptr<ServerConnection> conn, bool slot) {
    TransactionSession& s = *self;
    ClientNext next = ClientNext::attach;  // borrow() goes on with what was granted
    if (conn) {
      switch (s.p_.lender.adoptNow(std::move(conn), s.p_.settings)) {
        case ServerLender::Adopt::attached:
          s.attached();
          next = s.pumpClient();
          break;
        case ServerLender::Adopt::settle:
          next = ClientNext::settle;
          break;
        case ServerLender::Adopt::gone:
          break;
      }
    } else {
      s.grant_ = ServerPool::Grant{.slot = slot, .timed_out = !slot};
    }
    proceed(std::move(self), next);
  }

  static void start(std::unique_ptr<TransactionSession> self) {
    TransactionSession& s = *self;
    s.cancel_slot_ = s.p_.ctx.cancels.slot(s.p_.client_key);
    if (!s.cancel_slot_) {
      s.cancel_slot_ = std::make_shared<CancelSlot>();  // the key is gone: nothing to cancel
    }
    s.cancel_slot_->clear();  // until a transaction borrows a server connection
    if (!s.p_.stream.tls()) {
      boost::system::error_code ec;
      s.p_.stream.socket().non_blocking(true, ec);  // for writeNow() in out_.flushNow()
    }
    s.idle();
    // Bytes the startup left in the decoder come first.
    clientRead(std::move(self), boost::system::error_code(), 0);
  }

 private:
  // What the client side does next. The common case, a request relayed to a connection borrowed
  // at once and written whole, is `read`, reached without a coroutine; each of the others is a
  // wait that step() takes over.
  enum class ClientNext {
    read,          // everything received was relayed: read the client again
    attach,        // pending_ needs a server connection that borrowNow() could not lend
    queued,        // pending_ waits in the pool's queue: waiter_ owns the session
    settle,        // the connection the pool handed over needs the client's settings
    server_write,  // the server did not take to_server_ whole
    flush,         // the client did not take out_.pending whole
    stop,          // the client terminated, or the session is over
  };
  // What the server reader does next; `read` and `finish` are done by completion handlers, the
  // others by serverSlow().
  enum class ServerNext {
    read,       // read the server
    read_back,  // read the settings back (readBackSettings()) before the client hears more
    flush,      // wait for the client to take what is queued for it
    finish,     // stop: the connection went back to the pool, or is lost
  };

  ServerPool& pool() { return p_.lender.pool(); }

  void idle() {
    // Holding no server, a terminate() (admin KILL, RECONNECT) wakes the client reader instead.
    p_.handle.setServerSocket(&p_.stream.socket());
    p_.handle.update([](SessionInfo& i) {
      i.state = "idle";
      i.server.clear();
      i.server_endpoint.clear();
      i.server_id = 0;
    });
  }

  // Reads the client; the completion runs clientRead(). Between requests (most of a pooled
  // client's life) the session keeps a small read buffer: a request usually fits, and a larger
  // one grows it for the rest of the request.
  static void readClient(std::unique_ptr<TransactionSession> self) {
    TransactionSession& s = *self;
    std::size_t want = kReadSize;
    if (s.p_.client_decoder.buffered() == 0) {
      s.p_.client_decoder.shrinkIfEmpty(kIdleReadSize);
      want = 1;
    }
    auto space = s.p_.client_decoder.prepare(want);
    s.p_.stream.async_read_some(
        asio::buffer(space.data(), space.size()),
        [self = std::move(self)](boost::system::error_code ec, std::size_t n) mutable {
          clientRead(std::move(self), ec, n);
        });
  }

  // Takes in `n` bytes the client sent (or the read's failure) and relays the complete frames;
  // then reads the client again, or hands over to step() for what needs waiting.
  static void clientRead(std::unique_ptr<TransactionSession> self, boost::system::error_code ec,
                         std::size_t n) {
    TransactionSession& s = *self;
    auto ex = s.p_.stream.socket().get_executor();
    if (ec || s.ended_) {
      asio::co_spawn(ex, step(std::move(self), ClientNext::stop, true), asio::detached);
      return;
    }
    s.p_.client_decoder.commit(n);
    s.received_ += n;
    proceed(std::move(self), s.pumpClient());
  }

  // Goes on after pumpClient(): reads the client, parks in the pool's queue, or hands over to
  // step().
  static void proceed(std::unique_ptr<TransactionSession> self, ClientNext next) {
    TransactionSession& s = *self;
    if (next == ClientNext::read && !s.p_.handle.killed()) {
      readClient(std::move(self));
    } else if (next == ClientNext::queued) {
      park(std::move(self));
    } else {
      auto ex = s.p_.stream.socket().get_executor();
      asio::co_spawn(ex, step(std::move(self), next, false), asio::detached);
    }
  }

  // Queued for a connection: the waiter owns the session until the pool wakes it (on this
  // thread, so not before the handler that queued it returns).
  static void park(std::unique_ptr<TransactionSession> self) {
    QueuedSession& waiter = *self->waiter_;
    waiter.session = std::move(self);
  }

  // Finishes what pumpClient() could not do at once, then reads the client again or ends the
  // session. `read_failed`: the client read failed or the session was over (`next` unused).
  static asio::awaitable<void> step(std::unique_ptr<TransactionSession> self, ClientNext next,
                                    bool read_failed) {
    TransactionSession& s = *self;
    bool go_on = false;
    bool tell_killed = false;
    if (read_failed) {
      // The read was cancelled by the KILL, unless the server reader ended the session and
      // told the client why.
      tell_killed = s.p_.handle.killed() && !s.ended_;
    } else {
      while (next != ClientNext::read && next != ClientNext::stop) {
        if (next == ClientNext::queued) {
          park(std::move(self));
          co_return;
        }
        next = co_await s.clientSlow(next);
      }
      go_on = next == ClientNext::read;
      // A KILL whose cancel ran while no read was pending (the session was writing or giving
      // its server back) is seen here, before the session waits for the client again.
      tell_killed = go_on && s.p_.handle.killed();
    }
    if (tell_killed) {
      s.out_.pending.append(
          pgwire::errorResponse("FATAL", sqlstate::kAdminShutdown, s.p_.handle.killReason()));
      go_on = false;
    }
    if (go_on) {
      readClient(std::move(self));
      co_return;
    }
    co_await s.end();
  }

  // One wait of the client side, then as much of the rest as needs none.
  asio::awaitable<ClientNext> clientSlow(ClientNext next) {
    switch (next) {
      case ClientNext::attach: {
        bool attached = co_await attach();
        if (!attached) {
          co_return ClientNext::stop;
        }
        co_return pumpClient();
      }
      case ClientNext::settle: {
        bool settled = co_await p_.lender.settle(p_.settings);
        if (!settled) {
          ended_ = true;
          co_return ClientNext::stop;
        }
        attached();
        co_return pumpClient();
      }
      case ClientNext::server_write: {
        server_writing_ = true;
        auto [ec, n] = co_await asio::async_write(p_.lender.serverSocket(),
                                                  asio::buffer(to_server_), kNoThrow);
        server_writing_ = false;
        afterServerWrite(ec);
        to_server_.clear();
        co_return out_.flushNow() ? clientDone() : ClientNext::flush;
      }
      case ClientNext::flush:
        co_await out_.flush();
        co_return clientDone();
      default:
        co_return next;
    }
  }

  ClientNext clientDone() const {
    return ended_ || terminated_ ? ClientNext::stop : ClientNext::read;
  }

  // Stops the server reader, gives back or closes the borrowed connection, writes what is
  // queued for the client and ends the client session.
  asio::awaitable<void> end() {
    ended_ = true;
    if (server_loops_ > 0) {
      aborting_ = true;
      if (attached_) {
        boost::system::error_code ec;
        p_.lender.serverSocket().cancel(ec);
      }
      while (server_loops_ > 0) {
        co_await server_stopped_.wait();
      }
    }
    if (attached_) {
      release(false);
    }
    co_await out_.flush();
    p_.handle.setServerSocket(nullptr);  // the streams go away with the session
    co_await p_.lender.finish();
  }

  // Relays the complete client frames decoded so far (pending_ first), borrowing a server
  // connection for the first one, and writes them to the server and what is queued to the
  // client, as far as that can be done without waiting.
  ClientNext pumpClient() {
    while (!ended_ && !terminated_) {
      pgwire::Frame frame;
      if (pending_) {
        frame = *pending_;
        pending_.reset();
      } else {
        auto next = p_.client_decoder.next();
        if (!next) {
          out_.pending.append(
              pgwire::errorResponse("FATAL", sqlstate::kProtocolViolation, next.message()));
          ended_ = true;
          return ClientNext::stop;
        }
        if (!*next) {
          break;
        }
        frame = **next;
        if (frame.kind == pgwire::FrameKind::message &&
            frame.type == pgwire::frontend::kTerminate) {
          terminated_ = true;  // what came before it still goes to the server
          break;
        }
      }
      if (!attached_) {
        const ClientNext lent = attachNow();
        if (lent != ClientNext::read) {
          pending_ = frame;  // valid: nothing reads the client until it is relayed
          return lent;
        }
      }
      relayClientFrame(frame);
    }
    if (attached_ && !to_server_.empty()) {
      pool().stats().bytes_received += received_;
      received_ = 0;
      boost::system::error_code ec;
      const std::size_t done =
          writeNow(p_.lender.serverSocket(), to_server_.data(), to_server_.size(), ec);
      if (!ec && done < to_server_.size()) {
        to_server_.erase(0, done);
        return ClientNext::server_write;
      }
      afterServerWrite(ec);
    }
    to_server_.clear();
    return out_.flushNow() ? clientDone() : ClientNext::flush;
  }

  void relayClientFrame(const pgwire::Frame& frame) {
    if (frame.kind == pgwire::FrameKind::message && frame.complete) {
      requests_.clientMessage(frame.type, &pool().stats());
      if (frame.type == pgwire::frontend::kQuery) {
        auto query = pgwire::parseQuery(frame.payload);
        if (query && isListenCommand(query->sql)) {
          relay_.fromClient(listenRefusal(), to_server_, out_.pending);
          return;
        }
      }
    }
    relay_.fromClient(frame, to_server_, out_.pending);
  }

  // After a request went to the server (`ec`: or failed to).
  void afterServerWrite(boost::system::error_code ec) {
    if (!attached_) {
      // The server reader lost the connection meanwhile and told the client.
    } else if (ec) {
      boost::system::error_code ignored;
      p_.lender.serverSocket().cancel(ignored);  // the server reader reports the loss
    } else if (relay_.releasable()) {
      // The server may have answered everything while the write was completing: wake the
      // server reader so that it gives the connection back.
      boost::system::error_code ignored;
      p_.lender.serverSocket().cancel(ignored);
    }
  }

  // Borrows a server connection for the next transaction at once if the lender can (`read`:
  // go on), else queues for one when the pool is full, else leaves it to attach().
  ClientNext attachNow() {
    // The waiter is made the first time the session finds its pool full, then kept.
    auto lent = p_.lender.borrowNow(p_.settings, waiter_);
    if (lent == ServerLender::Now::full) {
      waiter_ = std::make_shared<QueuedSession>(p_.stream.socket().get_executor());
      lent = p_.lender.borrowNow(p_.settings, waiter_);
    }
    switch (lent) {
      case ServerLender::Now::attached:
        attached();
        return ClientNext::read;
      case ServerLender::Now::queued:
        return ClientNext::queued;
      case ServerLender::Now::full:
      case ServerLender::Now::slow:
        break;
    }
    return ClientNext::attach;
  }

  // Borrows a server connection for the next transaction, waiting as the lender must.
  asio::awaitable<bool> attach() {
    p_.handle.update([](SessionInfo& i) { i.state = "waiting"; });
    bool borrowed = co_await p_.lender.borrow(p_.settings, std::exchange(grant_, {}));
    if (!borrowed) {
      ended_ = true;
      co_return false;
    }
    attached();
    co_return true;
  }

  // A connection was borrowed: prepares the relay and starts the server reader.
  void attached() {
    ServerConnection& server = p_.lender.server();
    if (!server.statements) {
      server.statements = std::make_unique<ServerStatements>(
          static_cast<std::size_t>(p_.ctx.proxy().server_prepared_statements));
    }
    relay_.attach(pool().statementNames(), *server.statements);
    attached_ = true;
    cancel_slot_->set(server.target().host, server.target().port, server.key);
    reportServerParameters(server, p_.seen, out_.pending);
    if (!server.decoder) {
      server.decoder = std::make_unique<pgwire::FrameDecoder>(
          pgwire::Source::backend, pgwire::FrameLimits{.stream_threshold = kStreamThreshold});
      server.decoder->setAuthenticated();
    }
    server_decoder_ = server.decoder.get();
    p_.handle.setServerSocket(&p_.lender.serverSocket());  // non-blocking since attach()
    ++server_loops_;
    srv_lost_ = false;
    srv_why_.clear();
    // The relay looks releasable until the client's first message of the transaction is fed
    // to it: the first check waits until the reader has been woken once (by server bytes or by
    // the client side's cancel).
    srv_may_release_ = false;
    serverRun(serverCheck());
  }

  // The server reader relays server bytes to the client until the connection can go back to
  // the pool, or is lost. Between reads it is a pending read whose completion handler runs the
  // next step; it refers to the session, which ends only after serverStopped().
  void serverRun(ServerNext next) {
    if (next == ServerNext::read) {
      auto space = server_decoder_->prepare(kReadSize);
      p_.lender.serverSocket().async_read_some(
          asio::buffer(space.data(), space.size()),
          [this](boost::system::error_code ec, std::size_t n) { serverRun(serverData(ec, n)); });
      return;
    }
    auto ex = p_.stream.socket().get_executor();
    if (next == ServerNext::finish) {
      serverEnd();
      if (out_.flushNow()) {
        serverStopped();
        return;
      }
      asio::co_spawn(ex, serverFlushAndStop(), asio::detached);
      return;
    }
    asio::co_spawn(ex, serverSlow(next), asio::detached);
  }

  // Before each read: whether the connection can go back, or the reader must stop.
  ServerNext serverCheck() {
    if (aborting_) {
      return ServerNext::finish;
    }
    if (srv_may_release_ && relay_.releasable() && !server_writing_) {
      release(true);
      return ServerNext::finish;
    }
    srv_may_release_ = true;
    return ServerNext::read;
  }

  // A read of the server completed.
  ServerNext serverData(boost::system::error_code ec, std::size_t n) {
    if (ec) {
      if (p_.handle.killed()) {
        srv_why_ = "killed";
        return ServerNext::finish;
      }
      if (aborting_) {
        return ServerNext::finish;
      }
      if (ec == asio::error::operation_aborted) {
        return serverCheck();  // woken to check releasable()
      }
      srv_lost_ = true;
      return ServerNext::finish;
    }
    server_decoder_->commit(n);
    srv_why_ = relayServerFrames();
    if (srv_why_.empty() && readBackDue()) {
      return ServerNext::read_back;
    }
    return afterServerFrames();
  }

  // After a transaction that may have changed settings: they are read back before the client
  // hears that it ended.
  bool readBackDue() const {
    return relay_.settingsTouched() && relay_.releasable() && !server_writing_;
  }

  ServerNext afterServerFrames() {
    if (!srv_why_.empty()) {
      srv_lost_ = true;
      return ServerNext::finish;
    }
    if (!out_.flushNow()) {
      return ServerNext::flush;
    }
    if (out_.failed()) {
      aborting_ = true;
    }
    return serverCheck();
  }

  // The server reader's waits: the settings read-back and a client that takes its bytes slowly.
  asio::awaitable<void> serverSlow(ServerNext next) {
    while (true) {
      if (next == ServerNext::read_back) {
        // Another writer of the client (an earlier flush still under way) may pass the answer on
        // meanwhile, and the client's next request reach the server behind Keel's query: its
        // answer, read along with Keel's, is relayed at once.
        while (srv_why_.empty() && readBackDue()) {
          srv_why_ = co_await readBackSettings();
          if (srv_why_.empty()) {
            srv_why_ = relayServerFrames();
          }
        }
        next = afterServerFrames();
      } else if (next == ServerNext::flush) {
        co_await out_.flush();
        if (out_.failed()) {
          aborting_ = true;
        }
        next = serverCheck();
      } else if (next == ServerNext::finish) {
        serverEnd();
        co_await out_.flush();
        serverStopped();
        co_return;
      } else {
        serverRun(next);  // back to completion handlers
        co_return;
      }
    }
  }

  asio::awaitable<void> serverFlushAndStop() {
    co_await out_.flush();
    serverStopped();
  }

  // The reader stops. Mid-transaction or mid-message, the connection's state is unknown: it is
  // closed, and the client told why.
  void serverEnd() {
    if (!attached_ || (!srv_lost_ && srv_why_.empty() && !aborting_)) {
      return;
    }
    if (p_.handle.killed()) {
      out_.pending.append(
          pgwire::errorResponse("FATAL", sqlstate::kAdminShutdown, p_.handle.killReason()));
    } else if (srv_lost_ && !server_sent_fatal_) {
      out_.pending.append(pgwire::errorResponse(
          "FATAL", sqlstate::kConnectionFailure,
          "lost the connection to PostgreSQL on " + p_.lender.server().target().member +
              (srv_why_.empty() ? std::string() : ": " + srv_why_) + "; reconnect"));
    }
    release(relay_.releasable() && !srv_lost_ && srv_why_.empty());
    if (srv_lost_ || p_.handle.killed()) {
      ended_ = true;
      boost::system::error_code ignored;
      p_.stream.socket().cancel(ignored);  // wakes the client reader
    }
  }

  void serverStopped() {
    --server_loops_;
    server_stopped_.notify();
  }
  // Relays the complete server frames decoded so far. Empty, or why the connection is broken.
  std::string relayServerFrames() {
    const std::size_t before = out_.pending.size();
    std::string why;
    while (why.empty()) {
      auto next = server_decoder_->next();
      if (!next) {
        why = "the server broke the protocol: " + next.message();
        break;
      }
      if (!*next) {
        break;
      }
      const pgwire::Frame& f = **next;
      noteServerMessage(f);
      auto relayed = relay_.fromServer(f, out_.pending);
      if (!relayed) {
        why = "Keel lost track of the protocol with PostgreSQL: " + relayed.message();
      }
    }
    if (out_.pending.size() > before) {
      pool().stats().bytes_sent += out_.pending.size() - before;  // one shared atomic per read
    }
    return why;
  }

  // After a transaction that may have changed run-time parameters PostgreSQL does not report
  // (proxy.track_extra_parameters, e.g. search_path): reads their values on the server and makes
  // them the client's, to be SET on the connections it borrows next (and RESET for the next
  // client of this one). Empty, or why the connection must be closed.
  asio::awaitable<std::string> readBackSettings() {
    relay_.clearSettingsTouched();
    const std::vector<std::string>& names = p_.ctx.proxy().track_extra_parameters;
    if (names.empty()) {
      co_return std::string();
    }
    std::string query;
    pgwire::encode(query, pgwire::Query{readSettingsQuery(names)});
    tcp::socket& socket = p_.lender.serverSocket();
    boost::system::error_code ec;
    // Written at once or not at all, so that it cannot interleave with a client write.
    if (writeNow(socket, query.data(), query.size(), ec) != query.size()) {
      co_return std::string("could not send the query that reads the tracked settings back");
    }
    ServerConnection& server = p_.lender.server();
    std::vector<std::optional<std::string>> values;
    std::string error;
    while (true) {
      while (true) {
        auto next = server_decoder_->next();
        if (!next) {
          co_return "the server broke the protocol: " + next.message();
        }
        if (!*next) {
          break;
        }
        const pgwire::Frame& f = **next;
        if (f.kind != pgwire::FrameKind::message || !f.complete) {
          co_return std::string("an over-long answer to the query that reads settings back");
        }
        switch (f.type) {
          case pgwire::backend::kNoticeResponse:
          case pgwire::backend::kNotificationResponse:
          case pgwire::backend::kParameterStatus: {
            noteServerMessage(f);
            (void)relay_.fromServer(f, out_.pending);  // passed on as at any time
            break;
          }
          case pgwire::backend::kDataRow: {
            auto row = pgwire::parseDataRow(f.payload);
            if (!row || row->columns.size() != names.size()) {
              co_return std::string("an unreadable answer to the query that reads settings back");
            }
            values.clear();
            for (const auto& column : row->columns) {
              values.push_back(column ? std::optional<std::string>(*column) : std::nullopt);
            }
            break;
          }
          case pgwire::backend::kErrorResponse: {
            auto e = pgwire::parseErrorResponse(f.payload);
            error = e ? std::string(e->message()) : std::string("an unreadable error");
            break;
          }
          case pgwire::backend::kReadyForQuery:
            if (!error.empty()) {
              co_return "reading the tracked settings back failed: " + error;
            }
            for (std::size_t i = 0; i < values.size(); ++i) {
              if (values[i]) {
                p_.settings.set(names[i], *values[i]);
                server.changeParameters()[names[i]] = *values[i];
              }
            }
            co_return std::string();
          default:  // RowDescription, CommandComplete
            break;
        }
      }
      auto space = server_decoder_->prepare(kReadSize);
      auto [rec, n] =
          co_await socket.async_read_some(asio::buffer(space.data(), space.size()), kNoThrow);
      if (rec == asio::error::operation_aborted && !aborting_ && !p_.handle.killed()) {
        continue;  // woken by the client side to check releasable(): not now
      }
      if (rec) {
        co_return std::string("lost while reading the tracked settings back");
      }
      server_decoder_->commit(n);
    }
  }

  void noteServerMessage(const pgwire::Frame& f) {
    if (f.kind != pgwire::FrameKind::message || !f.complete) {
      return;
    }
    PoolStats& stats = pool().stats();
    switch (f.type) {
      case pgwire::backend::kReadyForQuery:
        requests_.readyForQuery(f.payload.empty() ? 'I' : f.payload[0], stats);
        break;
      case pgwire::backend::kParameterStatus:
        if (auto ps = pgwire::parseParameterStatus(f.payload)) {
          p_.lender.server().changeParameters()[std::string(ps->name)] = std::string(ps->value);
          p_.seen.set(ps->name, ps->value);  // the relay passes it on
          if (trackedParameter(ps->name) ||
              extraParameter(ps->name, p_.ctx.proxy().track_extra_parameters)) {
            p_.settings.set(ps->name, ps->value);
          }
        }
        break;
      case pgwire::backend::kErrorResponse:
        if (isFatalError(f.payload)) {
          server_sent_fatal_ = true;
        }
        break;
      default:
        break;
    }
  }

  // The connection goes back to its pool (`reuse`) or is closed; the client is idle again.
  void release(bool reuse) {
    if (relay_.settingsTouched() && !p_.ctx.proxy().track_extra_parameters.empty()) {
      // Settings may have changed and were not read back: the next client must not inherit
      // them, so the connection is closed.
      reuse = false;
    }
    p_.handle.setServerSocket(nullptr);
    addCounters();
    relay_.detach();
    attached_ = false;
    cancel_slot_->clear();
    if (reuse && server_decoder_->buffered() == 0 && !server_sent_fatal_) {
      p_.lender.giveBack();
    } else {
      p_.lender.discard();
    }
    server_decoder_ = nullptr;
    server_sent_fatal_ = false;
    requests_.reset();
    idle();
  }

  // The relay's counters since the last call, into the pool's: no shared atomic is touched for
  // a counter that did not move (most transactions move none).
  void addCounters() {
    const TransactionRelayCounters& c = relay_.counters();
    PoolStats& s = pool().stats();
    auto add = [](std::atomic<std::uint64_t>& to, std::uint64_t now, std::uint64_t& was) {
      if (now != was) {
        to += now - was;
        was = now;
      }
    };
    add(s.server_parses, c.server_parses, reported_.server_parses);
    add(s.injected_parses, c.injected_parses, reported_.injected_parses);
    add(s.statement_evictions, c.evictions, reported_.evictions);
    add(s.client_statement_evictions, c.client_evictions, reported_.client_evictions);
    add(s.synthesized_responses, c.synthesized, reported_.synthesized);
    add(s.shared_statements, c.shared_statements, reported_.shared_statements);
  }

  std::unique_ptr<ServerLender> owner_;  // what p_ refers into: destroyed last
  TransactionSessionParts p_;
  ClientOutput out_{p_.stream};  // client-bound bytes, in order
  std::string to_server_;        // pumpClient()'s output, kept for its capacity
  // A client frame that waits for attach() (a view into the client decoder, which nothing
  // changes meanwhile).
  std::optional<pgwire::Frame> pending_;
  // The session's waiter in its pool's queue (it owns the session while pending_ waits).
  std::shared_ptr<QueuedSession> waiter_;
  ServerPool::Grant grant_;                  // what the pool handed the waiter, for attach()
  std::shared_ptr<CancelSlot> cancel_slot_;  // where the client's cancel key points
  TransactionRelay relay_;
  pgwire::FrameDecoder* server_decoder_ = nullptr;  // the borrowed connection's
  Wakeup server_stopped_;
  TransactionRelayCounters reported_;
  bool attached_ = false;
  bool ended_ = false;
  bool aborting_ = false;
  bool server_writing_ = false;
  bool server_sent_fatal_ = false;
  bool terminated_ = false;  // the client sent Terminate
  // The server reader's state, for the borrowed connection.
  bool srv_may_release_ = false;
  bool srv_lost_ = false;
  std::string srv_why_;  // why the connection is broken, when it is
  RequestTracker requests_;
  // Server readers not yet finished: the one of the current attachment, and one that gave its
  // connection back and is still flushing to the client.
  int server_loops_ = 0;
  std::uint64_t received_ = 0;
};

void QueuedSession::abandon() {
  auto dropped = std::move(session);  // it holds this waiter: released after the move
}

void QueuedSession::wake() {
  TransactionSession::granted(std::move(session), std::move(conn), slot);
}

}  // namespace

void startTransactionSession(TransactionSessionParts parts, std::unique_ptr<ServerLender> owner) {
  TransactionSession::start(
      std::make_unique<TransactionSession>(std::move(parts), std::move(owner)));
}

}  // namespace keel::proxy
