#include "pgwire/scram.h"

#include <gtest/gtest.h>

#include <string>

#include "pgwire/auth_crypto.h"
#include "pgwire/md5_auth.h"
#include "pgwire/scram_client.h"
#include "pgwire/scram_key_cache.h"
#include "pgwire/scram_server.h"

namespace keel::pgwire {
namespace {

// RFC 7677 section 3.
constexpr std::string_view kRfcClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kRfcSaltB64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view kRfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kRfcClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kRfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

std::string rfcSalt() {
  return *crypto::decodeBase64(kRfcSaltB64);
}

ScramServer rfcServer() {
  return ScramServer::withPassword("user", "pencil", rfcSalt(), 4096,
                                   ScramServerOptions{std::string(kRfcServerNonce)});
}

// The RFC 7677 credentials as a stored verifier: one PBKDF2 run for the whole test binary.
const ScramVerifier& rfcVerifier() {
  static const ScramVerifier verifier = *makeScramVerifier("pencil", rfcSalt(), 4096);
  return verifier;
}

void deriveFor(ScramServer& server) {
  ASSERT_TRUE(server.pendingDerivation().has_value());
  const auto& d = *server.pendingDerivation();
  auto keys = deriveScramKeys(d.password, d.salt, d.iterations);
  ASSERT_TRUE(keys.ok()) << keys.message();
  server.provideKeys(*keys);
}

void deriveFor(ScramClient& client) {
  ASSERT_TRUE(client.pendingDerivation().has_value());
  const auto& d = *client.pendingDerivation();
  auto keys = deriveScramKeys(d.password, d.salt, d.iterations);
  ASSERT_TRUE(keys.ok()) << keys.message();
  client.provideKeys(*keys);
}

// Runs a whole exchange; returns the failure of the first step that failed, or success.
struct Exchange {
  AuthResult<void> client_result;
  AuthResult<void> server_result;
};

Exchange run(ScramClient& client, ScramServer& server) {
  Exchange out;
  auto first = client.clientFirstMessage();
  if (!first)
    return {first.failure(), {}};
  auto server_first = server.handleClientFirst(kScramSha256, *first);
  if (!server_first)
    return {{}, server_first.failure()};
  if (server.pendingDerivation())
    deriveFor(server);
  if (auto r = client.handleServerFirst(*server_first); !r)
    return {r, {}};
  if (client.pendingDerivation())
    deriveFor(client);
  auto final_message = client.clientFinalMessage();
  if (!final_message)
    return {final_message.failure(), {}};
  auto server_final = server.handleClientFinal(*final_message);
  if (!server_final)
    return {{}, server_final.failure()};
  out.client_result = client.handleServerFinal(*server_final);
  return out;
}

TEST(ScramRfc7677, ServerProducesPublishedMessages) {
  ScramServer server = rfcServer();
  deriveFor(server);
  auto server_first = server.handleClientFirst(kScramSha256, kRfcClientFirst);
  ASSERT_TRUE(server_first.ok()) << server_first.message();
  EXPECT_EQ(*server_first, kRfcServerFirst);
  auto server_final = server.handleClientFinal(kRfcClientFinal);
  ASSERT_TRUE(server_final.ok()) << server_final.message();
  EXPECT_EQ(*server_final, kRfcServerFinal);
  EXPECT_TRUE(server.succeeded());
}

TEST(ScramRfc7677, ClientProducesPublishedMessages) {
  ScramClientOptions options;
  options.client_nonce = std::string(kRfcClientNonce);
  options.sasl_user = "user";
  ScramClient client = ScramClient::withPassword("pencil", options);
  auto first = client.clientFirstMessage();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, kRfcClientFirst);
  ASSERT_TRUE(client.handleServerFirst(kRfcServerFirst).ok());
  EXPECT_EQ(client.iterations(), 4096);
  EXPECT_EQ(client.salt(), rfcSalt());
  // Without keys the exchange cannot go on; the expensive step is the caller's.
  deriveFor(client);
  auto final_message = client.clientFinalMessage();
  ASSERT_TRUE(final_message.ok()) << final_message.message();
  EXPECT_EQ(*final_message, kRfcClientFinal);
  auto done = client.handleServerFinal(kRfcServerFinal);
  EXPECT_TRUE(done.ok()) << done.message();
  EXPECT_TRUE(client.succeeded());
}

TEST(ScramRfc7677, ServerWithVerifierMatchesPassword) {
  auto verifier = makeScramVerifier("pencil", rfcSalt(), 4096);
  ASSERT_TRUE(verifier.ok());
  ScramServer server = ScramServer::withVerifier("user", *verifier,
                                                 ScramServerOptions{std::string(kRfcServerNonce)});
  EXPECT_FALSE(server.pendingDerivation().has_value());
  ASSERT_EQ(*server.handleClientFirst(kScramSha256, kRfcClientFirst), kRfcServerFirst);
  auto server_final = server.handleClientFinal(kRfcClientFinal);
  ASSERT_TRUE(server_final.ok()) << server_final.message();
  EXPECT_EQ(*server_final, kRfcServerFinal);
}

TEST(ScramExchange, ClientDefaultsToEmptyUserNameLikeLibpq) {
  ScramClient client = ScramClient::withPassword("x");
  auto first = client.clientFirstMessage();
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->substr(0, 8), "n,,n=,r=");
  EXPECT_EQ(first->size(), 8u + 24u);  // 18 random bytes in base64
}

TEST(ScramExchange, PlaintextSecret) {
  ScramClient client = ScramClient::withPassword("s3cret");
  ScramServer server = ScramServer::withPassword("alice", "s3cret", "0123456789abcdef");
  auto result = run(client, server);
  EXPECT_TRUE(result.server_result.ok()) << result.server_result.message();
  EXPECT_TRUE(result.client_result.ok()) << result.client_result.message();
  EXPECT_TRUE(server.succeeded());
  EXPECT_TRUE(client.succeeded());
}

TEST(ScramExchange, VerifierSecret) {
  auto verifier = makeScramVerifier("s3cret");
  ASSERT_TRUE(verifier.ok());
  ScramClient client = ScramClient::withPassword("s3cret");
  ScramServer server = ScramServer::withVerifier("alice", *verifier);
  auto result = run(client, server);
  EXPECT_TRUE(result.server_result.ok()) << result.server_result.message();
  EXPECT_TRUE(result.client_result.ok()) << result.client_result.message();
}

TEST(ScramExchange, WrongPasswordFailsWithPostgresMessage) {
  auto verifier = makeScramVerifier("s3cret");
  ASSERT_TRUE(verifier.ok());
  ScramClient client = ScramClient::withPassword("guess");
  ScramServer server = ScramServer::withVerifier("alice", *verifier);
  auto result = run(client, server);
  ASSERT_FALSE(result.server_result.ok());
  EXPECT_EQ(result.server_result.code(), AuthErrc::wrong_password);
  EXPECT_EQ(result.server_result.message(), "password authentication failed for user \"alice\"");
  EXPECT_EQ(sqlstateFor(result.server_result.code()), "28P01");
  EXPECT_FALSE(server.passthroughKeys().has_value());
  // The exchange is over: nothing more is accepted.
  EXPECT_EQ(server.handleClientFinal("c=biws,r=x,p=x").code(), AuthErrc::out_of_order);
}

TEST(ScramExchange, PassthroughKeysAuthenticateWithoutPlaintext) {
  auto verifier = makeScramVerifier("s3cret");
  ASSERT_TRUE(verifier.ok());
  // A client logs in to Keel...
  ScramClient app = ScramClient::withPassword("s3cret");
  ScramServer keel_front = ScramServer::withVerifier("alice", *verifier);
  ASSERT_TRUE(run(app, keel_front).server_result.ok());
  ASSERT_TRUE(keel_front.passthroughKeys().has_value());
  auto expected = deriveScramKeys("s3cret", verifier->salt, verifier->iterations);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(keel_front.passthroughKeys()->client_key, expected->client_key);
  EXPECT_EQ(keel_front.passthroughKeys()->server_key, expected->server_key);

  // ...and Keel logs in to a server holding the same verifier with the recovered keys.
  ScramClient keel_back = ScramClient::withKeys(*keel_front.passthroughKeys());
  ScramServer postgres = ScramServer::withVerifier("alice", *verifier);
  auto result = run(keel_back, postgres);
  EXPECT_TRUE(result.server_result.ok()) << result.server_result.message();
  EXPECT_TRUE(result.client_result.ok()) << result.client_result.message();
  EXPECT_FALSE(keel_back.pendingDerivation().has_value());
}

TEST(ScramExchange, PassthroughKeysRefuseAVerifierWithAnotherSalt) {
  auto verifier = makeScramVerifier("s3cret", "salt-one", 4096);
  auto other = makeScramVerifier("s3cret", "salt-two", 4096);
  ASSERT_TRUE(verifier.ok() && other.ok());
  ScramClient app = ScramClient::withPassword("s3cret");
  ScramServer keel_front = ScramServer::withVerifier("alice", *verifier);
  ASSERT_TRUE(run(app, keel_front).server_result.ok());
  ScramClient keel_back = ScramClient::withKeys(*keel_front.passthroughKeys());
  ScramServer postgres = ScramServer::withVerifier("alice", *other);
  auto result = run(keel_back, postgres);
  ASSERT_FALSE(result.client_result.ok());
  EXPECT_EQ(result.client_result.code(), AuthErrc::incompatible_secret);
  EXPECT_NE(result.client_result.message().find("different salt"), std::string::npos);
}

TEST(ScramExchange, MockServerLooksNormalAndFailsLikeAWrongPassword) {
  const std::string mock_key(32, 'k');
  ScramServer mock = ScramServer::mock("ghost", mock_key);
  EXPECT_TRUE(mock.isMock());
  EXPECT_FALSE(mock.pendingDerivation().has_value());
  ScramClient client = ScramClient::withPassword("anything");
  auto result = run(client, mock);
  ASSERT_FALSE(result.server_result.ok());
  EXPECT_EQ(result.server_result.code(), AuthErrc::wrong_password);
  EXPECT_EQ(result.server_result.message(), "password authentication failed for user \"ghost\"");
  // The salt is stable per user (a missing user looks like one with a stored verifier) and
  // differs between users.
  EXPECT_EQ(client.iterations(), kScramDefaultIterations);
  EXPECT_EQ(client.salt().size(), kScramDefaultSaltSize);
  ScramClient again = ScramClient::withPassword("anything");
  ScramServer mock_again = ScramServer::mock("ghost", mock_key);
  (void)run(again, mock_again);
  EXPECT_EQ(again.salt(), client.salt());
  ScramClient other = ScramClient::withPassword("anything");
  ScramServer mock_other = ScramServer::mock("phantom", mock_key);
  (void)run(other, mock_other);
  EXPECT_NE(other.salt(), client.salt());
}

TEST(ScramServerFor, PicksTheExchangeForEachSecretKind) {
  const std::string mock_key(32, 'k');
  ScramKeyCache cache;

  // A stored verifier is used as is: no derivation, and the right password succeeds.
  const Secret verifier = rfcVerifier();
  auto from_verifier = scramServerFor("user", &verifier, mock_key, cache);
  ASSERT_TRUE(from_verifier.ok()) << from_verifier.message();
  EXPECT_FALSE(from_verifier->isMock());
  EXPECT_FALSE(from_verifier->pendingDerivation().has_value());
  ScramClient pencil = ScramClient::withPassword("pencil");
  auto verified = run(pencil, *from_verifier);
  EXPECT_TRUE(verified.server_result.ok()) << verified.server_result.message();
  EXPECT_TRUE(verified.client_result.ok()) << verified.client_result.message();
  EXPECT_TRUE(from_verifier->succeeded());

  // A plaintext password gets the cache's stable salt; a miss leaves the derivation to the
  // caller, whose result, once inserted, makes the next exchange for that user derivation-free.
  const Secret plaintext = PlaintextPassword{"s3cret"};
  const auto salt = cache.saltFor("alice", "s3cret");
  ASSERT_TRUE(salt.ok()) << salt.message();
  auto miss = scramServerFor("alice", &plaintext, mock_key, cache);
  ASSERT_TRUE(miss.ok()) << miss.message();
  EXPECT_FALSE(miss->isMock());
  ASSERT_TRUE(miss->pendingDerivation().has_value());
  const ScramDerivation derivation = *miss->pendingDerivation();
  EXPECT_EQ(derivation.password, "s3cret");
  EXPECT_EQ(derivation.salt, *salt);
  EXPECT_EQ(derivation.iterations, kScramDefaultIterations);
  auto keys = cache.getOrDerive(derivation.password, derivation.salt, derivation.iterations);
  ASSERT_TRUE(keys.ok()) << keys.message();
  miss->provideKeys(*keys);
  ScramClient alice = ScramClient::withPassword("s3cret");
  EXPECT_TRUE(run(alice, *miss).server_result.ok());
  EXPECT_EQ(alice.salt(), *salt);

  auto hit = scramServerFor("alice", &plaintext, mock_key, cache);
  ASSERT_TRUE(hit.ok()) << hit.message();
  EXPECT_FALSE(hit->pendingDerivation().has_value());
  ScramClient alice_again = ScramClient::withPassword("s3cret");
  auto again = run(alice_again, *hit);
  EXPECT_TRUE(again.server_result.ok()) << again.server_result.message();
  EXPECT_EQ(alice_again.salt(), *salt);
  // Another user with the same password gets another salt.
  auto bob = scramServerFor("bob", &plaintext, mock_key, cache);
  ASSERT_TRUE(bob.ok());
  ASSERT_TRUE(bob->pendingDerivation().has_value());
  EXPECT_NE(bob->pendingDerivation()->salt, *salt);

  // An md5 secret cannot serve SCRAM and an unknown user has no secret: both get the mock
  // exchange, which fails as a wrong password does, even with the right password.
  auto md5 = md5Secret("s3cret", "carol");
  ASSERT_TRUE(md5.ok()) << md5.message();
  const Secret md5_secret = Md5Secret{*md5};
  ScramClient wrong = ScramClient::withPassword("guess");
  ScramServer real = ScramServer::withVerifier("carol", rfcVerifier());
  const auto wrong_result = run(wrong, real).server_result;
  ASSERT_FALSE(wrong_result.ok());
  for (const Secret* secret : {&md5_secret, static_cast<const Secret*>(nullptr)}) {
    auto mocked = scramServerFor("carol", secret, mock_key, cache);
    ASSERT_TRUE(mocked.ok()) << mocked.message();
    EXPECT_TRUE(mocked->isMock());
    EXPECT_FALSE(mocked->pendingDerivation().has_value());
    ScramClient carol = ScramClient::withPassword("s3cret");
    const auto result = run(carol, *mocked).server_result;
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.code(), AuthErrc::wrong_password);
    EXPECT_EQ(result.code(), wrong_result.code());
    EXPECT_EQ(result.message(), wrong_result.message());
    EXPECT_FALSE(mocked->passthroughKeys().has_value());
  }
}

TEST(ScramExchange, ChooseMechanism) {
  auto chosen = ScramClient::chooseMechanism({"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(*chosen, "SCRAM-SHA-256");
  auto none = ScramClient::chooseMechanism({"SCRAM-SHA-256-PLUS"});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.code(), AuthErrc::unsupported);
  EXPECT_EQ(ScramServer::mechanisms(), std::vector<std::string>{"SCRAM-SHA-256"});
}

// --- Server: refusals --------------------------------------------------------------------

AuthResult<std::string> serverFirst(std::string_view message,
                                    std::string_view mechanism = kScramSha256) {
  ScramServer server = rfcServer();
  return server.handleClientFirst(mechanism, message);
}

TEST(ScramServerRefuses, ChannelBindingRequests) {
  auto p = serverFirst("p=tls-server-end-point,,n=,r=abc");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.code(), AuthErrc::unsupported);
  EXPECT_NE(p.message().find("channel binding"), std::string::npos);
  auto plus = serverFirst("n,,n=,r=abc", kScramSha256Plus);
  ASSERT_FALSE(plus.ok());
  EXPECT_EQ(plus.code(), AuthErrc::unsupported);
  EXPECT_EQ(serverFirst("n,,n=,r=abc", "PLAIN").code(), AuthErrc::unsupported);
  // "y": the client could bind but thinks we cannot; fine since Keel does not offer -PLUS.
  EXPECT_TRUE(serverFirst("y,,n=,r=abc").ok());
}

TEST(ScramServerRefuses, ExtensionsAuthzidAndBadNonces) {
  EXPECT_EQ(serverFirst("n,,m=ext,n=,r=abc").code(), AuthErrc::unsupported);
  EXPECT_EQ(serverFirst("n,a=admin,n=,r=abc").code(), AuthErrc::unsupported);
  EXPECT_EQ(serverFirst("n,,n=,r=").code(), AuthErrc::malformed_message);
  EXPECT_EQ(serverFirst(std::string("n,,n=,r=ab\x01", 11)).code(), AuthErrc::malformed_message);
  EXPECT_EQ(serverFirst("n,,r=abc").code(), AuthErrc::malformed_message);
  EXPECT_EQ(serverFirst("n,,n=").code(), AuthErrc::malformed_message);
  EXPECT_EQ(serverFirst("x,,n=,r=abc").code(), AuthErrc::malformed_message);
  EXPECT_EQ(serverFirst("n,").code(), AuthErrc::malformed_message);
  EXPECT_EQ(serverFirst("").code(), AuthErrc::malformed_message);
  EXPECT_EQ(serverFirst(std::string(kScramMaxMessageSize + 1, 'a')).code(),
            AuthErrc::malformed_message);
  // Optional extensions after the nonce are ignored (RFC 5802 5.1).
  EXPECT_TRUE(serverFirst("n,,n=,r=abc,x=whatever").ok());
}

class ScramServerFinal : public ::testing::Test {
 protected:
  void SetUp() override {
    deriveFor(server_);
    ASSERT_TRUE(server_.handleClientFirst(kScramSha256, kRfcClientFirst).ok());
  }
  ScramServer server_ = rfcServer();
};

TEST_F(ScramServerFinal, TamperedProof) {
  std::string message(kRfcClientFinal);
  message[message.size() - 5] = message[message.size() - 5] == 'A' ? 'B' : 'A';
  auto r = server_.handleClientFinal(message);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), AuthErrc::wrong_password);
}

TEST_F(ScramServerFinal, WrongNonce) {
  auto r = server_.handleClientFinal(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), AuthErrc::nonce_mismatch);
}

TEST_F(ScramServerFinal, WrongChannelBinding) {
  // eSws = base64("y,,") while the client-first said "n,,".
  auto r = server_.handleClientFinal(
      "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), AuthErrc::channel_binding_mismatch);
}

TEST_F(ScramServerFinal, BadBase64Proof) {
  auto r = server_.handleClientFinal(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzb*apW");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), AuthErrc::malformed_message);
  EXPECT_NE(r.message().find("base64"), std::string::npos);
}

TEST_F(ScramServerFinal, ShortProof) {
  auto r = server_.handleClientFinal(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), AuthErrc::malformed_message);
}

TEST_F(ScramServerFinal, MissingOrMisplacedProof) {
  EXPECT_EQ(server_.handleClientFinal("c=biws,r=x").code(), AuthErrc::malformed_message);
}

TEST_F(ScramServerFinal, TruncatedMessage) {
  const std::string full(kRfcClientFinal);
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    ScramServer server = ScramServer::withVerifier(
        "user", rfcVerifier(), ScramServerOptions{std::string(kRfcServerNonce)});
    ASSERT_TRUE(server.handleClientFirst(kScramSha256, kRfcClientFirst).ok());
    auto r = server.handleClientFinal(full.substr(0, cut));
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
  }
}

TEST(ScramServerOrder, KeysMustBeProvidedForPlaintextSecrets) {
  ScramServer server = rfcServer();
  ASSERT_TRUE(server.handleClientFirst(kScramSha256, kRfcClientFirst).ok());
  auto r = server.handleClientFinal(kRfcClientFinal);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), AuthErrc::out_of_order);
}

TEST(ScramServerOrder, FinalBeforeFirstAndFirstTwice) {
  ScramServer server = rfcServer();
  EXPECT_EQ(server.handleClientFinal(kRfcClientFinal).code(), AuthErrc::out_of_order);
  ScramServer twice = rfcServer();
  ASSERT_TRUE(twice.handleClientFirst(kScramSha256, kRfcClientFirst).ok());
  EXPECT_EQ(twice.handleClientFirst(kScramSha256, kRfcClientFirst).code(), AuthErrc::out_of_order);
}

// --- Client: refusals --------------------------------------------------------------------

ScramClient rfcClient() {
  ScramClientOptions options;
  options.client_nonce = std::string(kRfcClientNonce);
  options.sasl_user = "user";
  ScramClient client = ScramClient::withPassword("pencil", options);
  EXPECT_TRUE(client.clientFirstMessage().ok());
  return client;
}

TEST(ScramClientRefuses, ServerFirstProblems) {
  struct Case {
    std::string message;
    AuthErrc code;
  };
  const Case cases[] = {
      {"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", AuthErrc::nonce_mismatch},
      {"r=XXprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", AuthErrc::nonce_mismatch},
      {"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096", AuthErrc::malformed_message},
      {"r=rOprNGfwEbeRWgbNEkqOabc,s=,i=4096", AuthErrc::malformed_message},
      {"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", AuthErrc::bad_iteration_count},
      {"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1", AuthErrc::bad_iteration_count},
      {"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=2000000000",
       AuthErrc::bad_iteration_count},
      {"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999999",
       AuthErrc::bad_iteration_count},
      {"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4k", AuthErrc::bad_iteration_count},
      {"m=ext,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", AuthErrc::unsupported},
      {"r=rOprNGfwEbeRWgbNEkqOabc,i=4096", AuthErrc::malformed_message},
      {"garbage", AuthErrc::malformed_message},
      {"", AuthErrc::malformed_message},
  };
  for (const auto& c : cases) {
    ScramClient client = rfcClient();
    auto r = client.handleServerFirst(c.message);
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.code(), c.code) << c.message << ": " << r.message();
    EXPECT_FALSE(r.message().empty());
  }
}

TEST(ScramClientRefuses, ServerFinalProblems) {
  auto prepared = [] {
    ScramClient client = rfcClient();
    EXPECT_TRUE(client.handleServerFirst(kRfcServerFirst).ok());
    deriveFor(client);
    EXPECT_TRUE(client.clientFinalMessage().ok());
    return client;
  };
  {
    ScramClient client = prepared();
    auto r = client.handleServerFinal("e=invalid-proof");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), AuthErrc::server_error);
    EXPECT_NE(r.message().find("invalid-proof"), std::string::npos);
  }
  {
    ScramClient client = prepared();
    auto r = client.handleServerFinal("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), AuthErrc::wrong_password);
  }
  for (const char* bad : {"v=AAAA", "v=!!!!", "x=1", "", "v"}) {
    ScramClient client = prepared();
    auto r = client.handleServerFinal(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.code(), AuthErrc::malformed_message) << bad;
  }
}

TEST(ScramClientOrder, StepsOutOfOrder) {
  ScramClient client = ScramClient::withPassword("pencil");
  EXPECT_EQ(client.handleServerFirst(kRfcServerFirst).code(), AuthErrc::out_of_order);
  ScramClient no_keys = rfcClient();
  ASSERT_TRUE(no_keys.handleServerFirst(kRfcServerFirst).ok());
  EXPECT_EQ(no_keys.clientFinalMessage().code(), AuthErrc::out_of_order);
  ScramClient early = ScramClient::withPassword("pencil");
  EXPECT_EQ(early.clientFinalMessage().code(), AuthErrc::out_of_order);
  EXPECT_EQ(early.handleServerFinal(kRfcServerFinal).code(), AuthErrc::out_of_order);
}

TEST(ScramClientLimits, IterationBoundIsConfigurable) {
  ScramClientOptions options;
  options.client_nonce = std::string(kRfcClientNonce);
  options.max_iterations = 1000;
  ScramClient client = ScramClient::withPassword("pencil", options);
  ASSERT_TRUE(client.clientFirstMessage().ok());
  auto r = client.handleServerFirst(kRfcServerFirst);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), AuthErrc::bad_iteration_count);
  EXPECT_NE(r.message().find("1 to 1000"), std::string::npos);
}

TEST(ScramNonce, RandomAndPrintable) {
  auto a = makeScramNonce();
  auto b = makeScramNonce();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->size(), 24u);
  EXPECT_TRUE(scram_detail::isPrintableNonce(*a));
}

}  // namespace
}  // namespace keel::pgwire
