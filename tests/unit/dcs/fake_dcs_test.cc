#include "dcs/fake_dcs.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "unit/dcs/dcs_contract.h"

namespace keel::dcs {
namespace {

using std::chrono::seconds;

class FakeHarness final : public contract::DcsHarness {
 public:
  Dcs& dcs() override { return dcs_; }
  boost::asio::io_context& io() override { return io_; }
  bool afterLeaseTime(seconds lease_time, const std::function<bool()>& condition) override {
    clock_.advance(lease_time);
    return condition();
  }

 private:
  ManualClock clock_;
  FakeDcs dcs_{clock_};
  boost::asio::io_context io_;
};

using contract::DcsContract;

INSTANTIATE_TEST_SUITE_P(Fake, DcsContract, ::testing::Values(contract::HarnessFactory([] {
                           return std::make_unique<FakeHarness>();
                         })));

class FakeDcsTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  FakeDcs dcs_{clock_};
};

TEST_F(FakeDcsTest, RevisionsStartAtOneAndCountChanges) {
  EXPECT_EQ(dcs_.revision(), 1);
  EXPECT_EQ(*dcs_.putSync("/a", "1"), 2);
  EXPECT_EQ(*dcs_.delSync("/missing"), 2);  // deleting nothing does not bump the revision
  auto txn = dcs_.txnSync(Txn{.success = {Operation::put("/b", "1"), Operation::put("/c", "1")}});
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ(txn->revision, 3);  // one revision for the whole transaction
  EXPECT_EQ(dcs_.getSync("/c")->kvs[0].mod_revision, 3);
}

TEST_F(FakeDcsTest, LeaseExpiresOnlyWhenItsDeadlinePasses) {
  auto lease = dcs_.grantLeaseSync(seconds(5));
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(dcs_.putSync("/leader", "me", lease->id).ok());
  clock_.advance(seconds(4));
  ASSERT_TRUE(dcs_.keepAliveSync(lease->id).ok());
  clock_.advance(seconds(4));  // 8 s after grant, 4 s after the keepalive
  EXPECT_EQ(dcs_.getSync("/leader")->kvs.size(), 1u);
  clock_.advance(seconds(1));
  dcs_.expireLeases();
  EXPECT_TRUE(dcs_.leases().empty());
  auto rev = dcs_.revision();
  auto w = dcs_.watchSync("/", rev);
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->events.size(), 1u);
  EXPECT_EQ(w->events[0].type, WatchEvent::Type::del);
  EXPECT_EQ(w->events[0].kv.key, "/leader");
}

TEST_F(FakeDcsTest, UnavailableFailsEveryCallWithoutApplyingIt) {
  dcs_.setAvailable(false);
  auto put = dcs_.putSync("/a", "1");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.code(), DcsErrc::unavailable);
  EXPECT_EQ(dcs_.grantLeaseSync(seconds(5)).code(), DcsErrc::unavailable);
  dcs_.setAvailable(true);
  EXPECT_TRUE(dcs_.getSync("/a")->kvs.empty());
}

TEST_F(FakeDcsTest, FailNextFailsExactlyThatManyCalls) {
  dcs_.failNext(2, DcsErrc::timeout);
  EXPECT_EQ(dcs_.getSync("/a").code(), DcsErrc::timeout);
  EXPECT_EQ(dcs_.putSync("/a", "1").code(), DcsErrc::timeout);
  EXPECT_TRUE(dcs_.putSync("/a", "1").ok());
}

TEST_F(FakeDcsTest, TxnWithUnknownLeaseIsRejectedWhole) {
  auto r = dcs_.txnSync(Txn{.success = {Operation::put("/a", "1"), Operation::put("/b", "1", 42)}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), DcsErrc::lease_not_found);
  EXPECT_TRUE(dcs_.getSync("/a")->kvs.empty());
}

TEST_F(FakeDcsTest, ValueCompareOnMissingKeyIsFalse) {
  auto r = dcs_.txnSync(Txn{.compare = {Compare{.key = "/a",
                                                .target = Compare::Target::value,
                                                .op = Compare::Op::not_equal,
                                                .value = "x"}}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
}

TEST_F(FakeDcsTest, WatchFromCompactedRevisionReportsCompacted) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(dcs_.putSync("/k", std::to_string(i)).ok());
  }
  dcs_.compact(4);
  auto w = dcs_.watchSync("/", 2);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->compacted);
  w = dcs_.watchSync("/", 4);
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->compacted);
  EXPECT_EQ(w->events.size(), 3u);  // revisions 4, 5, 6
  EXPECT_EQ(w->revision, 6);
}

TEST_F(FakeDcsTest, WatchAheadOfStoreKeepsRequestedPosition) {
  auto w = dcs_.watchSync("/", 100);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->events.empty());
  EXPECT_EQ(w->revision, 99);
}

}  // namespace
}  // namespace keel::dcs
