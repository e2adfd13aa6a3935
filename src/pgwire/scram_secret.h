#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "pgwire/auth_crypto.h"
#include "pgwire/auth_errc.h"

// Stored credentials for PostgreSQL authentication: plaintext passwords, md5 hashes and
// SCRAM-SHA-256 verifiers in PostgreSQL's pg_authid format (also what PgBouncer's userlist.txt
// and auth_query return), and the SCRAM key derivation (RFC 5802 section 3, RFC 7677).
//
// Cost: functions marked EXPENSIVE run PBKDF2 (`iterations` HMACs; ~2 ms at 4096) and must run
// off the proxy's I/O threads (on a worker pool) or through ScramKeyCache. Everything else is
// cheap. All functions are pure and thread-safe.
namespace keel::pgwire {

inline constexpr int kScramDefaultIterations = 4096;      // PostgreSQL's scram_iterations default
inline constexpr std::size_t kScramDefaultSaltSize = 16;  // PostgreSQL's SCRAM_DEFAULT_SALT_LEN
inline constexpr std::size_t kScramMaxSaltSize = 1024;    // bound on salts we accept from anyone

using ScramKey = crypto::Sha256Digest;

// A SCRAM-SHA-256 verifier: "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>" with
// base64 salt and keys. It lets a server check a client's proof but not act as that client.
struct ScramVerifier {
  int iterations = kScramDefaultIterations;
  std::string salt;  // raw bytes
  ScramKey stored_key{};
  ScramKey server_key{};
};

// The keys derived from a password (RFC 5802: ClientKey = HMAC(SaltedPassword, "Client Key"),
// StoredKey = H(ClientKey), ServerKey = HMAC(SaltedPassword, "Server Key")). ClientKey is
// password-equivalent for this salt and iteration count: keep it out of logs.
struct ScramKeys {
  ScramKey client_key{};
  ScramKey stored_key{};
  ScramKey server_key{};
};

struct PlaintextPassword {
  std::string password;
};

// "md5" followed by 32 lowercase hex digits of MD5(password + username).
struct Md5Secret {
  std::string hash;
};

// A stored secret as found in a userlist or returned by an auth_query.
using Secret = std::variant<PlaintextPassword, Md5Secret, ScramVerifier>;

// Tells the three kinds apart as PostgreSQL's get_password_type() does: a value starting with
// "SCRAM-SHA-256$" must be a valid verifier, "md5" followed by exactly 32 characters must be an
// md5 hash (uppercase hex is accepted and lowercased), anything else non-empty is plaintext.
// Unlike PostgreSQL, a malformed verifier or md5 hash is an error naming the defect (bad
// base64, iteration count, key length) instead of silently becoming a plaintext password.
AuthResult<Secret> parseSecret(std::string_view value);

// "plaintext", "md5" or "SCRAM-SHA-256", for logs and error messages.
std::string_view secretKindName(const Secret& secret);

AuthResult<ScramVerifier> parseScramVerifier(std::string_view text);
std::string formatScramVerifier(const ScramVerifier& verifier);

// SASLprep (RFC 4013) as far as Keel implements it: ASCII passwords are returned unchanged,
// exactly as PostgreSQL does. LIMITATION: non-ASCII passwords are returned as raw bytes without
// NFKC normalization or the RFC 3454 mapping tables. PostgreSQL uses the raw bytes too whenever
// its SASLprep fails (invalid UTF-8, prohibited characters), and for passwords already in NFKC
// form with no mapped characters (non-ASCII spaces, soft hyphens, zero-width characters) both
// agree. A password outside those cases (e.g. decomposed accents, ligatures) derives keys that
// differ from PostgreSQL's verifier; store such users' SCRAM verifier, not the plaintext.
std::string saslPrep(std::string_view password);

// SaltedPassword = Hi(SASLprep(password), salt, iterations). EXPENSIVE.
AuthResult<ScramKey> scramSaltedPassword(std::string_view password, std::string_view salt,
                                         int iterations);

// ClientKey, StoredKey and ServerKey from a SaltedPassword. Cheap.
AuthResult<ScramKeys> scramKeysFromSaltedPassword(const ScramKey& salted_password);

// scramSaltedPassword + scramKeysFromSaltedPassword. EXPENSIVE.
AuthResult<ScramKeys> deriveScramKeys(std::string_view password, std::string_view salt,
                                      int iterations);

// The verifier PostgreSQL would store for `password` with this salt and count. EXPENSIVE.
AuthResult<ScramVerifier> makeScramVerifier(std::string_view password, std::string_view salt,
                                            int iterations = kScramDefaultIterations);
// Same with a random 16-byte salt, as PostgreSQL's CREATE ROLE ... PASSWORD does. EXPENSIVE.
AuthResult<ScramVerifier> makeScramVerifier(std::string_view password);

}  // namespace keel::pgwire
