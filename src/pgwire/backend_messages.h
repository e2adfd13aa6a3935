#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "pgwire/frontend_messages.h"
#include "pgwire/wire_errc.h"

// Messages a backend (PostgreSQL, or Keel acting as one) sends, protocol 3.0 (PostgreSQL docs
// 55.7 "Message Formats", 55.8 "Error and Notice Message Fields"). Same conventions as
// frontend_messages.h: parsed messages borrow from the payload; parse functions take the bytes
// after the type byte and length word and reject anything that does not fit. CopyData and
// CopyDone are the structs declared in frontend_messages.h (same format in both directions).
namespace keel::pgwire {

// The Int32 request code of an 'R' message.
enum class AuthRequest : std::int32_t {
  ok = 0,
  kerberos_v5 = 2,
  cleartext_password = 3,
  md5_password = 5,
  gss = 7,
  gss_continue = 8,
  sspi = 9,
  sasl = 10,
  sasl_continue = 11,
  sasl_final = 12,
};

struct Authentication {
  AuthRequest request = AuthRequest::ok;
  std::array<char, 4> md5_salt{};                 // md5_password
  std::vector<std::string_view> sasl_mechanisms;  // sasl, in the server's order of preference
  std::string_view data;                          // gss_continue, sasl_continue, sasl_final

  static Authentication ok() { return {}; }
  static Authentication md5(std::array<char, 4> salt) {
    return {.request = AuthRequest::md5_password, .md5_salt = salt};
  }
  static Authentication sasl(std::vector<std::string_view> mechanisms) {
    return {.request = AuthRequest::sasl, .sasl_mechanisms = std::move(mechanisms)};
  }
  static Authentication saslContinue(std::string_view data) {
    return {.request = AuthRequest::sasl_continue, .data = data};
  }
  static Authentication saslFinal(std::string_view data) {
    return {.request = AuthRequest::sasl_final, .data = data};
  }
  bool operator==(const Authentication&) const = default;
};

struct BackendKeyData {
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
  bool operator==(const BackendKeyData&) const = default;
};

struct BindComplete {
  bool operator==(const BindComplete&) const = default;
};
struct CloseComplete {
  bool operator==(const CloseComplete&) const = default;
};

struct CommandComplete {
  std::string_view tag;  // "SELECT 5", "INSERT 0 1", "BEGIN", ...
  bool operator==(const CommandComplete&) const = default;
};

// CopyInResponse ('G'), CopyOutResponse ('H') and CopyBothResponse ('W') share one layout.
struct CopyResponse {
  std::int8_t format = 0;  // 0 textual, 1 binary
  std::vector<FormatCode> column_formats;
  bool operator==(const CopyResponse&) const = default;
};

struct CopyInResponse : CopyResponse {
  bool operator==(const CopyInResponse&) const = default;
};
struct CopyOutResponse : CopyResponse {
  bool operator==(const CopyOutResponse&) const = default;
};
struct CopyBothResponse : CopyResponse {
  bool operator==(const CopyBothResponse&) const = default;
};

struct DataRow {
  std::vector<NullableBytes> columns;
  bool operator==(const DataRow&) const = default;
};

struct EmptyQueryResponse {
  bool operator==(const EmptyQueryResponse&) const = default;
};

struct ErrorField {
  char code = 0;  // see error_field:: in protocol.h
  std::string_view value;
  bool operator==(const ErrorField&) const = default;
};

// ErrorResponse ('E') and NoticeResponse ('N'): fields, each Byte1 code + String, then a NUL.
struct ErrorFields {
  std::vector<ErrorField> fields;

  // The first field with `code`, or "" if absent.
  std::string_view get(char code) const;
  std::string_view severity() const;  // non-localized V if present, else S
  std::string_view sqlstate() const { return get(error_field::kCode); }
  std::string_view message() const { return get(error_field::kMessage); }
  bool operator==(const ErrorFields&) const = default;
};

struct ErrorResponse : ErrorFields {
  bool operator==(const ErrorResponse&) const = default;
};
struct NoticeResponse : ErrorFields {
  bool operator==(const NoticeResponse&) const = default;
};

struct FunctionCallResponse {
  NullableBytes result;
  bool operator==(const FunctionCallResponse&) const = default;
};

struct NegotiateProtocolVersion {
  std::int32_t newest_minor = 0;  // newest minor version of the requested major it supports
  std::vector<std::string_view> unrecognized_options;  // "_pq_." options it does not know
  bool operator==(const NegotiateProtocolVersion&) const = default;
};

struct NoData {
  bool operator==(const NoData&) const = default;
};

struct NotificationResponse {
  std::int32_t process_id = 0;
  std::string_view channel;
  std::string_view payload;
  bool operator==(const NotificationResponse&) const = default;
};

struct ParameterDescription {
  std::vector<Oid> types;
  bool operator==(const ParameterDescription&) const = default;
};

struct ParameterStatus {
  std::string_view name;
  std::string_view value;
  bool operator==(const ParameterStatus&) const = default;
};

struct ParseComplete {
  bool operator==(const ParseComplete&) const = default;
};
struct PortalSuspended {
  bool operator==(const PortalSuspended&) const = default;
};

enum class TransactionStatus : char { idle = 'I', in_transaction = 'T', failed = 'E' };

struct ReadyForQuery {
  TransactionStatus status = TransactionStatus::idle;
  bool operator==(const ReadyForQuery&) const = default;
};

struct FieldDescription {
  std::string_view name;
  Oid table = 0;            // 0 if not a table column
  std::int16_t column = 0;  // attribute number, 0 if not a table column
  Oid type = 0;
  std::int16_t type_size = 0;  // negative for variable-width types
  std::int32_t type_modifier = 0;
  FormatCode format = 0;  // 0 (text) in a Describe answer: formats are not known yet
  bool operator==(const FieldDescription&) const = default;
};

struct RowDescription {
  std::vector<FieldDescription> fields;
  bool operator==(const RowDescription&) const = default;
};

// Fails with malformed for a request code protocol 3.0 does not define, and for an md5 salt
// other than 4 bytes or a SASL list without its terminating empty name.
WireResult<Authentication> parseAuthentication(std::string_view payload);
WireResult<BackendKeyData> parseBackendKeyData(std::string_view payload);
WireResult<BindComplete> parseBindComplete(std::string_view payload);
WireResult<CloseComplete> parseCloseComplete(std::string_view payload);
WireResult<CommandComplete> parseCommandComplete(std::string_view payload);
WireResult<CopyInResponse> parseCopyInResponse(std::string_view payload);
WireResult<CopyOutResponse> parseCopyOutResponse(std::string_view payload);
WireResult<CopyBothResponse> parseCopyBothResponse(std::string_view payload);
WireResult<DataRow> parseDataRow(std::string_view payload);
WireResult<EmptyQueryResponse> parseEmptyQueryResponse(std::string_view payload);
WireResult<ErrorResponse> parseErrorResponse(std::string_view payload);
WireResult<NoticeResponse> parseNoticeResponse(std::string_view payload);
WireResult<FunctionCallResponse> parseFunctionCallResponse(std::string_view payload);
WireResult<NegotiateProtocolVersion> parseNegotiateProtocolVersion(std::string_view payload);
WireResult<NoData> parseNoData(std::string_view payload);
WireResult<NotificationResponse> parseNotificationResponse(std::string_view payload);
WireResult<ParameterDescription> parseParameterDescription(std::string_view payload);
WireResult<ParameterStatus> parseParameterStatus(std::string_view payload);
WireResult<ParseComplete> parseParseComplete(std::string_view payload);
WireResult<PortalSuspended> parsePortalSuspended(std::string_view payload);
// Fails with malformed for a status other than 'I', 'T', 'E'.
WireResult<ReadyForQuery> parseReadyForQuery(std::string_view payload);
WireResult<RowDescription> parseRowDescription(std::string_view payload);

}  // namespace keel::pgwire
