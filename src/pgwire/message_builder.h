#pragma once

#include <string>
#include <string_view>

#include "pgwire/backend_messages.h"
#include "pgwire/frontend_messages.h"
#include "pgwire/wire_errc.h"

// Encoders for every protocol 3.0 message (PostgreSQL docs 55.7 "Message Formats"). Each
// `encode` appends exactly one wire message to `out` (type byte, length word, fields), so many
// can be batched into one buffer and written at once. They never fail; preconditions: String
// fields hold no NUL (a NUL ends the field early, keeping the framing intact), vectors hold at
// most 65535 elements, and the message stays below kMaxMessageLengthCap. Messages re-encoded from
// parsed ones always meet them. Pure functions, thread-safe.
namespace keel::pgwire {

// Startup phase (no type byte).
void encode(std::string& out, const StartupMessage& m);
void encode(std::string& out, const SslRequest& m);
void encode(std::string& out, const GssEncRequest& m);
void encode(std::string& out, const CancelRequest& m);

// Frontend.
void encode(std::string& out, const Bind& m);
void encode(std::string& out, const Close& m);
void encode(std::string& out, const Describe& m);
void encode(std::string& out, const CopyData& m);  // both directions
void encode(std::string& out, const CopyDone& m);  // both directions
void encode(std::string& out, const CopyFail& m);
void encode(std::string& out, const Execute& m);
void encode(std::string& out, const Flush& m);
void encode(std::string& out, const FunctionCall& m);
void encode(std::string& out, const Parse& m);
void encode(std::string& out, const Query& m);
void encode(std::string& out, const Sync& m);
void encode(std::string& out, const Terminate& m);
void encode(std::string& out, const PasswordMessage& m);
void encode(std::string& out, const SaslInitialResponse& m);
void encode(std::string& out, const SaslResponse& m);
void encode(std::string& out, const GssResponse& m);

// Backend.
void encode(std::string& out, const Authentication& m);
void encode(std::string& out, const BackendKeyData& m);
void encode(std::string& out, const BindComplete& m);
void encode(std::string& out, const CloseComplete& m);
void encode(std::string& out, const CommandComplete& m);
void encode(std::string& out, const CopyInResponse& m);
void encode(std::string& out, const CopyOutResponse& m);
void encode(std::string& out, const CopyBothResponse& m);
void encode(std::string& out, const DataRow& m);
void encode(std::string& out, const EmptyQueryResponse& m);
void encode(std::string& out, const ErrorResponse& m);
void encode(std::string& out, const NoticeResponse& m);
void encode(std::string& out, const FunctionCallResponse& m);
void encode(std::string& out, const NegotiateProtocolVersion& m);
void encode(std::string& out, const NoData& m);
void encode(std::string& out, const NotificationResponse& m);
void encode(std::string& out, const ParameterDescription& m);
void encode(std::string& out, const ParameterStatus& m);
void encode(std::string& out, const ParseComplete& m);
void encode(std::string& out, const PortalSuspended& m);
void encode(std::string& out, const ReadyForQuery& m);
void encode(std::string& out, const RowDescription& m);

// The message alone, in a new string.
template <typename M>
std::string encoded(const M& m) {
  std::string out;
  encode(out, m);
  return out;
}

// The server's one-byte answer to SSLRequest/GSSENCRequest: 'S'/'G' accept, 'N' refuse.
inline void appendEncryptionResponse(std::string& out, bool accept, bool gss = false) {
  out.push_back(accept ? (gss ? 'G' : 'S') : 'N');
}

// --- ErrorResponse / NoticeResponse helpers: what the proxy sends most ---
//
// Severity is one of ERROR, FATAL, PANIC (errors) or WARNING, NOTICE, DEBUG, INFO, LOG (notices);
// it is written as both S and V, as PostgreSQL 9.6+ does. Empty detail/hint are left out.

void appendErrorResponse(std::string& out, std::string_view severity, std::string_view sqlstate,
                         std::string_view message, std::string_view detail = {},
                         std::string_view hint = {});
std::string errorResponse(std::string_view severity, std::string_view sqlstate,
                          std::string_view message, std::string_view detail = {},
                          std::string_view hint = {});

void appendNoticeResponse(std::string& out, std::string_view severity, std::string_view sqlstate,
                          std::string_view message, std::string_view detail = {},
                          std::string_view hint = {});
std::string noticeResponse(std::string_view severity, std::string_view sqlstate,
                           std::string_view message, std::string_view detail = {},
                           std::string_view hint = {});

// The FATAL ErrorResponse that ends a connection whose codec failed: SQLSTATE from
// sqlstateFor(failure.code) (08P01 protocol_violation), message = failure.message.
std::string errorResponseFor(const Failure<WireErrc>& failure);

}  // namespace keel::pgwire
