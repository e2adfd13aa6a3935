#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <thread>

#include "pg/control_data.h"
#include "pg/postgres_instance.h"
#include "pg/quoting.h"

namespace keel::pg {
namespace {

// One round trip for the whole reading. Functions that fail during recovery
// (pg_current_wal_lsn, pg_walfile_name) sit behind CASE, which evaluates lazily. A primary's
// timeline comes from its current WAL file name: pg_control_checkpoint() lags behind a
// promotion until the next checkpoint.
constexpr const char* kStatusQuery = R"sql(
SELECT r.rec,
  CASE WHEN r.rec
    THEN COALESCE((SELECT received_tli FROM pg_stat_wal_receiver),
                  (SELECT timeline_id FROM pg_control_checkpoint()))
    ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
  END,
  (SELECT system_identifier FROM pg_control_system())::text,
  CASE WHEN r.rec THEN NULL ELSE pg_current_wal_lsn()::text END,
  pg_last_wal_receive_lsn()::text,
  pg_last_wal_replay_lsn()::text,
  (SELECT status FROM pg_stat_wal_receiver),
  (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver),
  (SELECT string_agg(name, ',' ORDER BY name) FROM pg_settings WHERE pending_restart),
  extract(epoch FROM pg_postmaster_start_time())::float8,
  CASE WHEN r.rec THEN
    CASE WHEN pg_last_wal_receive_lsn() IS NULL
              OR pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0
         ELSE (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint
    END
  END
FROM (SELECT pg_is_in_recovery() AS rec) r
)sql";

bool validSlotName(const std::string& name) {
  return !name.empty() && name.size() <= 63 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

WalPosition lsnOr0(const std::optional<std::string>& v) {
  if (!v) {
    return {};
  }
  return WalPosition::parse(*v).value_or(WalPosition{});
}

template <typename Int>
Int intOr0(const std::optional<std::string>& v) {
  Int out = 0;
  if (v) {
    std::from_chars(v->data(), v->data() + v->size(), out);
  }
  return out;
}

bool isTrue(const std::optional<std::string>& v) {
  return v && *v == "t";
}

Failure<PgErrc> unexpectedShape(const std::string& what) {
  return fail(PgErrc::query_failed, what +
                                        " returned an unexpected result; is the server "
                                        "PostgreSQL 15?");
}

}  // namespace

PgResult<void> PostgresInstance::createRoles() {
  const Credentials& repl = pg_.replication;
  if (repl.username.empty() || repl.password.empty()) {
    return fail(PgErrc::refused,
                "cannot create the replication role: postgresql.replication.username and "
                "password must both be set");
  }
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  auto rec = conn->query("SELECT pg_is_in_recovery()");
  if (!rec) {
    return rec.failure();
  }
  if (rec->size() != 1 || isTrue((*rec)[0][0])) {
    return fail(PgErrc::refused, "cannot create roles on a standby; run on the primary");
  }
  auto verifier = conn->encryptPassword(repl.username, repl.password);
  auto ident = conn->quoteIdentifier(repl.username);
  if (!verifier)
    return verifier.failure();
  if (!ident)
    return ident.failure();
  auto literal = conn->quoteLiteral(*verifier);
  if (!literal)
    return literal.failure();
  auto exists = conn->query("SELECT 1 FROM pg_roles WHERE rolname = $1", {repl.username});
  if (!exists) {
    return exists.failure();
  }
  std::string verb = exists->empty() ? "CREATE" : "ALTER";
  if (auto r =
          conn->execute(verb + " ROLE " + *ident + " WITH LOGIN REPLICATION PASSWORD " + *literal);
      !r) {
    return fail(r.code(),
                "cannot " + verb + " replication role '" + repl.username + "': " + r.message());
  }
  spdlog::info("replication role '{}' {}", repl.username, exists->empty() ? "created" : "updated");
  return {};
}

PgResult<void> PostgresInstance::promote() {
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  auto rec = conn->query("SELECT pg_is_in_recovery()");
  if (!rec) {
    return rec.failure();
  }
  if (rec->size() == 1 && !isTrue((*rec)[0][0])) {
    return {};  // already a primary
  }
  spdlog::info("promoting postgres");
  // pg_promote(true) polls every 100 ms; a switchover's pause includes this wait, so ask for
  // the promotion and watch for its end at a finer grain.
  auto promoted = conn->query("SELECT pg_promote(false)");
  if (!promoted) {
    return promoted.failure();
  }
  if (promoted->size() != 1 || !isTrue((*promoted)[0][0])) {
    return fail(PgErrc::query_failed,
                "pg_promote could not signal the postmaster; see " + paths_.log_file);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    rec = conn->query("SELECT pg_is_in_recovery()");
    if (!rec) {
      return rec.failure();
    }
    if (rec->size() == 1 && !isTrue((*rec)[0][0])) {
      return {};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(PgErrc::timeout, "the promotion did not finish within 60 s; see " +
                                       paths_.log_file + " for what recovery is doing");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

PgResult<void> PostgresInstance::checkpoint() {
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  return conn->execute("CHECKPOINT");
}

PgResult<int> PostgresInstance::busyClientSessions() {
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  // The agent's own connections identify themselves as application_name keel (connectLocal).
  auto rows = conn->query(
      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> "
      "pg_backend_pid() AND state IS DISTINCT FROM 'idle' AND application_name <> 'keel'");
  if (!rows) {
    return rows.failure();
  }
  if (rows->size() != 1 || (*rows)[0].size() != 1) {
    return unexpectedShape("the busy sessions query");
  }
  return intOr0<int>((*rows)[0][0]);
}

PgResult<PgStatus> PostgresInstance::status() {
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  auto rows = conn->query(kStatusQuery);
  if (!rows) {
    return rows.failure();
  }
  if (rows->size() != 1 || (*rows)[0].size() != 11) {
    return unexpectedShape("the status query");
  }
  const Row& r = (*rows)[0];
  PgStatus s;
  s.in_recovery = isTrue(r[0]);
  s.timeline = intOr0<int>(r[1]);
  s.system_identifier = intOr0<std::uint64_t>(r[2]);
  s.write_lsn = lsnOr0(r[3]);
  s.receive_lsn = lsnOr0(r[4]);
  s.replay_lsn = lsnOr0(r[5]);
  s.wal_receiver_state = r[6].value_or("");
  s.wal_receiver_sender = r[7].value_or("");
  if (r[8] && !r[8]->empty()) {
    std::string_view names = *r[8];
    while (!names.empty()) {
      auto comma = names.find(',');
      s.pending_restart_parameters.emplace_back(names.substr(0, comma));
      names = comma == std::string_view::npos ? std::string_view{} : names.substr(comma + 1);
    }
  }
  s.pending_restart = !s.pending_restart_parameters.empty();
  if (r[9]) {
    std::from_chars(r[9]->data(), r[9]->data() + r[9]->size(), s.postmaster_start_epoch);
  }
  if (r[10]) {
    s.replay_delay_ms = std::max<std::int64_t>(0, intOr0<std::int64_t>(r[10]));
  }
  return s;
}

PgResult<std::vector<ReplicationSlot>> PostgresInstance::slots() {
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  auto rows = conn->query(
      "SELECT slot_name, active, restart_lsn::text FROM pg_replication_slots "
      "WHERE slot_type = 'physical' ORDER BY slot_name");
  if (!rows) {
    return rows.failure();
  }
  std::vector<ReplicationSlot> out;
  for (const Row& r : *rows) {
    if (r.size() != 3 || !r[0]) {
      return unexpectedShape("the replication slot query");
    }
    out.push_back({*r[0], isTrue(r[1]), lsnOr0(r[2])});
  }
  return out;
}

PgResult<void> PostgresInstance::createSlot(const std::string& name) {
  if (!validSlotName(name)) {
    return fail(PgErrc::refused, "'" + name +
                                     "' is not a valid slot name: use 1-63 characters of "
                                     "[a-z0-9_] (see slotNameFor)");
  }
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  auto exists = conn->query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {name});
  if (!exists) {
    return exists.failure();
  }
  if (!exists->empty()) {
    return {};
  }
  // immediately_reserve: WAL is kept from now on, even before the standby first connects.
  auto r = conn->execute("SELECT pg_create_physical_replication_slot($1, true)", {name});
  if (!r) {
    return fail(r.code(), "cannot create replication slot '" + name + "': " + r.message() +
                              "; check max_replication_slots");
  }
  spdlog::info("created replication slot '{}'", name);
  return {};
}

PgResult<void> PostgresInstance::dropSlot(const std::string& name) {
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  auto rows = conn->query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", {name});
  if (!rows) {
    return rows.failure();
  }
  if (rows->empty()) {
    return {};
  }
  if (isTrue((*rows)[0][0])) {
    return fail(PgErrc::refused, "replication slot '" + name +
                                     "' is in use by a connected standby; it can be dropped "
                                     "once that standby disconnects");
  }
  auto r = conn->execute("SELECT pg_drop_replication_slot($1)", {name});
  if (!r) {
    return fail(r.code(), "cannot drop replication slot '" + name + "': " + r.message());
  }
  spdlog::info("dropped replication slot '{}'", name);
  return {};
}

PgResult<void> PostgresInstance::alterSystem(
    const std::map<std::string, std::optional<std::string>>& parameters) {
  for (const auto& [name, value] : parameters) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!validParameterName(name)) {
      return fail(PgErrc::refused, "'" + name + "' is not a valid parameter name");
    }
    if (std::find(kManagedParameters.begin(), kManagedParameters.end(), lower) !=
        kManagedParameters.end()) {
      return fail(PgErrc::refused, "'" + name +
                                       "' is managed by Keel (keel.conf) and cannot be set "
                                       "with ALTER SYSTEM");
    }
  }
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  for (const auto& [name, value] : parameters) {
    auto ident = conn->quoteIdentifier(name);
    if (!ident) {
      return ident.failure();
    }
    std::string sql;
    if (value) {
      auto literal = conn->quoteLiteral(*value);
      if (!literal) {
        return literal.failure();
      }
      sql = "ALTER SYSTEM SET " + *ident + " TO " + *literal;
    } else {
      sql = "ALTER SYSTEM RESET " + *ident;
    }
    if (auto r = conn->execute(sql); !r) {
      return fail(r.code(), "cannot change parameter '" + name + "': " + r.message());
    }
  }
  return conn->execute("SELECT pg_reload_conf()");
}

PgResult<SyncStatus> PostgresInstance::syncStatus() {
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  // The setting first, then the position: a position read after the setting took effect.
  auto head = conn->query(
      "SELECT current_setting('synchronous_standby_names'), "
      "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END");
  if (!head) {
    return head.failure();
  }
  if (head->size() != 1 || (*head)[0].size() != 2 || !(*head)[0][0]) {
    return unexpectedShape("the synchronous replication query");
  }
  if (!(*head)[0][1]) {
    return fail(PgErrc::refused, "synchronous replication status read on a standby");
  }
  SyncStatus out;
  out.standby_names = *(*head)[0][0];
  out.write_lsn = lsnOr0((*head)[0][1]);
  auto rows = conn->query(
      "SELECT application_name, state, flush_lsn::text FROM pg_stat_replication "
      "WHERE application_name IS NOT NULL ORDER BY application_name");
  if (!rows) {
    return rows.failure();
  }
  for (const Row& r : *rows) {
    if (r.size() != 3 || !r[0]) {
      return unexpectedShape("the pg_stat_replication query");
    }
    out.standbys.push_back({*r[0], r[1].value_or(""), lsnOr0(r[2])});
  }
  return out;
}

PgResult<void> PostgresInstance::setSynchronousStandbyNames(const std::string& value) {
  auto conn = connectLocal();
  if (!conn) {
    return conn.failure();
  }
  auto literal = conn->quoteLiteral(value);
  if (!literal) {
    return literal.failure();
  }
  if (auto r = conn->execute("ALTER SYSTEM SET synchronous_standby_names TO " + *literal); !r) {
    return fail(r.code(), "cannot set synchronous_standby_names: " + r.message());
  }
  return conn->execute("SELECT pg_reload_conf()");
}

PgResult<std::vector<std::pair<int, WalPosition>>> PostgresInstance::timelineHistory(
    const PgEndpoint& source, int timeline) {
  if (timeline <= 1) {
    return std::vector<std::pair<int, WalPosition>>{};  // timeline 1 has no history file
  }
  auto conn = PgConnection::open(superuserParams(source));
  if (!conn) {
    return conn.failure();
  }
  char file[64];
  std::snprintf(file, sizeof file, "pg_wal/%08X.history", static_cast<unsigned>(timeline));
  auto rows = conn->query("SELECT pg_read_file($1)", {file});
  if (!rows) {
    return fail(rows.code(), "cannot read " + std::string(file) + " on " + source.host + ":" +
                                 std::to_string(source.port) + ": " + rows.message());
  }
  if (rows->size() != 1 || (*rows)[0].size() != 1 || !(*rows)[0][0]) {
    return unexpectedShape("pg_read_file of the timeline history");
  }
  return parseTimelineHistory(*(*rows)[0][0]);
}

}  // namespace keel::pg
