// One failing case per validation rule: each asserts the origin and exact field path lead the
// line, so users (and `keel config validate`) can find the field.

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "unit/config/config_test_util.h"

namespace keel {
namespace {

using namespace keel::testing;

// The line of `message` about `path`; fails when there is none.
std::string lineFor(const std::string& message, const std::string& path) {
  std::string prefix = "keel.yaml: " + path + ": ";
  std::size_t start = 0;
  while (start <= message.size()) {
    std::size_t end = message.find('\n', start);
    std::string line = message.substr(start, end == std::string::npos ? end : end - start);
    if (line.rfind(prefix, 0) == 0)
      return line;
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  ADD_FAILURE() << "no problem reported at " << path << "; message:\n" << message;
  return "";
}

void expectProblem(const std::string& yaml, const std::string& path,
                   const std::string& fragment = "") {
  std::string line = lineFor(errorsOf(yaml), path);
  if (!fragment.empty()) {
    EXPECT_NE(line.find(fragment), std::string::npos) << line;
  }
}

std::string without(const std::string& key) {
  YAML::Node root = YAML::Load(kMinimalYaml);
  root.remove(key);
  return YAML::Dump(root);
}

TEST(ConfigRules, ExactMessagesFromTheDocs) {
  EXPECT_EQ(errorsOf(withField("postgresql.listen", "localhost")),
            "keel.yaml: postgresql.listen: expected \"host:port\" with a port 1-65535, got "
            "\"localhost\"");
  EXPECT_EQ(errorsOf(withField("ha.ttl", "500ms")),
            "keel.yaml: ha.ttl: expected a duration of whole seconds >= 2s (e.g. \"2s\"), got "
            "\"500ms\"");
}

TEST(ConfigRules, TopLevel) {
  expectProblem(without("scope"), "scope", "required");
  expectProblem(withField("scope", "'my cluster'"), "scope", "got \"my cluster\"");
  expectProblem(withField("scope", "a.b"), "scope", "letters, digits, '_', '-'");
  expectProblem(without("name"), "name", "required");
  expectProblem(withField("name", "node/1"), "name", "got \"node/1\"");
  EXPECT_TRUE(valid(withField("name", "node-1.a_b")));
  expectProblem(without("data_dir"), "data_dir", "required");
  expectProblem(withField("data_dir", "var/lib/keel"), "data_dir", "absolute");
  expectProblem(withField("log_level", "verbose"), "log_level",
                "expected one of trace, debug, info, warn, error, got \"verbose\"");
}

TEST(ConfigRules, SynchronousReplication) {
  for (auto [value, mode] : std::vector<std::pair<std::string, std::string>>{
           {"on", "on"}, {"true", "on"}, {"off", "off"}, {"false", "off"}, {"quorum", "quorum"}}) {
    auto c = loadConfigString(withField("ha.synchronous_mode", value), "keel.yaml");
    ASSERT_TRUE(c) << value << ": " << c.message();
    EXPECT_EQ((*c)->ha.synchronous_mode, mode) << value;
  }
  auto strict =
      loadConfigString(withField("ha",
                                 "{synchronous_mode: quorum, synchronous_mode_strict: true, "
                                 "synchronous_node_count: 2}"),
                       "keel.yaml");
  ASSERT_TRUE(strict) << strict.message();
  EXPECT_TRUE((*strict)->ha.synchronous_mode_strict);
  EXPECT_EQ((*strict)->ha.synchronous_node_count, 2);
  auto nosync = loadConfigString(withField("tags", "{nosync: true}"), "keel.yaml");
  ASSERT_TRUE(nosync) << nosync.message();
  EXPECT_TRUE((*nosync)->tags.nosync);
  EXPECT_TRUE((*nosync)->tags.custom.empty());
  expectProblem(withField("ha.synchronous_mode", "sometimes"), "ha.synchronous_mode",
                "off, on or quorum");
  expectProblem(withField("ha.synchronous_node_count", "0"), "ha.synchronous_node_count");
  expectProblem(withField("postgresql.parameters", "{synchronous_standby_names: '*'}"),
                "postgresql.parameters.synchronous_standby_names", "ha.synchronous_mode");
}

TEST(ConfigRules, WrongYamlTypesNameTheExpectedType) {
  expectProblem(withField("ha", "fast"), "ha", "expected a mapping");
  expectProblem(withField("postgresql.listen", "[a, b]"), "postgresql.listen", "got a list");
  expectProblem(withField("postgresql.run_as", "{a: b}"), "postgresql.run_as",
                "expected a string, got a mapping");
  expectProblem(withField("postgresql.pg_hba", "local all all peer"), "postgresql.pg_hba",
                "expected a list of strings");
  expectProblem(withField("postgresql.pg_hba", "['local all all peer', {a: b}]"),
                "postgresql.pg_hba[1]", "expected a string, got a mapping");
  expectProblem(withField("postgresql.use_pg_rewind", "maybe"), "postgresql.use_pg_rewind",
                "expected a boolean (true or false), got \"maybe\"");
  expectProblem(withField("postgresql.parameters", "[a]"), "postgresql.parameters",
                "expected a mapping");
  expectProblem(withField("postgresql.parameters", "{shared_preload_libraries: [a, b]}"),
                "postgresql.parameters.shared_preload_libraries", "expected a single value");
  expectProblem(withField("tags.zone", "{a: b}"), "tags.zone", "expected a single value");
  expectProblem(withField("etcd.endpoints", "http://127.0.0.1:2379"), "etcd.endpoints",
                "expected a list of strings");
}

TEST(ConfigRules, Postgresql) {
  expectProblem(withField("postgresql.listen", "'127.0.0.1:0'"), "postgresql.listen");
  expectProblem(withField("postgresql.listen", "'0.0.0.0:5432'"), "postgresql.connect_address",
                "required because postgresql.listen is the wildcard address \"0.0.0.0:5432\"");
  expectProblem(withField("postgresql.listen", "'[::]:5432'"), "postgresql.connect_address",
                "required");
  expectProblem(withField("postgresql.connect_address", "'0.0.0.0:5432'"),
                "postgresql.connect_address", "not the wildcard");
  expectProblem(withField("postgresql.connect_address", "nohost"), "postgresql.connect_address",
                "host:port");
  expectProblem(withField("postgresql.bin_dir", "bin"), "postgresql.bin_dir", "absolute");
  expectProblem(withField("postgresql.data_dir", "pgdata"), "postgresql.data_dir", "absolute");
  expectProblem(withField("postgresql.run_as", "''"), "postgresql.run_as");
  expectProblem(withField("postgresql.start_timeout", "0"), "postgresql.start_timeout", "> 0");
  expectProblem(withField("postgresql.stop_timeout", "-5s"), "postgresql.stop_timeout",
                "expected a duration");
}

TEST(ConfigRules, Proxy) {
  expectProblem(withField("proxy.pool_mode", "statement"), "proxy.pool_mode",
                "expected one of session, transaction, got \"statement\"");
  expectProblem(withField("proxy.max_prepared_statements", "0"), "proxy.max_prepared_statements");
  expectProblem(withField("proxy.server_prepared_statements", "-3"),
                "proxy.server_prepared_statements");
  auto transaction = loadConfigString(withField("proxy.pool_mode", "transaction"), "keel.yaml");
  ASSERT_TRUE(transaction) << transaction.message();
  EXPECT_EQ((*transaction)->proxy.pool_mode, "transaction");
  EXPECT_EQ((*transaction)->proxy.max_prepared_statements, 1000);
  EXPECT_EQ((*transaction)->proxy.server_prepared_statements, 100);
  EXPECT_EQ((*transaction)->proxy.track_extra_parameters, std::vector<std::string>{"search_path"});
  auto extra = loadConfigString(
      withField("proxy.track_extra_parameters", "[search_path, myapp.tenant]"), "keel.yaml");
  ASSERT_TRUE(extra) << extra.message();
  EXPECT_EQ((*extra)->proxy.track_extra_parameters,
            (std::vector<std::string>{"search_path", "myapp.tenant"}));
  auto none = loadConfigString(withField("proxy.track_extra_parameters", "[]"), "keel.yaml");
  ASSERT_TRUE(none) << none.message();
  EXPECT_TRUE((*none)->proxy.track_extra_parameters.empty());
  expectProblem(withField("proxy.track_extra_parameters", "[search_path, \"search path\"]"),
                "proxy.track_extra_parameters[1]",
                "\"search path\" is not a run-time parameter name");
  expectProblem(withField("proxy.track_extra_parameters", "search_path"),
                "proxy.track_extra_parameters", "expected a list of strings");
  expectProblem(withField("proxy.workers", "-1"), "proxy.workers");
  expectProblem(withField("proxy.default_pool_size", "0"), "proxy.default_pool_size");
  expectProblem(withField("proxy.min_pool_size", "30"), "proxy.min_pool_size",
                "at most proxy.default_pool_size (20)");
  expectProblem(withField("proxy.auth_type", "password"), "proxy.auth_type",
                "expected one of scram-sha-256, md5, trust, got \"password\"");
  expectProblem(withField("proxy.auth_file", "userlist.txt"), "proxy.auth_file", "absolute");
  expectProblem(withField("proxy.max_packet_size", "1kB"), "proxy.max_packet_size",
                "between 16kB and 1GB");
  expectProblem(withField("proxy.client_tls", "{sslmode: require}"), "proxy.client_tls.cert_file",
                "required because proxy.client_tls.sslmode is \"require\"");
  expectProblem(withField("proxy.client_tls", "{sslmode: sometimes}"), "proxy.client_tls.sslmode",
                "expected one of disable, allow, prefer, require, verify-ca, verify-full");
  expectProblem(withField("proxy.server_tls", "{sslmode: require}"), "proxy.server_tls.sslmode",
                "connects to PostgreSQL without TLS");
  expectProblem(withField("proxy.listen_ro", "'127.0.0.1:6432'"), "proxy.listen_ro",
                "not used by proxy.listen_rw");
  expectProblem(withField("proxy.listen_rw", "'0.0.0.0:6432'"), "proxy.connect_address",
                "required because proxy.listen_rw is the wildcard address");
  expectProblem(withField("proxy.hba", "['host all all 10.0.0.0/8 password']"), "proxy.hba[0]",
                "method: expected scram-sha-256, md5, cert, trust or reject, got \"password\"");
  expectProblem(withField("proxy.hba", "['host all all']"), "proxy.hba[0]", "expected 5 fields");
  expectProblem(withField("proxy.hba", "['host all all 10.0.0.0/33 md5']"), "proxy.hba[0]",
                "IPv4 prefix length 0-32");
  expectProblem(withField("proxy.hba", "['local all all all md5']"), "proxy.hba[0]",
                "connection type");
  expectProblem(withField("proxy.hba", "['host all all all cert']"), "proxy.hba[0]",
                "needs a hostssl rule");
  expectProblem(withField("proxy.hba", "['hostssl all all all cert']"), "proxy.client_tls.ca_file",
                "a proxy.hba rule uses the cert method");
  // A disabled proxy's settings are not checked against each other.
  auto disabled =
      loadConfigString(withField("proxy", "{enabled: false, pool_mode: statement}"), "keel.yaml");
  EXPECT_TRUE(disabled) << disabled.message();
}

TEST(ConfigRules, ProxyHbaRulesParse) {
  auto rule = parseProxyHbaRule("hostssl app,reports alice,bob 10.1.0.0/16 scram-sha-256");
  ASSERT_TRUE(rule) << rule.message();
  EXPECT_EQ(rule->connection, ProxyHbaRule::Connection::hostssl);
  EXPECT_EQ(rule->databases, (std::vector<std::string>{"app", "reports"}));
  EXPECT_EQ(rule->users, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(rule->prefix_bits, 96 + 16);
  EXPECT_EQ(rule->network[12], 10);
  EXPECT_EQ(rule->network[13], 1);
  EXPECT_EQ(rule->network[10], 0xff);
  auto v6 = parseProxyHbaRule("host all all ::1 trust");
  ASSERT_TRUE(v6) << v6.message();
  EXPECT_TRUE(v6->databases.empty());
  EXPECT_EQ(v6->prefix_bits, 128);
  EXPECT_EQ(v6->network[15], 1);
  auto all = parseProxyHbaRule("host all all all reject");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->prefix_bits, 0);
}

TEST(ConfigRules, ManagedParametersAreRejected) {
  for (std::string_view name : kManagedParameters) {
    std::string param(name);
    expectProblem(withField("postgresql.parameters." + param, "x"),
                  "postgresql.parameters." + param, "Keel manages this parameter");
  }
  // GUC names are case-insensitive in PostgreSQL.
  expectProblem(withField("postgresql.parameters.Listen_Addresses", "'*'"),
                "postgresql.parameters.Listen_Addresses", "postgresql.listen");
  EXPECT_TRUE(valid(withField("postgresql.parameters.wal_level", "logical")));
  // A bad entry next to it does not hide a managed one.
  std::string both = errorsOf(withField("postgresql.parameters", "{port: 5433, work_mem: [1]}"));
  lineFor(both, "postgresql.parameters.port");
  lineFor(both, "postgresql.parameters.work_mem");
}

TEST(ConfigRules, Authentication) {
  std::string no_su_password = withField("postgresql.authentication.superuser", "{username: a}");
  expectProblem(no_su_password, "postgresql.authentication.superuser.password",
                "expected a non-empty password; set it");
  std::string no_repl_password = withField("postgresql.authentication.replication.password", "''");
  expectProblem(no_repl_password, "postgresql.authentication.replication.password", "set it");
  expectProblem(withField("postgresql.authentication.superuser.username", "''"),
                "postgresql.authentication.superuser.username", "non-empty user name");
  expectProblem(withField("postgresql.authentication.replication.username", "postgres"),
                "postgresql.authentication.replication.username",
                "other than postgresql.authentication.superuser.username");
  expectProblem(withField("postgresql.authentication.superuser.passwd", "x"),
                "postgresql.authentication.superuser.passwd", "did you mean \"password\"?");

  expectProblem(withField("restapi.authentication", "{username: ops}"),
                "restapi.authentication.password", "non-empty password");
  expectProblem(withField("restapi.authentication", "{password: x}"),
                "restapi.authentication.username", "non-empty user name");
}

TEST(ConfigRules, RestApi) {
  expectProblem(withField("restapi.listen", "'0.0.0.0:8008'"), "restapi.connect_address",
                "required because restapi.listen is the wildcard");
  EXPECT_TRUE(valid(withField("restapi", "{listen: '0.0.0.0:8008', connect_address: 'h:8008'}")));
  expectProblem(withField("restapi.connect_address", "'[::]:8008'"), "restapi.connect_address",
                "not the wildcard");
  expectProblem(withField("restapi.listen", "'127.0.0.1:5432'"), "restapi.listen",
                "expected a port not used by postgresql.listen");
}

TEST(ConfigRules, Etcd) {
  expectProblem(withField("etcd.endpoints", "['https://10.0.0.1:2379']"), "etcd.endpoints[0]",
                "http://host:port");
  expectProblem(withField("etcd.endpoints", "['http://a:2379', 'a:2379']"), "etcd.endpoints[1]");
  expectProblem(withField("etcd", "{endpoints: ['http://a:2379'], embedded: {}}"), "etcd.embedded",
                "not both");
  expectProblem(withField("etcd.request_timeout", "0ms"), "etcd.request_timeout", "> 0");
}

TEST(ConfigRules, EmbeddedEtcd) {
  const std::string p = "etcd.embedded.";
  expectProblem(withField(p + "initial_cluster", "{other: 'http://127.0.0.1:2380'}"),
                "etcd.embedded.initial_cluster", "entry for this member \"node1\"");
  expectProblem(withField(p + "initial_cluster", "{node1: 'http://127.0.0.1:2390'}"),
                "etcd.embedded.initial_cluster.node1", "port 2380");
  expectProblem(withField(p + "initial_cluster", "{node1: '127.0.0.1:2380'}"),
                "etcd.embedded.initial_cluster.node1", "http://host:port");
  expectProblem(withField(p + "listen_peer", "'0.0.0.0:2380'"), "etcd.embedded.initial_cluster",
                "required because etcd.embedded.listen_peer is the wildcard");
  expectProblem(withField(p + "listen_client", "'0.0.0.0:2379'"), "etcd.embedded.listen_client",
                "not the wildcard");
  expectProblem(withField(p + "listen_client", "'127.0.0.1:2380'"), "etcd.embedded.listen_peer",
                "expected a port not used by etcd.embedded.listen_client");
  expectProblem(withField(p + "client_urls", "{ghost: 'http://127.0.0.1:2479'}"),
                "etcd.embedded.client_urls.ghost", "member listed in");
  expectProblem(withField(p + "client_urls", "{node1: 'http://127.0.0.1:2479'}"),
                "etcd.embedded.client_urls.node1", "port 2379");
  expectProblem(withField(p + "election_timeout", "400ms"), "etcd.embedded.election_timeout",
                "at least 5 x etcd.embedded.heartbeat_interval (500ms), got \"400ms\"");
  expectProblem(withField(p + "election_timeout", "60s"), "etcd.embedded.election_timeout",
                "at most 50s");
  expectProblem(withField(p + "heartbeat_interval", "0"), "etcd.embedded.heartbeat_interval");
  expectProblem(withField(p + "name", "'a b'"), "etcd.embedded.name");
  expectProblem(withField(p + "data_dir", "etcd"), "etcd.embedded.data_dir", "absolute");
  expectProblem(withField(p + "bin", "etcd"), "etcd.embedded.bin", "absolute");
  EXPECT_TRUE(valid(withField(p + "election_timeout", "500ms")));
}

TEST(ConfigRules, Ha) {
  expectProblem(withField("ha.ttl", "2.5s"), "ha.ttl", "whole seconds");
  expectProblem(withField("ha.ttl", "1"), "ha.ttl", ">= 2s");
  expectProblem(withField("ha.ttl", "soon"), "ha.ttl", "expected a duration");
  EXPECT_TRUE(valid(withField("ha.ttl", "2")));
  EXPECT_TRUE(valid(withField("ha.ttl", "1m")));
  expectProblem(withField("ha.loop_wait", "2s"), "ha.loop_wait", "less than ha.ttl (2s)");
  expectProblem(withField("ha.loop_wait", "0"), "ha.loop_wait", "> 0");
  expectProblem(withField("ha.retry_timeout", "0s"), "ha.retry_timeout", "> 0");
  expectProblem(withField("ha.fence_margin", "1s"), "ha.fence_margin",
                "less than half of ha.ttl (1s), got \"1s\"");
  expectProblem(withField("ha.fence_margin", "0"), "ha.fence_margin", "> 0");
  expectProblem(withField("ha.maximum_lag_on_failover", "1MiB"), "ha.maximum_lag_on_failover",
                "size in bytes");
  expectProblem(withField("ha.maximum_lag_on_failover", "-1"), "ha.maximum_lag_on_failover");
}

TEST(ConfigRules, Tags) {
  expectProblem(withField("tags.failover_priority", "-1"), "tags.failover_priority",
                "an integer >= 0, got \"-1\"");
  expectProblem(withField("tags.failover_priority", "high"), "tags.failover_priority");
  expectProblem(withField("tags.failover_priority", "99999999999"), "tags.failover_priority");
  expectProblem(withField("tags.nofailover", "2"), "tags.nofailover", "boolean");
  auto config = valid(withField("tags", "{nofailover: yes, failover_priority: 0, rack: 7}"));
  ASSERT_TRUE(config);
  EXPECT_TRUE(config->tags.nofailover);
  EXPECT_EQ(config->tags.failover_priority, 0);
  EXPECT_EQ(config->tags.custom.at("rack"), "7");
}

TEST(ConfigRules, UnknownKeysSuggestTheClosestName) {
  std::string line =
      lineFor(errorsOf(withField("postgresql.lisen", "'127.0.0.1:5432'")), "postgresql.lisen");
  EXPECT_NE(line.find("unknown key \"lisen\" (did you mean \"listen\"?)"), std::string::npos)
      << line;
  EXPECT_NE(line.find("allowed keys in postgresql: bin_dir, data_dir, listen, connect_address"),
            std::string::npos)
      << line;

  expectProblem(withField("ha.tll", "2s"), "ha.tll", "did you mean \"ttl\"?");
  expectProblem(withField("ha.Loop_Wait", "1s"), "ha.Loop_Wait", "did you mean \"loop_wait\"?");
  expectProblem(withField("etcd.endpoint", "[]"), "etcd.endpoint", "did you mean \"endpoints\"?");
  expectProblem(withField("restpi", "{}"), "restpi",
                "did you mean \"restapi\"?); allowed top-level keys: scope, name");

  std::string far =
      lineFor(errorsOf(withField("postgresql.frobnicate", "1")), "postgresql.frobnicate");
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
  EXPECT_NE(far.find("unknown key \"frobnicate\""), std::string::npos) << far;
}

TEST(ConfigRules, DuplicateKeysAreReported) {
  std::string yaml = std::string(kMinimalYaml) + "ha: {ttl: 2s, ttl: 3s}\n";
  expectProblem(yaml, "ha.ttl", "duplicate key");
}

TEST(ConfigRules, EveryProblemIsReportedAtOnce) {
  std::string yaml = R"(scope: demo
name: node1
data_dir: relative/dir
log_level: loud
postgresql:
  listen: localhost
  parameters: {port: 5433}
  authentication:
    superuser: {password: ""}
ha:
  ttl: 500ms
  fence_margin: 0
  lop_wait: 1s
tags:
  failover_priority: -3
)";
  std::string message = errorsOf(yaml);
  for (const char* path :
       {"data_dir", "log_level", "postgresql.listen", "postgresql.parameters.port",
        "postgresql.authentication.superuser.password",
        "postgresql.authentication.replication.password", "ha.ttl", "ha.fence_margin",
        "ha.lop_wait", "tags.failover_priority"}) {
    lineFor(message, path);
  }
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n') + 1, 10) << message;
}

// Found by fuzz/config_fuzzer.cc: a byte that is not UTF-8 (a Latin-1 file, a "\ud800" escape)
// was kept, and printing the config as JSON (`keel config validate`, the member record with the
// tags) threw.
TEST(ConfigRules, TextMustBeUtf8) {
  // Written out rather than through withField(): yaml-cpp's emitter would escape the bytes.
  auto config = [](const std::string& scope, const std::string& postgresql,
                   const std::string& rest) {
    return "scope: " + scope + "\nname: node1\ndata_dir: /var/lib/keel\npostgresql:\n" +
           postgresql +
           "  authentication:\n    superuser: {password: a}\n    replication: {password: b}\n" +
           rest;
  };
  expectProblem(config("demo",
                       "  pg_hba: ['host all \xd6"
                       "all 0/0 md5']\n",
                       ""),
                "postgresql.pg_hba[0]",
                "expected UTF-8 text, got byte 0xd6 at position 10, which is not UTF-8 there; "
                "save the file as UTF-8");
  expectProblem(config("demo", "", "tags: {zone: \"\xff\"}\n"), "tags.zone",
                "byte 0xff at position 1");
  expectProblem(config("demo", "", "tags: {\"\xc0\x80\": a}\n"), "tags",
                "byte 0xc0 at position 1 of a key");
  expectProblem(config("demo", "  parameters: {search_path: \"\xe2\x82\"}\n", ""),
                "postgresql.parameters.search_path", "byte 0xe2 at position 1");
  expectProblem(config("demo", "  parameters: {\"a\xf4\x90\x80\x80\": 1}\n", ""),
                "postgresql.parameters", "byte 0xf4 at position 2 of a key");

  // Characters outside ASCII written as themselves are fine and print as JSON.
  auto zurich = valid(config("demo", "", "tags: {zone: \"Z\xc3\xbcrich \xf0\x9f\x90\x98\"}\n"));
  ASSERT_TRUE(zurich);
  EXPECT_EQ(zurich->tags.custom.at("zone"), "Z\xc3\xbcrich \xf0\x9f\x90\x98");
  EXPECT_NO_THROW((void)toJson(*zurich).dump());
}

TEST(ConfigRules, OneMistakeGivesOneMessage) {
  // A bad ttl must not also make loop_wait/fence_margin complain against the default.
  std::string ttl = errorsOf(withField("ha.ttl", "1s"));
  EXPECT_EQ(std::count(ttl.begin(), ttl.end(), '\n'), 0) << ttl;
  std::string name = errorsOf(withField("name", "'bad name'"));
  EXPECT_EQ(std::count(name.begin(), name.end(), '\n'), 0) << name;
  std::string listen = errorsOf(withField("postgresql.listen", "'0.0.0.0'"));
  EXPECT_EQ(listen.find("connect_address"), std::string::npos) << listen;
}

}  // namespace
}  // namespace keel
