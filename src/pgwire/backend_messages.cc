#include "pgwire/backend_messages.h"

#include <algorithm>
#include <string>

#include "pgwire/byte_reader.h"

namespace keel::pgwire {

namespace {

template <typename T>
WireResult<T> parseEmpty(std::string_view payload, std::string_view name) {
  ByteReader r(payload);
  return r.finish(name, T{});
}

}  // namespace

std::string_view ErrorFields::get(char code) const {
  for (const ErrorField& f : fields) {
    if (f.code == code) {
      return f.value;
    }
  }
  return {};
}

std::string_view ErrorFields::severity() const {
  std::string_view v = get(error_field::kSeverityNonLocalized);
  return v.empty() ? get(error_field::kSeverity) : v;
}

// 55.7 Authentication*: Int32 request code, then per code: nothing, Byte4 salt (MD5Password),
// mechanism names ended by an empty String (SASL), or the rest as data (GSSContinue,
// SASLContinue, SASLFinal).
WireResult<Authentication> parseAuthentication(std::string_view payload) {
  ByteReader r(payload);
  Authentication m;
  std::int32_t code = r.i32("request code");
  m.request = static_cast<AuthRequest>(code);
  if (r.failed()) {
    return r.finish("Authentication", std::move(m));
  }
  switch (m.request) {
    case AuthRequest::ok:
    case AuthRequest::kerberos_v5:
    case AuthRequest::cleartext_password:
    case AuthRequest::gss:
    case AuthRequest::sspi:
      break;
    case AuthRequest::md5_password: {
      std::string_view salt = r.bytes(4, "salt");
      if (!r.failed()) {
        std::copy(salt.begin(), salt.end(), m.md5_salt.begin());
      }
      break;
    }
    case AuthRequest::sasl:
      for (;;) {
        std::string_view name = r.cstring("mechanism name");
        if (r.failed() || name.empty()) {
          break;
        }
        m.sasl_mechanisms.push_back(name);
      }
      break;
    case AuthRequest::gss_continue:
    case AuthRequest::sasl_continue:
    case AuthRequest::sasl_final:
      m.data = r.rest();
      break;
    default:
      r.fail(WireErrc::malformed,
             "authentication request code " + std::to_string(code) + " is not defined");
  }
  return r.finish("Authentication", std::move(m));
}

WireResult<BackendKeyData> parseBackendKeyData(std::string_view payload) {
  ByteReader r(payload);
  BackendKeyData m;
  m.process_id = r.i32("process ID");
  m.secret_key = r.i32("secret key");
  return r.finish("BackendKeyData", m);
}

WireResult<BindComplete> parseBindComplete(std::string_view payload) {
  return parseEmpty<BindComplete>(payload, "BindComplete");
}

WireResult<CloseComplete> parseCloseComplete(std::string_view payload) {
  return parseEmpty<CloseComplete>(payload, "CloseComplete");
}

WireResult<CommandComplete> parseCommandComplete(std::string_view payload) {
  ByteReader r(payload);
  CommandComplete m;
  m.tag = r.cstring("command tag");
  return r.finish("CommandComplete", m);
}

namespace {

// 55.7 CopyInResponse/CopyOutResponse/CopyBothResponse: Int8 format, Int16 N, Int16[N] formats.
template <typename T>
WireResult<T> parseCopyResponse(std::string_view payload, std::string_view name) {
  ByteReader r(payload);
  T m;
  m.format = static_cast<std::int8_t>(r.u8("overall format"));
  std::size_t n = r.count16("column count", 2);
  m.column_formats.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    m.column_formats.push_back(r.i16("column format"));
  }
  return r.finish(name, std::move(m));
}

// 55.7/55.8 ErrorResponse and NoticeResponse: (Byte1 code, String value)*, Byte1 0.
template <typename T>
WireResult<T> parseErrorFields(std::string_view payload, std::string_view name) {
  ByteReader r(payload);
  T m;
  for (;;) {
    auto code = static_cast<char>(r.u8("field code"));
    if (r.failed() || code == '\0') {
      break;
    }
    std::string_view value = r.cstring("field value");
    if (!r.failed()) {
      m.fields.push_back({code, value});
    }
  }
  return r.finish(name, std::move(m));
}

}  // namespace

WireResult<CopyInResponse> parseCopyInResponse(std::string_view payload) {
  return parseCopyResponse<CopyInResponse>(payload, "CopyInResponse");
}

WireResult<CopyOutResponse> parseCopyOutResponse(std::string_view payload) {
  return parseCopyResponse<CopyOutResponse>(payload, "CopyOutResponse");
}

WireResult<CopyBothResponse> parseCopyBothResponse(std::string_view payload) {
  return parseCopyResponse<CopyBothResponse>(payload, "CopyBothResponse");
}

// 55.7 DataRow: Int16 N, then per column Int32 length (-1 = NULL) and the bytes.
WireResult<DataRow> parseDataRow(std::string_view payload) {
  ByteReader r(payload);
  DataRow m;
  std::size_t n = r.count16("column count", 4);
  m.columns.reserve(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) {
    std::string_view v;
    if (r.nullableBytes("column value", v)) {
      m.columns.emplace_back(v);
    } else {
      m.columns.emplace_back(std::nullopt);
    }
  }
  return r.finish("DataRow", std::move(m));
}

WireResult<EmptyQueryResponse> parseEmptyQueryResponse(std::string_view payload) {
  return parseEmpty<EmptyQueryResponse>(payload, "EmptyQueryResponse");
}

WireResult<ErrorResponse> parseErrorResponse(std::string_view payload) {
  return parseErrorFields<ErrorResponse>(payload, "ErrorResponse");
}

WireResult<NoticeResponse> parseNoticeResponse(std::string_view payload) {
  return parseErrorFields<NoticeResponse>(payload, "NoticeResponse");
}

WireResult<FunctionCallResponse> parseFunctionCallResponse(std::string_view payload) {
  ByteReader r(payload);
  FunctionCallResponse m;
  std::string_view v;
  if (r.nullableBytes("result value", v)) {
    m.result = v;
  }
  return r.finish("FunctionCallResponse", m);
}

// 55.7 NegotiateProtocolVersion: Int32 newest minor, Int32 N, String[N] option names.
WireResult<NegotiateProtocolVersion> parseNegotiateProtocolVersion(std::string_view payload) {
  ByteReader r(payload);
  NegotiateProtocolVersion m;
  m.newest_minor = r.i32("newest minor version");
  std::size_t n = r.count32("unrecognized option count", 1);
  m.unrecognized_options.reserve(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) {
    m.unrecognized_options.push_back(r.cstring("option name"));
  }
  return r.finish("NegotiateProtocolVersion", std::move(m));
}

WireResult<NoData> parseNoData(std::string_view payload) {
  return parseEmpty<NoData>(payload, "NoData");
}

WireResult<NotificationResponse> parseNotificationResponse(std::string_view payload) {
  ByteReader r(payload);
  NotificationResponse m;
  m.process_id = r.i32("process ID");
  m.channel = r.cstring("channel");
  m.payload = r.cstring("payload");
  return r.finish("NotificationResponse", m);
}

WireResult<ParameterDescription> parseParameterDescription(std::string_view payload) {
  ByteReader r(payload);
  ParameterDescription m;
  std::size_t n = r.count16("parameter count", 4);
  m.types.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    m.types.push_back(r.u32("parameter type OID"));
  }
  return r.finish("ParameterDescription", std::move(m));
}

WireResult<ParameterStatus> parseParameterStatus(std::string_view payload) {
  ByteReader r(payload);
  ParameterStatus m;
  m.name = r.cstring("parameter name");
  m.value = r.cstring("parameter value");
  return r.finish("ParameterStatus", m);
}

WireResult<ParseComplete> parseParseComplete(std::string_view payload) {
  return parseEmpty<ParseComplete>(payload, "ParseComplete");
}

WireResult<PortalSuspended> parsePortalSuspended(std::string_view payload) {
  return parseEmpty<PortalSuspended>(payload, "PortalSuspended");
}

WireResult<ReadyForQuery> parseReadyForQuery(std::string_view payload) {
  ByteReader r(payload);
  ReadyForQuery m;
  std::uint8_t status = r.u8("transaction status");
  if (!r.failed() && status != 'I' && status != 'T' && status != 'E') {
    r.fail(WireErrc::malformed,
           "transaction status " + std::to_string(status) + " is not 'I', 'T' or 'E'");
  }
  m.status = static_cast<TransactionStatus>(status);
  return r.finish("ReadyForQuery", m);
}

// 55.7 RowDescription: Int16 N, then per field: name, Int32 table OID, Int16 column, Int32 type
// OID, Int16 size, Int32 modifier, Int16 format (18 bytes after the name).
WireResult<RowDescription> parseRowDescription(std::string_view payload) {
  ByteReader r(payload);
  RowDescription m;
  std::size_t n = r.count16("field count", 19);
  m.fields.reserve(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) {
    FieldDescription f;
    f.name = r.cstring("field name");
    f.table = r.u32("table OID");
    f.column = r.i16("column attribute number");
    f.type = r.u32("type OID");
    f.type_size = r.i16("type size");
    f.type_modifier = r.i32("type modifier");
    f.format = r.i16("format code");
    m.fields.push_back(f);
  }
  return r.finish("RowDescription", std::move(m));
}

}  // namespace keel::pgwire
