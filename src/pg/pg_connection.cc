#include "pg/pg_connection.h"

#include <libpq-fe.h>

#include <memory>

namespace keel::pg {
namespace {

struct Keywords {
  std::vector<std::string> storage;
  std::vector<const char*> keys;
  std::vector<const char*> values;
};

Keywords keywordsFor(const ConnectParams& p) {
  Keywords k;
  k.storage = {"host",
               p.host,
               "port",
               std::to_string(p.port),
               "user",
               p.user,
               "dbname",
               p.dbname,
               "connect_timeout",
               std::to_string(p.connect_timeout_s),
               "application_name",
               p.application_name,
               "password",
               p.password};
  for (std::size_t i = 0; i < k.storage.size(); i += 2) {
    if (k.storage[i] == "password" && k.storage[i + 1].empty()) {
      continue;
    }
    k.keys.push_back(k.storage[i].c_str());
    k.values.push_back(k.storage[i + 1].c_str());
  }
  k.keys.push_back(nullptr);
  k.values.push_back(nullptr);
  return k;
}

std::string trimmed(const char* s) {
  std::string out = s ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  return out;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

PgResult<PgConnection> PgConnection::open(const ConnectParams& params) {
  auto k = keywordsFor(params);
  PGconn* conn = PQconnectdbParams(k.keys.data(), k.values.data(), 0);
  if (!conn) {
    return fail(PgErrc::connection_failed, "libpq could not allocate a connection (out of memory)");
  }
  PgConnection c(conn);
  if (PQstatus(conn) != CONNECTION_OK) {
    return fail(PgErrc::connection_failed,
                "cannot connect to PostgreSQL at " + params.host + ":" +
                    std::to_string(params.port) + " as " + params.user + ": " + c.lastError() +
                    "; check that the server runs and that pg_hba.conf and the password allow "
                    "this user");
  }
  return c;
}

PgConnection& PgConnection::operator=(PgConnection&& other) noexcept {
  if (this != &other) {
    if (conn_)
      PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
  }
  return *this;
}

PgConnection::~PgConnection() {
  if (conn_) {
    PQfinish(conn_);
  }
}

std::string PgConnection::lastError() const {
  return trimmed(PQerrorMessage(conn_));
}

PgResult<Rows> PgConnection::query(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) {
    values.push_back(p.c_str());
  }
  std::unique_ptr<PGresult, ResultDeleter> res(
      PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                   values.empty() ? nullptr : values.data(), nullptr, nullptr, 0));
  ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    std::string err = res ? trimmed(PQresultErrorMessage(res.get())) : lastError();
    if (err.empty()) {
      err = lastError();
    }
    PgErrc code =
        PQstatus(conn_) == CONNECTION_OK ? PgErrc::query_failed : PgErrc::connection_failed;
    return fail(
        code, "query '" + sql.substr(0, 80) + (sql.size() > 80 ? "..." : "") + "' failed: " + err);
  }
  Rows rows;
  int n = PQntuples(res.get());
  int m = PQnfields(res.get());
  rows.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    Row row;
    row.reserve(static_cast<std::size_t>(m));
    for (int j = 0; j < m; ++j) {
      if (PQgetisnull(res.get(), i, j)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(res.get(), i, j),
                                     static_cast<std::size_t>(PQgetlength(res.get(), i, j))));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

PgResult<void> PgConnection::execute(const std::string& sql,
                                     const std::vector<std::string>& params) {
  auto r = query(sql, params);
  if (!r) {
    return r.failure();
  }
  return {};
}

PgResult<std::string> PgConnection::quoteIdentifier(const std::string& name) {
  char* q = PQescapeIdentifier(conn_, name.c_str(), name.size());
  if (!q) {
    return fail(PgErrc::refused, "cannot quote identifier '" + name + "': " + lastError());
  }
  std::string out(q);
  PQfreemem(q);
  return out;
}

PgResult<std::string> PgConnection::quoteLiteral(const std::string& value) {
  char* q = PQescapeLiteral(conn_, value.c_str(), value.size());
  if (!q) {
    return fail(PgErrc::refused, "cannot quote a value: " + lastError());
  }
  std::string out(q);
  PQfreemem(q);
  return out;
}

PgResult<std::string> PgConnection::encryptPassword(const std::string& user,
                                                    const std::string& password) {
  char* v = PQencryptPasswordConn(conn_, password.c_str(), user.c_str(), "scram-sha-256");
  if (!v) {
    return fail(PgErrc::query_failed,
                "cannot compute the SCRAM verifier for role '" + user + "': " + lastError());
  }
  std::string out(v);
  PQfreemem(v);
  return out;
}

bool acceptsConnections(const ConnectParams& params) {
  auto k = keywordsFor(params);
  return PQpingParams(k.keys.data(), k.values.data(), 0) == PQPING_OK;
}

}  // namespace keel::pg
