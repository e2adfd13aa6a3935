// The YAML layout of keel.yaml (docs/configuration.md): which keys each section accepts, their
// types, and the checks that need only the field itself.

#include <algorithm>
#include <cctype>
#include <limits>

#include "config/config_reader.h"

namespace keel::config_detail {
namespace {

using std::chrono::milliseconds;

// A PostgreSQL run-time parameter (GUC) name: letters, digits, '_' and '.' (custom "ext.name").
bool validParameterName(const std::string& name) {
  return !name.empty() && name.size() < 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  });
}

// A duration that must be positive; 0 would make a timer spin or an operation fail at once.
void positiveDuration(ConfigReader& r, const YAML::Node& map, const std::string& path,
                      const char* key, milliseconds& out) {
  if (r.duration(map, path, key, out) && out.count() <= 0) {
    r.reject(map, path, key, "a duration > 0 such as \"1s\" or \"500ms\"");
  }
}

void readCredentials(ConfigReader& r, const YAML::Node& map, const std::string& path,
                     const char* key, Credentials& out) {
  auto node = r.section(map, path, key, {"username", "password"});
  if (!node)
    return;
  std::string section_path = joinPath(path, key);
  r.text(*node, section_path, "username", out.username);
  r.text(*node, section_path, "password", out.password);
}

void readPostgres(ConfigReader& r, const YAML::Node& root, PostgresConfig& pg) {
  const std::string path = "postgresql";
  auto node = r.section(root, "", "postgresql",
                        {"bin_dir", "data_dir", "listen", "connect_address", "run_as", "parameters",
                         "pg_hba", "authentication", "use_pg_rewind", "reclone_on_rewind_failure",
                         "start_timeout", "stop_timeout"});
  if (!node)
    return;
  r.text(*node, path, "bin_dir", pg.bin_dir);
  r.text(*node, path, "data_dir", pg.data_dir);
  r.hostPort(*node, path, "listen", pg.listen);
  r.hostPort(*node, path, "connect_address", pg.connect_address);
  r.text(*node, path, "run_as", pg.run_as);
  r.textMap(*node, path, "parameters", pg.parameters, /*bools_as_on_off=*/true);
  r.textList(*node, path, "pg_hba", pg.pg_hba);
  if (auto auth = r.section(*node, path, "authentication", {"superuser", "replication"})) {
    const std::string auth_path = "postgresql.authentication";
    readCredentials(r, *auth, auth_path, "superuser", pg.superuser);
    readCredentials(r, *auth, auth_path, "replication", pg.replication);
  }
  r.flag(*node, path, "use_pg_rewind", pg.use_pg_rewind);
  r.flag(*node, path, "reclone_on_rewind_failure", pg.reclone_on_rewind_failure);
  positiveDuration(r, *node, path, "start_timeout", pg.start_timeout);
  positiveDuration(r, *node, path, "stop_timeout", pg.stop_timeout);
}

// A map of member name -> "http://host:port", normalized.
void readUrlMap(ConfigReader& r, const YAML::Node& map, const std::string& path, const char* key,
                std::map<std::string, std::string>& out) {
  std::map<std::string, std::string> raw;
  if (!r.textMap(map, path, key, raw, /*bools_as_on_off=*/false))
    return;
  std::string field = joinPath(path, key);
  std::map<std::string, std::string> urls;
  for (const auto& [member, text] : raw) {
    if (auto address = parseHttpUrl(text)) {
      urls.emplace(member, "http://" + address->str());
    } else {
      r.problem(joinPath(field, member),
                "expected a URL \"http://host:port\" with a port 1-65535, got \"" + text + "\"");
    }
  }
  out = std::move(urls);
}

void readEmbeddedEtcd(ConfigReader& r, const YAML::Node& etcd, EmbeddedEtcdConfig& e) {
  const std::string path = "etcd.embedded";
  auto node =
      r.section(etcd, "etcd", "embedded",
                {"name", "bin", "data_dir", "listen_client", "listen_peer", "initial_cluster",
                 "client_urls", "initial_cluster_token", "heartbeat_interval", "election_timeout"});
  if (!node)
    return;
  r.text(*node, path, "name", e.name);
  r.text(*node, path, "bin", e.bin);
  r.text(*node, path, "data_dir", e.data_dir);
  r.hostPort(*node, path, "listen_client", e.listen_client);
  r.hostPort(*node, path, "listen_peer", e.listen_peer);
  readUrlMap(r, *node, path, "initial_cluster", e.initial_cluster);
  readUrlMap(r, *node, path, "client_urls", e.client_urls);
  r.text(*node, path, "initial_cluster_token", e.initial_cluster_token);
  positiveDuration(r, *node, path, "heartbeat_interval", e.heartbeat_interval);
  positiveDuration(r, *node, path, "election_timeout", e.election_timeout);
}

void readEtcd(ConfigReader& r, const YAML::Node& root, EtcdConfig& etcd) {
  const std::string path = "etcd";
  auto node = r.section(root, "", "etcd", {"endpoints", "request_timeout", "embedded"});
  if (!node)
    return;
  std::vector<std::string> endpoints;
  if (r.textList(*node, path, "endpoints", endpoints)) {
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
      if (auto address = parseHttpUrl(endpoints[i])) {
        etcd.endpoints.push_back("http://" + address->str());
      } else {
        r.problem("etcd.endpoints[" + std::to_string(i) + "]",
                  "expected a client URL \"http://host:port\" with a port 1-65535, got \"" +
                      endpoints[i] + "\"");
      }
    }
  }
  positiveDuration(r, *node, path, "request_timeout", etcd.request_timeout);
  if (child(*node, "embedded")) {
    EmbeddedEtcdConfig embedded;
    readEmbeddedEtcd(r, *node, embedded);
    etcd.embedded = std::move(embedded);
  }
}

void readHa(ConfigReader& r, const YAML::Node& root, HaConfig& ha) {
  const std::string path = "ha";
  auto node =
      r.section(root, "", "ha",
                {"ttl", "loop_wait", "retry_timeout", "maximum_lag_on_failover", "fence_margin",
                 "switchover_drain_timeout", "synchronous_mode", "synchronous_mode_strict",
                 "synchronous_node_count", "primary_start_timeout", "failsafe_mode"});
  if (!node)
    return;
  // etcd grants leases in whole seconds, so a fractional ttl could not be honoured; a 1s
  // lease leaves no room for a renewal round trip plus the fence margin.
  if (r.duration(*node, path, "ttl", ha.ttl) &&
      (ha.ttl.count() % 1000 != 0 || ha.ttl < std::chrono::seconds(2))) {
    r.reject(*node, path, "ttl", "a duration of whole seconds >= 2s (e.g. \"2s\")");
  }
  positiveDuration(r, *node, path, "loop_wait", ha.loop_wait);
  positiveDuration(r, *node, path, "retry_timeout", ha.retry_timeout);
  r.byteSize(*node, path, "maximum_lag_on_failover", ha.maximum_lag_on_failover);
  positiveDuration(r, *node, path, "fence_margin", ha.fence_margin);
  positiveDuration(r, *node, path, "switchover_drain_timeout", ha.switchover_drain_timeout);
  // YAML spells on/off/true/false as booleans: accept them as Patroni does.
  if (auto mode = child(*node, "synchronous_mode"); mode && mode->IsScalar()) {
    std::string text = mode->Scalar();
    bool flag_value = false;
    if (text == "quorum") {
      ha.synchronous_mode = "quorum";
    } else if (YAML::convert<bool>::decode(*mode, flag_value)) {
      ha.synchronous_mode = flag_value ? "on" : "off";
    } else {
      r.reject(*node, path, "synchronous_mode", "off, on or quorum");
    }
  } else if (mode && !mode->IsNull()) {
    r.reject(*node, path, "synchronous_mode", "off, on or quorum");
  }
  r.flag(*node, path, "synchronous_mode_strict", ha.synchronous_mode_strict);
  r.flag(*node, path, "failsafe_mode", ha.failsafe_mode);
  r.duration(*node, path, "primary_start_timeout", ha.primary_start_timeout);
  r.integer(*node, path, "synchronous_node_count", 1, 1000, ha.synchronous_node_count);
}

void readTags(ConfigReader& r, const YAML::Node& root, Tags& tags) {
  const std::string path = "tags";
  // Any key is a tag: the known ones are typed, the rest are published as written.
  auto node = r.section(root, "", "tags", {});
  if (!node)
    return;
  r.flag(*node, path, "nofailover", tags.nofailover);
  r.integer(*node, path, "failover_priority", 0, std::numeric_limits<int>::max(),
            tags.failover_priority);
  r.flag(*node, path, "noloadbalance", tags.noloadbalance);
  r.flag(*node, path, "nosync", tags.nosync);
  for (const auto& entry : *node) {
    if (!entry.first.IsScalar())
      continue;  // reported by section()
    const std::string& key = entry.first.Scalar();
    if (key == "nofailover" || key == "failover_priority" || key == "noloadbalance" ||
        key == "nosync")
      continue;
    if (!r.utf8(key, path, true))
      continue;
    if (entry.second.IsScalar()) {
      if (r.utf8(entry.second.Scalar(), joinPath(path, key)))
        tags.custom.emplace(key, entry.second.Scalar());
    } else if (!entry.second.IsNull()) {
      r.problem(joinPath(path, key), "expected a single value (string, number or boolean), got " +
                                         describe(entry.second));
    }
  }
}

void readRestApi(ConfigReader& r, const YAML::Node& root, RestApiConfig& api) {
  const std::string path = "restapi";
  auto node = r.section(root, "", "restapi", {"listen", "connect_address", "authentication"});
  if (!node)
    return;
  r.hostPort(*node, path, "listen", api.listen);
  r.hostPort(*node, path, "connect_address", api.connect_address);
  if (child(*node, "authentication")) {
    Credentials credentials;
    readCredentials(r, *node, path, "authentication", credentials);
    api.authentication = std::move(credentials);
  }
}

void readProxyTls(ConfigReader& r, const YAML::Node& proxy, ProxyConfig& p) {
  if (auto node = r.section(proxy, "proxy", "client_tls",
                            {"sslmode", "cert_file", "key_file", "ca_file"})) {
    const std::string path = "proxy.client_tls";
    r.text(*node, path, "sslmode", p.client_tls.sslmode);
    r.text(*node, path, "cert_file", p.client_tls.cert_file);
    r.text(*node, path, "key_file", p.client_tls.key_file);
    r.text(*node, path, "ca_file", p.client_tls.ca_file);
  }
  if (auto node = r.section(proxy, "proxy", "server_tls", {"sslmode", "ca_file"})) {
    const std::string path = "proxy.server_tls";
    r.text(*node, path, "sslmode", p.server_tls.sslmode);
    r.text(*node, path, "ca_file", p.server_tls.ca_file);
  }
}

void readProxy(ConfigReader& r, const YAML::Node& root, ProxyConfig& p) {
  const std::string path = "proxy";
  auto node = r.section(root, "", "proxy",
                        {"enabled",
                         "listen_rw",
                         "listen_ro",
                         "connect_address",
                         "workers",
                         "pool_mode",
                         "max_prepared_statements",
                         "server_prepared_statements",
                         "track_extra_parameters",
                         "max_client_conn",
                         "default_pool_size",
                         "min_pool_size",
                         "server_connect_timeout",
                         "server_idle_timeout",
                         "server_lifetime",
                         "query_wait_timeout",
                         "failover_hold_timeout",
                         "max_lag_bytes",
                         "max_lag_time",
                         "ro_fallback_to_primary",
                         "server_reset_query",
                         "max_packet_size",
                         "hba",
                         "auth_type",
                         "auth_file",
                         "auth_user",
                         "auth_query",
                         "admin_users",
                         "stats_users",
                         "client_tls",
                         "server_tls"});
  if (!node)
    return;
  r.flag(*node, path, "enabled", p.enabled);
  r.hostPort(*node, path, "listen_rw", p.listen_rw);
  r.hostPort(*node, path, "listen_ro", p.listen_ro);
  r.hostPort(*node, path, "connect_address", p.connect_address);
  r.integer(*node, path, "workers", 0, 256, p.workers);
  r.text(*node, path, "pool_mode", p.pool_mode);
  r.integer(*node, path, "max_prepared_statements", 1, 100000, p.max_prepared_statements);
  r.integer(*node, path, "server_prepared_statements", 1, 100000, p.server_prepared_statements);
  std::vector<std::string> extra;
  if (r.textList(*node, path, "track_extra_parameters", extra)) {
    bool ok = true;
    for (std::size_t i = 0; i < extra.size(); ++i) {
      if (!validParameterName(extra[i])) {
        r.problem("proxy.track_extra_parameters[" + std::to_string(i) + "]",
                  "\"" + extra[i] +
                      "\" is not a run-time parameter name; expected letters, digits, '_' and "
                      "'.' (at most 63), e.g. search_path");
        ok = false;
      }
    }
    if (ok) {
      p.track_extra_parameters = std::move(extra);
    }
  }
  r.integer(*node, path, "max_client_conn", 1, 1000000, p.max_client_conn);
  r.integer(*node, path, "default_pool_size", 1, 100000, p.default_pool_size);
  r.integer(*node, path, "min_pool_size", 0, 100000, p.min_pool_size);
  positiveDuration(r, *node, path, "server_connect_timeout", p.server_connect_timeout);
  positiveDuration(r, *node, path, "server_idle_timeout", p.server_idle_timeout);
  positiveDuration(r, *node, path, "server_lifetime", p.server_lifetime);
  positiveDuration(r, *node, path, "query_wait_timeout", p.query_wait_timeout);
  positiveDuration(r, *node, path, "failover_hold_timeout", p.failover_hold_timeout);
  r.byteSize(*node, path, "max_lag_bytes", p.max_lag_bytes);
  positiveDuration(r, *node, path, "max_lag_time", p.max_lag_time);
  r.flag(*node, path, "ro_fallback_to_primary", p.ro_fallback_to_primary);
  r.text(*node, path, "server_reset_query", p.server_reset_query);
  std::uint64_t packet = p.max_packet_size;
  if (r.byteSize(*node, path, "max_packet_size", packet)) {
    if (packet < 16 * 1024 || packet > 1024ull * 1024 * 1024) {
      r.reject(*node, path, "max_packet_size", "a size between 16kB and 1GB");
    } else {
      p.max_packet_size = static_cast<std::uint32_t>(packet);
    }
  }
  std::vector<std::string> rules;
  if (r.textList(*node, path, "hba", rules)) {
    for (std::size_t i = 0; i < rules.size(); ++i) {
      auto rule = parseProxyHbaRule(rules[i]);
      if (rule) {
        p.hba.push_back(std::move(*rule));
      } else {
        r.problem("proxy.hba[" + std::to_string(i) + "]", rule.message());
      }
    }
  }
  r.text(*node, path, "auth_type", p.auth_type);
  r.text(*node, path, "auth_file", p.auth_file);
  r.text(*node, path, "auth_user", p.auth_user);
  r.text(*node, path, "auth_query", p.auth_query);
  r.textList(*node, path, "admin_users", p.admin_users);
  r.textList(*node, path, "stats_users", p.stats_users);
  readProxyTls(r, *node, p);
}

}  // namespace

void readConfig(const YAML::Node& root, ConfigReader& r, Config& config) {
  if (!root.IsDefined() || root.IsNull()) {
    r.problem("(top level)", "the config is empty; expected at least scope, name and data_dir");
    return;
  }
  if (!r.mapping(root, "",
                 {"scope", "name", "data_dir", "log_level", "postgresql", "etcd", "ha", "tags",
                  "restapi", "proxy"})) {
    return;
  }
  r.text(root, "", "scope", config.scope);
  r.text(root, "", "name", config.name);
  r.text(root, "", "data_dir", config.data_dir);
  r.text(root, "", "log_level", config.log_level);
  readPostgres(r, root, config.postgresql);
  readEtcd(r, root, config.etcd);
  readHa(r, root, config.ha);
  readTags(r, root, config.tags);
  readRestApi(r, root, config.restapi);
  readProxy(r, root, config.proxy);
}

}  // namespace keel::config_detail
