// The YAML layout of keel.yaml (docs/configuration.md): which keys each section accepts, their
// types, and the checks that need only the field itself.

#include <limits>

#include "config/config_reader.h"

namespace keel::config_detail {
namespace {

using std::chrono::milliseconds;

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
                {"ttl", "loop_wait", "retry_timeout", "maximum_lag_on_failover", "fence_margin"});
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
  for (const auto& entry : *node) {
    if (!entry.first.IsScalar())
      continue;  // reported by section()
    const std::string& key = entry.first.Scalar();
    if (key == "nofailover" || key == "failover_priority" || key == "noloadbalance")
      continue;
    if (entry.second.IsScalar()) {
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

}  // namespace

void readConfig(const YAML::Node& root, ConfigReader& r, Config& config) {
  if (!root.IsDefined() || root.IsNull()) {
    r.problem("(top level)", "the config is empty; expected at least scope, name and data_dir");
    return;
  }
  if (!r.mapping(root, "",
                 {"scope", "name", "data_dir", "log_level", "postgresql", "etcd", "ha", "tags",
                  "restapi"})) {
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
}

}  // namespace keel::config_detail
