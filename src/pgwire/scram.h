#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pgwire/auth_errc.h"
#include "pgwire/scram_secret.h"

// SCRAM-SHA-256 as PostgreSQL speaks it (PostgreSQL docs 55.3 "SASL Authentication", RFC 5802,
// RFC 7677): definitions shared by ScramServer (Keel authenticating clients) and ScramClient
// (Keel authenticating to PostgreSQL). Pure: messages in, messages out; the wire codec carries
// them in AuthenticationSASL/SASLContinue/SASLFinal and SASLInitialResponse/SASLResponse.
// Channel binding (SCRAM-SHA-256-PLUS) is not implemented: Keel never offers or selects it.
namespace keel::pgwire {

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
inline constexpr std::string_view kScramSha256Plus = "SCRAM-SHA-256-PLUS";
inline constexpr std::size_t kScramNonceRandomBytes = 18;  // as PostgreSQL: 24 base64 chars
inline constexpr std::size_t kScramMaxMessageSize = 8192;  // far above any honest message

// The expensive step an exchange needs before it can continue: the caller runs
// deriveScramKeys(password, salt, iterations) or ScramKeyCache::getOrDerive() on a worker
// thread, then hands the keys back with provideKeys(). Holds the plaintext: do not log it.
struct ScramDerivation {
  std::string password;
  std::string salt;
  int iterations = kScramDefaultIterations;
};

// What ScramServer learns from a successful exchange, enough for ScramClient to log in to
// PostgreSQL as that user without the plaintext (as PgBouncer does with SCRAM userlist
// secrets). PostgreSQL accepts it only if its verifier has the same salt and iteration count.
struct ScramPassthroughKeys {
  ScramKey client_key{};
  ScramKey server_key{};
  std::string salt;
  int iterations = 0;
};

// A fresh printable nonce: base64 of 18 bytes from the CSPRNG.
AuthResult<std::string> makeScramNonce();

namespace scram_detail {

struct Attribute {
  char name = '\0';
  std::string_view value;
};

// Splits "a=x,b=y" into attributes. Every field must be one ASCII letter, '=', and a value
// without ','. `what` names the message in errors ("client-first-message").
AuthResult<std::vector<Attribute>> splitAttributes(std::string_view text, std::string_view what);

// RFC 5802 "printable": 0x21..0x7e except ','; non-empty.
bool isPrintableNonce(std::string_view nonce);

ScramKey xorKeys(const ScramKey& a, const ScramKey& b);

// AuthMessage = client-first-message-bare "," server-first-message ","
// client-final-message-without-proof.
std::string authMessage(std::string_view client_first_bare, std::string_view server_first,
                        std::string_view client_final_without_proof);

Failure<AuthErrc> malformed(std::string_view what, std::string_view detail);

}  // namespace scram_detail
}  // namespace keel::pgwire
