#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace keel {

// Keel's configuration: an immutable snapshot. Reload builds and validates a new Config and
// swaps the shared_ptr; nothing mutates a Config after loadConfig returns it.
// docs/configuration.md documents every field; keep the two in step.

enum class ConfigErrc { io, syntax, invalid };

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const;  // "host:port"; IPv6 hosts in brackets
};

struct Credentials {
  std::string username;
  std::string password;
};

struct EmbeddedEtcdConfig {
  std::string name;  // etcd member name; default: the node name
  std::string bin = "/usr/bin/etcd";
  std::string data_dir;  // default: <data_dir>/etcd
  HostPort listen_client{"127.0.0.1", 2379};
  HostPort listen_peer{"127.0.0.1", 2380};
  // member name -> peer URL ("http://host:port"); must contain this member with
  // listen_peer's port. Default: {name: "http://<listen_peer>"}, this node alone.
  std::map<std::string, std::string> initial_cluster;
  // member name -> client URL ("http://host:port") of the OTHER members, so the agent can
  // fail over to them when its own etcd is down. Optional; this member's own client URL
  // always comes from listen_client.
  std::map<std::string, std::string> client_urls;
  std::string initial_cluster_token;  // default: "keel-<scope>"
  std::chrono::milliseconds heartbeat_interval{100};
  std::chrono::milliseconds election_timeout{1000};
};

struct EtcdConfig {
  // External cluster: client URLs ("http://host:port"). Empty means embedded.
  std::vector<std::string> endpoints;
  std::optional<EmbeddedEtcdConfig> embedded;  // set when endpoints is empty
  std::chrono::milliseconds request_timeout{1000};
  // Client endpoints the agent talks to: `endpoints`, or, when embedded, this member's own
  // "http://<listen_client>" first, then the members listed in embedded.client_urls.
  std::vector<std::string> client_urls() const;
};

struct PostgresConfig {
  std::string bin_dir = "/usr/lib/postgresql/15/bin";
  std::string data_dir;  // default: <data_dir>/pgdata
  HostPort listen{"127.0.0.1", 5432};
  HostPort connect_address;                       // what other members use; default: listen
  std::string run_as = "postgres";                // when the agent runs as root
  std::map<std::string, std::string> parameters;  // postgresql.conf settings
  std::vector<std::string> pg_hba;                // lines; Keel adds its own replication rules
  Credentials superuser{"postgres", ""};
  Credentials replication{"replicator", ""};
  bool use_pg_rewind = true;
  bool reclone_on_rewind_failure = true;
  std::chrono::milliseconds start_timeout{60000};
  std::chrono::milliseconds stop_timeout{30000};
};

struct HaConfig {
  std::chrono::milliseconds ttl{2000};                  // leader lease; whole seconds for etcd
  std::chrono::milliseconds loop_wait{500};             // HA loop period
  std::chrono::milliseconds retry_timeout{1000};        // per DCS/PostgreSQL operation
  std::uint64_t maximum_lag_on_failover = 1024 * 1024;  // bytes
  // A leader fences itself this long before its lease could expire (see ha/fencing).
  std::chrono::milliseconds fence_margin{500};
  // Switchover: how long the leader lets in-flight transactions finish, once every proxy stopped
  // lending read-write connections for new ones, before it stops PostgreSQL (which ends them).
  std::chrono::milliseconds switchover_drain_timeout{5000};
  // How long the leader keeps trying to start its PostgreSQL before it releases the lock to a
  // replica that can take over (Patroni's primary_start_timeout); 0: at once.
  std::chrono::milliseconds primary_start_timeout{300000};
  // Synchronous replication (the cluster's dynamic configuration overrides these):
  // "off", "on" (commits wait for synchronous_node_count standbys) or "quorum" (for any
  // synchronous_node_count of all eligible standbys).
  std::string synchronous_mode = "off";
  bool synchronous_mode_strict = false;  // never run without a synchronous standby
  int synchronous_node_count = 1;
  // Patroni's failsafe_mode (the dynamic configuration overrides it): a primary that cannot
  // reach the DCS keeps its role while every member it last listed confirms it over the REST
  // API, instead of stopping when its lease runs out.
  bool failsafe_mode = false;
};

struct Tags {
  bool nofailover = false;
  int failover_priority = 1;  // higher wins ties; 0 behaves like nofailover (as in Patroni)
  bool noloadbalance = false;
  bool nosync = false;                        // never a synchronous standby
  std::map<std::string, std::string> custom;  // any other tag: kept and published verbatim
};

struct RestApiConfig {
  HostPort listen{"127.0.0.1", 8008};
  HostPort connect_address;                   // default: listen
  std::optional<Credentials> authentication;  // required for mutating endpoints when set
};

// TLS towards clients (client_tls_* in PgBouncer). sslmode: disable (refuse SSLRequest),
// allow/prefer (TLS when the client asks), require (plaintext clients are refused),
// verify-ca/verify-full (require a client certificate signed by ca_file).
struct ProxyClientTls {
  std::string sslmode = "disable";
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
};

// TLS towards PostgreSQL (server_tls_* in PgBouncer): disable, prefer, require, verify-ca,
// verify-full (ca_file checks the server certificate).
struct ProxyServerTls {
  std::string sslmode = "disable";
  std::string ca_file;
};

// One client authentication rule of the proxy, pg_hba.conf style:
// "host|hostssl|hostnossl DATABASES USERS ADDRESS METHOD". DATABASES and USERS are "all" or
// comma-separated names; ADDRESS is "all" or a CIDR ("10.0.0.0/8", "::1/128", a bare address
// meaning /32 or /128); METHOD is scram-sha-256, md5, cert, trust or reject.
struct ProxyHbaRule {
  enum class Connection { host, hostssl, hostnossl };
  Connection connection = Connection::host;
  std::vector<std::string> databases;       // empty: all
  std::vector<std::string> users;           // empty: all
  std::string address;                      // the network as written ("all" or a CIDR)
  std::array<unsigned char, 16> network{};  // IPv4 as ::ffff:a.b.c.d
  int prefix_bits = 0;                      // over the 128-bit form; 0 with "all"
  std::string method;
  std::string text;  // the rule as written, for messages
};
// Parses one rule; the message names the field that is wrong and what was expected.
Result<ProxyHbaRule, ConfigErrc> parseProxyHbaRule(const std::string& text);

// The PostgreSQL-protocol proxy every agent runs (docs/configuration.md, "proxy"). Names follow
// PgBouncer's where Keel offers the same setting.
struct ProxyConfig {
  bool enabled = true;
  HostPort listen_rw{"127.0.0.1", 6432};  // routes to the leader
  HostPort listen_ro{"127.0.0.1", 6433};  // routes to replicas within max_lag
  HostPort connect_address;               // where other agents reach listen_rw; default: it
  int workers = 0;                        // proxy threads; 0 = the number of cores
  // "session": a client holds one server connection for its whole session; "transaction": one
  // per transaction. Applies to client sessions that start after a reload.
  std::string pool_mode = "session";
  // Transaction mode: named prepared statements one client may hold at once.
  int max_prepared_statements = 1000;
  // Transaction mode: prepared statements Keel keeps on one server connection (LRU).
  int server_prepared_statements = 100;
  // Transaction mode: run-time parameters carried from server connection to server connection
  // beyond the ones PostgreSQL reports (client_encoding, DateStyle, ...); PostgreSQL 15 does not
  // report these, so Keel reads them back after a transaction that may have changed them.
  std::vector<std::string> track_extra_parameters{"search_path"};
  int max_client_conn = 1000;
  int default_pool_size = 20;  // server connections per (database, user, node)
  int min_pool_size = 0;
  std::chrono::milliseconds server_connect_timeout{5000};
  std::chrono::milliseconds server_idle_timeout{600000};
  std::chrono::milliseconds server_lifetime{3600000};
  std::chrono::milliseconds query_wait_timeout{120000};  // a client waiting for a server
  // New clients of the RW port wait this long for a writable leader during a failover.
  std::chrono::milliseconds failover_hold_timeout{30000};
  std::uint64_t max_lag_bytes = 1024 * 1024;  // RO routing: replay lag behind the leader
  std::chrono::milliseconds max_lag_time{10000};
  bool ro_fallback_to_primary = true;  // RO clients go to the leader when no replica qualifies
  std::string server_reset_query = "DISCARD ALL";
  std::uint32_t max_packet_size = 256 * 1024 * 1024;
  // Client authentication: hba-style rules ("host all all 127.0.0.1/32 scram-sha-256"),
  // first match wins; when empty, every client uses auth_type.
  std::vector<ProxyHbaRule> hba;
  std::string auth_type = "scram-sha-256";
  std::string auth_file;  // PgBouncer userlist format: "user" "secret" per line
  std::string auth_user;  // when set, unknown users are looked up with auth_query on the leader
  std::string auth_query = "SELECT usename, passwd FROM pg_shadow WHERE usename=$1";
  std::vector<std::string> admin_users;  // may run every admin console command
  std::vector<std::string> stats_users;  // may run SHOW commands
  ProxyClientTls client_tls;
  ProxyServerTls server_tls;
};

struct Config {
  std::string scope;     // cluster name; DCS keys live under /keel/<scope>/
  std::string name;      // this member's name, unique in the scope
  std::string data_dir;  // agent state: pgdata and etcd data default to sub-directories
  std::string log_level = "info";
  PostgresConfig postgresql;
  EtcdConfig etcd;
  HaConfig ha;
  Tags tags;
  RestApiConfig restapi;
  ProxyConfig proxy;

  std::string dcs_prefix() const { return "/keel/" + scope + "/"; }
};

// postgresql.conf settings Keel writes itself (addresses, paths, recovery); a config that sets
// one in postgresql.parameters is rejected. Names are lower case, as PostgreSQL folds them.
inline constexpr std::array<std::string_view, 10> kManagedParameters = {
    "listen_addresses",
    "port",
    "hba_file",
    "ident_file",
    "data_directory",
    "config_file",
    "primary_conninfo",
    "primary_slot_name",
    "recovery_target_timeline",
    "unix_socket_directories",
};

// One problem found in a config: the field's path ("postgresql.listen") and what was expected.
struct ConfigProblem {
  std::string path;
  std::string message;
};

// Parse and validate, reporting every problem at once: Failure::message lists them one per
// line as "<origin>: <path>: <what was expected>". Fills in defaults that depend on other fields
// (data dirs, connect addresses, embedded etcd names). Never throws.
Result<std::shared_ptr<const Config>, ConfigErrc> loadConfigFile(const std::string& path);
Result<std::shared_ptr<const Config>, ConfigErrc> loadConfigString(const std::string& yaml,
                                                                   const std::string& origin);

// "2s", "500ms", "1.5s", "1m", or a bare number of seconds.
std::optional<std::chrono::milliseconds> parseDuration(const std::string& text);
// "1MB", "512kB", "1048576" (bytes; units are 1024-based as in PostgreSQL).
std::optional<std::uint64_t> parseByteSize(const std::string& text);
std::optional<HostPort> parseHostPort(const std::string& text);

// The effective config in the YAML layout (durations as "2s"/"500ms", sizes in bytes), every
// password replaced by "********"; for `keel config validate` and the REST API. Declared with
// json_fwd.hpp: callers include <nlohmann/json.hpp> to use the result.
nlohmann::json toJson(const Config& config);

}  // namespace keel
