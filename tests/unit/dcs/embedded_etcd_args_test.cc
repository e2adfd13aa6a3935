#include <gtest/gtest.h>

#include <algorithm>

#include "dcs/embedded_etcd.h"

namespace keel::dcs {
namespace {

bool has(const std::vector<std::string>& argv, const std::string& arg) {
  return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

EmbeddedEtcdConfig member() {
  EmbeddedEtcdConfig c;
  c.name = "n2";
  c.data_dir = "/var/lib/keel/etcd/";
  c.listen_client = {"127.0.0.1", 2479};
  c.listen_peer = {"127.0.0.1", 2480};
  c.initial_cluster = {{"n1", "http://127.0.0.1:2380"},
                       {"n2", "http://10.0.0.2:2480"},
                       {"n3", "http://127.0.0.1:2580"}};
  c.heartbeat_interval = std::chrono::milliseconds(150);
  c.election_timeout = std::chrono::milliseconds(1500);
  return c;
}

TEST(EmbeddedEtcdArguments, DescribeTheMemberAndItsCluster) {
  auto argv = embeddedEtcdArguments(member(), "prod");
  ASSERT_TRUE(argv.ok()) << argv.message();
  EXPECT_EQ((*argv)[0], "/usr/bin/etcd");
  EXPECT_TRUE(has(*argv, "--name=n2"));
  EXPECT_TRUE(has(*argv, "--data-dir=/var/lib/keel/etcd/"));
  EXPECT_TRUE(has(*argv, "--listen-client-urls=http://127.0.0.1:2479"));
  EXPECT_TRUE(has(*argv, "--advertise-client-urls=http://127.0.0.1:2479"));
  EXPECT_TRUE(has(*argv, "--listen-peer-urls=http://127.0.0.1:2480"));
  EXPECT_TRUE(has(*argv, "--initial-advertise-peer-urls=http://10.0.0.2:2480"));
  EXPECT_TRUE(has(*argv,
                  "--initial-cluster=n1=http://127.0.0.1:2380,n2=http://10.0.0.2:2480,"
                  "n3=http://127.0.0.1:2580"));
  EXPECT_TRUE(has(*argv, "--initial-cluster-token=keel-prod"));
  EXPECT_TRUE(has(*argv, "--initial-cluster-state=new"));
  EXPECT_TRUE(has(*argv, "--heartbeat-interval=150"));
  EXPECT_TRUE(has(*argv, "--election-timeout=1500"));
  EXPECT_EQ(embeddedEtcdLogPath(member()), "/var/lib/keel/etcd.log");
}

TEST(EmbeddedEtcdArguments, EmptyClusterIsThisMemberAlone) {
  auto c = member();
  c.initial_cluster.clear();
  c.initial_cluster_token = "tok";
  auto argv = embeddedEtcdArguments(c, "prod");
  ASSERT_TRUE(argv.ok());
  EXPECT_TRUE(has(*argv, "--initial-cluster=n2=http://127.0.0.1:2480"));
  EXPECT_TRUE(has(*argv, "--initial-cluster-token=tok"));
}

TEST(EmbeddedEtcdArguments, ClusterWithoutThisMemberIsRefused) {
  auto c = member();
  c.initial_cluster.erase("n2");
  auto argv = embeddedEtcdArguments(c, "prod");
  ASSERT_FALSE(argv.ok());
  EXPECT_NE(argv.message().find("does not list this member"), std::string::npos);
}

}  // namespace
}  // namespace keel::dcs
