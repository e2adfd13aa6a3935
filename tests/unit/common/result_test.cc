#include "common/result.h"

#include <gtest/gtest.h>

namespace keel {
namespace {

enum class TestErrc { bad };

Result<int, TestErrc> half(int x) {
  if (x % 2 != 0) {
    return fail(TestErrc::bad, "odd number " + std::to_string(x) + "; pass an even one");
  }
  return x / 2;
}

TEST(ResultTest, CarriesValueOrFailure) {
  auto ok = half(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), TestErrc::bad);
  EXPECT_EQ(bad.message(), "odd number 3; pass an even one");
}

TEST(ResultTest, VoidResult) {
  Result<void, TestErrc> ok;
  EXPECT_TRUE(ok.ok());
  Result<void, TestErrc> bad = fail(TestErrc::bad, "no");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "no");
}

}  // namespace
}  // namespace keel
