#include "proxy/client_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/this_coro.hpp>
#include <chrono>

#include "common/async.h"
#include "pgwire/message_builder.h"
#include "proxy/admin_console.h"
#include "proxy/client_auth.h"
#include "proxy/client_stream.h"
#include "proxy/session_relay.h"
#include "proxy/transaction_session.h"

namespace keel::proxy {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
namespace sqlstate = pgwire::sqlstate;

constexpr std::string_view kClient = "the client";
constexpr milliseconds kRoutePoll{20};
constexpr milliseconds kResetTimeout{5000};
constexpr milliseconds kUnreachableRetry{1000};
constexpr milliseconds kCloseLinger{1000};
constexpr milliseconds kCancelTimeout{3000};
// Messages above this size are relayed in parts instead of being buffered whole.
constexpr std::uint32_t kStreamThreshold = 64 * 1024;

double epochNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class Session final : public ServerLender {
 public:
  Session(tcp::socket socket, Listener listener, ProxyContext& ctx)
      : ctx_(ctx),
        transaction_mode_(ctx.proxy().pool_mode == "transaction"),
        listener_(listener),
        stream_(std::move(socket)),
        client_dec_(pgwire::Source::frontend, clientLimits(ctx.proxy())) {}

  ~Session() override { ctx_.clients--; }

  // Serves the client to the end of its session. Transaction pooling: returns once the client
  // is logged in, with what the transaction-mode session takes over (together with this object),
  // which then goes on with the session.
  asio::awaitable<std::optional<TransactionSessionParts>> run() {
    auto ex = co_await asio::this_coro::executor;
    handle_ = std::make_shared<SessionHandle>(ctx_.next_session_id++, listener_, ex);
    boost::system::error_code ec;
    auto remote = stream_.socket().remote_endpoint(ec);
    handle_->update([&](SessionInfo& i) {
      i.address = ec ? "" : remote.address().to_string();
      i.port = ec ? 0 : remote.port();
      i.connect_time = epochNow();
    });
    ctx_.sessions.add(handle_);
    auto parts = co_await serve();
    if (parts) {
      co_return std::move(parts);
    }
    co_await finish();
    co_return std::nullopt;
  }

  asio::awaitable<void> finish() override {
    if (server_) {
      pool_->dropLent();
      server_.reset();
    }
    if (key_issued_) {
      ctx_.cancels.remove(client_key_);
      key_issued_ = false;
    }
    ctx_.sessions.remove(handle_->id());
    co_await stream_.closeGracefully(kCloseLinger);
  }

 private:
  static pgwire::FrameLimits clientLimits(const ProxyConfig& c) {
    pgwire::FrameLimits l;
    l.max_message_length = c.max_packet_size;
    l.stream_threshold = kStreamThreshold;
    return l;
  }
  static pgwire::FrameLimits serverLimits(const ProxyConfig& c) {
    pgwire::FrameLimits l = clientLimits(c);
    l.max_message_length = pgwire::kDefaultMaxMessageLength;
    return l;
  }

  asio::awaitable<std::optional<TransactionSessionParts>> serve() {
    bool started = co_await startup();
    if (!started) {
      co_return std::nullopt;
    }
    if (isAdminDatabase(login_.database)) {
      handle_->update([](SessionInfo& i) { i.state = "admin"; });
      co_await runAdminConsole(stream_, client_dec_, ctx_, login_.user);
      co_return std::nullopt;
    }
    bool connected = co_await connect();
    if (!connected) {
      co_return std::nullopt;
    }
    co_await finishLogin();
    if (transaction_mode_) {
      // Held for the client's whole life: shared with the clients whose lists are alike.
      settings_.share(ctx_.parameter_sets);
      TransactionSessionParts parts{stream_,
                                    client_dec_,
                                    ctx_,
                                    *handle_,
                                    *this,
                                    client_key_,
                                    std::move(settings_),
                                    ParameterSet::from(server_->parameters, &ctx_.parameter_sets)};
      giveBack();
      co_return std::move(parts);
    }
    co_await relayAndRelease();
    co_return std::nullopt;
  }

  // --- ServerLender (transaction pooling) ---
  asio::awaitable<bool> borrow(const ParameterSet& wanted, ServerPool::Grant grant) override {
    // The transaction-mode loop keeps the client's settings and hands them to each borrow.
    wanted_ = &wanted;
    grant_ = grant;
    bool borrowed = co_await connect();
    wanted_ = nullptr;
    co_return borrowed;
  }
  Now borrowNow(const ParameterSet& wanted, const ServerPool::WaiterPtr& waiter) override {
    const RouteTable* table = plainRoute(wanted);
    if (!table) {
      return Now::slow;
    }
    auto ex = stream_.socket().get_executor();
    bool full = false;
    auto conn = pool_->tryAcquire(ex, waiter, &full);
    if (!conn && full && !waiter) {
      return Now::full;
    }
    if (!conn && full) {
      handle_->update([](SessionInfo& i) { i.state = "waiting"; });
      return Now::queued;
    }
    if (!conn) {
      return Now::slow;
    }
    if (!inLine(*conn, wanted)) {
      pool_->release(std::move(conn));  // borrow() gives it the client's settings
      return Now::slow;
    }
    take(std::move(conn), table->leader->member);
    return Now::attached;
  }
  Adopt adoptNow(std::unique_ptr<ServerConnection> conn, const ParameterSet& wanted) override {
    const RouteTable* table = plainRoute(wanted);
    if (!table) {
      pool_->release(std::move(conn), ServerPool::HandOff::posted);
      return Adopt::gone;
    }
    const bool in_line = inLine(*conn, wanted);
    take(std::move(conn), table->leader->member);
    return in_line ? Adopt::attached : Adopt::settle;
  }
  asio::awaitable<bool> settle(const ParameterSet& wanted) override {
    wanted_ = &wanted;
    Attach attached = co_await applySettings();
    wanted_ = nullptr;
    co_return attached == Attach::attached;
  }
  // The route of a plain borrow: a read-write client that borrowed before, its leader unchanged
  // and not paused. Null when the borrow must go the long way.
  const RouteTable* plainRoute(const ParameterSet& wanted) {
    if (!pool_ || !baseline_set_ || listener_ != Listener::rw || wanted.sharedList() == nullptr ||
        handle_->killed() || ctx_.pausedFor(login_.database)) {
      return nullptr;
    }
    if (!route_ || route_->generation != ctx_.routes.generation()) {
      route_ = ctx_.routes.current();
    }
    const RouteTable& table = *route_;
    if (table.rw_paused || !table.leader || table.leader->port != pool_->target().port ||
        table.leader->host != pool_->target().host) {
      return nullptr;
    }
    return route_.get();
  }
  // Whether `conn` was last brought in line with the same shared settings, unchanged since.
  bool inLine(const ServerConnection& conn, const ParameterSet& wanted) const {
    const auto* shared = wanted.sharedList();
    return shared != nullptr &&
           conn.synced_settings.matches(shared->get(), &ctx_.proxy(), conn.parametersVersion());
  }
  // Holds `conn` on this session's thread.
  void take(std::unique_ptr<ServerConnection> conn, const std::string& member) {
    server_ = std::move(conn);
    server_socket_ = &server_->attach(stream_.socket().get_executor());
    handle_->update([&](SessionInfo& i) {
      i.server = member;
      i.server_endpoint = pool_->key().endpoint;
      i.server_id = server_->id();
      i.state = "active";
    });
  }
  ServerPool& pool() override { return *pool_; }
  ServerConnection& server() override { return *server_; }
  tcp::socket& serverSocket() override { return *server_socket_; }
  void giveBack() override {
    server_socket_ = nullptr;
    pool_->release(std::move(server_));
    // Holding no server, the session is not ended when that server stops being the leader.
    handle_->update([](SessionInfo& i) {
      i.server.clear();
      i.server_endpoint.clear();
      i.server_id = 0;
    });
  }
  void discard() override { discardServer(); }

  // Routes and borrows a server connection with the client's settings. False: the client got
  // its FATAL error.
  asio::awaitable<bool> connect() {
    // A server that cannot be reached (the leader just died, a replica restarts) is retried
    // once the routes change, within failover_hold_timeout.
    const auto deadline = Clock::now() + ctx_.proxy().failover_hold_timeout;
    while (true) {
      auto target = co_await route(deadline);
      if (!target) {
        co_return false;
      }
      auto attached = co_await attachServer(*target);
      if (attached == Attach::attached && transaction_mode_ && listener_ == Listener::rw &&
          ctx_.routes.current()->rw_paused) {
        // A switchover paused the routes while this borrow was under way: nothing was sent on
        // the connection yet, so it goes back and the transaction waits with the others.
        giveBack();
        continue;
      }
      if (attached == Attach::attached) {
        co_return true;
      }
      if (attached == Attach::refused) {
        co_return false;
      }
      if (Clock::now() >= deadline || handle_->killed()) {
        queueFatal(sqlstate::kSqlclientUnableToEstablishSqlconnection, unreachable_);
        co_await writeFatal();
        co_return false;
      }
      const auto generation = ctx_.routes.current()->generation;
      const auto retry_at = std::min(deadline, Clock::now() + kUnreachableRetry);
      while (Clock::now() < retry_at && ctx_.routes.current()->generation == generation) {
        co_await sleepFor(kRoutePoll);
      }
    }
  }

  // A FATAL ErrorResponse for the client, sent by writeFatal(). Two steps so that no temporary
  // string lives in a co_await expression (g++ 12 destroys such temporaries twice).
  void queueFatal(std::string_view code, std::string_view message) {
    fatal_ = pgwire::errorResponse("FATAL", code, message);
  }
  asio::awaitable<void> writeFatal() {
    std::string out = std::move(fatal_);
    fatal_.clear();
    co_await stream_.write(out, kClient);
  }

  // Startup packets up to and including authentication. False: the session is over.
  asio::awaitable<bool> startup() {
    const ProxyConfig& cfg = ctx_.proxy();
    std::optional<pgwire::StartupMessage> startup;
    std::vector<std::pair<std::string, std::string>> params;
    while (!startup) {
      auto frame = co_await readFrame(stream_, client_dec_, kClient);
      if (!frame) {
        if (frame.code() == ProxyErrc::bad_input) {
          queueFatal(sqlstate::kProtocolViolation, frame.message());
          co_await writeFatal();
        }
        co_return false;
      }
      switch (frame->kind) {
        case pgwire::FrameKind::ssl_request: {
          auto tls = ctx_.tlsContext();
          bool accept = tls != nullptr;
          auto answered = client_dec_.encryptionAnswered(accept);
          if (!answered) {
            spdlog::warn("proxy: client {}: {}", handle_->info().address, answered.message());
            co_return false;
          }
          std::string answer(1, accept ? 'S' : 'N');
          auto written1 = co_await stream_.write(answer, kClient);
          if (!written1) {
            co_return false;
          }
          if (accept) {
            auto ec = co_await stream_.startTls(*tls);
            if (ec) {
              spdlog::info("proxy: TLS handshake with {} failed: {}", handle_->info().address,
                           ec.message());
              co_return false;
            }
            handle_->update([](SessionInfo& i) { i.tls = true; });
          }
          break;
        }
        case pgwire::FrameKind::gssenc_request: {
          if (!client_dec_.encryptionAnswered(false)) {
            co_return false;
          }
          auto written2 = co_await stream_.write("N", kClient);
          if (!written2) {
            co_return false;
          }
          break;
        }
        case pgwire::FrameKind::cancel_request: {
          auto cancel = pgwire::parseCancelRequest(frame->payload);
          if (cancel) {
            pgwire::BackendKeyData key{cancel->process_id, cancel->secret_key};
            auto routes = ctx_.routes.current();  // named: kept alive across the co_await
            co_await forwardCancelRequest(ctx_.cancels, *routes, key, kCancelTimeout);
          }
          co_return false;
        }
        case pgwire::FrameKind::startup: {
          auto parsed = pgwire::parseStartupMessage(frame->payload);
          if (!parsed) {
            queueFatal(sqlstate::kProtocolViolation, parsed.message());
            co_await writeFatal();
            co_return false;
          }
          startup = *parsed;
          for (const auto& [k, v] : parsed->parameters) {
            params.emplace_back(std::string(k), std::string(v));
          }
          break;
        }
        default:
          queueFatal(sqlstate::kProtocolViolation, "unexpected packet during startup");
          co_await writeFatal();
          co_return false;
      }
    }

    for (const auto& [k, v] : params) {
      if (k == "user") {
        login_.user = v;
      } else if (k == "database") {
        login_.database = v;
      }
    }
    if (login_.user.empty()) {
      queueFatal(sqlstate::kInvalidAuthorizationSpecification,
                 "no PostgreSQL user name specified in startup packet");
      co_await writeFatal();
      co_return false;
    }
    if (login_.database.empty()) {
      login_.database = login_.user;
    }
    auto settings = clientSettingsFrom(params);
    if (!settings) {
      queueFatal(sqlstate::kFeatureNotSupported, settings.message());
      co_await writeFatal();
      co_return false;
    }
    settings_ = ParameterSet::from(std::move(settings->parameters));
    const std::string* application_name = settings_.find("application_name");
    handle_->update([&](SessionInfo& i) {
      i.user = login_.user;
      i.database = login_.database;
      i.application_name = application_name != nullptr ? *application_name : std::string();
    });

    if (pgwire::protocolMinor(startup->protocol_version) > 0) {
      pgwire::NegotiateProtocolVersion negotiate;
      for (const auto& [k, v] : startup->parameters) {
        if (k.rfind("_pq_.", 0) == 0) {
          negotiate.unrecognized_options.push_back(k);
        }
      }
      std::string out;
      pgwire::encode(out, negotiate);
      auto written3 = co_await stream_.write(out, kClient);
      if (!written3) {
        co_return false;
      }
    }

    auto info = handle_->info();
    Admission admission =
        admitClient(cfg, stream_.tls(), info.address, login_.database, login_.user);
    if (!admission.refusal.empty()) {
      queueFatal(sqlstate::kInvalidAuthorizationSpecification, admission.refusal);
      co_await writeFatal();
      co_return false;
    }
    auto secret = co_await authenticateClient(stream_, client_dec_, login_.user, login_.database,
                                              admission.method, ctx_);
    if (!secret) {
      spdlog::info("proxy: authentication of {} failed: {}", admission.where,
                   secret.code().message);
      queueFatal(secret.code().sqlstate, secret.code().message);
      co_await writeFatal();
      co_return false;
    }
    login_.secret = std::move(*secret);
    std::string ok;
    pgwire::encode(ok, pgwire::Authentication::ok());
    auto written4 = co_await stream_.write(ok, kClient);
    if (!written4) {
      co_return false;
    }
    client_dec_.setAuthenticated();
    co_return true;
  }

  // The server this client goes to. RW clients wait for a writable leader during a failover.
  asio::awaitable<std::optional<RouteTarget>> route(Clock::time_point deadline) {
    const ProxyConfig& cfg = ctx_.proxy();
    const auto pause_deadline = Clock::now() + cfg.query_wait_timeout;
    handle_->update([](SessionInfo& i) { i.state = "waiting"; });
    while (true) {
      auto table = ctx_.routes.current();
      std::optional<RouteTarget> target;
      if (listener_ == Listener::rw) {
        if (!table->rw_paused) {
          target = table->leader;
        }
      } else {
        target = chooseReadTarget(*table, cfg, [this](const std::string& endpoint) {
          return ctx_.pools.lentTo(endpoint);
        });
        if (!target && table->known) {
          queueFatal(
              sqlstate::kCannotConnectNow,
              "no replica qualifies for read-only connections (replay lag within "
              "proxy.max_lag_bytes and proxy.max_lag_time, not tagged noloadbalance) and "
              "proxy.ro_fallback_to_primary is off; retry later or connect to the read-write "
              "port");
          co_await writeFatal();
          co_return std::nullopt;
        }
      }
      // Admin console PAUSE: new clients wait for RESUME, at most query_wait_timeout.
      if (target && ctx_.pausedFor(login_.database)) {
        if (handle_->killed()) {
          queueFatal(sqlstate::kAdminShutdown, handle_->killReason());
          co_await writeFatal();
          co_return std::nullopt;
        }
        if (Clock::now() >= pause_deadline) {
          queueFatal(sqlstate::kCannotConnectNow,
                     "database \"" + login_.database +
                         "\" is paused by the admin console (PAUSE) and was not resumed within " +
                         std::to_string(cfg.query_wait_timeout.count()) +
                         " ms (proxy.query_wait_timeout); retry later");
          co_await writeFatal();
          co_return std::nullopt;
        }
        co_await sleepFor(kRoutePoll);
        continue;
      }
      if (target) {
        co_return target;
      }
      if (handle_->killed()) {
        queueFatal(sqlstate::kAdminShutdown, handle_->killReason());
        co_await writeFatal();
        co_return std::nullopt;
      }
      if (Clock::now() >= deadline) {
        queueFatal(sqlstate::kCannotConnectNow,
                   std::string(table->rw_paused
                                   ? "a switchover paused read-write connections and did not "
                                     "finish"
                                   : "the cluster has no writable leader (failover in progress "
                                     "or no leader elected) and none appeared") +
                       " within " + std::to_string(cfg.failover_hold_timeout.count()) +
                       " ms (proxy.failover_hold_timeout); retry later");
        co_await writeFatal();
        co_return std::nullopt;
      }
      co_await sleepFor(kRoutePoll);
    }
  }

  enum class Attach { attached, refused, unreachable };

  // Borrows a server connection to `target` and gives it the client's settings. `refused`: the
  // client got its FATAL error. `unreachable`: the server could not be reached (unreachable_
  // says why) and nothing was sent to the client.
  asio::awaitable<Attach> attachServer(const RouteTarget& target) {
    const ProxyConfig& cfg = ctx_.proxy();
    // Pools are never dropped from the registry: the one of the last borrow serves while the
    // server is the same.
    ServerPool::Grant grant = std::exchange(grant_, ServerPool::Grant{});
    if (!pool_ || pool_->target().port != target.port || pool_->target().host != target.host) {
      if (grant.slot) {
        pool_->returnSlot();  // granted by the pool of the former route
        grant = {};
      }
      pool_ = ctx_.pools.get(
          PoolKey{target.endpoint(), login_.database, login_.user, transaction_mode_}, target);
    }
    ServerPool::LoginSettings login_settings{cfg.server_connect_timeout, &ctx_.keys, ctx_.crypto};
    std::string code;
    auto conn =
        co_await pool_->acquire(login_, cfg.query_wait_timeout, login_settings, &code, grant);
    if (!conn && (conn.code() == ProxyErrc::unavailable || code == sqlstate::kCannotConnectNow)) {
      unreachable_ = conn.message();
      co_return Attach::unreachable;
    }
    if (!conn) {
      std::string sql_state = !code.empty() ? code
                              : conn.code() == ProxyErrc::timeout
                                  ? std::string(sqlstate::kTooManyConnections)
                                  : std::string(sqlstate::kSqlclientUnableToEstablishSqlconnection);
      queueFatal(sql_state, conn.message());
      co_await writeFatal();
      co_return Attach::refused;
    }
    take(std::move(*conn), target.member);
    co_return co_await applySettings();
  }

  // Gives the borrowed connection the client's settings. `refused`: the client got its FATAL
  // error.
  asio::awaitable<Attach> applySettings() {
    const ProxyConfig& cfg = ctx_.proxy();
    if (transaction_mode_ && !baseline_set_) {
      // The server may carry what earlier clients SET: this client starts from the values
      // PostgreSQL gives at login, plus its startup parameters.
      baseline_set_ = true;
      addTrackedDefaults(settings_, server_->login_parameters, cfg.track_extra_parameters);
    }
    const ParameterSet& settings = wanted_ != nullptr ? *wanted_ : settings_;
    // Transaction pooling: what an earlier client SET of the extra tracked parameters is RESET
    // for a client that never set them.
    static const std::vector<std::string> kNone;
    const std::vector<std::string>& resettable =
        transaction_mode_ ? cfg.track_extra_parameters : kNone;
    // Transaction pooling: a connection last brought in line with the same shared settings,
    // and not changed since, needs nothing (the common case: clients alike).
    const auto* shared = transaction_mode_ ? settings.sharedList() : nullptr;
    const ParameterEntries* list = shared != nullptr ? shared->get() : nullptr;
    if (server_->synced_settings.matches(list, &cfg, server_->parametersVersion())) {
      co_return Attach::attached;
    }
    std::string sets = settingStatements(settings, server_->parameters, resettable);
    if (!sets.empty()) {
      auto applied =
          co_await runServerQuery(*server_socket_, *server_, sets, cfg.server_connect_timeout);
      if (!applied) {
        queueFatal(applied.code() == ProxyErrc::server_error
                       ? std::string("22023")
                       : std::string(sqlstate::kConnectionFailure),
                   applied.message());
        co_await writeFatal();
        discardServer();
        co_return Attach::refused;
      }
      noteSettingsApplied(settings, server_->changeParameters(), resettable);
    }
    if (list != nullptr) {
      server_->synced_settings = {*shared, &cfg, server_->parametersVersion()};
    }
    co_return Attach::attached;
  }

  asio::awaitable<void> finishLogin() {
    std::string out;
    for (const auto& [name, value] : server_->parameters) {
      pgwire::encode(out, pgwire::ParameterStatus{name, value});
    }
    client_key_ = ctx_.cancels.issue();
    key_issued_ = true;
    ctx_.cancels.set(client_key_,
                     CancelTarget{server_->target().host, server_->target().port, server_->key});
    pgwire::encode(out, client_key_);
    pgwire::encode(out, pgwire::ReadyForQuery{pgwire::TransactionStatus::idle});
    co_await stream_.write(out, kClient);
  }

  // Session pooling: relays the client to its server connection until one side ends.
  asio::awaitable<void> relayAndRelease() {
    SessionRelay relay(stream_, client_dec_, *server_socket_, *server_, pool_->stats(), *handle_,
                       serverLimits(ctx_.proxy()));
    RelayEnd end = co_await relay.run();
    co_await afterRelay(end, relay);
  }

  asio::awaitable<void> afterRelay(RelayEnd end, const SessionRelay& relay) {
    handle_->update([](SessionInfo& i) { i.state = "closing"; });
    switch (end) {
      case RelayEnd::killed:
        queueFatal(sqlstate::kAdminShutdown, handle_->killReason());
        co_await writeFatal();
        discardServer();
        co_return;
      case RelayEnd::server_gone:
        if (!relay.serverSentFatal()) {
          const std::string& why = relay.serverError();
          queueFatal(sqlstate::kConnectionFailure,
                     "lost the connection to PostgreSQL on " + server_->target().member +
                         (why.empty() ? std::string() : ": " + why) + "; reconnect");
          co_await writeFatal();
        }
        discardServer();
        co_return;
      case RelayEnd::client_terminated:
      case RelayEnd::client_gone:
        break;
    }
    stream_.close();
    if (!relay.idleAtBoundary()) {
      discardServer();
      co_return;
    }
    const std::string& reset = ctx_.proxy().server_reset_query;
    if (!reset.empty()) {
      auto r = co_await runServerQuery(*server_socket_, *server_, reset, kResetTimeout);
      if (!r) {
        spdlog::info("proxy: closing a server connection to {}: {}", server_->target().member,
                     r.message());
        discardServer();
        co_return;
      }
      // RESET ALL put back every setting Keel made that PostgreSQL does not report.
      settings_.forEach([&](const std::string& name, const std::string&) {
        if (!reportedParameter(name)) {
          server_->changeParameters().erase(name);
        }
      });
    }
    server_socket_ = nullptr;
    pool_->release(std::move(server_));
  }

  void discardServer() {
    if (!server_) {
      return;
    }
    if (server_socket_) {
      boost::system::error_code ec;
      server_socket_->close(ec);
      server_socket_ = nullptr;
    }
    server_->discard();
    server_.reset();
    pool_->dropLent();
  }

  ProxyContext& ctx_;
  const bool transaction_mode_;  // proxy.pool_mode when the session started
  bool baseline_set_ = false;
  const Listener listener_;
  std::shared_ptr<SessionHandle> handle_;
  ClientStream stream_;
  pgwire::FrameDecoder client_dec_;
  ServerLogin login_;      // the client's user and database, and how Keel logs in for it
  ParameterSet settings_;  // session pooling, and transaction pooling's login
  const ParameterSet* wanted_ = nullptr;     // transaction pooling: while borrow() runs
  ServerPool::Grant grant_;                  // transaction pooling: borrow()'s, for its first try
  std::shared_ptr<const RouteTable> route_;  // transaction pooling: plainRoute()'s last look
  pgwire::BackendKeyData client_key_;
  bool key_issued_ = false;
  std::shared_ptr<ServerPool> pool_;
  std::unique_ptr<ServerConnection> server_;
  tcp::socket* server_socket_ = nullptr;  // the borrowed connection's, while it is held
  std::string fatal_;
  std::string unreachable_;
};

}  // namespace

asio::awaitable<void> runClientSession(tcp::socket socket, Listener listener, ProxyContext& ctx) {
  auto session = std::make_unique<Session>(std::move(socket), listener, ctx);
  std::optional<TransactionSessionParts> parts = co_await session->run();
  if (parts) {
    // From here the session is no coroutine: it lives in its pending reads of the client.
    startTransactionSession(std::move(*parts), std::move(session));
  }
}

}  // namespace keel::proxy
