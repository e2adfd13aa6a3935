#include "pgwire/scram_secret.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "pgwire/auth_crypto.h"
#include "pgwire/scram_client.h"
#include "pgwire/scram_key_cache.h"
#include "pgwire/scram_server.h"

namespace keel::pgwire {
namespace {

// Produced by PostgreSQL 15 (initdb, CREATE ROLE ... PASSWORD, SELECT rolpassword FROM
// pg_authid) with password_encryption = scram-sha-256.
constexpr std::string_view kPgVerifierAlice =
    "SCRAM-SHA-256$4096:DDTL0QZJsmj8/Iql8lo3tg==$c2CZ7e+K3o538nFoRc80M6sJp98HN1mbX1eWfNeAXL4=:"
    "SsDFydJp0mHpBIH2FvvmFxuDMLJjtyXyZmMrJ+KeAFQ=";  // password "correct horse"
// Password "pässwörd" in UTF-8 (already NFKC: PostgreSQL's SASLprep leaves it unchanged).
constexpr std::string_view kPgVerifierCarol =
    "SCRAM-SHA-256$4096:t7eTQ0etnPcgtMs5dD25JQ==$suurqhGN4KRQVExyeVqs7ozXBXmnpSukcyOHNJONYA8=:"
    "8FWRjuXB/mdYcIZcp2i0uw1tMPG4AWhSeLO6Hzz4GMc=";
constexpr std::string_view kPgMd5Bob = "md5a2cc14bcc08bcb211f578153967abd6d";  // "hunter2"

TEST(Base64, RoundTripsAllLengths) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    const std::string encoded = crypto::encodeBase64(bytes);
    const auto decoded = crypto::decodeBase64(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, bytes);
    bytes += static_cast<char>(i * 37 + 200);
  }
  EXPECT_EQ(crypto::encodeBase64("n,,"), "biws");
  EXPECT_EQ(crypto::encodeBase64("f"), "Zg==");
  EXPECT_EQ(crypto::encodeBase64("fo"), "Zm8=");
}

TEST(Base64, RejectsMalformedText) {
  for (const char* bad :
       {"Zg=", "Zg", "Z===", "Zh==", "Zm9=", "Zg==Zg==", "Zm 8", "Zm8\n", "Zm-8", "=Zm8", "Zm=8"}) {
    EXPECT_FALSE(crypto::decodeBase64(bad).has_value()) << bad;
  }
  EXPECT_EQ(*crypto::decodeBase64(""), "");
}

TEST(ScramVerifierFormat, ParsesAndFormatsPostgresVerifier) {
  auto verifier = parseScramVerifier(kPgVerifierAlice);
  ASSERT_TRUE(verifier.ok()) << verifier.message();
  EXPECT_EQ(verifier->iterations, 4096);
  EXPECT_EQ(verifier->salt.size(), 16u);
  EXPECT_EQ(formatScramVerifier(*verifier), kPgVerifierAlice);
}

TEST(ScramVerifierFormat, PasswordReproducesPostgresVerifier) {
  auto verifier = parseScramVerifier(kPgVerifierAlice);
  ASSERT_TRUE(verifier.ok());
  auto mine = makeScramVerifier("correct horse", verifier->salt, verifier->iterations);
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(formatScramVerifier(*mine), kPgVerifierAlice);

  auto carol = parseScramVerifier(kPgVerifierCarol);
  ASSERT_TRUE(carol.ok());
  auto raw = makeScramVerifier("p\xc3\xa4ssw\xc3\xb6rd", carol->salt, carol->iterations);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(formatScramVerifier(*raw), kPgVerifierCarol);
}

TEST(ScramVerifierFormat, PostgresVerifierAuthenticatesAClient) {
  auto verifier = parseScramVerifier(kPgVerifierAlice);
  ASSERT_TRUE(verifier.ok());
  for (const char* password : {"correct horse", "correct horsE"}) {
    ScramServer server = ScramServer::withVerifier("alice", *verifier);
    ScramClient client = ScramClient::withPassword(password);
    auto first = client.clientFirstMessage();
    auto server_first = server.handleClientFirst(kScramSha256, *first);
    ASSERT_TRUE(server_first.ok());
    ASSERT_TRUE(client.handleServerFirst(*server_first).ok());
    const auto& d = *client.pendingDerivation();
    client.provideKeys(*deriveScramKeys(d.password, d.salt, d.iterations));
    auto server_final = server.handleClientFinal(*client.clientFinalMessage());
    EXPECT_EQ(server_final.ok(), std::string(password) == "correct horse") << password;
  }
}

TEST(ScramVerifierFormat, NamesWhatIsWrong) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::string salt = "DDTL0QZJsmj8/Iql8lo3tg==";
  const std::string key = "c2CZ7e+K3o538nFoRc80M6sJp98HN1mbX1eWfNeAXL4=";
  const Case cases[] = {
      {"SCRAM-SHA-256$4096:" + salt + "$" + key, "expected SCRAM-SHA-256$"},
      {"SCRAM-SHA-256$" + salt + "$" + key + ":" + key, "expected SCRAM-SHA-256$"},
      {"SCRAM-SHA-256$abc:" + salt + "$" + key + ":" + key, "iteration count \"abc\""},
      {"SCRAM-SHA-256$0:" + salt + "$" + key + ":" + key, "iteration count 0 is out of range"},
      {"SCRAM-SHA-256$-5:" + salt + "$" + key + ":" + key, "not a positive integer"},
      {"SCRAM-SHA-256$99999999999:" + salt + "$" + key + ":" + key, "out of range"},
      {"SCRAM-SHA-256$:" + salt + "$" + key + ":" + key, "iteration count"},
      {"SCRAM-SHA-256$4096:DDTL0QZJ*mj8/Iql8lo3tg==$" + key + ":" + key,
       "salt is not valid base64"},
      {"SCRAM-SHA-256$4096:$" + key + ":" + key, "salt is empty"},
      {"SCRAM-SHA-256$4096:" + salt + "$c2CZ7e+K$3o538nFoRc80M6sJp98HN1mbX1eWfNeAXL4=:" + key,
       "StoredKey is not valid base64"},
      {"SCRAM-SHA-256$4096:" + salt + "$" + key + ":AAAA",
       "ServerKey decodes to 3 bytes, "
       "expected 32"},
      {"SCRAM-SHA-256$4096:" + salt + "$" + salt + ":" + key, "StoredKey decodes to 16 bytes"},
  };
  for (const auto& c : cases) {
    auto r = parseScramVerifier(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.code(), AuthErrc::bad_secret);
    EXPECT_NE(r.message().find(c.expected), std::string::npos) << r.message();
  }
}

TEST(SecretParsing, TellsKindsApart) {
  auto scram = parseSecret(kPgVerifierAlice);
  ASSERT_TRUE(scram.ok());
  EXPECT_TRUE(std::holds_alternative<ScramVerifier>(*scram));
  EXPECT_EQ(secretKindName(*scram), "SCRAM-SHA-256");

  auto md5 = parseSecret(kPgMd5Bob);
  ASSERT_TRUE(md5.ok());
  ASSERT_TRUE(std::holds_alternative<Md5Secret>(*md5));
  EXPECT_EQ(std::get<Md5Secret>(*md5).hash, kPgMd5Bob);

  auto upper = parseSecret("md5A2CC14BCC08BCB211F578153967ABD6D");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(std::get<Md5Secret>(*upper).hash, kPgMd5Bob);

  for (const char* plain : {"hunter2", "md5", "md5short", "SCRAM-SHA-256", "scram-sha-256$x"}) {
    auto p = parseSecret(plain);
    ASSERT_TRUE(p.ok()) << plain;
    ASSERT_TRUE(std::holds_alternative<PlaintextPassword>(*p)) << plain;
    EXPECT_EQ(std::get<PlaintextPassword>(*p).password, plain);
  }
}

TEST(SecretParsing, MalformedSecretsAreErrors) {
  auto bad_md5 = parseSecret("md5a2cc14bcc08bcb211f578153967abdZZ");
  ASSERT_FALSE(bad_md5.ok());
  EXPECT_NE(bad_md5.message().find("32 hex digits"), std::string::npos);
  auto bad_scram = parseSecret("SCRAM-SHA-256$4096:bad");
  ASSERT_FALSE(bad_scram.ok());
  EXPECT_NE(bad_scram.message().find("SCRAM-SHA-256 verifier"), std::string::npos);
  EXPECT_FALSE(parseSecret("").ok());
}

TEST(SaslPrep, AsciiUnchangedNonAsciiRaw) {
  EXPECT_EQ(saslPrep("pencil \x01"), "pencil \x01");
  EXPECT_EQ(saslPrep("p\xc3\xa4ss"), "p\xc3\xa4ss");
}

TEST(ScramKeyCacheTest, HitsAvoidDerivationAndEvictsOldest) {
  ScramKeyCache cache(2);
  EXPECT_FALSE(cache.find("pw", "salt", 4096).has_value());
  auto keys = cache.getOrDerive("pw", "salt", 4096);
  ASSERT_TRUE(keys.ok());
  auto direct = deriveScramKeys("pw", "salt", 4096);
  EXPECT_EQ(keys->client_key, direct->client_key);
  ASSERT_TRUE(cache.find("pw", "salt", 4096).has_value());
  EXPECT_FALSE(cache.find("pw", "salt", 4097).has_value());
  EXPECT_FALSE(cache.find("pw", "salt2", 4096).has_value());
  // The index is length-prefixed: ("pws", "alt") is another entry than ("pw", "salt").
  EXPECT_FALSE(cache.find("pws", "alt", 4096).has_value());

  ScramKeys fake{};
  cache.insert("a", "s", 1, fake);
  (void)cache.find("pw", "salt", 4096);  // now most recent
  cache.insert("b", "s", 1, fake);       // evicts ("a", "s", 1)
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.find("a", "s", 1).has_value());
  EXPECT_TRUE(cache.find("pw", "salt", 4096).has_value());
  EXPECT_TRUE(cache.find("b", "s", 1).has_value());
}

TEST(ScramKeyCacheTest, SaltForIsStablePerUserAndPassword) {
  ScramKeyCache cache;
  auto a = cache.saltFor("alice", "pw");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), kScramDefaultSaltSize);
  EXPECT_EQ(*cache.saltFor("alice", "pw"), *a);
  EXPECT_NE(*cache.saltFor("bob", "pw"), *a);
  EXPECT_NE(*cache.saltFor("alice", "pw2"), *a);
  ScramKeyCache other;
  EXPECT_NE(*other.saltFor("alice", "pw"), *a);  // random per cache
}

TEST(ScramKeyCacheTest, ConcurrentUse) {
  ScramKeyCache cache(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 200; ++i) {
        ScramKeys keys{};
        keys.client_key[0] = static_cast<unsigned char>(i);
        const std::string password = "p" + std::to_string((i + t) % 16);
        cache.insert(password, "s", 1, keys);
        (void)cache.find(password, "s", 1);
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_LE(cache.size(), 8u);
}

TEST(ScramDerivation, RejectsNonPositiveIterations) {
  auto r = deriveScramKeys("pw", "salt", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), AuthErrc::bad_iteration_count);
  EXPECT_FALSE(makeScramVerifier("pw", "", 4096).ok());
}

}  // namespace
}  // namespace keel::pgwire
