#pragma once

// The DCS contract: one suite of behaviours every Dcs implementation must show. A test binary
// includes this header once and instantiates the suite with a factory of harnesses:
//
//   using keel::dcs::contract::DcsContract;
//   INSTANTIATE_TEST_SUITE_P(Fake, DcsContract,
//                            ::testing::Values(contract::HarnessFactory(makeFake)));
//
// Keys live under a prefix unique to each test, so one etcd can serve the whole suite.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "dcs/dcs.h"

namespace keel::dcs::contract {

class DcsHarness {
 public:
  virtual ~DcsHarness() = default;
  virtual Dcs& dcs() = 0;
  virtual boost::asio::io_context& io() = 0;
  // Lets `lease_time` of lease time pass, then reports whether `condition` holds: the fake
  // advances its clock once; real etcd polls `condition` for up to 3 x lease_time.
  virtual bool afterLeaseTime(std::chrono::seconds lease_time,
                              const std::function<bool()>& condition) = 0;

  // Runs `op` to completion on io(). (co_spawn's completion needs a default-constructible
  // value, which Result is not, hence the optional.)
  template <typename T>
  T run(boost::asio::awaitable<T> op) {
    std::optional<T> out;
    boost::asio::co_spawn(io(), store(std::move(op), &out), [](std::exception_ptr e) {
      if (e)
        std::rethrow_exception(e);
    });
    io().restart();
    io().run();
    return std::move(*out);
  }

 private:
  template <typename T>
  static boost::asio::awaitable<void> store(boost::asio::awaitable<T> op, std::optional<T>* out) {
    out->emplace(co_await std::move(op));
  }
};

using HarnessFactory = std::function<std::unique_ptr<DcsHarness>()>;

class DcsContract : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  void SetUp() override {
    h_ = GetParam()();
    ASSERT_TRUE(h_);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string("/contract/") + info->name() + "/";
  }

  Dcs& dcs() { return h_->dcs(); }
  std::string key(const std::string& name) const { return prefix_ + name; }

  template <typename T>
  T run(boost::asio::awaitable<T> op) {
    return h_->run(std::move(op));
  }

  std::int64_t put(const std::string& name, const std::string& value, LeaseId lease = 0) {
    auto r = run(dcs().put(key(name), value, lease));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
    return r.ok() ? *r : 0;
  }

  std::vector<KeyValue> get(const std::string& name, bool prefix = false) {
    auto r = run(dcs().get(key(name), prefix));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
    return r.ok() ? r->kvs : std::vector<KeyValue>{};
  }

  std::unique_ptr<DcsHarness> h_;
  std::string prefix_;
};

TEST_P(DcsContract, PutThenGetReturnsValueAndRevisions) {
  auto rev = put("a", "hello");
  auto kvs = get("a");
  ASSERT_EQ(kvs.size(), 1u);
  EXPECT_EQ(kvs[0].key, key("a"));
  EXPECT_EQ(kvs[0].value, "hello");
  EXPECT_EQ(kvs[0].mod_revision, rev);
  EXPECT_EQ(kvs[0].create_revision, rev);
  EXPECT_EQ(kvs[0].version, 1);
  auto rev2 = put("a", "again");
  EXPECT_GT(rev2, rev);
  kvs = get("a");
  ASSERT_EQ(kvs.size(), 1u);
  EXPECT_EQ(kvs[0].value, "again");
  EXPECT_EQ(kvs[0].version, 2);
  EXPECT_EQ(kvs[0].create_revision, rev);
  EXPECT_EQ(kvs[0].mod_revision, rev2);
}

TEST_P(DcsContract, GetMissingKeyIsEmptyWithStoreRevision) {
  auto rev = put("other", "x");
  auto r = run(dcs().get(key("missing"), false));
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(r->kvs.empty());
  EXPECT_GE(r->revision, rev);
}

TEST_P(DcsContract, PrefixGetIsSortedAndBounded) {
  put("dir/b", "2");
  put("dir/a", "1");
  put("dir/c/deep", "3");
  put("dis", "outside");  // shares "di" but not "dir/"
  put("dir", "the directory key itself is not under dir/");
  auto kvs = get("dir/", true);
  ASSERT_EQ(kvs.size(), 3u);
  EXPECT_EQ(kvs[0].key, key("dir/a"));
  EXPECT_EQ(kvs[1].key, key("dir/b"));
  EXPECT_EQ(kvs[2].key, key("dir/c/deep"));
}

TEST_P(DcsContract, BinaryKeysAndValuesRoundTrip) {
  std::string value("\0\x01\xff\n\"{}", 7);
  put("bin\xc3\xa9", value);
  auto kvs = get("bin\xc3\xa9");
  ASSERT_EQ(kvs.size(), 1u);
  EXPECT_EQ(kvs[0].value, value);
}

TEST_P(DcsContract, DeleteSingleAndPrefix) {
  put("x", "1");
  put("d/1", "1");
  put("d/2", "2");
  auto r = run(dcs().del(key("x"), false));
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(get("x").empty());
  r = run(dcs().del(key("d/"), true));
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(get("d/", true).empty());
  // Deleting nothing succeeds.
  r = run(dcs().del(key("never"), false));
  EXPECT_TRUE(r.ok());
}

TEST_P(DcsContract, TxnCreateIfAbsentSucceedsOnceOnly) {
  Txn create{.compare = {Compare::absent(key("leader"))},
             .success = {Operation::put(key("leader"), "me")},
             .failure = {Operation::get(key("leader"))}};
  auto first = run(dcs().txn(create));
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_TRUE(first->succeeded);
  ASSERT_EQ(first->ranges.size(), 1u);
  EXPECT_TRUE(first->ranges[0].empty());

  create.success = {Operation::put(key("leader"), "you")};
  auto second = run(dcs().txn(create));
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_FALSE(second->succeeded);
  ASSERT_EQ(second->ranges.size(), 1u);
  ASSERT_EQ(second->ranges[0].size(), 1u);
  EXPECT_EQ(second->ranges[0][0].value, "me");
  EXPECT_EQ(get("leader")[0].value, "me");
}

TEST_P(DcsContract, TxnCompareByValueAndModRevision) {
  auto rev = put("k", "v1");
  auto wrong_value = run(dcs().txn(Txn{.compare = {Compare::valueIs(key("k"), "nope")},
                                       .success = {Operation::put(key("k"), "bad")}}));
  ASSERT_TRUE(wrong_value.ok()) << wrong_value.message();
  EXPECT_FALSE(wrong_value->succeeded);

  auto right_value =
      run(dcs().txn(Txn{.compare = {Compare::valueIs(key("k"), "v1")},
                        .success = {Operation::put(key("k"), "v2"), Operation::get(key("k"))}}));
  ASSERT_TRUE(right_value.ok()) << right_value.message();
  EXPECT_TRUE(right_value->succeeded);
  ASSERT_EQ(right_value->ranges.size(), 2u);
  EXPECT_TRUE(right_value->ranges[0].empty());
  ASSERT_EQ(right_value->ranges[1].size(), 1u);
  EXPECT_EQ(right_value->ranges[1][0].value, "v2");
  EXPECT_GT(right_value->revision, rev);

  auto stale = run(dcs().txn(Txn{.compare = {Compare::modRevisionIs(key("k"), rev)},
                                 .success = {Operation::put(key("k"), "bad")}}));
  ASSERT_TRUE(stale.ok()) << stale.message();
  EXPECT_FALSE(stale->succeeded);

  auto current = get("k")[0].mod_revision;
  auto fresh = run(dcs().txn(Txn{.compare = {Compare::modRevisionIs(key("k"), current)},
                                 .success = {Operation::del(key("k"))}}));
  ASSERT_TRUE(fresh.ok()) << fresh.message();
  EXPECT_TRUE(fresh->succeeded);
  EXPECT_TRUE(get("k").empty());
}

TEST_P(DcsContract, TxnCompareByLease) {
  auto lease = run(dcs().grantLease(std::chrono::seconds(10)));
  ASSERT_TRUE(lease.ok()) << lease.message();
  put("owned", "me", lease->id);
  auto mine = run(dcs().txn(Txn{.compare = {Compare::leaseIs(key("owned"), lease->id)},
                                .success = {Operation::put(key("owned"), "me2", lease->id)}}));
  ASSERT_TRUE(mine.ok()) << mine.message();
  EXPECT_TRUE(mine->succeeded);
  auto other = run(dcs().txn(Txn{.compare = {Compare::leaseIs(key("owned"), lease->id + 1)},
                                 .success = {Operation::del(key("owned"))}}));
  ASSERT_TRUE(other.ok()) << other.message();
  EXPECT_FALSE(other->succeeded);
  auto kvs = get("owned");
  ASSERT_EQ(kvs.size(), 1u);
  EXPECT_EQ(kvs[0].lease, lease->id);
  EXPECT_TRUE(run(dcs().revokeLease(lease->id)).ok());
}

TEST_P(DcsContract, LeaseGrantKeepAliveRevoke) {
  auto lease = run(dcs().grantLease(std::chrono::seconds(10)));
  ASSERT_TRUE(lease.ok()) << lease.message();
  EXPECT_NE(lease->id, 0);
  EXPECT_GE(lease->ttl.count(), 10);
  auto ttl = run(dcs().keepAlive(lease->id));
  ASSERT_TRUE(ttl.ok()) << ttl.message();
  EXPECT_GE(ttl->count(), 9);
  put("a", "1", lease->id);
  put("b", "2", lease->id);
  put("keep", "3");
  ASSERT_TRUE(run(dcs().revokeLease(lease->id)).ok());
  EXPECT_TRUE(get("a").empty());
  EXPECT_TRUE(get("b").empty());
  EXPECT_EQ(get("keep").size(), 1u);
  auto gone = run(dcs().keepAlive(lease->id));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.code(), DcsErrc::lease_not_found) << gone.message();
}

TEST_P(DcsContract, UnknownLeaseIsNotFound) {
  const LeaseId unknown = 0x7eadbeef12345;
  auto ka = run(dcs().keepAlive(unknown));
  ASSERT_FALSE(ka.ok());
  EXPECT_EQ(ka.code(), DcsErrc::lease_not_found) << ka.message();
  auto revoke = run(dcs().revokeLease(unknown));
  ASSERT_FALSE(revoke.ok());
  EXPECT_EQ(revoke.code(), DcsErrc::lease_not_found) << revoke.message();
  auto put_on_it = run(dcs().put(key("x"), "v", unknown));
  ASSERT_FALSE(put_on_it.ok());
  EXPECT_EQ(put_on_it.code(), DcsErrc::lease_not_found) << put_on_it.message();
}

TEST_P(DcsContract, LeaseExpiryDeletesKeys) {
  auto lease = run(dcs().grantLease(std::chrono::seconds(2)));
  ASSERT_TRUE(lease.ok()) << lease.message();
  put("ephemeral", "1", lease->id);
  put("durable", "2");
  EXPECT_TRUE(h_->afterLeaseTime(lease->ttl + std::chrono::seconds(1),
                                 [&] { return get("ephemeral").empty(); }));
  EXPECT_EQ(get("durable").size(), 1u);
  auto ka = run(dcs().keepAlive(lease->id));
  ASSERT_FALSE(ka.ok());
  EXPECT_EQ(ka.code(), DcsErrc::lease_not_found) << ka.message();
}

TEST_P(DcsContract, WatchReturnsPutAndDeleteEventsAfterRevision) {
  auto before = put("unwatched", "x");
  auto rev_put = put("w/a", "1");
  put("elsewhere", "x");
  auto del = run(dcs().del(key("w/a"), false));
  ASSERT_TRUE(del.ok()) << del.message();

  std::vector<WatchEvent> events;
  std::int64_t next = before + 1;
  for (int i = 0; i < 4 && events.size() < 2; ++i) {
    auto w = run(dcs().watch(key("w/"), next, std::chrono::milliseconds(2000)));
    ASSERT_TRUE(w.ok()) << w.message();
    ASSERT_FALSE(w->compacted);
    for (auto& e : w->events)
      events.push_back(e);
    next = w->revision + 1;
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::put);
  EXPECT_EQ(events[0].kv.key, key("w/a"));
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[0].kv.mod_revision, rev_put);
  EXPECT_EQ(events[1].type, WatchEvent::Type::del);
  EXPECT_EQ(events[1].kv.key, key("w/a"));
  EXPECT_EQ(events[1].kv.mod_revision, *del);
  EXPECT_EQ(next, *del + 1);
}

TEST_P(DcsContract, WatchWithNothingNewReturnsEmpty) {
  auto rev = put("w/old", "1");
  auto w = run(dcs().watch(key("w/"), rev + 1, std::chrono::milliseconds(300)));
  ASSERT_TRUE(w.ok()) << w.message();
  EXPECT_TRUE(w->events.empty());
  EXPECT_FALSE(w->compacted);
  EXPECT_GE(w->revision, rev);
}

}  // namespace keel::dcs::contract
