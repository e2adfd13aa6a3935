#pragma once

#include <cstdint>

// Constants of PostgreSQL's frontend/backend protocol 3.0 (PostgreSQL docs, chapter 55 "Frontend/
// Backend Protocol": 55.2 "Message Flow", 55.7 "Message Formats", 55.8 "Error and Notice Message
// Fields"). Every integer on the wire is big-endian.
namespace keel::pgwire {

// Startup-phase packets carry no type byte: Int32 length (including itself), then Int32 code.
inline constexpr std::uint32_t kProtocolVersion3 = 196608;  // 3 << 16 | 0
inline constexpr std::uint32_t kCancelRequestCode = 80877102;
inline constexpr std::uint32_t kSslRequestCode = 80877103;
inline constexpr std::uint32_t kGssEncRequestCode = 80877104;

constexpr std::uint16_t protocolMajor(std::uint32_t version) {
  return static_cast<std::uint16_t>(version >> 16);
}
constexpr std::uint16_t protocolMinor(std::uint32_t version) {
  return static_cast<std::uint16_t>(version & 0xffff);
}

// Length limits. Every limit applies to the value of the length word, which counts itself.
//
// PostgreSQL refuses a startup packet whose body exceeds MAX_STARTUP_PACKET_LENGTH (10000).
inline constexpr std::uint32_t kMaxStartupPacketLength = 10000 + 4;
// Authentication messages before AuthenticationOk: PostgreSQL bounds an auth token by
// PG_MAX_AUTH_TOKEN_LENGTH (65535 bytes of body).
inline constexpr std::uint32_t kDefaultMaxPreauthMessageLength = 65535 + 4;
// After authentication: 1 GiB covers PostgreSQL's own limit on frontend messages
// (PQ_LARGE_MESSAGE_LIMIT, 1 GiB - 2 bytes of body) and any single field PostgreSQL can send.
inline constexpr std::uint32_t kDefaultMaxMessageLength = 1u << 30;
// No configuration may go above this: a length word near 2^31 overflows the signed 32-bit
// arithmetic of many peers (PgBouncer, old libpq) and is never legitimate.
inline constexpr std::uint32_t kMaxMessageLengthCap = 0x7fff0000;

// Message type bytes (55.7). Some bytes mean different messages in each direction.
namespace frontend {
inline constexpr char kBind = 'B';
inline constexpr char kClose = 'C';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyFail = 'f';
inline constexpr char kDescribe = 'D';
inline constexpr char kExecute = 'E';
inline constexpr char kFlush = 'H';
inline constexpr char kFunctionCall = 'F';
// PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse share 'p'; which one it is
// depends on the authentication request the server sent last.
inline constexpr char kAuthResponse = 'p';
inline constexpr char kParse = 'P';
inline constexpr char kQuery = 'Q';
inline constexpr char kSync = 'S';
inline constexpr char kTerminate = 'X';
}  // namespace frontend

namespace backend {
inline constexpr char kAuthentication = 'R';
inline constexpr char kBackendKeyData = 'K';
inline constexpr char kBindComplete = '2';
inline constexpr char kCloseComplete = '3';
inline constexpr char kCommandComplete = 'C';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyInResponse = 'G';
inline constexpr char kCopyOutResponse = 'H';
inline constexpr char kCopyBothResponse = 'W';
inline constexpr char kDataRow = 'D';
inline constexpr char kEmptyQueryResponse = 'I';
inline constexpr char kErrorResponse = 'E';
inline constexpr char kFunctionCallResponse = 'V';
inline constexpr char kNegotiateProtocolVersion = 'v';
inline constexpr char kNoData = 'n';
inline constexpr char kNoticeResponse = 'N';
inline constexpr char kNotificationResponse = 'A';
inline constexpr char kParameterDescription = 't';
inline constexpr char kParameterStatus = 'S';
inline constexpr char kParseComplete = '1';
inline constexpr char kPortalSuspended = 's';
inline constexpr char kReadyForQuery = 'Z';
inline constexpr char kRowDescription = 'T';
}  // namespace backend

// Field codes of ErrorResponse and NoticeResponse (55.8).
namespace error_field {
inline constexpr char kSeverity = 'S';              // localized
inline constexpr char kSeverityNonLocalized = 'V';  // since PostgreSQL 9.6
inline constexpr char kCode = 'C';                  // SQLSTATE
inline constexpr char kMessage = 'M';
inline constexpr char kDetail = 'D';
inline constexpr char kHint = 'H';
inline constexpr char kPosition = 'P';
inline constexpr char kInternalPosition = 'p';
inline constexpr char kInternalQuery = 'q';
inline constexpr char kWhere = 'W';
inline constexpr char kSchema = 's';
inline constexpr char kTable = 't';
inline constexpr char kColumn = 'c';
inline constexpr char kDataType = 'd';
inline constexpr char kConstraint = 'n';
inline constexpr char kFile = 'F';
inline constexpr char kLine = 'L';
inline constexpr char kRoutine = 'R';
}  // namespace error_field

// SQLSTATE codes the proxy sends itself (PostgreSQL docs, Appendix A).
namespace sqlstate {
inline constexpr const char* kProtocolViolation = "08P01";
inline constexpr const char* kConnectionFailure = "08006";
inline constexpr const char* kConnectionDoesNotExist = "08003";
inline constexpr const char* kSqlclientUnableToEstablishSqlconnection = "08001";
inline constexpr const char* kInvalidAuthorizationSpecification = "28000";
inline constexpr const char* kInvalidPassword = "28P01";
inline constexpr const char* kFeatureNotSupported = "0A000";
inline constexpr const char* kTooManyConnections = "53300";
inline constexpr const char* kQueryCanceled = "57014";
inline constexpr const char* kAdminShutdown = "57P01";
inline constexpr const char* kCannotConnectNow = "57P03";
inline constexpr const char* kInternalError = "XX000";
}  // namespace sqlstate

}  // namespace keel::pgwire
