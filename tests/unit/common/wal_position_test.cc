#include "common/wal_position.h"

#include <gtest/gtest.h>

namespace keel {
namespace {

TEST(WalPositionTest, ParsesAndPrintsPostgresFormat) {
  auto p = WalPosition::parse("16/B374D848");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->value, (0x16ULL << 32) | 0xB374D848ULL);
  EXPECT_EQ(p->str(), "16/B374D848");
  EXPECT_EQ(WalPosition::parse("0/0")->value, 0u);
}

TEST(WalPositionTest, RejectsMalformedText) {
  for (const char* bad : {"", "/", "1/", "/1", "x/1", "1/x", "123456789/0", "1/2/3", "1 /2"}) {
    EXPECT_FALSE(WalPosition::parse(bad)) << bad;
  }
}

TEST(WalPositionTest, OrdersByValue) {
  EXPECT_LT(*WalPosition::parse("0/FFFFFFFF"), *WalPosition::parse("1/0"));
}

}  // namespace
}  // namespace keel
