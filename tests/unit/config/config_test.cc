#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "unit/config/config_test_util.h"

namespace keel {
namespace {

using namespace keel::testing;
using std::chrono::milliseconds;

constexpr const char* kFullYaml = R"(scope: prod-db
name: db1.example
data_dir: /srv/keel
log_level: debug
postgresql:
  bin_dir: /usr/lib/postgresql/15/bin
  data_dir: /srv/pg/15
  listen: 0.0.0.0:5433
  connect_address: 10.0.0.1:5433
  run_as: pguser
  parameters:
    max_connections: 200
    shared_buffers: 1GB
    hot_standby: true
    fsync: "true"
    log_checkpoints: false
    work_mem: '4MB'
  pg_hba:
    - host all all 10.0.0.0/8 scram-sha-256
    - local all all peer
  authentication:
    superuser: {username: admin, password: "s3cret"}
    replication: {username: repl, password: r3pl}
  use_pg_rewind: false
  reclone_on_rewind_failure: no
  start_timeout: 2m
  stop_timeout: 45
etcd:
  request_timeout: 750ms
  embedded:
    name: etcd-a
    bin: /opt/etcd/bin/etcd
    data_dir: /srv/etcd
    listen_client: 10.0.0.1:2379
    listen_peer: 0.0.0.0:2380
    initial_cluster:
      etcd-a: http://10.0.0.1:2380
      etcd-b: http://10.0.0.2:2380/
      etcd-c: http://10.0.0.3:2380
    client_urls:
      etcd-b: http://10.0.0.2:2379
      etcd-c: http://10.0.0.3:2379
    initial_cluster_token: prod-token
    heartbeat_interval: 50ms
    election_timeout: 0.5s
ha:
  ttl: 4s
  loop_wait: 1s
  retry_timeout: 1.5s
  maximum_lag_on_failover: 16MB
  fence_margin: 750ms
tags:
  nofailover: false
  failover_priority: 3
  noloadbalance: true
  clonefrom: true
  zone: eu-1a
restapi:
  listen: 10.0.0.1:8008
  authentication: {username: ops, password: api-secret}
)";

TEST(LoadConfig, FullConfigKeepsEveryField) {
  auto config = valid(kFullYaml);
  ASSERT_TRUE(config);
  const Config& c = *config;
  EXPECT_EQ(c.scope, "prod-db");
  EXPECT_EQ(c.name, "db1.example");
  EXPECT_EQ(c.data_dir, "/srv/keel");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.dcs_prefix(), "/keel/prod-db/");

  const PostgresConfig& pg = c.postgresql;
  EXPECT_EQ(pg.data_dir, "/srv/pg/15");
  EXPECT_EQ(pg.listen.str(), "0.0.0.0:5433");
  EXPECT_EQ(pg.connect_address.str(), "10.0.0.1:5433");
  EXPECT_EQ(pg.run_as, "pguser");
  EXPECT_EQ(pg.parameters, (std::map<std::string, std::string>{{"max_connections", "200"},
                                                               {"shared_buffers", "1GB"},
                                                               {"hot_standby", "on"},
                                                               {"fsync", "true"},
                                                               {"log_checkpoints", "off"},
                                                               {"work_mem", "4MB"}}));
  ASSERT_EQ(pg.pg_hba.size(), 2u);
  EXPECT_EQ(pg.pg_hba[1], "local all all peer");
  EXPECT_EQ(pg.superuser.username, "admin");
  EXPECT_EQ(pg.superuser.password, "s3cret");
  EXPECT_EQ(pg.replication.username, "repl");
  EXPECT_FALSE(pg.use_pg_rewind);
  EXPECT_FALSE(pg.reclone_on_rewind_failure);
  EXPECT_EQ(pg.start_timeout, milliseconds(120000));
  EXPECT_EQ(pg.stop_timeout, milliseconds(45000));

  EXPECT_TRUE(c.etcd.endpoints.empty());
  EXPECT_EQ(c.etcd.request_timeout, milliseconds(750));
  ASSERT_TRUE(c.etcd.embedded);
  const EmbeddedEtcdConfig& e = *c.etcd.embedded;
  EXPECT_EQ(e.name, "etcd-a");
  EXPECT_EQ(e.bin, "/opt/etcd/bin/etcd");
  EXPECT_EQ(e.data_dir, "/srv/etcd");
  EXPECT_EQ(e.listen_peer.str(), "0.0.0.0:2380");
  EXPECT_EQ(e.initial_cluster.at("etcd-b"), "http://10.0.0.2:2380");  // normalized
  EXPECT_EQ(e.initial_cluster_token, "prod-token");
  EXPECT_EQ(e.heartbeat_interval, milliseconds(50));
  EXPECT_EQ(e.election_timeout, milliseconds(500));
  EXPECT_EQ(c.etcd.client_urls(),
            (std::vector<std::string>{"http://10.0.0.1:2379", "http://10.0.0.2:2379",
                                      "http://10.0.0.3:2379"}));

  EXPECT_EQ(c.ha.ttl, milliseconds(4000));
  EXPECT_EQ(c.ha.loop_wait, milliseconds(1000));
  EXPECT_EQ(c.ha.retry_timeout, milliseconds(1500));
  EXPECT_EQ(c.ha.maximum_lag_on_failover, 16u << 20);
  EXPECT_EQ(c.ha.fence_margin, milliseconds(750));

  EXPECT_FALSE(c.tags.nofailover);
  EXPECT_EQ(c.tags.failover_priority, 3);
  EXPECT_TRUE(c.tags.noloadbalance);
  EXPECT_EQ(c.tags.custom,
            (std::map<std::string, std::string>{{"clonefrom", "true"}, {"zone", "eu-1a"}}));

  EXPECT_EQ(c.restapi.listen.str(), "10.0.0.1:8008");
  EXPECT_EQ(c.restapi.connect_address.str(), "10.0.0.1:8008");
  ASSERT_TRUE(c.restapi.authentication);
  EXPECT_EQ(c.restapi.authentication->password, "api-secret");
}

TEST(LoadConfig, MinimalConfigGetsEveryDefault) {
  auto config = valid(kMinimalYaml);
  ASSERT_TRUE(config);
  const Config& c = *config;
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.postgresql.bin_dir, "/usr/lib/postgresql/15/bin");
  EXPECT_EQ(c.postgresql.data_dir, "/var/lib/keel/pgdata");
  EXPECT_EQ(c.postgresql.listen.str(), "127.0.0.1:5432");
  EXPECT_EQ(c.postgresql.connect_address.str(), "127.0.0.1:5432");
  EXPECT_EQ(c.postgresql.run_as, "postgres");
  EXPECT_EQ(c.postgresql.superuser.username, "postgres");
  EXPECT_EQ(c.postgresql.replication.username, "replicator");
  EXPECT_TRUE(c.postgresql.use_pg_rewind);
  EXPECT_TRUE(c.postgresql.reclone_on_rewind_failure);
  EXPECT_EQ(c.ha.ttl, milliseconds(2000));
  EXPECT_EQ(c.ha.loop_wait, milliseconds(500));
  EXPECT_EQ(c.ha.retry_timeout, milliseconds(1000));
  EXPECT_EQ(c.ha.fence_margin, milliseconds(500));
  EXPECT_EQ(c.ha.maximum_lag_on_failover, 1u << 20);
  EXPECT_EQ(c.tags.failover_priority, 1);
  EXPECT_EQ(c.restapi.connect_address.str(), "127.0.0.1:8008");
  EXPECT_FALSE(c.restapi.authentication);

  ASSERT_TRUE(c.etcd.embedded);
  const EmbeddedEtcdConfig& e = *c.etcd.embedded;
  EXPECT_EQ(e.name, "node1");
  EXPECT_EQ(e.bin, "/usr/bin/etcd");
  EXPECT_EQ(e.data_dir, "/var/lib/keel/etcd");
  EXPECT_EQ(e.listen_client.str(), "127.0.0.1:2379");
  EXPECT_EQ(e.listen_peer.str(), "127.0.0.1:2380");
  EXPECT_EQ(e.initial_cluster,
            (std::map<std::string, std::string>{{"node1", "http://127.0.0.1:2380"}}));
  EXPECT_EQ(e.initial_cluster_token, "keel-demo");
  EXPECT_EQ(c.etcd.client_urls(), std::vector<std::string>{"http://127.0.0.1:2379"});
}

TEST(LoadConfig, EmptyEmbeddedSectionAndEmptyEndpointsMeanEmbedded) {
  auto config =
      valid(withField("etcd", "{endpoints: [], embedded: {listen_peer: '127.0.0.1:2480'}}"));
  ASSERT_TRUE(config);
  ASSERT_TRUE(config->etcd.embedded);
  EXPECT_EQ(config->etcd.embedded->initial_cluster.at("node1"), "http://127.0.0.1:2480");
}

TEST(LoadConfig, ExternalEtcdHasNoEmbeddedMember) {
  auto config = valid(withField("etcd.endpoints", "[http://10.0.0.1:2379, 'http://[::1]:2379/']"));
  ASSERT_TRUE(config);
  EXPECT_FALSE(config->etcd.embedded);
  EXPECT_EQ(config->etcd.client_urls(),
            (std::vector<std::string>{"http://10.0.0.1:2379", "http://[::1]:2379"}));
}

TEST(LoadConfig, ToJsonRoundTripsAndMasksPasswords) {
  auto config = valid(kFullYaml);
  ASSERT_TRUE(config);
  nlohmann::json json = toJson(*config);
  std::string dumped = json.dump();
  for (const char* secret : {"s3cret", "r3pl", "api-secret"}) {
    EXPECT_EQ(dumped.find(secret), std::string::npos) << secret;
  }
  EXPECT_EQ(json["postgresql"]["authentication"]["superuser"]["password"], "********");
  EXPECT_EQ(json["ha"]["ttl"], "4s");
  EXPECT_EQ(json["ha"]["fence_margin"], "750ms");

  // JSON is YAML: with the passwords put back, the printed config loads to the same config.
  json["postgresql"]["authentication"]["superuser"]["password"] = "s3cret";
  json["postgresql"]["authentication"]["replication"]["password"] = "r3pl";
  json["restapi"]["authentication"]["password"] = "api-secret";
  auto again = valid(json.dump(2));
  ASSERT_TRUE(again);
  EXPECT_EQ(toJson(*again), toJson(*config));
  EXPECT_EQ(again->postgresql.parameters, config->postgresql.parameters);
  EXPECT_EQ(again->etcd.client_urls(), config->etcd.client_urls());

  auto minimal = valid(kMinimalYaml);
  ASSERT_TRUE(minimal);
  nlohmann::json minimal_json = toJson(*minimal);
  minimal_json["postgresql"]["authentication"]["superuser"]["password"] = "a";
  minimal_json["postgresql"]["authentication"]["replication"]["password"] = "b";
  auto minimal_again = valid(minimal_json.dump());
  ASSERT_TRUE(minimal_again);
  EXPECT_EQ(toJson(*minimal_again), toJson(*minimal));
}

TEST(LoadConfig, SyntaxErrorNamesLineAndColumn) {
  auto result = loadConfigString("scope: demo\nname: node1\npostgresql: [unclosed\n", "keel.yaml");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.code(), ConfigErrc::syntax);
  EXPECT_NE(result.message().find("keel.yaml: line "), std::string::npos) << result.message();
  EXPECT_NE(result.message().find("column"), std::string::npos) << result.message();

  auto indent = loadConfigString("scope: demo\nname: node1\n  bad: indent\n", "keel.yaml");
  ASSERT_FALSE(indent.ok());
  EXPECT_EQ(indent.code(), ConfigErrc::syntax);
  EXPECT_EQ(indent.message().rfind("keel.yaml: line 3, column 6: invalid YAML: ", 0), 0u)
      << indent.message();

  auto tab = loadConfigString("scope: demo\n\tname: x\n", "keel.yaml");
  ASSERT_FALSE(tab.ok());
  EXPECT_EQ(tab.code(), ConfigErrc::syntax);
  EXPECT_NE(tab.message().find("line 2"), std::string::npos) << tab.message();
}

TEST(LoadConfig, EmptyOrNonMappingDocument) {
  EXPECT_NE(errorsOf("").find("keel.yaml: (top level): the config is empty"), std::string::npos);
  EXPECT_NE(errorsOf("# only a comment\n").find("empty"), std::string::npos);
  EXPECT_NE(errorsOf("- a\n- b\n").find("keel.yaml: (top level): expected a mapping"),
            std::string::npos);
  EXPECT_NE(errorsOf("just text").find("got \"just text\""), std::string::npos);
}

TEST(LoadConfigFile, MissingFileIsIoErrorWithPathAndReason) {
  auto result = loadConfigFile("/nonexistent/keel.yaml");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.code(), ConfigErrc::io);
  EXPECT_NE(result.message().find("/nonexistent/keel.yaml"), std::string::npos);
  EXPECT_NE(result.message().find("No such file or directory"), std::string::npos)
      << result.message();
}

TEST(LoadConfigFile, DirectoryIsIoError) {
  auto result = loadConfigFile(::testing::TempDir());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.code(), ConfigErrc::io);
  EXPECT_NE(result.message().find("Is a directory"), std::string::npos) << result.message();
}

TEST(LoadConfigFile, ReadsFileAndNamesItInProblems) {
  std::filesystem::path path =
      std::filesystem::path(::testing::TempDir()) / "keel-config-test.yaml";
  struct Remove {
    std::filesystem::path p;
    ~Remove() { std::filesystem::remove(p); }
  } cleanup{path};
  {
    std::ofstream out(path);
    out << kMinimalYaml;
  }
  auto ok = loadConfigFile(path.string());
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok.value()->name, "node1");

  {
    std::ofstream out(path);
    out << withField("ha.ttl", "500ms");
  }
  auto bad = loadConfigFile(path.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), ConfigErrc::invalid);
  EXPECT_EQ(bad.message().rfind(path.string() + ": ha.ttl: ", 0), 0u) << bad.message();
}

TEST(Examples, ShippedExamplesValidate) {
  std::filesystem::path dir = std::filesystem::path(KEEL_SOURCE_DIR) / "docs" / "examples";
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml")
      continue;
    ++seen;
    auto result = loadConfigFile(entry.path().string());
    EXPECT_TRUE(result.ok()) << result.message();
  }
  EXPECT_GE(seen, 4);
}

TEST(Examples, ThreeNodeEmbeddedClusterAgrees) {
  std::filesystem::path dir = std::filesystem::path(KEEL_SOURCE_DIR) / "docs" / "examples";
  std::map<std::string, std::string> cluster;
  for (const char* file : {"keel-node1.yaml", "keel-node2.yaml", "keel-node3.yaml"}) {
    auto result = loadConfigFile((dir / file).string());
    ASSERT_TRUE(result.ok()) << result.message();
    const EmbeddedEtcdConfig& e = *result.value()->etcd.embedded;
    EXPECT_EQ(e.initial_cluster.size(), 3u);
    if (cluster.empty())
      cluster = e.initial_cluster;
    EXPECT_EQ(e.initial_cluster, cluster) << file;
    EXPECT_EQ(result.value()->etcd.client_urls().size(), 3u);
  }
}

}  // namespace
}  // namespace keel
