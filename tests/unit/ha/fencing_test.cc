#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "ha/decision.h"
#include "unit/ha/scenario.h"

namespace keel::ha {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using ::testing::HasSubstr;
using namespace keel::ha::testing;

TEST(FencingTest, DeadlineIsLastRenewalSendTimePlusTtlMinusMargin) {
  LocalState l;
  l.lease = 5;
  l.last_renewal_sent = kNow;
  EXPECT_EQ(fenceDeadline(l, kTtl, kMargin), kNow + kTtl - kMargin);
  EXPECT_EQ(fenceDeadline(l, milliseconds(10000), milliseconds(0)), kNow + milliseconds(10000));
}

TEST(FencingTest, NoDeadlineWithoutALeaseOrASuccessfulRenewal) {
  LocalState l;
  l.last_renewal_sent = kNow;
  EXPECT_FALSE(fenceDeadline(l, kTtl, kMargin));
  EXPECT_FALSE(leaseValid(l, kNow, kTtl, kMargin));
  l.lease = 5;
  l.last_renewal_sent.reset();
  EXPECT_FALSE(fenceDeadline(l, kTtl, kMargin));
  EXPECT_FALSE(leaseValid(l, kNow, kTtl, kMargin));
}

TEST(FencingTest, LeaseValidFlipsExactlyAtTheDeadline) {
  ManualClock clock(kNow);
  LocalState l;
  l.lease = 5;
  l.last_renewal_sent = clock.now();
  const SteadyTime deadline = clock.now() + kTtl - kMargin;
  EXPECT_TRUE(leaseValid(l, clock.now(), kTtl, kMargin));
  clock.set(deadline - nanoseconds(1));
  EXPECT_TRUE(leaseValid(l, clock.now(), kTtl, kMargin));
  clock.advance(nanoseconds(1));
  EXPECT_EQ(clock.now(), deadline);
  EXPECT_FALSE(leaseValid(l, clock.now(), kTtl, kMargin));
  clock.advance(milliseconds(1));
  EXPECT_FALSE(leaseValid(l, clock.now(), kTtl, kMargin));
}

TEST(FencingTest, ARenewalMovesTheDeadlineByItsSendTimeNotItsReplyTime) {
  ManualClock clock(kNow);
  LocalState l;
  l.lease = 5;
  l.last_renewal_sent = clock.now();
  const SteadyTime sent = clock.now() + milliseconds(1000);
  clock.set(sent + milliseconds(700));  // the reply comes back late
  l.last_renewal_sent = sent;
  EXPECT_EQ(fenceDeadline(l, kTtl, kMargin), sent + kTtl - kMargin);
  clock.set(sent + kTtl - kMargin - nanoseconds(1));
  EXPECT_TRUE(leaseValid(l, clock.now(), kTtl, kMargin));
  clock.advance(nanoseconds(1));
  EXPECT_FALSE(leaseValid(l, clock.now(), kTtl, kMargin));
}

// The DCS still shows this member as leader (etcd expires the lease no earlier than send + ttl),
// but its own clock is past send + ttl - margin: it must stop writes now.
TEST(FencingTest, RunningPrimaryPastItsDeadlineFencesWhileStillShownAsLeader) {
  ManualClock clock(kNow);
  Scenario s;
  s.leaderIs("b").localIsRunningPrimary().member(primaryRecord("b", 1000));
  s.local.last_renewal_sent = clock.now();
  const SteadyTime deadline = *fenceDeadline(s.local, kTtl, kMargin);

  clock.set(deadline - nanoseconds(1));
  s.now = clock.now();
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  EXPECT_TRUE(holdsLeaderLock(s.input()));

  clock.set(deadline);
  s.now = clock.now();
  d = s.decide();
  EXPECT_EQ(d.action, Action::fence) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("cannot vouch for the leader lease"));
  EXPECT_FALSE(holdsLeaderLock(s.input()));
  EXPECT_TRUE(s.view.leader && s.view.leader->name == "b");

  // Fencing wins over everything but maintenance mode, including a switchover in progress
  // and a stale key or no key at all.
  s.view.failover = FailoverRequest{.leader = "b", .candidate = "a"};
  EXPECT_EQ(s.decide().action, Action::fence);
  s.view.leader.reset();
  EXPECT_EQ(s.decide().action, Action::fence);
  s.leaderIs("a");
  EXPECT_EQ(s.decide().action, Action::fence);
}

TEST(FencingTest, APrimaryThatNeverRenewedFencesAtOnce) {
  Scenario s;
  s.leaderIs("b").localIsRunningPrimary();
  s.local.last_renewal_sent.reset();
  EXPECT_EQ(s.decide().action, Action::fence);
  s.local.last_renewal_sent = kNow;
  s.local.lease = 0;
  EXPECT_EQ(s.decide().action, Action::fence);
}

TEST(FencingTest, ReplicasAndStoppedServersAreNeverFenced) {
  Scenario s;
  s.leaderIs("b").member(primaryRecord("b", 1000));
  s.now = *fenceDeadline(s.local, kTtl, kMargin) + milliseconds(5000);
  // A standby accepts no writes: nothing to fence, whatever the lease.
  Decision d = s.decide();
  EXPECT_NE(d.action, Action::fence) << d.reason;
  EXPECT_NE(d.action, Action::promote) << d.reason;
  s.localIsStopped();
  d = s.decide();
  EXPECT_NE(d.action, Action::fence) << d.reason;
  EXPECT_NE(d.action, Action::start_primary) << d.reason;
  // A replica of another leader with an expired lease stays a replica.
  s.leaderIs("a").member(primaryRecord("a", 1000));
  s.local.pg_running = true;
  s.local.upstream = "a";
  d = s.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
}

TEST(FencingTest, PausedNeverFences) {
  Scenario s;
  s.paused().leaderIs("b").localIsRunningPrimary();
  s.now = *fenceDeadline(s.local, kTtl, kMargin) + milliseconds(1);
  EXPECT_EQ(s.decide().action, Action::none);
}

}  // namespace
}  // namespace keel::ha
