#pragma once

#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

namespace keel::hatest {

// The outcome of one statement sent through libpq: rows as text (NULL as nullopt) or the error.
struct SqlResult {
  bool ok = false;
  std::string error;
  std::vector<std::vector<std::optional<std::string>>> rows;

  // The first column of the first row, "" when there is none or it is NULL.
  std::string scalar() const;
};

// One libpq connection, closed on destruction. Blocking; use from one thread at a time.
class SqlConnection {
 public:
  explicit SqlConnection(const std::string& conninfo);
  ~SqlConnection();
  SqlConnection(const SqlConnection&) = delete;
  SqlConnection& operator=(const SqlConnection&) = delete;

  bool ok() const;
  std::string error() const;
  SqlResult exec(const std::string& sql);
  // Sends a CancelRequest for the statement running on this connection (any thread).
  bool cancel();

 private:
  PGconn* conn_ = nullptr;
};

// Connects, runs `sql` and disconnects.
SqlResult execSql(const std::string& conninfo, const std::string& sql);

}  // namespace keel::hatest
