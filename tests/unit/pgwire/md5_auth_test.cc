#include "pgwire/md5_auth.h"

#include <gtest/gtest.h>

namespace keel::pgwire {
namespace {

// Expected values computed with Python's hashlib; kBobSecret also matches what PostgreSQL 15
// stored in pg_authid for CREATE ROLE bob PASSWORD 'hunter2' with password_encryption = md5.
constexpr std::string_view kBobSecret = "md5a2cc14bcc08bcb211f578153967abd6d";
constexpr Md5Salt kBobSalt{0x01, 0x02, 0x03, 0x04};
constexpr std::string_view kBobResponse = "md52b402547e7beb0ed221f59c23c78c49a";
constexpr Md5Salt kPostgresSalt{0xde, 0xad, 0xbe, 0xef};
constexpr std::string_view kPostgresSecret = "md54c21b325d75177d5e9b9789a50ab0c9c";  // pencil
constexpr std::string_view kPostgresResponse = "md5ced99751bea390968e795eaedb0a4935";

TEST(Md5Auth, KnownValues) {
  EXPECT_EQ(*md5Secret("hunter2", "bob"), kBobSecret);
  EXPECT_EQ(*md5Response("hunter2", "bob", kBobSalt), kBobResponse);
  EXPECT_EQ(*md5ResponseFromSecret(kBobSecret, kBobSalt), kBobResponse);
  EXPECT_EQ(*md5Secret("pencil", "postgres"), kPostgresSecret);
  EXPECT_EQ(*md5Response("pencil", "postgres", kPostgresSalt), kPostgresResponse);
}

TEST(Md5Auth, ServerVerifiesPlaintextAndMd5Secrets) {
  const Secret plain = PlaintextPassword{"hunter2"};
  const Secret hashed = Md5Secret{std::string(kBobSecret)};
  EXPECT_TRUE(verifyMd5Response(plain, "bob", kBobSalt, kBobResponse).ok());
  EXPECT_TRUE(verifyMd5Response(hashed, "bob", kBobSalt, kBobResponse).ok());

  auto wrong_salt = verifyMd5Response(hashed, "bob", kPostgresSalt, kBobResponse);
  ASSERT_FALSE(wrong_salt.ok());
  EXPECT_EQ(wrong_salt.code(), AuthErrc::wrong_password);
  EXPECT_EQ(wrong_salt.message(), "password authentication failed for user \"bob\"");
  EXPECT_EQ(verifyMd5Response(plain, "alice", kBobSalt, kBobResponse).code(),
            AuthErrc::wrong_password);
  for (const char* garbage : {"", "md5", "hunter2", "md52B402547E7BEB0ED221F59C23C78C49A"}) {
    EXPECT_EQ(verifyMd5Response(hashed, "bob", kBobSalt, garbage).code(), AuthErrc::wrong_password)
        << garbage;
  }
}

TEST(Md5Auth, ScramVerifierCannotDoMd5) {
  auto secret = parseSecret(
      "SCRAM-SHA-256$4096:DDTL0QZJsmj8/Iql8lo3tg==$c2CZ7e+K3o538nFoRc80M6sJp98HN1mbX1eWfNeAXL4=:"
      "SsDFydJp0mHpBIH2FvvmFxuDMLJjtyXyZmMrJ+KeAFQ=");
  ASSERT_TRUE(secret.ok());
  auto verify = verifyMd5Response(*secret, "alice", kBobSalt, kBobResponse);
  ASSERT_FALSE(verify.ok());
  EXPECT_EQ(verify.code(), AuthErrc::incompatible_secret);
  EXPECT_NE(verify.message().find("scram-sha-256"), std::string::npos);
  auto respond = md5ResponseForSecret(*secret, "alice", kBobSalt);
  ASSERT_FALSE(respond.ok());
  EXPECT_EQ(respond.code(), AuthErrc::incompatible_secret);
}

TEST(Md5Auth, ClientResponseFromAnySecretKind) {
  EXPECT_EQ(*md5ResponseForSecret(PlaintextPassword{"hunter2"}, "bob", kBobSalt), kBobResponse);
  EXPECT_EQ(*md5ResponseForSecret(Md5Secret{std::string(kBobSecret)}, "bob", kBobSalt),
            kBobResponse);
  EXPECT_EQ(md5ResponseFromSecret("md5short", kBobSalt).code(), AuthErrc::bad_secret);
}

TEST(Md5Auth, RandomSalts) {
  auto a = makeMd5Salt();
  auto b = makeMd5Salt();
  auto c = makeMd5Salt();
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_FALSE(*a == *b && *b == *c);
}

}  // namespace
}  // namespace keel::pgwire
