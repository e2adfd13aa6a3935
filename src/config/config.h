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
};

struct Tags {
  bool nofailover = false;
  int failover_priority = 1;  // higher wins ties; 0 behaves like nofailover (as in Patroni)
  bool noloadbalance = false;
  std::map<std::string, std::string> custom;  // any other tag: kept and published verbatim
};

struct RestApiConfig {
  HostPort listen{"127.0.0.1", 8008};
  HostPort connect_address;                   // default: listen
  std::optional<Credentials> authentication;  // required for mutating endpoints when set
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

enum class ConfigErrc { io, syntax, invalid };

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
