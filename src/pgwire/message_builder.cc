#include "pgwire/message_builder.h"

#include <cassert>

#include "pgwire/message_writer.h"

namespace keel::pgwire {

namespace {

template <typename V>
std::uint16_t count16(const V& v) {
  assert(v.size() <= 0xffff);
  return static_cast<std::uint16_t>(v.size());
}

void writeFormats(MessageWriter& w, const std::vector<FormatCode>& formats) {
  w.u16(count16(formats));
  for (FormatCode f : formats) {
    w.i16(f);
  }
}

void writeNullable(MessageWriter& w, const NullableBytes& v) {
  if (v) {
    w.lengthPrefixed(*v);
  } else {
    w.nullValue();
  }
}

void writeValues(MessageWriter& w, const std::vector<NullableBytes>& values) {
  w.u16(count16(values));
  for (const NullableBytes& v : values) {
    writeNullable(w, v);
  }
}

void encodeEmpty(std::string& out, char type) {
  MessageWriter(out, type).finish();
}

void encodeCString(std::string& out, char type, std::string_view s) {
  MessageWriter w(out, type);
  w.cstring(s);
  w.finish();
}

void encodeBytes(std::string& out, char type, std::string_view s) {
  MessageWriter w(out, type);
  w.bytes(s);
  w.finish();
}

void encodeRequestCode(std::string& out, std::uint32_t code) {
  MessageWriter w(out);
  w.u32(code);
  w.finish();
}

void encodeTarget(std::string& out, char type, TargetKind kind, std::string_view name) {
  MessageWriter w(out, type);
  w.u8(static_cast<std::uint8_t>(kind));
  w.cstring(name);
  w.finish();
}

void encodeCopyResponse(std::string& out, char type, const CopyResponse& m) {
  MessageWriter w(out, type);
  w.u8(static_cast<std::uint8_t>(m.format));
  writeFormats(w, m.column_formats);
  w.finish();
}

void encodeErrorFields(std::string& out, char type, const ErrorFields& m) {
  MessageWriter w(out, type);
  for (const ErrorField& f : m.fields) {
    if (f.code == '\0') {
      continue;  // would end the field list early
    }
    w.u8(static_cast<std::uint8_t>(f.code));
    w.cstring(f.value);
  }
  w.u8(0);
  w.finish();
}

void appendFields(std::string& out, char type, std::string_view severity, std::string_view sqlstate,
                  std::string_view message, std::string_view detail, std::string_view hint) {
  ErrorFields e;
  e.fields.reserve(6);
  e.fields.push_back({error_field::kSeverity, severity});
  e.fields.push_back({error_field::kSeverityNonLocalized, severity});
  e.fields.push_back({error_field::kCode, sqlstate});
  e.fields.push_back({error_field::kMessage, message});
  if (!detail.empty()) {
    e.fields.push_back({error_field::kDetail, detail});
  }
  if (!hint.empty()) {
    e.fields.push_back({error_field::kHint, hint});
  }
  encodeErrorFields(out, type, e);
}

}  // namespace

// --- Startup phase ---

void encode(std::string& out, const StartupMessage& m) {
  MessageWriter w(out);
  w.u32(m.protocol_version);
  for (const auto& [name, value] : m.parameters) {
    if (name.empty()) {
      continue;  // an empty name is the list terminator
    }
    w.cstring(name);
    w.cstring(value);
  }
  w.u8(0);
  w.finish();
}

void encode(std::string& out, const SslRequest&) {
  encodeRequestCode(out, kSslRequestCode);
}

void encode(std::string& out, const GssEncRequest&) {
  encodeRequestCode(out, kGssEncRequestCode);
}

void encode(std::string& out, const CancelRequest& m) {
  MessageWriter w(out);
  w.u32(kCancelRequestCode);
  w.i32(m.process_id);
  w.i32(m.secret_key);
  w.finish();
}

// --- Frontend ---

void encode(std::string& out, const Bind& m) {
  MessageWriter w(out, frontend::kBind);
  w.cstring(m.portal);
  w.cstring(m.statement);
  writeFormats(w, m.parameter_formats);
  writeValues(w, m.parameters);
  writeFormats(w, m.result_formats);
  w.finish();
}

void encode(std::string& out, const Close& m) {
  encodeTarget(out, frontend::kClose, m.kind, m.name);
}

void encode(std::string& out, const Describe& m) {
  encodeTarget(out, frontend::kDescribe, m.kind, m.name);
}

void encode(std::string& out, const CopyData& m) {
  encodeBytes(out, frontend::kCopyData, m.data);
}

void encode(std::string& out, const CopyDone&) {
  encodeEmpty(out, frontend::kCopyDone);
}

void encode(std::string& out, const CopyFail& m) {
  encodeCString(out, frontend::kCopyFail, m.message);
}

void encode(std::string& out, const Execute& m) {
  MessageWriter w(out, frontend::kExecute);
  w.cstring(m.portal);
  w.i32(m.max_rows);
  w.finish();
}

void encode(std::string& out, const Flush&) {
  encodeEmpty(out, frontend::kFlush);
}

void encode(std::string& out, const FunctionCall& m) {
  MessageWriter w(out, frontend::kFunctionCall);
  w.u32(m.function);
  writeFormats(w, m.argument_formats);
  writeValues(w, m.arguments);
  w.i16(m.result_format);
  w.finish();
}

void encode(std::string& out, const Parse& m) {
  MessageWriter w(out, frontend::kParse);
  w.cstring(m.statement);
  w.cstring(m.query);
  w.u16(count16(m.parameter_types));
  for (Oid t : m.parameter_types) {
    w.u32(t);
  }
  w.finish();
}

void encode(std::string& out, const Query& m) {
  encodeCString(out, frontend::kQuery, m.sql);
}

void encode(std::string& out, const Sync&) {
  encodeEmpty(out, frontend::kSync);
}

void encode(std::string& out, const Terminate&) {
  encodeEmpty(out, frontend::kTerminate);
}

void encode(std::string& out, const PasswordMessage& m) {
  encodeCString(out, frontend::kAuthResponse, m.password);
}

void encode(std::string& out, const SaslInitialResponse& m) {
  MessageWriter w(out, frontend::kAuthResponse);
  w.cstring(m.mechanism);
  writeNullable(w, m.initial_response);
  w.finish();
}

void encode(std::string& out, const SaslResponse& m) {
  encodeBytes(out, frontend::kAuthResponse, m.data);
}

void encode(std::string& out, const GssResponse& m) {
  encodeBytes(out, frontend::kAuthResponse, m.data);
}

// --- Backend ---

void encode(std::string& out, const Authentication& m) {
  MessageWriter w(out, backend::kAuthentication);
  w.i32(static_cast<std::int32_t>(m.request));
  switch (m.request) {
    case AuthRequest::md5_password:
      w.bytes(std::string_view(m.md5_salt.data(), m.md5_salt.size()));
      break;
    case AuthRequest::sasl:
      for (std::string_view mech : m.sasl_mechanisms) {
        if (!mech.empty()) {
          w.cstring(mech);
        }
      }
      w.u8(0);
      break;
    case AuthRequest::gss_continue:
    case AuthRequest::sasl_continue:
    case AuthRequest::sasl_final:
      w.bytes(m.data);
      break;
    default:
      break;
  }
  w.finish();
}

void encode(std::string& out, const BackendKeyData& m) {
  MessageWriter w(out, backend::kBackendKeyData);
  w.i32(m.process_id);
  w.i32(m.secret_key);
  w.finish();
}

void encode(std::string& out, const BindComplete&) {
  encodeEmpty(out, backend::kBindComplete);
}

void encode(std::string& out, const CloseComplete&) {
  encodeEmpty(out, backend::kCloseComplete);
}

void encode(std::string& out, const CommandComplete& m) {
  encodeCString(out, backend::kCommandComplete, m.tag);
}

void encode(std::string& out, const CopyInResponse& m) {
  encodeCopyResponse(out, backend::kCopyInResponse, m);
}

void encode(std::string& out, const CopyOutResponse& m) {
  encodeCopyResponse(out, backend::kCopyOutResponse, m);
}

void encode(std::string& out, const CopyBothResponse& m) {
  encodeCopyResponse(out, backend::kCopyBothResponse, m);
}

void encode(std::string& out, const DataRow& m) {
  MessageWriter w(out, backend::kDataRow);
  writeValues(w, m.columns);
  w.finish();
}

void encode(std::string& out, const EmptyQueryResponse&) {
  encodeEmpty(out, backend::kEmptyQueryResponse);
}

void encode(std::string& out, const ErrorResponse& m) {
  encodeErrorFields(out, backend::kErrorResponse, m);
}

void encode(std::string& out, const NoticeResponse& m) {
  encodeErrorFields(out, backend::kNoticeResponse, m);
}

void encode(std::string& out, const FunctionCallResponse& m) {
  MessageWriter w(out, backend::kFunctionCallResponse);
  writeNullable(w, m.result);
  w.finish();
}

void encode(std::string& out, const NegotiateProtocolVersion& m) {
  MessageWriter w(out, backend::kNegotiateProtocolVersion);
  w.i32(m.newest_minor);
  w.i32(static_cast<std::int32_t>(m.unrecognized_options.size()));
  for (std::string_view option : m.unrecognized_options) {
    w.cstring(option);
  }
  w.finish();
}

void encode(std::string& out, const NoData&) {
  encodeEmpty(out, backend::kNoData);
}

void encode(std::string& out, const NotificationResponse& m) {
  MessageWriter w(out, backend::kNotificationResponse);
  w.i32(m.process_id);
  w.cstring(m.channel);
  w.cstring(m.payload);
  w.finish();
}

void encode(std::string& out, const ParameterDescription& m) {
  MessageWriter w(out, backend::kParameterDescription);
  w.u16(count16(m.types));
  for (Oid t : m.types) {
    w.u32(t);
  }
  w.finish();
}

void encode(std::string& out, const ParameterStatus& m) {
  MessageWriter w(out, backend::kParameterStatus);
  w.cstring(m.name);
  w.cstring(m.value);
  w.finish();
}

void encode(std::string& out, const ParseComplete&) {
  encodeEmpty(out, backend::kParseComplete);
}

void encode(std::string& out, const PortalSuspended&) {
  encodeEmpty(out, backend::kPortalSuspended);
}

void encode(std::string& out, const ReadyForQuery& m) {
  MessageWriter w(out, backend::kReadyForQuery);
  w.u8(static_cast<std::uint8_t>(m.status));
  w.finish();
}

void encode(std::string& out, const RowDescription& m) {
  MessageWriter w(out, backend::kRowDescription);
  w.u16(count16(m.fields));
  for (const FieldDescription& f : m.fields) {
    w.cstring(f.name);
    w.u32(f.table);
    w.i16(f.column);
    w.u32(f.type);
    w.i16(f.type_size);
    w.i32(f.type_modifier);
    w.i16(f.format);
  }
  w.finish();
}

// --- Error helpers ---

void appendErrorResponse(std::string& out, std::string_view severity, std::string_view sqlstate,
                         std::string_view message, std::string_view detail, std::string_view hint) {
  appendFields(out, backend::kErrorResponse, severity, sqlstate, message, detail, hint);
}

std::string errorResponse(std::string_view severity, std::string_view sqlstate,
                          std::string_view message, std::string_view detail,
                          std::string_view hint) {
  std::string out;
  appendErrorResponse(out, severity, sqlstate, message, detail, hint);
  return out;
}

void appendNoticeResponse(std::string& out, std::string_view severity, std::string_view sqlstate,
                          std::string_view message, std::string_view detail,
                          std::string_view hint) {
  appendFields(out, backend::kNoticeResponse, severity, sqlstate, message, detail, hint);
}

std::string noticeResponse(std::string_view severity, std::string_view sqlstate,
                           std::string_view message, std::string_view detail,
                           std::string_view hint) {
  std::string out;
  appendNoticeResponse(out, severity, sqlstate, message, detail, hint);
  return out;
}

std::string errorResponseFor(const Failure<WireErrc>& failure) {
  return errorResponse("FATAL", sqlstateFor(failure.code), failure.message);
}

}  // namespace keel::pgwire
