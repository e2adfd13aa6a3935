// libFuzzer target: SCRAM-SHA-256 (RFC 5802, RFC 7677) as Keel's server and as Keel's client
// fed hostile messages, plus the stored-secret parser and md5 responses.
//
// Input layout (FuzzedDataProvider; fuzz/corpus/scram/ holds the RFC 7677 exchange in it): the
// LAST byte picks a scenario; the rest is up to four text fields, each ended by a backslash and
// any other byte ("\\\n" in the seeds; a doubled backslash stands for one).
//   0 server with the RFC 7677 verifier: client-first (field 1), client-final (field 2) with the
//     mechanism in field 3 ("" = SCRAM-SHA-256)
//   1 the same server built from the plaintext password (keys provided after the derivation)
//   2 the mock server for an unknown user
//   3 a server for the stored secret in field 3 (parseSecret + scramServerFor)
//   4 client with keys recovered from a client: server-first (field 1), server-final (field 2)
//   5 client with a password
//   6 mechanism choice (field 1, comma-separated), md5 response check (field 2), stored secret
//     (field 3)
//   7 server and client driven by a sequence of calls in any order (out-of-order use)
//
// Checked: every failure carries a message; only the RFC 7677 messages complete an exchange,
// and then the keys recovered are the real ones; a mock server never succeeds; a parsed
// verifier formats back to one that parses to the same value. A broken check aborts.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "pgwire/auth_crypto.h"
#include "pgwire/md5_auth.h"
#include "pgwire/scram_client.h"
#include "pgwire/scram_key_cache.h"
#include "pgwire/scram_server.h"

namespace {

using namespace keel::pgwire;

// RFC 7677 section 3: user "user", password "pencil".
constexpr std::string_view kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kSaltBase64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kClientFinalWithoutProof =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
constexpr std::string_view kMockKey = "0123456789abcdef0123456789abcdef";

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "scram fuzzer: invariant broken: %s\n", what.c_str());
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) {
    broken(what);
  }
}

template <typename R>
void explained(const R& r, const char* step) {
  if (!r.ok() && (r.message().empty() || sqlstateFor(r.code()).empty())) {
    broken(std::string(step) + " failed without a message or SQLSTATE");
  }
}

// The RFC credentials, derived once (PBKDF2 is far too slow to run per input).
struct Rfc {
  std::string salt;
  ScramKeys keys;
  ScramVerifier verifier;
};

const Rfc& rfc() {
  static const Rfc value = [] {
    Rfc r;
    auto salt = crypto::decodeBase64(kSaltBase64);
    check(salt.has_value(), "the RFC salt does not decode");
    r.salt = *salt;
    auto keys = deriveScramKeys("pencil", r.salt, kScramDefaultIterations);
    check(keys.ok(), "the RFC keys cannot be derived");
    r.keys = *keys;
    r.verifier =
        ScramVerifier{kScramDefaultIterations, r.salt, r.keys.stored_key, r.keys.server_key};
    return r;
  }();
  return value;
}

ScramServerOptions serverOptions() {
  return ScramServerOptions{std::string(kServerNonce)};
}

ScramClientOptions clientOptions() {
  ScramClientOptions options;
  options.client_nonce = std::string(kClientNonce);
  options.sasl_user = "user";
  return options;
}

// client-first and client-final against `server`; only the RFC messages may succeed.
void serverExchange(ScramServer& server, std::string_view mechanism, const std::string& first,
                    const std::string& final_message) {
  auto server_first = server.handleClientFirst(mechanism, first);
  explained(server_first, "handleClientFirst");
  if (!server_first) {
    check(!server.succeeded(), "a failed exchange reports success");
    return;
  }
  check(server_first->rfind("r=", 0) == 0, "server-first-message does not start with r=");
  if (server.pendingDerivation()) {
    const ScramDerivation& d = *server.pendingDerivation();
    check(d.password == "pencil" && d.salt == rfc().salt, "the derivation asks for other input");
    server.provideKeys(rfc().keys);
  }
  auto server_final = server.handleClientFinal(final_message);
  explained(server_final, "handleClientFinal");
  if (!server_final) {
    check(!server.succeeded(), "a failed exchange reports success");
    return;
  }
  check(!server.isMock(), "a mock exchange succeeded");
  check(server.succeeded(), "a completed exchange does not report success");
  check(mechanism == kScramSha256 && first == kClientFirst,
        "a client-first-message other than RFC 7677's completed the exchange");
  check(final_message.rfind(std::string(kClientFinalWithoutProof) + ",p=", 0) == 0,
        "a client-final-message other than RFC 7677's completed the exchange");
  check(*server_final == kServerFinal, "the server signature differs from RFC 7677's");
  check(server.passthroughKeys() && server.passthroughKeys()->client_key == rfc().keys.client_key,
        "the recovered ClientKey is not the real one");
}

void clientExchange(ScramClient& client, const std::string& first, const std::string& final_msg) {
  auto client_first = client.clientFirstMessage();
  check(client_first.ok() && *client_first == kClientFirst, "client-first differs from RFC 7677");
  auto handled = client.handleServerFirst(first);
  explained(handled, "handleServerFirst");
  if (!handled) {
    return;
  }
  check(client.iterations() >= 1 && !client.salt().empty(), "accepted an empty salt or count");
  if (client.pendingDerivation()) {
    const ScramDerivation& d = *client.pendingDerivation();
    check(d.salt == client.salt() && d.iterations == client.iterations(),
          "the derivation differs from the server-first-message");
    // The real keys only for the real salt and count; any keys do for the rest.
    const bool real = d.salt == rfc().salt && d.iterations == kScramDefaultIterations;
    client.provideKeys(real ? rfc().keys : ScramKeys{});
  }
  auto client_final = client.clientFinalMessage();
  explained(client_final, "clientFinalMessage");
  if (!client_final) {
    return;
  }
  auto done = client.handleServerFinal(final_msg);
  explained(done, "handleServerFinal");
  if (done) {
    check(client.succeeded(), "a completed exchange does not report success");
    check(first == kServerFirst, "a server-first-message other than RFC 7677's was accepted");
  }
}

void secretRoundTrip(const std::string& text) {
  auto secret = parseSecret(text);
  explained(secret, "parseSecret");
  if (!secret) {
    return;
  }
  check(!secretKindName(*secret).empty(), "a secret kind without a name");
  if (const auto* verifier = std::get_if<ScramVerifier>(&*secret)) {
    auto again = parseScramVerifier(formatScramVerifier(*verifier));
    check(again.ok() && again->iterations == verifier->iterations &&
              again->salt == verifier->salt && again->stored_key == verifier->stored_key &&
              again->server_key == verifier->server_key,
          "a formatted verifier does not parse back to the same value");
  }
}

// Any call in any order: the state machines must refuse what is out of order, with a reason.
void drive(FuzzedDataProvider& fdp) {
  ScramServer server = ScramServer::withVerifier("user", rfc().verifier, serverOptions());
  ScramClient client =
      ScramClient::withKeys(ScramPassthroughKeys{rfc().keys.client_key, rfc().keys.server_key,
                                                 rfc().salt, kScramDefaultIterations},
                            clientOptions());
  for (int step = 0; step < 16 && fdp.remaining_bytes() > 0; ++step) {
    const std::string text = fdp.ConsumeRandomLengthString(512);
    switch (fdp.ConsumeIntegralInRange(0, 6)) {
      case 0:
        explained(server.handleClientFirst(kScramSha256, text), "handleClientFirst");
        break;
      case 1:
        explained(server.handleClientFinal(text), "handleClientFinal");
        break;
      case 2:
        server.provideKeys(rfc().keys);
        break;
      case 3:
        explained(client.clientFirstMessage(), "clientFirstMessage");
        break;
      case 4:
        explained(client.handleServerFirst(text), "handleServerFirst");
        break;
      case 5:
        explained(client.clientFinalMessage(), "clientFinalMessage");
        break;
      default:
        explained(client.handleServerFinal(text), "handleServerFinal");
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const auto scenario = fdp.ConsumeIntegral<std::uint8_t>() % 8;
  if (scenario == 7) {
    drive(fdp);
    return 0;
  }
  const std::string one = fdp.ConsumeRandomLengthString(2 * kScramMaxMessageSize);
  const std::string two = fdp.ConsumeRandomLengthString(2 * kScramMaxMessageSize);
  const std::string three = fdp.ConsumeRandomLengthString(2 * kScramMaxMessageSize);
  const std::string_view mechanism = three.empty() ? kScramSha256 : std::string_view(three);

  switch (scenario) {
    case 0: {
      ScramServer server = ScramServer::withVerifier("user", rfc().verifier, serverOptions());
      serverExchange(server, mechanism, one, two);
      break;
    }
    case 1: {
      ScramServer server = ScramServer::withPassword("user", "pencil", rfc().salt,
                                                     kScramDefaultIterations, serverOptions());
      serverExchange(server, mechanism, one, two);
      break;
    }
    case 2: {
      ScramServer server = ScramServer::mock("user", kMockKey, serverOptions());
      serverExchange(server, mechanism, one, two);
      break;
    }
    case 3: {
      secretRoundTrip(three);
      auto secret = parseSecret(three);
      static const ScramKeyCache cache(16);
      auto server =
          scramServerFor("user", secret ? &*secret : nullptr, kMockKey, cache, serverOptions());
      explained(server, "scramServerFor");
      if (server) {
        explained(server->handleClientFirst(kScramSha256, one), "handleClientFirst");
        explained(server->handleClientFinal(two), "handleClientFinal");
      }
      break;
    }
    case 4: {
      ScramClient client =
          ScramClient::withKeys(ScramPassthroughKeys{rfc().keys.client_key, rfc().keys.server_key,
                                                     rfc().salt, kScramDefaultIterations},
                                clientOptions());
      clientExchange(client, one, two);
      break;
    }
    case 5: {
      ScramClient client = ScramClient::withPassword("pencil", clientOptions());
      clientExchange(client, one, two);
      break;
    }
    default: {
      std::vector<std::string> offered;
      for (std::size_t start = 0; start <= one.size();) {
        const std::size_t comma = std::min(one.find(',', start), one.size());
        offered.push_back(one.substr(start, comma - start));
        start = comma + 1;
      }
      auto chosen = ScramClient::chooseMechanism(offered);
      explained(chosen, "chooseMechanism");
      check(!chosen || *chosen == kScramSha256, "chose a mechanism other than SCRAM-SHA-256");
      const Md5Salt salt{1, 2, 3, 4};
      auto md5 =
          verifyMd5Response(Md5Secret{"md5a2cc14bcc08bcb211f578153967abd6d"}, "bob", salt, two);
      explained(md5, "verifyMd5Response");
      secretRoundTrip(three);
      break;
    }
  }
  return 0;
}
