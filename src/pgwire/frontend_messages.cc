#include "pgwire/frontend_messages.h"

#include <string>

#include "pgwire/byte_reader.h"

namespace keel::pgwire {

namespace {

std::vector<FormatCode> readFormats(ByteReader& r, const char* count_field, const char* field) {
  std::size_t n = r.count16(count_field, 2);
  std::vector<FormatCode> formats;
  formats.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    formats.push_back(r.i16(field));
  }
  return formats;
}

// UInt16 count, then per value Int32 length (-1 = NULL) and the bytes.
std::vector<NullableBytes> readValues(ByteReader& r, const char* count_field, const char* field) {
  std::size_t n = r.count16(count_field, 4);
  std::vector<NullableBytes> values;
  values.reserve(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) {
    std::string_view v;
    if (r.nullableBytes(field, v)) {
      values.emplace_back(v);
    } else {
      values.emplace_back(std::nullopt);
    }
  }
  return values;
}

TargetKind readTarget(ByteReader& r, const char* message) {
  std::uint8_t k = r.u8("statement or portal");
  if (!r.failed() && k != 'S' && k != 'P') {
    r.fail(WireErrc::malformed, std::string("the ") + message + " target is " + std::to_string(k) +
                                    ", neither 'S' (statement) nor 'P' (portal)");
  }
  return static_cast<TargetKind>(k);
}

template <typename T>
WireResult<T> parseEmpty(std::string_view payload, std::string_view name) {
  ByteReader r(payload);
  return r.finish(name, T{});
}

void expectCode(ByteReader& r, std::uint32_t expected) {
  std::uint32_t code = r.u32("request code");
  if (!r.failed() && code != expected) {
    r.fail(WireErrc::malformed,
           "request code " + std::to_string(code) + " instead of " + std::to_string(expected));
  }
}

}  // namespace

std::optional<std::string_view> StartupMessage::parameter(std::string_view name) const {
  for (const auto& [key, value] : parameters) {
    if (key == name) {
      return value;
    }
  }
  return std::nullopt;
}

// 55.7 StartupMessage: Int32 version, then name/value String pairs ended by a lone NUL.
WireResult<StartupMessage> parseStartupMessage(std::string_view payload) {
  ByteReader r(payload);
  StartupMessage m;
  m.protocol_version = r.u32("protocol version");
  if (!r.failed() && protocolMajor(m.protocol_version) != 3) {
    return fail(
        WireErrc::unsupported_protocol,
        "unsupported frontend protocol " + std::to_string(protocolMajor(m.protocol_version)) + "." +
            std::to_string(protocolMinor(m.protocol_version)) + ": Keel speaks protocol 3.0");
  }
  while (!r.failed()) {
    std::string_view name = r.cstring("parameter name");
    if (r.failed() || name.empty()) {
      break;
    }
    std::string_view value = r.cstring("parameter value");
    m.parameters.emplace_back(name, value);
  }
  return r.finish("StartupMessage", std::move(m));
}

WireResult<SslRequest> parseSslRequest(std::string_view payload) {
  ByteReader r(payload);
  expectCode(r, kSslRequestCode);
  return r.finish("SSLRequest", SslRequest{});
}

WireResult<GssEncRequest> parseGssEncRequest(std::string_view payload) {
  ByteReader r(payload);
  expectCode(r, kGssEncRequestCode);
  return r.finish("GSSENCRequest", GssEncRequest{});
}

// 55.7 CancelRequest: Int32 code, Int32 process ID, Int32 secret key.
WireResult<CancelRequest> parseCancelRequest(std::string_view payload) {
  ByteReader r(payload);
  expectCode(r, kCancelRequestCode);
  CancelRequest m;
  m.process_id = r.i32("process ID");
  m.secret_key = r.i32("secret key");
  return r.finish("CancelRequest", m);
}

// 55.7 Bind: portal, statement, Int16 C + Int16[C] parameter formats, Int16 N + N values
// (Int32 length or -1, bytes), Int16 R + Int16[R] result formats.
WireResult<Bind> parseBind(std::string_view payload) {
  ByteReader r(payload);
  Bind m;
  m.portal = r.cstring("portal name");
  m.statement = r.cstring("statement name");
  m.parameter_formats = readFormats(r, "parameter format count", "parameter format");
  m.parameters = readValues(r, "parameter count", "parameter value");
  m.result_formats = readFormats(r, "result format count", "result format");
  return r.finish("Bind", std::move(m));
}

WireResult<Close> parseClose(std::string_view payload) {
  ByteReader r(payload);
  Close m;
  m.kind = readTarget(r, "Close");
  m.name = r.cstring("name");
  return r.finish("Close", m);
}

WireResult<Describe> parseDescribe(std::string_view payload) {
  ByteReader r(payload);
  Describe m;
  m.kind = readTarget(r, "Describe");
  m.name = r.cstring("name");
  return r.finish("Describe", m);
}

WireResult<CopyData> parseCopyData(std::string_view payload) {
  return CopyData{payload};
}

WireResult<CopyDone> parseCopyDone(std::string_view payload) {
  return parseEmpty<CopyDone>(payload, "CopyDone");
}

WireResult<CopyFail> parseCopyFail(std::string_view payload) {
  ByteReader r(payload);
  CopyFail m;
  m.message = r.cstring("error message");
  return r.finish("CopyFail", m);
}

WireResult<Execute> parseExecute(std::string_view payload) {
  ByteReader r(payload);
  Execute m;
  m.portal = r.cstring("portal name");
  m.max_rows = r.i32("maximum rows");
  return r.finish("Execute", m);
}

WireResult<Flush> parseFlush(std::string_view payload) {
  return parseEmpty<Flush>(payload, "Flush");
}

// 55.7 FunctionCall: Int32 OID, Int16 C + Int16[C] argument formats, Int16 N + N arguments,
// Int16 result format.
WireResult<FunctionCall> parseFunctionCall(std::string_view payload) {
  ByteReader r(payload);
  FunctionCall m;
  m.function = r.u32("function OID");
  m.argument_formats = readFormats(r, "argument format count", "argument format");
  m.arguments = readValues(r, "argument count", "argument value");
  m.result_format = r.i16("result format");
  return r.finish("FunctionCall", std::move(m));
}

// 55.7 Parse: statement, query, Int16 N + Int32[N] parameter type OIDs.
WireResult<Parse> parseParse(std::string_view payload) {
  ByteReader r(payload);
  Parse m;
  m.statement = r.cstring("statement name");
  m.query = r.cstring("query");
  std::size_t n = r.count16("parameter type count", 4);
  m.parameter_types.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    m.parameter_types.push_back(r.u32("parameter type OID"));
  }
  return r.finish("Parse", std::move(m));
}

WireResult<Query> parseQuery(std::string_view payload) {
  ByteReader r(payload);
  Query m;
  m.sql = r.cstring("query string");
  return r.finish("Query", m);
}

WireResult<Sync> parseSync(std::string_view payload) {
  return parseEmpty<Sync>(payload, "Sync");
}

WireResult<Terminate> parseTerminate(std::string_view payload) {
  return parseEmpty<Terminate>(payload, "Terminate");
}

WireResult<PasswordMessage> parsePasswordMessage(std::string_view payload) {
  ByteReader r(payload);
  PasswordMessage m;
  m.password = r.cstring("password");
  return r.finish("PasswordMessage", m);
}

// 55.7 SASLInitialResponse: mechanism, Int32 length (-1 = no initial response), bytes.
WireResult<SaslInitialResponse> parseSaslInitialResponse(std::string_view payload) {
  ByteReader r(payload);
  SaslInitialResponse m;
  m.mechanism = r.cstring("mechanism name");
  std::string_view data;
  if (r.nullableBytes("initial response", data)) {
    m.initial_response = data;
  }
  return r.finish("SASLInitialResponse", m);
}

WireResult<SaslResponse> parseSaslResponse(std::string_view payload) {
  return SaslResponse{payload};
}

WireResult<GssResponse> parseGssResponse(std::string_view payload) {
  return GssResponse{payload};
}

}  // namespace keel::pgwire
