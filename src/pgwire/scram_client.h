#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgwire/scram.h"

namespace keel::pgwire {

struct ScramClientOptions {
  // Test hook: the client nonce instead of a random one (must be printable).
  std::optional<std::string> client_nonce;
  // A server-first-message asking for more iterations is refused: each costs an HMAC, and a
  // bogus count would pin a worker thread. PostgreSQL's default is 4096.
  int max_iterations = 1'000'000;
  // The n= user name. PostgreSQL ignores it and libpq sends it empty; set only to reproduce
  // published test vectors. Escaped as RFC 5802 saslname (',' -> =2C, '=' -> =3D).
  std::string sasl_user;
};

// Keel as the SCRAM-SHA-256 client of PostgreSQL (PostgreSQL docs 55.3.1; RFC 5802 section 5),
// following libpq: client-first "n,,n=,r=<nonce>" with an empty user name (PostgreSQL takes the
// user from the startup packet) and no channel binding.
//
//   chooseMechanism(AuthenticationSASL list) -> SASLInitialResponse(clientFirstMessage())
//   AuthenticationSASLContinue: handleServerFirst(data)
//     [withPassword: run pendingDerivation() off the I/O thread, then provideKeys()]
//   SASLResponse(clientFinalMessage())
//   AuthenticationSASLFinal: handleServerFinal(data), then expect AuthenticationOk
//
// Any failure ends the exchange. Not thread-safe: one server connection's coroutine drives it.
// Only the derivation for withPassword() is EXPENSIVE; every method here is cheap.
class ScramClient {
 public:
  static ScramClient withPassword(std::string password, ScramClientOptions options = {});

  // From keys ScramServer recovered from a client's proof: no plaintext needed. PostgreSQL's
  // verifier must have the same salt and iteration count as the one Keel verified against; a
  // different salt or count fails with incompatible_secret before any proof is sent.
  static ScramClient withKeys(ScramPassthroughKeys keys, ScramClientOptions options = {});

  // "SCRAM-SHA-256" if offered; unsupported if the server offers only mechanisms Keel lacks.
  static AuthResult<std::string> chooseMechanism(const std::vector<std::string>& offered);

  // The client-first-message. Call once.
  AuthResult<std::string> clientFirstMessage();

  // Consumes the server-first-message: the nonce must extend ours, the salt must be valid
  // base64 and the iteration count within 1..max_iterations.
  AuthResult<void> handleServerFirst(std::string_view message);

  // Set by handleServerFirst() for withPassword() unless provideKeys() came first.
  const std::optional<ScramDerivation>& pendingDerivation() const { return derivation_; }
  void provideKeys(const ScramKeys& keys);

  // The client-final-message with the proof.
  AuthResult<std::string> clientFinalMessage();

  // Consumes the server-final-message: verifies the server's signature, or reports the e=
  // error the server sent.
  AuthResult<void> handleServerFinal(std::string_view message);

  bool succeeded() const { return state_ == State::succeeded; }
  // Salt and iteration count from the server-first-message (empty/0 before it).
  const std::string& salt() const { return salt_; }
  int iterations() const { return iterations_; }

 private:
  enum class State {
    initial,
    awaiting_server_first,
    keys_needed,
    ready,
    awaiting_server_final,
    succeeded,
    failed
  };

  explicit ScramClient(ScramClientOptions options) : options_(std::move(options)) {}
  Failure<AuthErrc> failWith(AuthErrc code, std::string message);

  ScramClientOptions options_;
  std::optional<std::string> password_;
  std::optional<ScramPassthroughKeys> passthrough_;
  std::optional<ScramDerivation> derivation_;
  std::optional<ScramKeys> keys_;  // client_key and server_key used; stored_key derived
  State state_ = State::initial;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;
  std::string salt_;
  int iterations_ = 0;
  ScramKey expected_server_signature_{};
};

}  // namespace keel::pgwire
