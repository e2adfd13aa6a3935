#pragma once

#include <string_view>

#include "common/result.h"

namespace keel::pgwire {

// Failures of framing and message parsing. Every one of them means the peer broke PostgreSQL's
// frontend/backend protocol (or, for invalid_state, that the caller used the codec out of order);
// the connection cannot be trusted afterwards. Messages name the message type, the field and the
// offending value so an operator can tell a misbehaving client from an attack.
enum class WireErrc {
  bad_length,            // a length word is below its minimum, negative, or near 2^31
  message_too_large,     // a length word is above the configured (or pre-auth) limit
  unexpected_message,    // a packet that may not come now: a second StartupMessage, an unknown
                         // type byte, a repeated SSLRequest, bytes after a CancelRequest
  unsupported_protocol,  // a StartupMessage for a major version other than 3
  bytes_after_encryption_request,  // plaintext bytes buffered behind an SSLRequest or
                                   // GSSENCRequest that is being accepted (CVE-2021-3935), or
                                   // behind a server's 'S'/'G' answer (CVE-2021-23222)
  truncated,                       // a field runs past the end of the message
  malformed,                       // a field holds an impossible value, or bytes are left over
  invalid_state,                   // the caller used the decoder out of order (a bug in Keel)
};

template <typename T>
using WireResult = Result<T, WireErrc>;

// The SQLSTATE for the ErrorResponse the proxy sends before closing a connection that failed with
// `code`: 08P01 (protocol_violation) for everything the peer did, XX000 (internal_error) for
// invalid_state.
std::string_view sqlstateFor(WireErrc code);

// A short stable name ("bad_length"), for logs and metrics labels.
std::string_view toString(WireErrc code);

}  // namespace keel::pgwire
