#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "pgwire/backend_messages.h"
#include "pgwire/frame_decoder.h"
#include "pgwire/scram.h"
#include "pgwire/scram_key_cache.h"
#include "proxy/credentials.h"
#include "proxy/parameter_set.h"
#include "proxy/prepared_statements.h"
#include "proxy/route_table.h"

namespace keel::proxy {

// What Keel presents to PostgreSQL to log in as a user: a plaintext password, an md5 hash, or
// the SCRAM keys recovered from the client's own SCRAM login (pass-through); none when the
// userlist has nothing and PostgreSQL must trust the connection.
using ServerSecret =
    std::variant<std::monostate, std::string, pgwire::Md5Secret, pgwire::ScramPassthroughKeys>;

struct ServerLogin {
  std::string user;
  std::string database;
  ServerSecret secret;
};

// One logged-in connection to PostgreSQL. Any proxy worker thread can take it: attach() hands
// out its socket on the borrowing session's executor. The socket stays registered with the
// executor that last used it, so a borrower on the same thread (the pool prefers those) costs
// no system call; another thread's borrower moves it.
class ServerConnection {
 public:
  ServerConnection(int fd, bool ipv6, RouteTarget target);
  ~ServerConnection();  // sends Terminate (best effort) and closes the descriptor if held
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // The connection's socket on `ex` (no operation may be pending on it from an earlier
  // borrower). Valid until the next attach() or the connection's end.
  boost::asio::ip::tcp::socket& attach(boost::asio::any_io_executor ex);
  // Whether attach(ex) would find the socket registered with `ex` already.
  bool attachedTo(const boost::asio::any_io_executor& ex) const;
  // Takes the descriptor over from the socket that logged in (no operation pending on it).
  void adopt(boost::asio::ip::tcp::socket& socket);
  // While idle: false when PostgreSQL closed the connection or sent something unprompted (a
  // FATAL error before it went away), so the pool must not lend it.
  bool looksAlive() const;
  // The session lost the connection's state (mid-query, I/O error): close it, not pool it.
  void discard();

  const RouteTarget& target() const { return target_; }
  // The id the next connection will get: connections with smaller ids exist already.
  static std::uint64_t nextId();
  std::uint64_t id() const { return id_; }
  pgwire::BackendKeyData key;
  // Run-time parameters as PostgreSQL reported them (ParameterStatus) or Keel set them. Read
  // it directly; change it only through changeParameters(), which moves parametersVersion().
  ParameterMap parameters;
  ParameterMap& changeParameters() {
    ++parameters_version_;
    return parameters;
  }
  std::uint64_t parametersVersion() const { return parameters_version_; }
  // Transaction pooling: the client settings and ParameterStatus values this connection was last
  // brought in line with (shared, unchanged ParameterSet lists), valid while the parameters stay
  // at the recorded version: a client with the same lists needs no SET and no ParameterStatus.
  struct Synced {
    std::shared_ptr<const ParameterEntries> list;
    const void* config = nullptr;  // the configuration snapshot it was computed under
    std::uint64_t version = 0;
    bool matches(const ParameterEntries* l, const void* c, std::uint64_t v) const {
      return l != nullptr && list.get() == l && config == c && version == v;
    }
  };
  Synced synced_settings;
  Synced synced_seen;
  // The parameters PostgreSQL reported at login: the values a client gets when it sets nothing
  // (transaction pooling starts each client from these, whatever earlier clients set).
  ParameterMap login_parameters;
  // Transaction pooling: the prepared statements Keel made on this connection (created by the
  // first transaction-mode session that borrows it). Session-mode connections have none.
  std::unique_ptr<ServerStatements> statements;
  // Transaction pooling: the decoder of what the server sends, kept with the connection (and
  // its buffer) from one borrowing client to the next; made by the first one.
  std::unique_ptr<pgwire::FrameDecoder> decoder;
  std::chrono::steady_clock::time_point created;
  std::chrono::steady_clock::time_point last_used;

 private:
  int fd() const;
  int fd_;  // while no socket wraps it
  // mutable: asio's accessors for the descriptor and executor are not const.
  mutable std::optional<boost::asio::ip::tcp::socket> socket_;
  bool ipv6_;
  RouteTarget target_;
  std::uint64_t id_;
  std::uint64_t parameters_version_ = 0;
};

// Runs the EXPENSIVE SCRAM key derivation on `crypto` (unless `cache` has the keys) and resumes
// on the calling coroutine's executor, so PBKDF2 never blocks a proxy I/O thread.
boost::asio::awaitable<pgwire::AuthResult<pgwire::ScramKeys>> deriveScramKeysOffThread(
    pgwire::ScramDerivation derivation, pgwire::ScramKeyCache& cache,
    boost::asio::any_io_executor crypto);

// Connects to `target` and logs in; the whole exchange is bounded by `timeout` (unavailable
// when it runs out, as when the server cannot be reached). SCRAM key
// derivation from a plaintext password runs on `crypto` (never on the calling I/O thread) unless
// `cache` has the keys. Failures name the server and what it said (an ErrorResponse keeps its
// SQLSTATE in `sqlstate` when non-null).
boost::asio::awaitable<ProxyResult<std::unique_ptr<ServerConnection>>> connectServer(
    RouteTarget target, ServerLogin login, std::chrono::milliseconds timeout,
    pgwire::ScramKeyCache& cache, boost::asio::any_io_executor crypto, std::string* sqlstate);

// Sends `sql` as a simple Query on `socket` and reads to ReadyForQuery, recording ParameterStatus
// changes in `conn.parameters`. Fails on an ErrorResponse (message and SQLSTATE from it).
boost::asio::awaitable<ProxyResult<void>> runServerQuery(boost::asio::ip::tcp::socket& socket,
                                                         ServerConnection& conn, std::string sql,
                                                         std::chrono::milliseconds timeout);

}  // namespace keel::proxy
