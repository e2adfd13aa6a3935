#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "pgwire/protocol.h"
#include "pgwire/wire_errc.h"

// Messages a frontend (client) sends, protocol 3.0 (PostgreSQL docs 55.7 "Message Formats").
//
// Parsed messages BORROW: every string_view points into the payload given to the parse function
// (usually a Frame's payload inside a FrameDecoder buffer) and lives only as long as it does.
// Copy what must outlive the frame. Parse functions take the payload, i.e. the bytes after the
// type byte and length word; for startup-phase packets, the bytes after the length word (Frame
// payload in both cases). They check every length and count against the payload, reject leftover
// bytes, and fail with truncated or malformed; they never read outside the payload.
//
// A value that is NULL on the wire (length -1) is std::nullopt. Counts on the wire are UInt16
// as PostgreSQL reads them; encoders (message_builder.h) write vectors of at most 65535 elements.
namespace keel::pgwire {

using Oid = std::uint32_t;
using NullableBytes = std::optional<std::string_view>;

// Format codes: 0 text, 1 binary. Kept as sent; PostgreSQL rejects other values at execution.
using FormatCode = std::int16_t;

// --- Startup phase (no type byte) ---

struct StartupMessage {
  std::uint32_t protocol_version = kProtocolVersion3;
  // Name/value pairs in the order sent: user, database, options, replication, application_name,
  // any GUC, and "_pq_." protocol options.
  std::vector<std::pair<std::string_view, std::string_view>> parameters;

  // The value of the first parameter named `name`, if present.
  std::optional<std::string_view> parameter(std::string_view name) const;
  bool operator==(const StartupMessage&) const = default;
};

struct SslRequest {
  bool operator==(const SslRequest&) const = default;
};
struct GssEncRequest {
  bool operator==(const GssEncRequest&) const = default;
};

struct CancelRequest {
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
  bool operator==(const CancelRequest&) const = default;
};

// --- Typed messages ---

struct Bind {
  std::string_view portal;                    // "" = unnamed portal
  std::string_view statement;                 // "" = unnamed statement
  std::vector<FormatCode> parameter_formats;  // empty: all text; one: applies to all
  std::vector<NullableBytes> parameters;
  std::vector<FormatCode> result_formats;
  bool operator==(const Bind&) const = default;
};

// Close and Describe name a prepared statement ('S') or a portal ('P').
enum class TargetKind : char { statement = 'S', portal = 'P' };

struct Close {
  TargetKind kind = TargetKind::statement;
  std::string_view name;
  bool operator==(const Close&) const = default;
};

struct Describe {
  TargetKind kind = TargetKind::statement;
  std::string_view name;
  bool operator==(const Describe&) const = default;
};

// Both directions.
struct CopyData {
  std::string_view data;
  bool operator==(const CopyData&) const = default;
};
struct CopyDone {
  bool operator==(const CopyDone&) const = default;
};

struct CopyFail {
  std::string_view message;
  bool operator==(const CopyFail&) const = default;
};

struct Execute {
  std::string_view portal;
  std::int32_t max_rows = 0;  // 0 = no limit
  bool operator==(const Execute&) const = default;
};

struct Flush {
  bool operator==(const Flush&) const = default;
};

struct FunctionCall {
  Oid function = 0;
  std::vector<FormatCode> argument_formats;
  std::vector<NullableBytes> arguments;
  FormatCode result_format = 0;
  bool operator==(const FunctionCall&) const = default;
};

struct Parse {
  std::string_view statement;  // "" = unnamed statement
  std::string_view query;
  std::vector<Oid> parameter_types;  // 0 = unspecified
  bool operator==(const Parse&) const = default;
};

struct Query {
  std::string_view sql;
  bool operator==(const Query&) const = default;
};

struct Sync {
  bool operator==(const Sync&) const = default;
};
struct Terminate {
  bool operator==(const Terminate&) const = default;
};

// The four 'p' messages. Which one a 'p' is follows from the last Authentication request.
struct PasswordMessage {
  std::string_view password;  // cleartext, or "md5" + hex for MD5Password
  bool operator==(const PasswordMessage&) const = default;
};
struct SaslInitialResponse {
  std::string_view mechanism;
  NullableBytes initial_response;  // -1 on the wire = none
  bool operator==(const SaslInitialResponse&) const = default;
};
struct SaslResponse {
  std::string_view data;
  bool operator==(const SaslResponse&) const = default;
};
struct GssResponse {
  std::string_view data;
  bool operator==(const GssResponse&) const = default;
};

// Startup phase: `payload` starts with the Int32 code. parseStartupMessage accepts any 3.x
// version (the proxy answers a minor above 0 with NegotiateProtocolVersion) and requires the
// terminating empty name; a parameter without a value is malformed.
WireResult<StartupMessage> parseStartupMessage(std::string_view payload);
WireResult<SslRequest> parseSslRequest(std::string_view payload);
WireResult<GssEncRequest> parseGssEncRequest(std::string_view payload);
WireResult<CancelRequest> parseCancelRequest(std::string_view payload);

WireResult<Bind> parseBind(std::string_view payload);
WireResult<Close> parseClose(std::string_view payload);
WireResult<Describe> parseDescribe(std::string_view payload);
WireResult<CopyData> parseCopyData(std::string_view payload);  // never fails
WireResult<CopyDone> parseCopyDone(std::string_view payload);
WireResult<CopyFail> parseCopyFail(std::string_view payload);
WireResult<Execute> parseExecute(std::string_view payload);
WireResult<Flush> parseFlush(std::string_view payload);
WireResult<FunctionCall> parseFunctionCall(std::string_view payload);
WireResult<Parse> parseParse(std::string_view payload);
WireResult<Query> parseQuery(std::string_view payload);
WireResult<Sync> parseSync(std::string_view payload);
WireResult<Terminate> parseTerminate(std::string_view payload);
WireResult<PasswordMessage> parsePasswordMessage(std::string_view payload);
WireResult<SaslInitialResponse> parseSaslInitialResponse(std::string_view payload);
WireResult<SaslResponse> parseSaslResponse(std::string_view payload);  // never fails
WireResult<GssResponse> parseGssResponse(std::string_view payload);    // never fails

}  // namespace keel::pgwire
