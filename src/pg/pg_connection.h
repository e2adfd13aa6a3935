#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pg/postgres.h"

typedef struct pg_conn PGconn;

namespace keel::pg {

// Where and as whom to connect; passed to libpq as keyword/value arrays, so nothing needs
// conninfo escaping. The password travels in memory only (never argv or files).
struct ConnectParams {
  std::string host;
  std::uint16_t port = 0;
  std::string user;
  std::string password;
  std::string dbname = "postgres";
  int connect_timeout_s = 2;
  std::string application_name = "keel";
};

// One result set as text: rows of nullable column values.
using Row = std::vector<std::optional<std::string>>;
using Rows = std::vector<Row>;

// A blocking libpq connection (RAII: closed on destruction). Run on a worker thread only.
class PgConnection {
 public:
  static PgResult<PgConnection> open(const ConnectParams& params);

  PgConnection(PgConnection&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
  PgConnection& operator=(PgConnection&& other) noexcept;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection();

  // Runs one statement; `params` are bound as text ($1, $2, ...), never spliced into SQL.
  PgResult<Rows> query(const std::string& sql, const std::vector<std::string>& params = {});
  PgResult<void> execute(const std::string& sql, const std::vector<std::string>& params = {});

  // Quoting for the statements that take no bind parameters (ALTER SYSTEM, CREATE ROLE).
  PgResult<std::string> quoteIdentifier(const std::string& name);
  PgResult<std::string> quoteLiteral(const std::string& value);
  // The SCRAM verifier for `password`, computed client-side so the clear text never reaches
  // the server's logs.
  PgResult<std::string> encryptPassword(const std::string& user, const std::string& password);

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  std::string lastError() const;
  PGconn* conn_ = nullptr;
};

// libpq's PQping on the given target: true when the server accepts connections.
bool acceptsConnections(const ConnectParams& params);

}  // namespace keel::pg
