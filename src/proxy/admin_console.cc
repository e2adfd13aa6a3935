#include "proxy/admin_console.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>

#include "common/async.h"
#include "pgwire/message_builder.h"
#include "proxy/admin_commands.h"
#include "proxy/proxy_snapshot.h"

namespace keel::proxy {

bool isAdminDatabase(const std::string& database) {
  return database == "pgbouncer" || database == "keel";
}

namespace {

using Clock = std::chrono::steady_clock;
namespace sqlstate = pgwire::sqlstate;

constexpr std::string_view kClient = "the admin console client";
constexpr std::chrono::milliseconds kPausePoll{50};
constexpr const char* kSyntaxError = "42601";
constexpr const char* kInsufficientPrivilege = "42501";
constexpr const char* kUndefinedObject = "42704";
constexpr const char* kConfigFileError = "F0000";

bool listed(const std::vector<std::string>& users, const std::string& user) {
  return std::find(users.begin(), users.end(), user) != users.end();
}

std::string forDatabase(const std::string& db) {
  return db.empty() ? std::string() : " of database \"" + db + "\"";
}

// One console client. Runs on the session's thread.
class AdminConsole {
 public:
  AdminConsole(ClientStream& stream, pgwire::FrameDecoder& decoder, ProxyContext& ctx,
               std::string user, bool admin, pgwire::BackendKeyData key)
      : stream_(stream),
        decoder_(decoder),
        ctx_(ctx),
        user_(std::move(user)),
        admin_(admin),
        key_(key) {}

  asio::awaitable<void> run() {
    std::string out;
    const std::string version = std::string("15.0 (Keel ") + KEEL_VERSION + ")";
    const std::pair<const char*, std::string> params[] = {
        {"server_version", version},   {"server_encoding", "UTF8"},
        {"client_encoding", "UTF8"},   {"DateStyle", "ISO"},
        {"IntervalStyle", "postgres"}, {"TimeZone", "UTC"},
        {"integer_datetimes", "on"},   {"standard_conforming_strings", "on"},
        {"application_name", ""},
    };
    for (const auto& [name, value] : params) {
      pgwire::encode(out, pgwire::ParameterStatus{name, value});
    }
    pgwire::encode(out, key_);
    pgwire::encode(out, pgwire::ReadyForQuery{pgwire::TransactionStatus::idle});
    if (!co_await write(out)) {
      co_return;
    }
    while (true) {
      auto frame = co_await readFrame(stream_, decoder_, kClient);
      if (!frame) {
        if (frame.code() == ProxyErrc::bad_input) {
          std::string fatal =
              pgwire::errorResponse("FATAL", sqlstate::kProtocolViolation, frame.message());
          co_await write(fatal);
        }
        co_return;
      }
      if (frame->kind != pgwire::FrameKind::message || !frame->complete) {
        std::string fatal = pgwire::errorResponse("FATAL", sqlstate::kProtocolViolation,
                                                  "unexpected packet on the admin console");
        co_await write(fatal);
        co_return;
      }
      if (frame->type == pgwire::frontend::kTerminate) {
        co_return;
      }
      if (frame->type != pgwire::frontend::kQuery) {
        std::string fatal = pgwire::errorResponse(
            "FATAL", sqlstate::kProtocolViolation,
            std::string("the admin console supports only the simple query protocol (got a '") +
                frame->type + "' message); use psql or a driver's simple query mode");
        co_await write(fatal);
        co_return;
      }
      auto query = pgwire::parseQuery(frame->payload);
      if (!query) {
        std::string fatal =
            pgwire::errorResponse("FATAL", sqlstate::kProtocolViolation, query.message());
        co_await write(fatal);
        co_return;
      }
      std::string sql(query->sql);
      std::string answer = co_await execute(sql);
      pgwire::encode(answer, pgwire::ReadyForQuery{pgwire::TransactionStatus::idle});
      if (!co_await write(answer)) {
        co_return;
      }
    }
  }

 private:
  // Callers pass named strings: no temporary string may live in a co_await expression (g++ 12
  // destroys such temporaries twice).
  asio::awaitable<bool> write(std::string_view bytes) {
    auto written = co_await stream_.write(bytes, kClient);
    co_return written.ok();
  }

  static std::string error(std::string_view code, std::string_view message) {
    return pgwire::errorResponse("ERROR", code, message);
  }

  // The answer to one statement, without ReadyForQuery.
  asio::awaitable<std::string> execute(std::string sql) {
    auto command = parseAdminCommand(sql);
    if (!command) {
      co_return error(kSyntaxError, command.message());
    }
    if (!admin_ && !readOnly(*command)) {
      co_return error(kInsufficientPrivilege,
                      "user \"" + user_ +
                          "\" may only run SHOW commands (it is in proxy.stats_users, not in "
                          "proxy.admin_users)");
    }
    std::string out;
    const std::string& arg = command->argument;
    switch (command->verb) {
      case AdminVerb::empty:
        pgwire::encode(out, pgwire::EmptyQueryResponse{});
        co_return out;
      case AdminVerb::show:
        co_return show(arg);
      case AdminVerb::pause:
        co_return co_await pause(arg);
      case AdminVerb::resume:
        if (arg.empty()) {
          ctx_.paused = false;
          ctx_.paused_databases.clear();
        } else {
          ctx_.paused_databases.remove(arg);
          if (ctx_.paused) {
            pgwire::appendNoticeResponse(
                out, "NOTICE", "00000",
                "the whole proxy is still paused; RESUME without a database resumes it");
          }
        }
        spdlog::info("proxy: admin console: {} resumed{}", user_, forDatabase(arg));
        pgwire::encode(out, pgwire::CommandComplete{"RESUME"});
        co_return out;
      case AdminVerb::reconnect:
        for (const auto& pool : ctx_.pools.all()) {
          if (arg.empty() || pool->key().database == arg) {
            pool->closeIdle(true);
          }
        }
        spdlog::info("proxy: admin console: {} closed the server connections{}", user_,
                     forDatabase(arg));
        pgwire::encode(out, pgwire::CommandComplete{"RECONNECT"});
        co_return out;
      case AdminVerb::kill:
        co_return kill(arg);
      case AdminVerb::kill_client:
        co_return killClient(arg);
      case AdminVerb::reload:
        co_return reload();
    }
    co_return error(sqlstate::kInternalError, "unhandled admin command");
  }

  std::string show(const std::string& subject) {
    std::string out;
    if (subject == "HELP") {
      pgwire::appendNoticeResponse(out, "NOTICE", "00000", "Console usage",
                                   std::string("Commands: ") + kAdminCommandList);
      pgwire::encode(out, pgwire::CommandComplete{"SHOW"});
      return out;
    }
    if (subject == "VERSION") {
      encodeResultSet(out, showVersion());
      return out;
    }
    if (subject == "CONFIG") {
      const nlohmann::json effective = toJson(*ctx_.currentConfig())["proxy"];
      const nlohmann::json defaults = toJson(Config{})["proxy"];
      encodeResultSet(out, showConfig(effective, defaults));
      return out;
    }
    const ProxySnapshot s = takeSnapshot(ctx_);
    if (subject == "POOLS") {
      encodeResultSet(out, showPools(s));
    } else if (subject == "CLIENTS") {
      encodeResultSet(out, showClients(s));
    } else if (subject == "SERVERS") {
      encodeResultSet(out, showServers(s));
    } else if (subject == "STATS") {
      encodeResultSet(out, showStats(s, StatsColumns::all));
    } else if (subject == "STATS_TOTALS") {
      encodeResultSet(out, showStats(s, StatsColumns::totals));
    } else if (subject == "STATS_AVERAGES") {
      encodeResultSet(out, showStats(s, StatsColumns::averages));
    } else if (subject == "DATABASES") {
      encodeResultSet(out, showDatabases(s));
    } else if (subject == "STATE") {
      encodeResultSet(out, showState(s));
    } else if (subject == "LISTS") {
      encodeResultSet(out, showLists(s));
    } else {
      out = error(kSyntaxError, "unknown SHOW " + subject);
    }
    return out;
  }

  int lentConnections(const std::string& db) const {
    int n = 0;
    for (const auto& pool : ctx_.pools.all()) {
      if (db.empty() || pool->key().database == db) {
        n += pool->lent();
      }
    }
    return n;
  }

  // New clients wait in route() while paused. In session pooling a server connection is lent
  // for the whole client session, so, as PgBouncer does, PAUSE returns once every one of them
  // is back, bounded here by query_wait_timeout.
  asio::awaitable<std::string> pause(std::string db) {
    if (db.empty()) {
      ctx_.paused = true;
    } else {
      ctx_.paused_databases.add(db);
    }
    spdlog::info("proxy: admin console: {} paused{}", user_, forDatabase(db));
    const auto bound = ctx_.proxy().query_wait_timeout;
    const auto deadline = Clock::now() + bound;
    while (true) {
      int lent = lentConnections(db);
      if (lent == 0) {
        break;
      }
      if (Clock::now() >= deadline) {
        co_return error(sqlstate::kCannotConnectNow,
                        "PAUSE" + (db.empty() ? std::string() : " " + db) + ": " +
                            std::to_string(lent) +
                            " server connection(s) still in use by clients after " +
                            std::to_string(bound.count()) +
                            " ms (proxy.query_wait_timeout); the proxy stays paused (new clients "
                            "wait): run PAUSE again to keep waiting, KILL to end those clients, "
                            "or RESUME");
      }
      co_await sleepFor(kPausePoll);
    }
    std::string out;
    pgwire::encode(out, pgwire::CommandComplete{"PAUSE"});
    co_return out;
  }

  std::string kill(const std::string& db) {
    const std::string reason = "terminating connection due to administrator command (KILL" +
                               (db.empty() ? std::string() : " " + db) +
                               " on Keel's admin console)";
    int killed = 0;
    for (const auto& session : ctx_.sessions.all()) {
      SessionInfo info = session->info();
      if (info.state == "admin" || isAdminDatabase(info.database)) {
        continue;
      }
      if (db.empty() || info.database == db) {
        session->terminate(reason);
        ++killed;
      }
    }
    for (const auto& pool : ctx_.pools.all()) {
      if (db.empty() || pool->key().database == db) {
        pool->closeIdle(true);
      }
    }
    spdlog::info("proxy: admin console: {} killed {} client(s){}", user_, killed, forDatabase(db));
    std::string out;
    pgwire::encode(out, pgwire::CommandComplete{"KILL"});
    return out;
  }

  std::string killClient(const std::string& id_text) {
    const std::uint64_t id = std::stoull(id_text);  // digits only, at most 19 (parser)
    for (const auto& session : ctx_.sessions.all()) {
      if (session->id() != id) {
        continue;
      }
      SessionInfo info = session->info();
      if (info.state == "admin") {
        return error(kInsufficientPrivilege,
                     "client " + id_text + " is an admin console session; it cannot be killed");
      }
      session->terminate("terminating connection due to administrator command (KILL_CLIENT " +
                         id_text + " on Keel's admin console)");
      spdlog::info("proxy: admin console: {} killed client {} ({}@{})", user_, id, info.user,
                   info.database);
      std::string out;
      pgwire::encode(out, pgwire::CommandComplete{"KILL_CLIENT"});
      return out;
    }
    return error(kUndefinedObject,
                 "no client with id " + id_text + "; SHOW CLIENTS lists the connected ones");
  }

  // Re-reads the agent's config file and applies the proxy part, as SIGHUP does; without that
  // hook (the proxy run alone), re-reads the auth_file.
  std::string reload() {
    std::string out;
    if (ctx_.reload_config) {
      auto applied = ctx_.reload_config();
      if (!applied) {
        spdlog::warn("proxy: admin console RELOAD: {}", applied.message());
        return error(kConfigFileError, "RELOAD failed, the previous configuration stays in use: " +
                                           applied.message());
      }
      spdlog::info("proxy: admin console: {} reloaded the configuration: {}", user_, *applied);
      pgwire::appendNoticeResponse(out, "NOTICE", "00000", *applied);
      pgwire::encode(out, pgwire::CommandComplete{"RELOAD"});
      return out;
    }
    const std::string& path = ctx_.proxy().auth_file;
    if (path.empty()) {
      pgwire::appendNoticeResponse(out, "NOTICE", "00000",
                                   "proxy.auth_file is not set: there is nothing to reload");
    } else {
      auto loaded = Userlist::load(path);
      if (!loaded) {
        spdlog::warn("proxy: admin console RELOAD: {}", loaded.message());
        return error(kConfigFileError,
                     "RELOAD failed, the previous user list stays in use: " + loaded.message());
      }
      spdlog::info("proxy: admin console: {} reloaded {} ({} users)", user_, path,
                   (*loaded)->size());
      ctx_.userlist.store(std::move(*loaded));
    }
    pgwire::encode(out, pgwire::CommandComplete{"RELOAD"});
    return out;
  }

  ClientStream& stream_;
  pgwire::FrameDecoder& decoder_;
  ProxyContext& ctx_;
  const std::string user_;
  const bool admin_;
  const pgwire::BackendKeyData key_;  // for BackendKeyData only: the console has nothing to cancel
};

asio::awaitable<void> serveConsole(ClientStream& stream, pgwire::FrameDecoder& decoder,
                                   ProxyContext& ctx, std::string user) {
  const ProxyConfig& cfg = ctx.proxy();
  const bool admin = listed(cfg.admin_users, user);
  if (!admin && !listed(cfg.stats_users, user)) {
    std::string refusal =
        pgwire::errorResponse("FATAL", sqlstate::kInvalidAuthorizationSpecification,
                              "not allowed to connect to the admin console: user \"" + user +
                                  "\" is not in proxy.admin_users or proxy.stats_users");
    co_await stream.write(refusal, kClient);
    co_return;
  }
  struct IssuedKey {
    CancelRegistry& registry;
    pgwire::BackendKeyData key;
    ~IssuedKey() { registry.remove(key); }
  };
  const IssuedKey issued{ctx.cancels, ctx.cancels.issue()};
  AdminConsole console(stream, decoder, ctx, user, admin, issued.key);
  co_await console.run();
}

}  // namespace

asio::awaitable<void> runAdminConsole(ClientStream& stream, pgwire::FrameDecoder& decoder,
                                      ProxyContext& ctx, std::string user) {
  try {
    co_await serveConsole(stream, decoder, ctx, std::move(user));
  } catch (const std::exception& e) {
    spdlog::error("proxy: admin console session failed: {}", e.what());
  }
}

}  // namespace keel::proxy
