#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgwire/frame_decoder.h"
#include "pgwire/message_builder.h"

namespace keel::pgwire::testing {

// One encoded message of every protocol 3.0 type (several for messages with variants), with a
// check that parses a payload and compares it with the message that was encoded. Every string
// the messages view is a literal, so samples can be copied freely.
struct Sample {
  std::string name;
  Source source = Source::frontend;
  FrameKind kind = FrameKind::message;
  char type = '\0';
  std::string wire;
  // "" when `payload` parses back to the encoded message, else why not.
  std::function<std::string(std::string_view payload)> parsesBack;
  // The last field takes "the rest of the message", so a prefix of the payload still parses.
  bool open_ended = false;
};

template <typename M>
Sample makeSample(std::string name, Source source, M msg, WireResult<M> (*parse)(std::string_view),
                  FrameKind kind = FrameKind::message, bool open_ended = false) {
  Sample s;
  s.name = std::move(name);
  s.source = source;
  s.kind = kind;
  s.wire = encoded(msg);
  s.type = kind == FrameKind::message ? s.wire[0] : '\0';
  s.open_ended = open_ended;
  s.parsesBack = [msg = std::move(msg), parse](std::string_view payload) -> std::string {
    WireResult<M> r = parse(payload);
    if (!r) {
      return r.message();
    }
    if (!(*r == msg)) {
      return "the parsed message differs from the encoded one";
    }
    return "";
  };
  return s;
}

inline std::vector<Sample> allSamples() {
  using namespace std::string_view_literals;
  const auto fe = Source::frontend;
  const auto be = Source::backend;
  std::vector<Sample> v;

  // Startup phase.
  v.push_back(makeSample("StartupMessage", fe,
                         StartupMessage{kProtocolVersion3,
                                        {{"user", "alice"},
                                         {"database", "app"},
                                         {"application_name", ""},
                                         {"_pq_.some_option", "on"}}},
                         &parseStartupMessage, FrameKind::startup));
  v.push_back(makeSample("StartupMessage no parameters", fe, StartupMessage{}, &parseStartupMessage,
                         FrameKind::startup));
  v.push_back(makeSample("SSLRequest", fe, SslRequest{}, &parseSslRequest, FrameKind::ssl_request));
  v.push_back(makeSample("GSSENCRequest", fe, GssEncRequest{}, &parseGssEncRequest,
                         FrameKind::gssenc_request));
  v.push_back(makeSample("CancelRequest", fe, CancelRequest{4242, -559038737}, &parseCancelRequest,
                         FrameKind::cancel_request));

  // Frontend.
  v.push_back(makeSample(
      "Bind", fe, Bind{"portal", "stmt", {0, 1}, {"42"sv, std::nullopt, "\0\1\2"sv, ""sv}, {1}},
      &parseBind));
  v.push_back(makeSample("Bind unnamed, no parameters", fe, Bind{}, &parseBind));
  v.push_back(makeSample("Close statement", fe, Close{TargetKind::statement, "s1"}, &parseClose));
  v.push_back(makeSample("Close portal", fe, Close{TargetKind::portal, ""}, &parseClose));
  v.push_back(
      makeSample("Describe statement", fe, Describe{TargetKind::statement, "P_0"}, &parseDescribe));
  v.push_back(makeSample("Describe portal", fe, Describe{TargetKind::portal, ""}, &parseDescribe));
  v.push_back(makeSample("CopyData frontend", fe, CopyData{"1\talice\n\0x"sv}, &parseCopyData,
                         FrameKind::message, true));
  v.push_back(makeSample("CopyDone frontend", fe, CopyDone{}, &parseCopyDone));
  v.push_back(makeSample("CopyFail", fe, CopyFail{"client gave up"}, &parseCopyFail));
  v.push_back(makeSample("Execute", fe, Execute{"portal", 100}, &parseExecute));
  v.push_back(makeSample("Flush", fe, Flush{}, &parseFlush));
  v.push_back(makeSample("FunctionCall", fe,
                         FunctionCall{1598, {1}, {"\0\0\0\1"sv, std::nullopt}, 1},
                         &parseFunctionCall));
  v.push_back(makeSample("Parse", fe, Parse{"P_0", "SELECT $1::int, $2", {23, 0}}, &parseParse));
  v.push_back(makeSample("Query", fe, Query{"SELECT 1; BEGIN"}, &parseQuery));
  v.push_back(makeSample("Query empty", fe, Query{""}, &parseQuery));
  v.push_back(makeSample("Sync", fe, Sync{}, &parseSync));
  v.push_back(makeSample("Terminate", fe, Terminate{}, &parseTerminate));
  v.push_back(
      makeSample("PasswordMessage", fe, PasswordMessage{"md5abcdef0123"}, &parsePasswordMessage));
  v.push_back(makeSample("SASLInitialResponse", fe,
                         SaslInitialResponse{"SCRAM-SHA-256", "n,,n=,r=abc"sv},
                         &parseSaslInitialResponse));
  v.push_back(makeSample("SASLInitialResponse without data", fe,
                         SaslInitialResponse{"SCRAM-SHA-256", std::nullopt},
                         &parseSaslInitialResponse));
  v.push_back(makeSample("SASLResponse", fe, SaslResponse{"c=biws,r=abc,p=xyz"}, &parseSaslResponse,
                         FrameKind::message, true));
  v.push_back(makeSample("GSSResponse", fe, GssResponse{"\x60\x82\0\1"sv}, &parseGssResponse,
                         FrameKind::message, true));

  // Backend.
  v.push_back(makeSample("AuthenticationOk", be, Authentication::ok(), &parseAuthentication));
  v.push_back(makeSample("AuthenticationKerberosV5", be,
                         Authentication{.request = AuthRequest::kerberos_v5},
                         &parseAuthentication));
  v.push_back(makeSample("AuthenticationCleartextPassword", be,
                         Authentication{.request = AuthRequest::cleartext_password},
                         &parseAuthentication));
  v.push_back(makeSample("AuthenticationMD5Password", be,
                         Authentication::md5({'\x01', '\0', '\xff', 'z'}), &parseAuthentication));
  v.push_back(makeSample("AuthenticationGSS", be, Authentication{.request = AuthRequest::gss},
                         &parseAuthentication));
  v.push_back(makeSample("AuthenticationGSSContinue", be,
                         Authentication{.request = AuthRequest::gss_continue, .data = "\1\0tok"sv},
                         &parseAuthentication, FrameKind::message, true));
  v.push_back(makeSample("AuthenticationSSPI", be, Authentication{.request = AuthRequest::sspi},
                         &parseAuthentication));
  v.push_back(makeSample("AuthenticationSASL", be,
                         Authentication::sasl({"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}),
                         &parseAuthentication));
  v.push_back(makeSample("AuthenticationSASLContinue", be,
                         Authentication::saslContinue("r=abc,s=c2FsdA==,i=4096"),
                         &parseAuthentication, FrameKind::message, true));
  v.push_back(makeSample("AuthenticationSASLFinal", be, Authentication::saslFinal("v=c2ln"),
                         &parseAuthentication, FrameKind::message, true));
  v.push_back(
      makeSample("BackendKeyData", be, BackendKeyData{31337, 0x7abcdef0}, &parseBackendKeyData));
  v.push_back(makeSample("BindComplete", be, BindComplete{}, &parseBindComplete));
  v.push_back(makeSample("CloseComplete", be, CloseComplete{}, &parseCloseComplete));
  v.push_back(
      makeSample("CommandComplete", be, CommandComplete{"INSERT 0 1"}, &parseCommandComplete));
  v.push_back(
      makeSample("CopyInResponse", be, CopyInResponse{{0, {0, 0, 0}}}, &parseCopyInResponse));
  v.push_back(
      makeSample("CopyOutResponse", be, CopyOutResponse{{1, {1, 1}}}, &parseCopyOutResponse));
  v.push_back(
      makeSample("CopyBothResponse", be, CopyBothResponse{{0, {}}}, &parseCopyBothResponse));
  v.push_back(makeSample("CopyData backend", be, CopyData{"row\n"}, &parseCopyData,
                         FrameKind::message, true));
  v.push_back(makeSample("CopyDone backend", be, CopyDone{}, &parseCopyDone));
  v.push_back(
      makeSample("DataRow", be, DataRow{{"1"sv, std::nullopt, ""sv, "\0\0"sv}}, &parseDataRow));
  v.push_back(makeSample("DataRow no columns", be, DataRow{}, &parseDataRow));
  v.push_back(makeSample("EmptyQueryResponse", be, EmptyQueryResponse{}, &parseEmptyQueryResponse));
  v.push_back(makeSample("ErrorResponse", be,
                         ErrorResponse{{{{'S', "ERROR"},
                                         {'V', "ERROR"},
                                         {'C', "42P01"},
                                         {'M', "relation \"t\" does not exist"},
                                         {'P', "15"}}}},
                         &parseErrorResponse));
  v.push_back(makeSample("NoticeResponse", be,
                         NoticeResponse{{{{'S', "NOTICE"}, {'C', "00000"}, {'M', "hello"}}}},
                         &parseNoticeResponse));
  v.push_back(makeSample("FunctionCallResponse", be, FunctionCallResponse{"\0\0\0\7"sv},
                         &parseFunctionCallResponse));
  v.push_back(makeSample("FunctionCallResponse NULL", be, FunctionCallResponse{},
                         &parseFunctionCallResponse));
  v.push_back(makeSample("NegotiateProtocolVersion", be,
                         NegotiateProtocolVersion{0, {"_pq_.a", "_pq_.b"}},
                         &parseNegotiateProtocolVersion));
  v.push_back(makeSample("NoData", be, NoData{}, &parseNoData));
  v.push_back(makeSample("NotificationResponse", be,
                         NotificationResponse{777, "jobs", "{\"id\": 1}"},
                         &parseNotificationResponse));
  v.push_back(makeSample("ParameterDescription", be, ParameterDescription{{23, 25, 4294967295u}},
                         &parseParameterDescription));
  v.push_back(makeSample("ParameterStatus", be, ParameterStatus{"TimeZone", "Europe/Paris"},
                         &parseParameterStatus));
  v.push_back(makeSample("ParseComplete", be, ParseComplete{}, &parseParseComplete));
  v.push_back(makeSample("PortalSuspended", be, PortalSuspended{}, &parsePortalSuspended));
  v.push_back(makeSample("ReadyForQuery idle", be, ReadyForQuery{TransactionStatus::idle},
                         &parseReadyForQuery));
  v.push_back(makeSample("ReadyForQuery in transaction", be,
                         ReadyForQuery{TransactionStatus::in_transaction}, &parseReadyForQuery));
  v.push_back(makeSample("ReadyForQuery failed", be, ReadyForQuery{TransactionStatus::failed},
                         &parseReadyForQuery));
  v.push_back(makeSample(
      "RowDescription", be,
      RowDescription{{{"id", 16384, 1, 23, 4, -1, 0}, {"?column?", 0, 0, 25, -1, -1, 1}}},
      &parseRowDescription));
  return v;
}

// A frontend decoder past the startup phase (a StartupMessage was decoded).
inline FrameDecoder typedFrontendDecoder(FrameLimits limits = {}) {
  FrameDecoder d(Source::frontend, limits);
  d.feed(encoded(StartupMessage{kProtocolVersion3, {{"user", "alice"}}}));
  auto f = d.next();
  (void)f;
  return d;
}

// A decoder in the state in which `s` may arrive.
inline FrameDecoder decoderFor(const Sample& s) {
  if (s.source == Source::frontend && s.kind == FrameKind::message) {
    return typedFrontendDecoder();
  }
  return FrameDecoder(s.source);
}

// The payload of a sample's wire bytes (after the type byte and/or length word).
inline std::string_view payloadOf(const Sample& s) {
  return std::string_view(s.wire).substr(s.kind == FrameKind::message ? 5 : 4);
}

}  // namespace keel::pgwire::testing
