// The effective config as JSON, in the same layout as keel.yaml so that what
// `keel config validate` prints can be read back (after putting the passwords back in).

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "config/config_reader.h"

namespace keel {
namespace {

using config_detail::formatDuration;
using nlohmann::json;

constexpr const char* kMasked = "********";

json credentials(const Credentials& c) {
  return json{{"username", c.username}, {"password", kMasked}};
}

json optionalAddress(const HostPort& address) {
  return address.host.empty() ? json(nullptr) : json(address.str());
}

}  // namespace

nlohmann::json toJson(const Config& config) {
  const PostgresConfig& pg = config.postgresql;
  json postgresql = {
      {"bin_dir", pg.bin_dir},
      {"data_dir", pg.data_dir},
      {"listen", pg.listen.str()},
      {"connect_address", optionalAddress(pg.connect_address)},
      {"run_as", pg.run_as},
      {"parameters", json(pg.parameters)},
      {"pg_hba", json(pg.pg_hba)},
      {"authentication",
       {{"superuser", credentials(pg.superuser)}, {"replication", credentials(pg.replication)}}},
      {"use_pg_rewind", pg.use_pg_rewind},
      {"reclone_on_rewind_failure", pg.reclone_on_rewind_failure},
      {"start_timeout", formatDuration(pg.start_timeout)},
      {"stop_timeout", formatDuration(pg.stop_timeout)},
  };

  json etcd = {{"request_timeout", formatDuration(config.etcd.request_timeout)}};
  if (!config.etcd.endpoints.empty())
    etcd["endpoints"] = config.etcd.endpoints;
  if (const auto& e = config.etcd.embedded) {
    etcd["embedded"] = {
        {"name", e->name},
        {"bin", e->bin},
        {"data_dir", e->data_dir},
        {"listen_client", e->listen_client.str()},
        {"listen_peer", e->listen_peer.str()},
        {"initial_cluster", json(e->initial_cluster)},
        {"client_urls", json(e->client_urls)},
        {"initial_cluster_token", e->initial_cluster_token},
        {"heartbeat_interval", formatDuration(e->heartbeat_interval)},
        {"election_timeout", formatDuration(e->election_timeout)},
    };
  }

  const HaConfig& ha = config.ha;
  json tags = json(config.tags.custom);
  tags["nofailover"] = config.tags.nofailover;
  tags["failover_priority"] = config.tags.failover_priority;
  tags["noloadbalance"] = config.tags.noloadbalance;
  tags["nosync"] = config.tags.nosync;

  json restapi = {{"listen", config.restapi.listen.str()},
                  {"connect_address", optionalAddress(config.restapi.connect_address)}};
  if (config.restapi.authentication) {
    restapi["authentication"] = credentials(*config.restapi.authentication);
  }

  const ProxyConfig& p = config.proxy;
  json hba = json::array();
  for (const auto& rule : p.hba)
    hba.push_back(rule.text);
  json proxy = {
      {"enabled", p.enabled},
      {"listen_rw", p.listen_rw.str()},
      {"listen_ro", p.listen_ro.str()},
      {"connect_address", optionalAddress(p.connect_address)},
      {"workers", p.workers},
      {"pool_mode", p.pool_mode},
      {"max_prepared_statements", p.max_prepared_statements},
      {"server_prepared_statements", p.server_prepared_statements},
      {"track_extra_parameters", p.track_extra_parameters},
      {"max_client_conn", p.max_client_conn},
      {"default_pool_size", p.default_pool_size},
      {"min_pool_size", p.min_pool_size},
      {"server_connect_timeout", formatDuration(p.server_connect_timeout)},
      {"server_idle_timeout", formatDuration(p.server_idle_timeout)},
      {"server_lifetime", formatDuration(p.server_lifetime)},
      {"query_wait_timeout", formatDuration(p.query_wait_timeout)},
      {"failover_hold_timeout", formatDuration(p.failover_hold_timeout)},
      {"max_lag_bytes", p.max_lag_bytes},
      {"max_lag_time", formatDuration(p.max_lag_time)},
      {"ro_fallback_to_primary", p.ro_fallback_to_primary},
      {"server_reset_query", p.server_reset_query},
      {"max_packet_size", p.max_packet_size},
      {"hba", std::move(hba)},
      {"auth_type", p.auth_type},
      {"auth_file", p.auth_file},
      {"auth_user", p.auth_user},
      {"auth_query", p.auth_query},
      {"admin_users", p.admin_users},
      {"stats_users", p.stats_users},
      {"client_tls",
       {{"sslmode", p.client_tls.sslmode},
        {"cert_file", p.client_tls.cert_file},
        {"key_file", p.client_tls.key_file},
        {"ca_file", p.client_tls.ca_file}}},
      {"server_tls", {{"sslmode", p.server_tls.sslmode}, {"ca_file", p.server_tls.ca_file}}},
  };

  return json{
      {"scope", config.scope},
      {"name", config.name},
      {"data_dir", config.data_dir},
      {"log_level", config.log_level},
      {"postgresql", std::move(postgresql)},
      {"etcd", std::move(etcd)},
      {"ha",
       {{"ttl", formatDuration(ha.ttl)},
        {"loop_wait", formatDuration(ha.loop_wait)},
        {"retry_timeout", formatDuration(ha.retry_timeout)},
        {"maximum_lag_on_failover", ha.maximum_lag_on_failover},
        {"fence_margin", formatDuration(ha.fence_margin)},
        {"switchover_drain_timeout", formatDuration(ha.switchover_drain_timeout)},
        {"synchronous_mode", ha.synchronous_mode},
        {"synchronous_mode_strict", ha.synchronous_mode_strict},
        {"synchronous_node_count", ha.synchronous_node_count},
        {"primary_start_timeout", formatDuration(ha.primary_start_timeout)},
        {"failsafe_mode", ha.failsafe_mode}}},
      {"tags", std::move(tags)},
      {"restapi", std::move(restapi)},
      {"proxy", std::move(proxy)},
  };
}

}  // namespace keel
