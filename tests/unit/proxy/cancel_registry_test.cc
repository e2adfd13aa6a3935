#include "proxy/cancel_registry.h"

#include <gtest/gtest.h>

namespace keel::proxy {
namespace {

pgwire::BackendKeyData serverKey(std::int32_t pid) {
  return {pid, 1234};
}

TEST(CancelRegistryTest, AnIssuedKeyPointsNowhereUntilItsSessionBorrowsAServer) {
  CancelRegistry registry;
  auto key = registry.issue();
  EXPECT_EQ(key.process_id & static_cast<std::int32_t>(CancelRegistry::kForwardedBit), 0);
  ASSERT_NE(registry.slot(key), nullptr);
  EXPECT_FALSE(registry.find(key).has_value());
  EXPECT_EQ(registry.size(), 1u);
}

TEST(CancelRegistryTest, TheSessionsSlotMovesTheKeyFromServerToServer) {
  CancelRegistry registry;
  auto key = registry.issue();
  auto slot = registry.slot(key);
  slot->set("198.18.0.11", 5432, serverKey(101));
  auto target = registry.find(key);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->host, "198.18.0.11");
  EXPECT_EQ(target->port, 5432);
  EXPECT_EQ(target->server_key.process_id, 101);

  slot->set("198.18.0.12", 5433, serverKey(202));  // the next transaction, another backend
  target = registry.find(key);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->host, "198.18.0.12");
  EXPECT_EQ(target->port, 5433);
  EXPECT_EQ(target->server_key.process_id, 202);

  slot->clear();  // between transactions: nothing to cancel
  EXPECT_FALSE(registry.find(key).has_value());
}

TEST(CancelRegistryTest, AForwardedRequestFindsTheKeyWithoutItsForwardedBit) {
  CancelRegistry registry;
  auto key = registry.issue();
  registry.set(key, CancelTarget{"198.18.0.11", 5432, serverKey(7)});
  pgwire::BackendKeyData forwarded = key;
  forwarded.process_id = static_cast<std::int32_t>(static_cast<std::uint32_t>(key.process_id) |
                                                   CancelRegistry::kForwardedBit);
  auto target = registry.find(forwarded);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->server_key.process_id, 7);
}

TEST(CancelRegistryTest, ARemovedKeyIsForgottenAndItsOldSlotChangesNothing) {
  CancelRegistry registry;
  auto key = registry.issue();
  auto slot = registry.slot(key);
  registry.remove(key);
  EXPECT_EQ(registry.slot(key), nullptr);
  slot->set("198.18.0.11", 5432, serverKey(1));
  EXPECT_FALSE(registry.find(key).has_value());
  registry.set(key, CancelTarget{"198.18.0.11", 5432, serverKey(1)});  // not issued: ignored
  EXPECT_FALSE(registry.find(key).has_value());
  EXPECT_EQ(registry.size(), 0u);
}

TEST(CancelRegistryTest, KeysAreDistinct) {
  CancelRegistry registry;
  auto a = registry.issue();
  auto b = registry.issue();
  EXPECT_FALSE(a.process_id == b.process_id && a.secret_key == b.secret_key);
  registry.slot(a)->set("198.18.0.11", 5432, serverKey(1));
  EXPECT_TRUE(registry.find(a).has_value());
  EXPECT_FALSE(registry.find(b).has_value());
}

}  // namespace
}  // namespace keel::proxy
