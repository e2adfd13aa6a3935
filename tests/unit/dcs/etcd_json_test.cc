#include "dcs/etcd_json.h"

#include <gtest/gtest.h>

namespace keel::dcs::etcd_json {
namespace {

using nlohmann::json;

TEST(EtcdJson, Base64RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    auto encoded = base64Encode(bytes);
    EXPECT_EQ(encoded.size() % 4, 0u);
    auto decoded = base64Decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(i * 37));
  }
  EXPECT_EQ(base64Encode("/a/x"), "L2EveA==");
  EXPECT_EQ(*base64Decode("aGVsbG8="), "hello");
}

TEST(EtcdJson, Base64RejectsGarbage) {
  EXPECT_FALSE(base64Decode("a$bc"));
  EXPECT_FALSE(base64Decode("abcde"));
}

TEST(EtcdJson, PrefixRangeEnd) {
  EXPECT_EQ(prefixRangeEnd("/a/"), "/a0");
  EXPECT_EQ(prefixRangeEnd(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(prefixRangeEnd(""), std::string(1, '\0'));
  EXPECT_EQ(prefixRangeEnd("\xff"), std::string(1, '\0'));
}

TEST(EtcdJson, TxnRequestUsesGatewayFieldNames) {
  Txn txn{.compare = {Compare::absent("/l"), Compare::valueIs("/v", "x"),
                      Compare::modRevisionIs("/m", 7), Compare::leaseIs("/s", 9)},
          .success = {Operation::put("/l", "me", 5)},
          .failure = {Operation::get("/p/", true), Operation::del("/d")}};
  auto j = txnRequest(txn);
  EXPECT_EQ(j["compare"][0],
            (json{{"key", "L2w="}, {"target", "VERSION"}, {"result", "EQUAL"}, {"version", "0"}}));
  EXPECT_EQ(j["compare"][1]["target"], "VALUE");
  EXPECT_EQ(j["compare"][1]["value"], "eA==");
  EXPECT_EQ(j["compare"][2]["target"], "MOD");
  EXPECT_EQ(j["compare"][2]["mod_revision"], "7");
  EXPECT_EQ(j["compare"][3]["target"], "LEASE");
  EXPECT_EQ(j["compare"][3]["lease"], "9");
  EXPECT_EQ(j["success"][0]["request_put"]["lease"], "5");
  EXPECT_EQ(j["failure"][0]["request_range"]["range_end"], base64Encode("/p0"));
  EXPECT_FALSE(j["failure"][1]["request_delete_range"].contains("range_end"));
}

TEST(EtcdJson, ParsesRangeWithStringIntegersAndAbsentFields) {
  auto j = json::parse(R"({"header":{"revision":"12"},"kvs":[
      {"key":"L2EveA==","create_revision":"2","mod_revision":"11","version":"3",
       "value":"aGVsbG8=","lease":"77"},
      {"key":"L2IK"}],"count":"2"})");
  auto r = parseRange(j);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->revision, 12);
  ASSERT_EQ(r->kvs.size(), 2u);
  EXPECT_EQ(r->kvs[0].key, "/a/x");
  EXPECT_EQ(r->kvs[0].value, "hello");
  EXPECT_EQ(r->kvs[0].create_revision, 2);
  EXPECT_EQ(r->kvs[0].mod_revision, 11);
  EXPECT_EQ(r->kvs[0].version, 3);
  EXPECT_EQ(r->kvs[0].lease, 77);
  EXPECT_EQ(r->kvs[1].value, "");
  EXPECT_EQ(r->kvs[1].lease, 0);
}

TEST(EtcdJson, MalformedResponsesAreBadResponseNotExceptions) {
  for (const char* text : {R"([])", R"({})", R"({"header":{"revision":"x"}})",
                           R"({"header":{"revision":"1"},"kvs":{}})",
                           R"({"header":{"revision":"1"},"kvs":[{"key":"@@"}]})",
                           R"({"header":{"revision":"1"},"kvs":[{"key":5}]})"}) {
    auto r = parseRange(json::parse(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.code(), DcsErrc::bad_response);
  }
  EXPECT_EQ(parseKeepAlive(json::parse("[1]")).code(), DcsErrc::bad_response);
  EXPECT_EQ(parseTxn(json::parse(R"({"header":{},"responses":5})")).code(), DcsErrc::bad_response);
}

TEST(EtcdJson, TxnResponsesGiveOneRangePerOperation) {
  auto j = json::parse(R"({"header":{"revision":"9"},"succeeded":true,"responses":[
      {"response_put":{"header":{"revision":"9"}}},
      {"response_range":{"header":{"revision":"9"},"kvs":[{"key":"eA==","value":"eQ=="}]}}]})");
  auto r = parseTxn(j);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, 9);
  ASSERT_EQ(r->ranges.size(), 2u);
  EXPECT_TRUE(r->ranges[0].empty());
  EXPECT_EQ(r->ranges[1][0].value, "y");
  auto failed = parseTxn(json::parse(R"({"header":{"revision":"9"}})"));
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->succeeded);
}

TEST(EtcdJson, KeepAliveWithoutTtlMeansLeaseNotFound) {
  auto found = parseKeepAlive(json::parse(R"({"result":{"ID":"5","TTL":"10"}})"));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->count(), 10);
  auto gone = parseKeepAlive(json::parse(R"({"result":{"header":{},"ID":"5"}})"));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.code(), DcsErrc::lease_not_found);
}

TEST(EtcdJson, LeaseGrant) {
  auto g = parseLeaseGrant(json::parse(R"({"header":{},"ID":"4111120194697949704","TTL":"5"})"));
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->id, 4111120194697949704);
  EXPECT_EQ(g->ttl.count(), 5);
  EXPECT_EQ(leaseGrantRequest(std::chrono::seconds(5))["TTL"], "5");
}

TEST(EtcdJson, WatchMessages) {
  auto created =
      parseWatchMessage(json::parse(R"({"result":{"header":{"revision":"3"},"created":true}})"));
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->header_revision, 3);

  auto events = parseWatchMessage(json::parse(R"({"result":{"header":{"revision":"3"},
      "events":[{"kv":{"key":"L2EveA==","create_revision":"2","mod_revision":"2",
      "version":"1","value":"aGVsbG8="}},{"type":"DELETE","kv":{"key":"L2EveA==",
      "mod_revision":"3"}}]}})"));
  ASSERT_TRUE(events.ok()) << events.message();
  ASSERT_EQ(events->events.size(), 2u);
  EXPECT_EQ(events->events[0].type, WatchEvent::Type::put);
  EXPECT_EQ(events->events[1].type, WatchEvent::Type::del);
  EXPECT_EQ(events->events[1].kv.mod_revision, 3);

  auto compacted = parseWatchMessage(json::parse(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"3"}})"));
  ASSERT_TRUE(compacted.ok());
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 3);

  auto error = parseWatchMessage(
      json::parse(R"({"error":{"grpc_code":14,"http_code":503,"message":"no leader"}})"));
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.code(), DcsErrc::rejected);
}

TEST(EtcdJson, GatewayError) {
  auto e = parseGatewayError(json::parse(
      R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, kGrpcNotFound);
  EXPECT_EQ(e->message, "etcdserver: requested lease not found");
  EXPECT_FALSE(parseGatewayError(json::parse(R"({"header":{}})")));
}

// Answers as etcd 3.4.23's gateway gives them.
TEST(EtcdJson, MemberStatus) {
  auto st = parseMemberStatus(json::parse(
      R"({"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"1","raft_term":"2"},"version":"3.4.23","dbSize":"20480","leader":"13668033151171901709","raftIndex":"4","raftTerm":"2","raftAppliedIndex":"4","dbSizeInUse":"16384"})"));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(st->member_id, 13668033151171901709ull);
  EXPECT_EQ(st->leader_id, 13668033151171901709ull);
  EXPECT_EQ(st->raft_index, 4u);
  EXPECT_EQ(st->raft_term, 2u);

  auto leaderless =
      parseMemberStatus(json::parse(R"({"header":{"member_id":"7"},"raftTerm":"3"})"));
  ASSERT_TRUE(leaderless.ok()) << leaderless.message();
  EXPECT_EQ(leaderless->leader_id, 0u);

  auto no_header = parseMemberStatus(json::parse(R"({"leader":"1"})"));
  ASSERT_FALSE(no_header.ok());
  EXPECT_EQ(no_header.code(), DcsErrc::bad_response);
  auto bad_leader = parseMemberStatus(json::parse(R"({"header":{"member_id":"7"},"leader":"x"})"));
  ASSERT_FALSE(bad_leader.ok());
  EXPECT_NE(bad_leader.message().find("leader"), std::string::npos) << bad_leader.message();
}

TEST(EtcdJson, MemberList) {
  auto list = parseMemberList(json::parse(
      R"({"header":{"member_id":"1"},"members":[{"ID":"13668033151171901709","name":"a","peerURLs":["http://127.0.0.1:23801"],"clientURLs":["http://127.0.0.1:23791"]},{"ID":"42","peerURLs":["http://127.0.0.1:23802"]},{"ID":"43","name":"l","isLearner":true}]})"));
  ASSERT_TRUE(list.ok()) << list.message();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, 13668033151171901709ull);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_EQ((*list)[0].client_urls, std::vector<std::string>{"http://127.0.0.1:23791"});
  EXPECT_TRUE((*list)[1].name.empty());  // added, not started yet
  EXPECT_TRUE((*list)[2].learner);

  EXPECT_FALSE(parseMemberList(json::parse(R"({"members":{}})")).ok());
  EXPECT_FALSE(parseMemberList(json::parse(R"({"members":[{"name":"x"}]})")).ok());
  EXPECT_EQ(moveLeaderRequest(13668033151171901709ull).dump(),
            R"({"targetID":"13668033151171901709"})");
}

}  // namespace
}  // namespace keel::dcs::etcd_json
