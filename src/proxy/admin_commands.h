#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "proxy/proxy_snapshot.h"

// The pure part of the admin console: parsing PgBouncer's console commands and building the
// rows of each SHOW from a ProxySnapshot. Column names are PgBouncer's (its usage docs, "Admin
// console"), since monitoring tools read them by name; Keel's own columns come after them.
namespace keel::proxy {

enum class AdminVerb { empty, show, pause, resume, reconnect, kill, kill_client, reload };

struct AdminCommand {
  AdminVerb verb = AdminVerb::empty;
  // show: the subject in upper case ("POOLS"); pause/resume/reconnect/kill: the database or "";
  // kill_client: the client id.
  std::string argument;
};

enum class AdminErrc { syntax };  // sent to the client as SQLSTATE 42601

// One statement as PgBouncer accepts it: keywords in any case, an optional trailing ';', a
// database name bare or in double quotes. Fails with a message for the client.
Result<AdminCommand, AdminErrc> parseAdminCommand(std::string_view sql);

// Whether stats_users may run it (SHOW only).
inline bool readOnly(const AdminCommand& c) {
  return c.verb == AdminVerb::show || c.verb == AdminVerb::empty;
}

// What the console answers to an unknown command and to SHOW HELP.
extern const char* const kAdminCommandList;

struct AdminColumn {
  std::string name;
  bool numeric = false;  // int8; text otherwise
};
using AdminValue = std::optional<std::string>;  // nullopt: NULL

// The answer to one command: RowDescription + DataRows + CommandComplete(tag); without columns
// only CommandComplete.
struct ResultSet {
  std::vector<AdminColumn> columns;
  std::vector<std::vector<AdminValue>> rows;
  std::string tag = "SHOW";
};
void encodeResultSet(std::string& out, const ResultSet& result);

ResultSet showPools(const ProxySnapshot& s);
ResultSet showClients(const ProxySnapshot& s);
ResultSet showServers(const ProxySnapshot& s);
enum class StatsColumns { all, totals, averages };
ResultSet showStats(const ProxySnapshot& s, StatsColumns which);
ResultSet showDatabases(const ProxySnapshot& s);
ResultSet showState(const ProxySnapshot& s);
ResultSet showLists(const ProxySnapshot& s);
// `effective` and `defaults` are the "proxy" sections of toJson(Config), flattened into one row
// per setting ("client_tls.sslmode"); lists are comma-separated.
ResultSet showConfig(const nlohmann::json& effective, const nlohmann::json& defaults);
ResultSet showVersion();

// "2026-11-23 15:33:59 UTC", as PgBouncer prints connect_time; "" for 0.
std::string adminTimestamp(double epoch_seconds);

}  // namespace keel::proxy
