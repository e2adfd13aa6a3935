#include "unit/pgwire/codec_fuzz_harness.h"

#include <cstdio>
#include <cstdlib>

#include "pgwire/message_builder.h"

namespace keel::pgwire::testing {

namespace {

constexpr std::size_t headerSize(FrameKind kind) {
  return kind == FrameKind::message ? 5 : 4;
}

template <typename M>
std::string roundTrip(WireResult<M> (*parse)(std::string_view), const char* name, FrameKind kind,
                      std::string_view payload) {
  WireResult<M> r = parse(payload);
  if (!r) {
    return r.message().empty() ? std::string(name) + ": failure without a message" : "";
  }
  std::string again = encoded(*r);
  if (again.size() < headerSize(kind) ||
      std::string_view(again).substr(headerSize(kind)) != payload) {
    return std::string(name) + ": re-encoding differs from the parsed payload";
  }
  return "";
}

#define KEEL_CHECK(parse_fn, name, kind)                         \
  do {                                                           \
    std::string err = roundTrip(&parse_fn, name, kind, payload); \
    if (!err.empty()) {                                          \
      return err;                                                \
    }                                                            \
  } while (false)

std::string checkFrontend(char type, std::string_view payload) {
  constexpr FrameKind m = FrameKind::message;
  switch (type) {
    case 'B':
      KEEL_CHECK(parseBind, "Bind", m);
      break;
    case 'C':
      KEEL_CHECK(parseClose, "Close", m);
      break;
    case 'd':
      KEEL_CHECK(parseCopyData, "CopyData", m);
      break;
    case 'c':
      KEEL_CHECK(parseCopyDone, "CopyDone", m);
      break;
    case 'f':
      KEEL_CHECK(parseCopyFail, "CopyFail", m);
      break;
    case 'D':
      KEEL_CHECK(parseDescribe, "Describe", m);
      break;
    case 'E':
      KEEL_CHECK(parseExecute, "Execute", m);
      break;
    case 'H':
      KEEL_CHECK(parseFlush, "Flush", m);
      break;
    case 'F':
      KEEL_CHECK(parseFunctionCall, "FunctionCall", m);
      break;
    case 'p':
      KEEL_CHECK(parsePasswordMessage, "PasswordMessage", m);
      KEEL_CHECK(parseSaslInitialResponse, "SASLInitialResponse", m);
      KEEL_CHECK(parseSaslResponse, "SASLResponse", m);
      KEEL_CHECK(parseGssResponse, "GSSResponse", m);
      break;
    case 'P':
      KEEL_CHECK(parseParse, "Parse", m);
      break;
    case 'Q':
      KEEL_CHECK(parseQuery, "Query", m);
      break;
    case 'S':
      KEEL_CHECK(parseSync, "Sync", m);
      break;
    case 'X':
      KEEL_CHECK(parseTerminate, "Terminate", m);
      break;
    default:
      break;
  }
  return "";
}

std::string checkBackend(char type, std::string_view payload) {
  constexpr FrameKind m = FrameKind::message;
  switch (type) {
    case 'R':
      KEEL_CHECK(parseAuthentication, "Authentication", m);
      break;
    case 'K':
      KEEL_CHECK(parseBackendKeyData, "BackendKeyData", m);
      break;
    case '2':
      KEEL_CHECK(parseBindComplete, "BindComplete", m);
      break;
    case '3':
      KEEL_CHECK(parseCloseComplete, "CloseComplete", m);
      break;
    case 'C':
      KEEL_CHECK(parseCommandComplete, "CommandComplete", m);
      break;
    case 'd':
      KEEL_CHECK(parseCopyData, "CopyData", m);
      break;
    case 'c':
      KEEL_CHECK(parseCopyDone, "CopyDone", m);
      break;
    case 'G':
      KEEL_CHECK(parseCopyInResponse, "CopyInResponse", m);
      break;
    case 'H':
      KEEL_CHECK(parseCopyOutResponse, "CopyOutResponse", m);
      break;
    case 'W':
      KEEL_CHECK(parseCopyBothResponse, "CopyBothResponse", m);
      break;
    case 'D':
      KEEL_CHECK(parseDataRow, "DataRow", m);
      break;
    case 'I':
      KEEL_CHECK(parseEmptyQueryResponse, "EmptyQueryResponse", m);
      break;
    case 'E':
      KEEL_CHECK(parseErrorResponse, "ErrorResponse", m);
      break;
    case 'N':
      KEEL_CHECK(parseNoticeResponse, "NoticeResponse", m);
      break;
    case 'V':
      KEEL_CHECK(parseFunctionCallResponse, "FunctionCallResponse", m);
      break;
    case 'v':
      KEEL_CHECK(parseNegotiateProtocolVersion, "NegotiateProtocolVersion", m);
      break;
    case 'n':
      KEEL_CHECK(parseNoData, "NoData", m);
      break;
    case 'A':
      KEEL_CHECK(parseNotificationResponse, "NotificationResponse", m);
      break;
    case 't':
      KEEL_CHECK(parseParameterDescription, "ParameterDescription", m);
      break;
    case 'S':
      KEEL_CHECK(parseParameterStatus, "ParameterStatus", m);
      break;
    case '1':
      KEEL_CHECK(parseParseComplete, "ParseComplete", m);
      break;
    case 's':
      KEEL_CHECK(parsePortalSuspended, "PortalSuspended", m);
      break;
    case 'Z':
      KEEL_CHECK(parseReadyForQuery, "ReadyForQuery", m);
      break;
    case 'T':
      KEEL_CHECK(parseRowDescription, "RowDescription", m);
      break;
    default:
      break;
  }
  return "";
}

// Packets the decoder accepted as startup-phase packets must parse.
template <typename M>
std::string mustParse(WireResult<M> (*parse)(std::string_view), const char* name,
                      std::string_view payload) {
  WireResult<M> r = parse(payload);
  if (!r) {
    return std::string(name) + " framed by the decoder does not parse: " + r.message();
  }
  return roundTrip(parse, name, FrameKind::startup, payload);
}

}  // namespace

std::string checkPayload(Source source, FrameKind kind, char type, std::string_view payload) {
  switch (kind) {
    case FrameKind::message:
      return source == Source::frontend ? checkFrontend(type, payload)
                                        : checkBackend(type, payload);
    case FrameKind::startup: {
      std::string err = roundTrip(&parseStartupMessage, "StartupMessage", kind, payload);
      return err;
    }
    case FrameKind::ssl_request:
      return mustParse(&parseSslRequest, "SSLRequest", payload);
    case FrameKind::gssenc_request:
      return mustParse(&parseGssEncRequest, "GSSENCRequest", payload);
    case FrameKind::cancel_request:
      return mustParse(&parseCancelRequest, "CancelRequest", payload);
    default:
      return "";
  }
}

std::string runFuzzInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) {
    return "";
  }
  const std::uint8_t mode = data[0];
  const std::size_t max_chunk = data[1] % 64 + 1;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Source source = (mode & 1) ? Source::backend : Source::frontend;
  FrameLimits limits;
  limits.max_message_length = 1 << 16;
  limits.max_preauth_message_length = 1 << 12;
  if (mode & 4) {
    limits.stream_threshold = 32;
  }
  FrameDecoder decoder(source, limits);
  if (mode & 2) {
    decoder.setAuthenticated();
  }
  if (mode & 8) {
    decoder.expectEncryptionResponse();
  }
  const bool accept_encryption = (mode & 16) != 0;

  std::size_t chunk = 1;
  for (std::size_t pos = 0; pos < input.size();) {
    std::size_t n = std::min(chunk, input.size() - pos);
    decoder.feed(input.substr(pos, n));
    pos += n;
    chunk = chunk % max_chunk + 1;
    bool stop = false;
    for (;;) {
      auto next = decoder.next();
      if (!next) {
        if (next.message().empty()) {
          return "decoder failure without a message";
        }
        stop = true;
        break;
      }
      if (!next->has_value()) {
        break;
      }
      const Frame& f = **next;
      if (f.raw.size() < f.payload.size()) {
        return "frame payload larger than its raw bytes";
      }
      if (f.complete && f.kind != FrameKind::continuation) {
        std::string err = checkPayload(source, f.kind, f.type, f.payload);
        if (!err.empty()) {
          return err;
        }
      }
      if (f.kind == FrameKind::ssl_request || f.kind == FrameKind::gssenc_request) {
        if (!decoder.encryptionAnswered(accept_encryption)) {
          stop = true;
          break;
        }
      }
    }
    if (stop) {
      break;
    }
  }

  // Every parser on the raw bytes, as if they were a payload.
  for (Source s : {Source::frontend, Source::backend}) {
    for (char t : std::string_view("BCdcfDEHFpPQSXRK23GWIVvnNAtS1sZT")) {
      std::string err = checkPayload(s, FrameKind::message, t, input);
      if (!err.empty()) {
        return err;
      }
    }
  }
  std::string err = checkPayload(Source::frontend, FrameKind::startup, '\0', input);
  if (!err.empty()) {
    return err;
  }
  // Fixed-size requests: any input must be answered without a crash.
  (void)parseSslRequest(input);
  (void)parseGssEncRequest(input);
  (void)parseCancelRequest(input);
  return "";
}

void fuzzOneInput(const std::uint8_t* data, std::size_t size) {
  std::string err = runFuzzInput(data, size);
  if (!err.empty()) {
    std::fprintf(stderr, "pgwire codec invariant broken: %s\n", err.c_str());
    std::abort();
  }
}

}  // namespace keel::pgwire::testing
