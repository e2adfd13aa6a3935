// Defaults that depend on other fields, and rules that span fields. Runs after the schema
// read; a field that already failed there is skipped so one mistake yields one message.

#include <algorithm>
#include <cctype>

#include "config/config_reader.h"

namespace keel::config_detail {
namespace {

using std::chrono::milliseconds;

bool onlyChars(const std::string& s, std::string_view extra) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

// A name made of letters, digits and the characters in `extra`; it ends up in DCS keys and
// etcd member names, where anything else needs escaping.
void requireName(ConfigReader& r, const std::string& path, const std::string& value,
                 std::string_view extra, const std::string& what) {
  if (r.failed(path))
    return;
  std::string allowed = "letters, digits";
  for (char ch : extra)
    allowed += std::string(", '") + ch + "'";
  if (value.empty()) {
    r.problem(path, "required: " + what + " (" + allowed + ")");
  } else if (!onlyChars(value, extra)) {
    r.problem(path, "expected only " + allowed + ", got " + quoted(value));
  }
}

void requireAbsolute(ConfigReader& r, const std::string& path, const std::string& value) {
  if (!r.failed(path) && !isAbsolutePath(value)) {
    r.problem(path, "expected an absolute path (starting with '/'), got " + quoted(value));
  }
}

// connect_address defaults to listen, except that a wildcard listen address says nothing
// about where other members can reach this node.
void deriveConnectAddress(ConfigReader& r, const std::string& section, const HostPort& listen,
                          HostPort& connect, std::string_view example,
                          std::string_view listen_key = "listen") {
  std::string listen_path = section + "." + std::string(listen_key);
  std::string connect_path = section + ".connect_address";
  if (r.failed(listen_path) || r.failed(connect_path))
    return;
  if (!connect.host.empty()) {
    if (isWildcard(connect)) {
      r.problem(connect_path,
                "expected an address other members can connect to, not the "
                "wildcard " +
                    quoted(connect.str()));
    }
    return;
  }
  if (isWildcard(listen)) {
    r.problem(connect_path, "required because " + listen_path + " is the wildcard address " +
                                quoted(listen.str()) +
                                "; give the address other members reach "
                                "this node at, e.g. " +
                                quoted(std::string(example)));
    return;
  }
  connect = listen;
}

void validatePostgres(ConfigReader& r, Config& c) {
  PostgresConfig& pg = c.postgresql;
  requireAbsolute(r, "postgresql.bin_dir", pg.bin_dir);
  if (!pg.data_dir.empty()) {
    requireAbsolute(r, "postgresql.data_dir", pg.data_dir);
  } else if (!c.data_dir.empty() && isAbsolutePath(c.data_dir)) {
    pg.data_dir = c.data_dir + "/pgdata";
  }
  deriveConnectAddress(r, "postgresql", pg.listen, pg.connect_address, "10.0.0.5:5432");
  if (pg.run_as.empty() && !r.failed("postgresql.run_as")) {
    r.problem("postgresql.run_as",
              "expected the name of the OS user PostgreSQL runs as "
              "(PostgreSQL refuses to run as root), got \"\"");
  }

  for (const auto& [name, value] : pg.parameters) {
    std::string lowered = name;
    for (char& ch : lowered)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lowered == "synchronous_standby_names") {
      r.problem("postgresql.parameters." + name,
                "Keel sets it on the leader from ha.synchronous_mode (off, on or quorum) and "
                "ha.synchronous_node_count; set those instead");
      continue;
    }
    if (std::find(kManagedParameters.begin(), kManagedParameters.end(), lowered) ==
        kManagedParameters.end()) {
      continue;
    }
    std::string hint;
    if (lowered == "listen_addresses" || lowered == "port") {
      hint = "set postgresql.listen instead";
    } else if (lowered == "data_directory") {
      hint = "set postgresql.data_dir instead";
    } else if (lowered == "hba_file" || lowered == "ident_file") {
      hint = "put client authentication rules in postgresql.pg_hba instead";
    } else if (lowered == "primary_conninfo" || lowered == "primary_slot_name" ||
               lowered == "recovery_target_timeline") {
      hint = "Keel points standbys at the current leader itself";
    } else {
      hint = "remove it";
    }
    r.problem("postgresql.parameters." + name,
              "Keel manages this parameter itself and it cannot be set here; " + hint);
  }

  struct Account {
    const char* role;
    Credentials& credentials;
    const char* why;
  };
  Account accounts[] = {
      {"superuser", pg.superuser, "Keel connects to PostgreSQL as this user"},
      {"replication", pg.replication, "standbys stream WAL and pg_rewind runs as this user"},
  };
  for (const Account& account : accounts) {
    std::string base = std::string("postgresql.authentication.") + account.role;
    if (account.credentials.username.empty() && !r.failed(base + ".username")) {
      r.problem(base + ".username",
                "expected a non-empty user name; set it (" + std::string(account.why) + ")");
    }
    if (account.credentials.password.empty() && !r.failed(base + ".password")) {
      r.problem(base + ".password",
                "expected a non-empty password; set it (" + std::string(account.why) + ")");
    }
  }
  if (!pg.superuser.username.empty() && pg.superuser.username == pg.replication.username) {
    r.problem("postgresql.authentication.replication.username",
              "expected a user other than postgresql.authentication.superuser.username (both "
              "are " +
                  quoted(pg.superuser.username) + "); replication needs its own role");
  }
}

void validateEmbeddedEtcd(ConfigReader& r, const Config& c, EmbeddedEtcdConfig& e) {
  const std::string path = "etcd.embedded";
  // A name taken from the node name was checked there already.
  if (!e.name.empty()) {
    requireName(r, path + ".name", e.name, "_-.", "the etcd member name");
  } else if (!r.failed(path + ".name") && !r.failed("name")) {
    e.name = c.name;
  }
  requireAbsolute(r, path + ".bin", e.bin);
  if (!e.data_dir.empty()) {
    requireAbsolute(r, path + ".data_dir", e.data_dir);
  } else if (isAbsolutePath(c.data_dir)) {
    e.data_dir = c.data_dir + "/etcd";
  }
  if (!r.failed(path + ".listen_client") && isWildcard(e.listen_client)) {
    r.problem(path + ".listen_client",
              "expected a specific address the agent and other members can connect to, not the "
              "wildcard " +
                  quoted(e.listen_client.str()));
  }
  if (e.initial_cluster_token.empty() && !r.failed(path + ".initial_cluster_token")) {
    e.initial_cluster_token = "keel-" + c.scope;
  }

  const std::string cluster_path = path + ".initial_cluster";
  if (!r.failed(cluster_path) && !r.failed(path + ".listen_peer") && !e.name.empty()) {
    if (e.initial_cluster.empty()) {
      if (isWildcard(e.listen_peer)) {
        r.problem(cluster_path,
                  "required because " + path +
                      ".listen_peer is the wildcard "
                      "address " +
                      quoted(e.listen_peer.str()) +
                      "; list each member's "
                      "peer URL, e.g. {" +
                      e.name + ": \"http://10.0.0.5:" + std::to_string(e.listen_peer.port) + "\"}");
      } else {
        e.initial_cluster.emplace(e.name, "http://" + e.listen_peer.str());
      }
    } else if (auto own = e.initial_cluster.find(e.name); own == e.initial_cluster.end()) {
      r.problem(cluster_path, "expected an entry for this member " + quoted(e.name) +
                                  " (etcd.embedded.name) with its peer URL \"http://host:" +
                                  std::to_string(e.listen_peer.port) + "\"");
    } else if (auto url = parseHttpUrl(own->second); url && url->port != e.listen_peer.port) {
      r.problem(cluster_path + "." + e.name, "expected this member's peer URL to use port " +
                                                 std::to_string(e.listen_peer.port) + " of " +
                                                 path + ".listen_peer, got " + quoted(own->second));
    }
  }

  const std::string client_path = path + ".client_urls";
  if (!r.failed(client_path) && !r.failed(cluster_path)) {
    for (const auto& [member, url] : e.client_urls) {
      if (!e.initial_cluster.empty() && !e.initial_cluster.contains(member)) {
        r.problem(client_path + "." + member,
                  "expected a member listed in " + cluster_path + ", got " + quoted(member));
      } else if (member == e.name && !r.failed(path + ".listen_client")) {
        auto address = parseHttpUrl(url);
        if (address && address->port != e.listen_client.port) {
          r.problem(client_path + "." + member, "expected this member's client URL to use port " +
                                                    std::to_string(e.listen_client.port) + " of " +
                                                    path + ".listen_client, got " + quoted(url));
        }
      }
    }
  }

  // etcd refuses to start otherwise: an election timeout must cover several missed
  // heartbeats, and it caps the timeout at 50s.
  const std::string election_path = path + ".election_timeout";
  if (!r.failed(election_path) && !r.failed(path + ".heartbeat_interval")) {
    if (e.election_timeout < 5 * e.heartbeat_interval) {
      r.problem(election_path, "expected at least 5 x " + path + ".heartbeat_interval (" +
                                   formatDuration(5 * e.heartbeat_interval) + "), got " +
                                   quoted(formatDuration(e.election_timeout)));
    } else if (e.election_timeout > std::chrono::seconds(50)) {
      r.problem(election_path, "expected at most 50s (etcd's limit), got " +
                                   quoted(formatDuration(e.election_timeout)));
    }
  }
}

void validateEtcd(ConfigReader& r, Config& c) {
  EtcdConfig& etcd = c.etcd;
  if (!etcd.endpoints.empty() && etcd.embedded) {
    r.problem("etcd.embedded",
              "expected either etcd.endpoints (an external etcd cluster) or etcd.embedded (an "
              "etcd member run by Keel), not both; remove one of them");
    return;
  }
  if (!etcd.endpoints.empty() || r.failed("etcd.endpoints"))
    return;
  if (!etcd.embedded)
    etcd.embedded.emplace();
  validateEmbeddedEtcd(r, c, *etcd.embedded);
}

void validateHa(ConfigReader& r, const HaConfig& ha) {
  if (r.failed("ha.ttl"))
    return;
  if (!r.failed("ha.loop_wait") && ha.loop_wait >= ha.ttl) {
    r.problem("ha.loop_wait", "expected less than ha.ttl (" + formatDuration(ha.ttl) +
                                  ") so the leader renews its lease before it expires, got " +
                                  quoted(formatDuration(ha.loop_wait)));
  }
  if (!r.failed("ha.fence_margin") && ha.fence_margin * 2 >= ha.ttl) {
    r.problem("ha.fence_margin", "expected less than half of ha.ttl (" +
                                     formatDuration(ha.ttl / 2) + "), got " +
                                     quoted(formatDuration(ha.fence_margin)));
  }
}

void validateRestApi(ConfigReader& r, RestApiConfig& api) {
  deriveConnectAddress(r, "restapi", api.listen, api.connect_address, "10.0.0.5:8008");
  if (!api.authentication)
    return;
  if (api.authentication->username.empty() && !r.failed("restapi.authentication.username")) {
    r.problem("restapi.authentication.username",
              "expected a non-empty user name; set it, or remove restapi.authentication");
  }
  if (api.authentication->password.empty() && !r.failed("restapi.authentication.password")) {
    r.problem("restapi.authentication.password",
              "expected a non-empty password; set it, or remove restapi.authentication");
  }
}

void requireOneOf(ConfigReader& r, const std::string& path, const std::string& value,
                  std::initializer_list<std::string_view> allowed) {
  if (r.failed(path) || std::find(allowed.begin(), allowed.end(), value) != allowed.end())
    return;
  std::string list;
  for (auto a : allowed)
    list += (list.empty() ? "" : ", ") + std::string(a);
  r.problem(path, "expected one of " + list + ", got " + quoted(value));
}

void validateProxy(ConfigReader& r, ProxyConfig& p) {
  if (!p.enabled)
    return;
  requireOneOf(r, "proxy.pool_mode", p.pool_mode, {"session", "transaction"});
  if (!r.failed("proxy.min_pool_size") && !r.failed("proxy.default_pool_size") &&
      p.min_pool_size > p.default_pool_size) {
    r.problem("proxy.min_pool_size", "expected at most proxy.default_pool_size (" +
                                         std::to_string(p.default_pool_size) + "), got " +
                                         std::to_string(p.min_pool_size));
  }
  requireOneOf(r, "proxy.auth_type", p.auth_type, {"scram-sha-256", "md5", "trust"});
  if (!p.auth_file.empty())
    requireAbsolute(r, "proxy.auth_file", p.auth_file);
  if (!p.auth_user.empty() && p.auth_query.empty() && !r.failed("proxy.auth_query")) {
    r.problem("proxy.auth_query",
              "expected a query returning (user name, password secret) for $1, since "
              "proxy.auth_user is set");
  }
  auto& tls = p.client_tls;
  requireOneOf(r, "proxy.client_tls.sslmode", tls.sslmode,
               {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"});
  if (!r.failed("proxy.client_tls.sslmode") && tls.sslmode != "disable") {
    for (auto [field, value] : {std::pair<const char*, std::string*>{"cert_file", &tls.cert_file},
                                {"key_file", &tls.key_file}}) {
      std::string path = std::string("proxy.client_tls.") + field;
      if (value->empty() && !r.failed(path)) {
        r.problem(path, "required because proxy.client_tls.sslmode is " + quoted(tls.sslmode) +
                            "; `keel tls generate` writes a CA and a certificate for testing");
      } else if (!value->empty()) {
        requireAbsolute(r, path, *value);
      }
    }
    if ((tls.sslmode == "verify-ca" || tls.sslmode == "verify-full") && tls.ca_file.empty() &&
        !r.failed("proxy.client_tls.ca_file")) {
      r.problem("proxy.client_tls.ca_file", "required because proxy.client_tls.sslmode is " +
                                                quoted(tls.sslmode) +
                                                " (client certificates are checked against it)");
    }
  }
  bool cert_rules = std::any_of(p.hba.begin(), p.hba.end(),
                                [](const ProxyHbaRule& h) { return h.method == "cert"; });
  if (cert_rules && tls.ca_file.empty() && !r.failed("proxy.client_tls.ca_file")) {
    r.problem("proxy.client_tls.ca_file",
              "required because a proxy.hba rule uses the cert method (client certificates are "
              "checked against it)");
  }
  if (!r.failed("proxy.server_tls.sslmode") && p.server_tls.sslmode != "disable") {
    r.problem("proxy.server_tls.sslmode",
              "expected \"disable\": this version of Keel's proxy connects to PostgreSQL without "
              "TLS (keep the agents' network private), got " +
                  quoted(p.server_tls.sslmode));
  }
  deriveConnectAddress(r, "proxy", p.listen_rw, p.connect_address, "10.0.0.5:6432", "listen_rw");
}

// Two of Keel's listeners on one port would fail at start-up with a bare EADDRINUSE.
void checkDistinctPorts(ConfigReader& r, const Config& c) {
  std::vector<std::pair<std::string, const HostPort*>> listeners = {
      {"postgresql.listen", &c.postgresql.listen},
      {"restapi.listen", &c.restapi.listen},
  };
  if (c.proxy.enabled) {
    listeners.emplace_back("proxy.listen_rw", &c.proxy.listen_rw);
    listeners.emplace_back("proxy.listen_ro", &c.proxy.listen_ro);
  }
  if (c.etcd.embedded) {
    listeners.emplace_back("etcd.embedded.listen_client", &c.etcd.embedded->listen_client);
    listeners.emplace_back("etcd.embedded.listen_peer", &c.etcd.embedded->listen_peer);
  }
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const HostPort& a = *listeners[i].second;
      const HostPort& b = *listeners[j].second;
      if (r.failed(listeners[i].first) || r.failed(listeners[j].first))
        continue;
      if (a.port == b.port && (a.host == b.host || isWildcard(a) || isWildcard(b))) {
        r.problem(listeners[i].first,
                  "expected a port not used by " + listeners[j].first + ", got " + quoted(a.str()));
      }
    }
  }
}

}  // namespace

void validateConfig(ConfigReader& r, Config& c) {
  requireName(r, "scope", c.scope, "_-", "the cluster name");
  requireName(r, "name", c.name, "_-.", "this member's name, unique in the cluster");
  if (c.data_dir.empty() && !r.failed("data_dir")) {
    r.problem("data_dir",
              "required: an absolute directory for Keel's state (pgdata and etcd "
              "data go below it by default)");
  } else {
    requireAbsolute(r, "data_dir", c.data_dir);
  }
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error"};
  if (!r.failed("log_level") &&
      std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    r.problem("log_level",
              "expected one of trace, debug, info, warn, error, got " + quoted(c.log_level));
  }
  validatePostgres(r, c);
  validateEtcd(r, c);
  validateHa(r, c.ha);
  validateRestApi(r, c.restapi);
  validateProxy(r, c.proxy);
  checkDistinctPorts(r, c);
}

}  // namespace keel::config_detail
