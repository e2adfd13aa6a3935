#include "integration/ha/sql_client.h"

namespace keel::hatest {

namespace {

std::string trimmed(const char* s) {
  std::string out = s ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  return out;
}

}  // namespace

std::string SqlResult::scalar() const {
  if (rows.empty() || rows.front().empty() || !rows.front().front()) {
    return "";
  }
  return *rows.front().front();
}

SqlConnection::SqlConnection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
  if (conn_) {
    // Server NOTICEs ("table does not exist, skipping") would only clutter the test output.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }
}

SqlConnection::~SqlConnection() {
  if (conn_) {
    PQfinish(conn_);
  }
}

bool SqlConnection::cancel() {
  PGcancel* c = conn_ ? PQgetCancel(conn_) : nullptr;
  if (!c) {
    return false;
  }
  char err[256];
  bool sent = PQcancel(c, err, sizeof err) == 1;
  PQfreeCancel(c);
  return sent;
}

bool SqlConnection::ok() const {
  return conn_ && PQstatus(conn_) == CONNECTION_OK;
}

std::string SqlConnection::error() const {
  return conn_ ? trimmed(PQerrorMessage(conn_)) : "out of memory";
}

SqlResult SqlConnection::exec(const std::string& sql) {
  SqlResult out;
  if (!ok()) {
    out.error = "not connected: " + error();
    return out;
  }
  PGresult* res = PQexec(conn_, sql.c_str());
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    out.ok = true;
    for (int r = 0; r < PQntuples(res); ++r) {
      std::vector<std::optional<std::string>> row;
      for (int c = 0; c < PQnfields(res); ++c) {
        if (PQgetisnull(res, r, c)) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(PQgetvalue(res, r, c));
        }
      }
      out.rows.push_back(std::move(row));
    }
  } else {
    out.error = res ? trimmed(PQresultErrorMessage(res)) : error();
    // A FATAL error that arrived while the connection was idle is kept in the connection's
    // message, not the result's.
    std::string conn_error = error();
    if (out.error.find(conn_error) == std::string::npos) {
      out.error = conn_error + (out.error.empty() ? "" : "\n" + out.error);
    }
  }
  if (res) {
    PQclear(res);
  }
  return out;
}

SqlResult execSql(const std::string& conninfo, const std::string& sql) {
  SqlConnection conn(conninfo);
  if (!conn.ok()) {
    SqlResult out;
    out.error = "cannot connect: " + conn.error();
    return out;
  }
  return conn.exec(sql);
}

}  // namespace keel::hatest
