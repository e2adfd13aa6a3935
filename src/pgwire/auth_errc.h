#pragma once

#include <string_view>

#include "common/result.h"

namespace keel::pgwire {

// Failures of client and server authentication (SCRAM-SHA-256, md5) and of parsing stored
// secrets. Messages name what was wrong; for wrong_password the message is exactly what
// PostgreSQL reports to the client, so the proxy can forward it unchanged.
enum class AuthErrc {
  malformed_message,  // a SCRAM/md5 message from the peer does not follow the grammar
  unsupported,        // well-formed but asks for something Keel does not do (channel binding...)
  channel_binding_mismatch,  // c= of the client-final-message does not repeat the gs2 header
  nonce_mismatch,            // r= does not extend or repeat the nonce sent before
  bad_iteration_count,       // iteration count out of range
  wrong_password,            // proof, signature or md5 response did not verify
  server_error,              // the server ended the SCRAM exchange with e=<error>
  bad_secret,                // a stored secret (verifier, md5 hash) is malformed
  incompatible_secret,       // the stored secret cannot serve this method (SCRAM secret for md5)
  out_of_order,              // a step was called in the wrong state (a bug in the caller)
  crypto_failure,            // OpenSSL refused an operation (e.g. MD5 disabled by FIPS mode)
};

template <typename T>
using AuthResult = Result<T, AuthErrc>;

// The SQLSTATE the proxy sends in its ErrorResponse when authentication fails with `code`:
// 28P01 (invalid_password) for credentials that did not verify, 08P01 (protocol_violation) for
// messages that break the protocol, 28000 (invalid_authorization_specification) otherwise.
std::string_view sqlstateFor(AuthErrc code);

// The message PostgreSQL sends for a failed password or SCRAM exchange; the proxy uses it for
// every credential failure so that a missing user looks like a wrong password.
std::string passwordFailedMessage(std::string_view user);

}  // namespace keel::pgwire
