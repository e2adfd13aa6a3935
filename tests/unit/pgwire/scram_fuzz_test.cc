// Deterministic fuzzing of the SCRAM state machines and the secret parser with garbage and
// mutated messages: every input must yield a value (never a crash), and every failure a
// message. The seed is printed; rerun a failure with KEEL_FUZZ_SEED=<seed>.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "pgwire/auth_crypto.h"
#include "pgwire/md5_auth.h"
#include "pgwire/scram_client.h"
#include "pgwire/scram_server.h"

namespace keel::pgwire {
namespace {

constexpr std::string_view kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
constexpr std::string_view kVerifier =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
constexpr int kRounds = 10000;

std::uint64_t fuzzSeed() {
  if (const char* env = std::getenv("KEEL_FUZZ_SEED"))
    return std::strtoull(env, nullptr, 10);
  return 20240611;
}

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(seed) {}

  std::string next(std::string_view valid) {
    std::string s(valid);
    switch (pick(6)) {
      case 0:  // pure garbage
        s.clear();
        for (std::size_t n = pick(64); n > 0; --n)
          s += static_cast<char>(pick(256));
        break;
      case 1:  // truncation
        s.resize(pick(s.size() + 1));
        break;
      case 2:  // random byte changes
        for (std::size_t n = 1 + pick(3); n > 0 && !s.empty(); --n) {
          s[pick(s.size())] = static_cast<char>(pick(256));
        }
        break;
      case 3:  // protocol-significant characters
        for (std::size_t n = 1 + pick(3); n > 0; --n) {
          static constexpr char kSpecial[] = ",=\0nyprscivem";
          s.insert(s.begin() + static_cast<std::ptrdiff_t>(pick(s.size() + 1)),
                   kSpecial[pick(sizeof(kSpecial) - 1)]);
        }
        break;
      case 4:  // duplicated or removed spans
        if (!s.empty()) {
          const std::size_t at = pick(s.size());
          const std::size_t len = pick(s.size() - at + 1);
          if (pick(2) == 0) {
            s.insert(at, s.substr(at, len));
          } else {
            s.erase(at, len);
          }
        }
        break;
      default:  // huge
        s += std::string(pick(3) * kScramMaxMessageSize, 'A');
        break;
    }
    return s;
  }

 private:
  std::size_t pick(std::size_t bound) {
    return bound == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, bound - 1)(rng_);
  }
  std::mt19937_64 rng_;
};

template <typename R>
void expectValue(const R& result, const std::string& input) {
  if (!result.ok()) {
    EXPECT_FALSE(result.message().empty()) << "input: " << crypto::encodeBase64(input);
  }
}

TEST(ScramFuzz, GarbageNeverCrashesAndAlwaysExplains) {
  const std::uint64_t seed = fuzzSeed();
  std::cout << "[ scram fuzz ] seed " << seed << " (set KEEL_FUZZ_SEED to replay)" << std::endl;
  Mutator mutator(seed);
  auto verifier = parseScramVerifier(kVerifier);
  ASSERT_TRUE(verifier.ok()) << verifier.message();
  auto derived = deriveScramKeys("pencil", verifier->salt, verifier->iterations);
  ASSERT_TRUE(derived.ok());
  ASSERT_EQ(derived->stored_key, verifier->stored_key);
  const ScramPassthroughKeys keys{derived->client_key, verifier->server_key, verifier->salt,
                                  verifier->iterations};
  std::size_t accepted_final = 0;

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " round " + std::to_string(round));
    ScramServerOptions server_options{std::string(kServerNonce)};

    const std::string first = mutator.next(kClientFirst);
    ScramServer server1 = ScramServer::withVerifier("user", *verifier, server_options);
    expectValue(server1.handleClientFirst(kScramSha256, first), first);

    const std::string final_message = mutator.next(kClientFinal);
    ScramServer server2 = ScramServer::withVerifier("user", *verifier, server_options);
    ASSERT_TRUE(server2.handleClientFirst(kScramSha256, kClientFirst).ok());
    auto final_result = server2.handleClientFinal(final_message);
    expectValue(final_result, final_message);
    if (final_result.ok()) {
      EXPECT_EQ(final_message, kClientFinal);  // only the genuine proof may pass
      ++accepted_final;
    }

    ScramClientOptions client_options;
    client_options.client_nonce = "rOprNGfwEbeRWgbNEkqO";
    client_options.sasl_user = "user";
    const std::string server_first = mutator.next(kServerFirst);
    ScramClient client1 = ScramClient::withKeys(keys, client_options);
    ASSERT_TRUE(client1.clientFirstMessage().ok());
    auto first_result = client1.handleServerFirst(server_first);
    expectValue(first_result, server_first);
    if (first_result.ok())
      expectValue(client1.clientFinalMessage(), server_first);

    const std::string server_final = mutator.next(kServerFinal);
    ScramClient client2 = ScramClient::withKeys(keys, client_options);
    ASSERT_TRUE(client2.clientFirstMessage().ok());
    ASSERT_TRUE(client2.handleServerFirst(kServerFirst).ok());
    auto client_final = client2.clientFinalMessage();
    ASSERT_TRUE(client_final.ok());
    ASSERT_EQ(*client_final, kClientFinal);
    auto final_check = client2.handleServerFinal(server_final);
    expectValue(final_check, server_final);
    if (final_check.ok()) {
      EXPECT_EQ(server_final, kServerFinal);
    }

    const std::string secret = mutator.next(kVerifier);
    expectValue(parseSecret(secret), secret);
    const std::string response = mutator.next("md52b402547e7beb0ed221f59c23c78c49a");
    expectValue(verifyMd5Response(Md5Secret{"md5a2cc14bcc08bcb211f578153967abd6d"}, "bob",
                                  Md5Salt{1, 2, 3, 4}, response),
                response);
  }
  std::cout << "[ scram fuzz ] " << accepted_final << " unchanged client-final messages accepted"
            << std::endl;
}

}  // namespace
}  // namespace keel::pgwire
