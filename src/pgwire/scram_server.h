#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgwire/scram.h"
#include "pgwire/scram_key_cache.h"

namespace keel::pgwire {

struct ScramServerOptions {
  // Test hook: the server's nonce part instead of a random one (must be printable).
  std::optional<std::string> server_nonce;
};

// Keel as the SCRAM-SHA-256 server of a client (PostgreSQL docs 55.3.1; RFC 5802 section 5).
// One instance serves one exchange:
//
//   AuthenticationSASL(mechanisms())  <- SASLInitialResponse: handleClientFirst(mech, data)
//   AuthenticationSASLContinue(server-first) <- SASLResponse: handleClientFinal(data)
//   AuthenticationSASLFinal(server-final), then AuthenticationOk
//
// Any failure ends the exchange (later calls fail with out_of_order); the proxy answers with an
// ErrorResponse whose SQLSTATE is sqlstateFor(code). A proof that does not verify fails with
// wrong_password and the message 'password authentication failed for user "<user>"'.
//
// Not thread-safe: one session's coroutine drives it. Every method is cheap, except that a
// server made withPassword() needs the EXPENSIVE key derivation reported by
// pendingDerivation() to be run by the caller (off the I/O thread) and handed back through
// provideKeys() before handleClientFinal().
//
// Channel binding is not offered: "n" and "y" gs2 flags are accepted, "p=" is refused.
// (Should Keel ever offer SCRAM-SHA-256-PLUS over TLS, it must refuse "y", RFC 5802 6.)
class ScramServer {
 public:
  // `user` is the startup packet's user (SCRAM's n= is ignored, as PostgreSQL does); it only
  // appears in failure messages and, for mock(), in the salt.
  static ScramServer withVerifier(std::string user, ScramVerifier verifier,
                                  ScramServerOptions options = {});

  // A user whose stored secret is a plaintext password. `salt` should be stable for the user
  // (ScramKeyCache::saltFor) so the derivation can be cached; `iterations` is what the client
  // will run.
  static ScramServer withPassword(std::string user, std::string password, std::string salt,
                                  int iterations = kScramDefaultIterations,
                                  ScramServerOptions options = {});

  // A doomed exchange for a user that does not exist or has no SCRAM-capable secret (md5): the
  // client sees a normal exchange with a salt that is stable per user (derived from `mock_key`,
  // a random secret of at least 16 bytes made once per process) and the default iteration
  // count, then the same wrong_password failure as for a wrong password. So the messages do not
  // reveal whether the user exists (PostgreSQL's mock authentication).
  static ScramServer mock(std::string user, std::string_view mock_key,
                          ScramServerOptions options = {});

  // The mechanisms to list in AuthenticationSASL.
  static const std::vector<std::string>& mechanisms();

  // The key derivation the caller must run before handleClientFinal(), if any.
  const std::optional<ScramDerivation>& pendingDerivation() const { return derivation_; }
  void provideKeys(const ScramKeys& keys);

  // Consumes SASLInitialResponse (selected mechanism and client-first-message); returns the
  // server-first-message.
  AuthResult<std::string> handleClientFirst(std::string_view mechanism, std::string_view message);

  // Consumes the client-final-message; returns the server-final-message ("v=...").
  AuthResult<std::string> handleClientFinal(std::string_view message);

  bool succeeded() const { return state_ == State::succeeded; }
  bool isMock() const { return mock_; }
  const std::string& user() const { return user_; }

  // After success: the ClientKey recovered from the client's proof (ClientKey = ClientProof
  // XOR ClientSignature) with the ServerKey, salt and iterations, for ScramClient::withKeys().
  // Password-equivalent for this salt: keep it in memory only.
  const std::optional<ScramPassthroughKeys>& passthroughKeys() const { return passthrough_; }

 private:
  enum class State { awaiting_client_first, awaiting_client_final, succeeded, failed };

  ScramServer(std::string user, ScramVerifier verifier, ScramServerOptions options);
  Failure<AuthErrc> failWith(AuthErrc code, std::string message);
  Failure<AuthErrc> failMalformed(std::string_view what, std::string_view detail);

  std::string user_;
  ScramVerifier verifier_;  // for withPassword(), salt and iterations until provideKeys()
  ScramServerOptions options_;
  std::optional<ScramDerivation> derivation_;
  bool mock_ = false;
  State state_ = State::awaiting_client_first;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;  // client nonce + server nonce
  std::optional<ScramPassthroughKeys> passthrough_;
};

// The exchange PostgreSQL would run for a user's stored secret: a verifier is used as is; a
// plaintext password gets a stable salt from `cache` and, on a cache hit, its keys at once
// (otherwise pendingDerivation() is set and the caller derives off the I/O thread and inserts
// the result into `cache`); an md5 secret or no secret (`secret` null: unknown user) gets the
// mock exchange. Cheap. Fails only if `cache` could not make a salt (CSPRNG failure).
AuthResult<ScramServer> scramServerFor(std::string user, const Secret* secret,
                                       std::string_view mock_key, const ScramKeyCache& cache,
                                       ScramServerOptions options = {});

}  // namespace keel::pgwire
