#include "pgwire/frame_decoder.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <string>

namespace keel::pgwire {

namespace {

// A buffer that grew for one large message is released once it is empty again, so an idle
// connection keeps at most this much.
constexpr std::size_t kRetainedBufferBytes = 1 << 20;
constexpr std::size_t kMinBufferBytes = 8 * 1024;

using TypeTable = std::array<bool, 256>;

constexpr TypeTable makeTable(std::string_view types) {
  TypeTable t{};
  for (char c : types) {
    t[static_cast<unsigned char>(c)] = true;
  }
  return t;
}

// 55.7: the type bytes each side may send in protocol 3.0.
constexpr TypeTable kFrontendTypes = makeTable("BCdcfDEHFpPQSX");
constexpr TypeTable kBackendTypes = makeTable("RK23CdcGHWDIEVvnNAtS1sZT");

std::uint32_t readBe32(const char* p) {
  auto b = [p](int i) { return std::uint32_t{static_cast<unsigned char>(p[i])}; };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

std::string hexByte(char c) {
  static constexpr char kDigits[] = "0123456789abcdef";
  auto u = static_cast<unsigned char>(c);
  std::string s = "0x";
  s.push_back(kDigits[u >> 4]);
  s.push_back(kDigits[u & 0xf]);
  return s;
}

std::string describeType(char c) {
  std::string s = hexByte(c);
  if (c >= 0x21 && c <= 0x7e) {
    s += " ('";
    s.push_back(c);
    s += "')";
  }
  return s;
}

std::uint32_t capped(std::uint32_t v) {
  return std::min(v, kMaxMessageLengthCap);
}

}  // namespace

FrameDecoder::FrameDecoder(Source source, FrameLimits limits)
    : source_(source),
      limits_(limits),
      phase_(source == Source::frontend ? Phase::startup : Phase::typed) {
  limits_.max_message_length = capped(limits_.max_message_length);
  limits_.max_preauth_message_length =
      std::min(capped(limits_.max_preauth_message_length), limits_.max_message_length);
  limits_.max_startup_packet_length = capped(limits_.max_startup_packet_length);
}

std::span<char> FrameDecoder::prepare(std::size_t min_bytes) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (buf_.size() > kRetainedBufferBytes && min_bytes <= kRetainedBufferBytes) {
      std::vector<char>().swap(buf_);
    }
  }
  if (buf_.size() - end_ < min_bytes) {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < min_bytes) {
      buf_.resize(std::max({end_ + min_bytes, buf_.size() * 2, kMinBufferBytes}));
    }
  }
  return {buf_.data() + end_, buf_.size() - end_};
}

void FrameDecoder::shrinkIfEmpty(std::size_t bytes) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (buf_.size() != bytes) {
      std::vector<char>(bytes).swap(buf_);
    }
  }
}

void FrameDecoder::commit(std::size_t n) {
  assert(n <= buf_.size() - end_);
  end_ += std::min(n, buf_.size() - end_);
}

void FrameDecoder::feed(std::string_view bytes) {
  if (bytes.empty()) {
    return;
  }
  std::span<char> space = prepare(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

std::size_t FrameDecoder::bytesWanted() const {
  std::size_t have = buffered();
  const char* p = buf_.data() + begin_;
  switch (phase_) {
    case Phase::startup:
      if (have >= 4) {
        std::uint32_t len = readBe32(p);
        if (len <= limits_.max_startup_packet_length && len > have) {
          return len - have;
        }
      }
      return have >= 4 ? 1 : 4 - have;
    case Phase::typed:
      if (have >= 5) {
        std::uint32_t len = readBe32(p + 1);
        if (len <= limits_.max_message_length && std::size_t{len} + 1 > have) {
          return std::size_t{len} + 1 - have;
        }
      }
      return have >= 5 ? 1 : 5 - have;
    case Phase::streaming:
      return std::max<std::size_t>(stream_left_, 1);
    default:
      return 1;
  }
}

void FrameDecoder::reset() {
  phase_ = source_ == Source::frontend ? Phase::startup : Phase::typed;
  begin_ = end_ = 0;
  authenticated_ = false;
  ssl_done_ = gss_done_ = false;
  stream_left_ = 0;
  failure_.reset();
}

void FrameDecoder::setAuthenticated() {
  authenticated_ = true;
}

void FrameDecoder::expectEncryptionResponse() {
  if (source_ == Source::backend && phase_ == Phase::typed) {
    phase_ = Phase::encryption_response;
  }
}

WireResult<void> FrameDecoder::encryptionAnswered(bool accepted) {
  if (failure_) {
    return *failure_;
  }
  if (phase_ != Phase::awaiting_encryption_answer) {
    return fail(WireErrc::invalid_state,
                "encryptionAnswered() called without a pending SSLRequest or GSSENCRequest");
  }
  bool ssl = pending_request_ == FrameKind::ssl_request;
  if (accepted && buffered() > 0) {
    failure_ = fail(WireErrc::bytes_after_encryption_request,
                    "the client sent " + std::to_string(buffered()) + " bytes after its " +
                        (ssl ? "SSLRequest" : "GSSENCRequest") +
                        " without waiting for the answer; refusing them because they would be "
                        "taken as protected by the encryption that follows (CVE-2021-3935)");
    return *failure_;
  }
  // PostgreSQL's ProcessStartupPacket: once one kind of encryption is in place, neither request
  // may follow; after a refusal the client may still try the other kind.
  (ssl ? ssl_done_ : gss_done_) = true;
  if (accepted) {
    ssl_done_ = gss_done_ = true;
  }
  phase_ = Phase::startup;
  return {};
}

WireResult<std::optional<Frame>> FrameDecoder::failWith(WireErrc code, std::string message) {
  failure_ = Failure<WireErrc>{code, std::move(message)};
  return *failure_;
}

Frame FrameDecoder::take(FrameKind kind, char type, std::size_t header, std::size_t total,
                         std::uint32_t length) {
  const char* p = buf_.data() + begin_;
  Frame f;
  f.kind = kind;
  f.type = type;
  f.raw = std::string_view(p, total);
  f.payload = std::string_view(p + header, total - header);
  f.length = length;
  begin_ += total;
  return f;
}

WireResult<std::optional<Frame>> FrameDecoder::next() {
  if (failure_) {
    return *failure_;
  }
  switch (phase_) {
    case Phase::startup:
      return nextStartup();
    case Phase::typed:
      return nextTyped();
    case Phase::streaming:
      return nextStreamed();
    case Phase::encryption_response:
      return nextEncryptionResponse();
    case Phase::awaiting_encryption_answer:
      return failWith(WireErrc::invalid_state,
                      "next() called before encryptionAnswered() for the pending SSLRequest or "
                      "GSSENCRequest");
    case Phase::closed:
      if (buffered() > 0) {
        return failWith(WireErrc::unexpected_message,
                        "the client sent " + std::to_string(buffered()) +
                            " bytes after its CancelRequest; a cancel connection carries nothing "
                            "else");
      }
      return std::optional<Frame>{};
  }
  return std::optional<Frame>{};
}

// 55.7: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest: Int32 length, Int32 code.
WireResult<std::optional<Frame>> FrameDecoder::nextStartup() {
  const std::size_t have = buffered();
  const char* p = buf_.data() + begin_;
  if (have >= 1 && p[0] == 0x16) {
    return failWith(WireErrc::unexpected_message,
                    "the client began with a TLS handshake record (direct SSL negotiation); "
                    "connect with sslnegotiation=postgres so it sends an SSLRequest first");
  }
  if (have < 4) {
    return std::optional<Frame>{};
  }
  std::uint32_t len = readBe32(p);
  if (len & 0x80000000u) {
    return failWith(WireErrc::bad_length, "startup packet length word " + std::to_string(len) +
                                              " is negative as a signed Int32");
  }
  if (len < 8) {
    return failWith(WireErrc::bad_length, "startup packet length " + std::to_string(len) +
                                              " is below the minimum of 8 (length and code)");
  }
  if (len > limits_.max_startup_packet_length) {
    return failWith(WireErrc::message_too_large,
                    "startup packet length " + std::to_string(len) + " exceeds the limit of " +
                        std::to_string(limits_.max_startup_packet_length) + " bytes");
  }
  if (have < len) {
    return std::optional<Frame>{};
  }
  std::uint32_t code = readBe32(p + 4);
  if (code == kSslRequestCode || code == kGssEncRequestCode) {
    bool ssl = code == kSslRequestCode;
    const char* name = ssl ? "SSLRequest" : "GSSENCRequest";
    if (len != 8) {
      return failWith(WireErrc::bad_length,
                      std::string(name) + " has length " + std::to_string(len) + " instead of 8");
    }
    if (ssl ? ssl_done_ : gss_done_) {
      return failWith(WireErrc::unexpected_message,
                      std::string("a second ") + name +
                          " arrived after encryption was already negotiated or refused");
    }
    pending_request_ = ssl ? FrameKind::ssl_request : FrameKind::gssenc_request;
    phase_ = Phase::awaiting_encryption_answer;
    return std::optional<Frame>{take(pending_request_, '\0', 4, len, len)};
  }
  if (code == kCancelRequestCode) {
    if (len != 16) {
      return failWith(WireErrc::bad_length,
                      "CancelRequest has length " + std::to_string(len) + " instead of 16");
    }
    phase_ = Phase::closed;
    return std::optional<Frame>{take(FrameKind::cancel_request, '\0', 4, len, len)};
  }
  if (protocolMajor(code) != 3) {
    return failWith(WireErrc::unsupported_protocol,
                    "unsupported frontend protocol " + std::to_string(protocolMajor(code)) + "." +
                        std::to_string(protocolMinor(code)) + ": Keel speaks protocol 3.0");
  }
  phase_ = Phase::typed;
  return std::optional<Frame>{take(FrameKind::startup, '\0', 4, len, len)};
}

// 55.7: Byte1 type, Int32 length (including itself), payload.
WireResult<std::optional<Frame>> FrameDecoder::nextTyped() {
  const std::size_t have = buffered();
  if (have == 0) {
    return std::optional<Frame>{};
  }
  const char* p = buf_.data() + begin_;
  const char type = p[0];
  const TypeTable& valid = source_ == Source::frontend ? kFrontendTypes : kBackendTypes;
  if (type == '\0' && source_ == Source::frontend) {
    return failWith(WireErrc::unexpected_message,
                    "a startup-phase packet (a second StartupMessage, SSLRequest or "
                    "CancelRequest) arrived after the startup phase");
  }
  if (limits_.reject_unknown_types && !valid[static_cast<unsigned char>(type)]) {
    return failWith(WireErrc::unexpected_message,
                    std::string("invalid ") +
                        (source_ == Source::frontend ? "frontend" : "backend") + " message type " +
                        describeType(type));
  }
  if (have < 5) {
    return std::optional<Frame>{};
  }
  std::uint32_t len = readBe32(p + 1);
  if (len & 0x80000000u) {
    return failWith(WireErrc::bad_length, "message " + describeType(type) + " length word " +
                                              std::to_string(len) +
                                              " is negative as a signed Int32");
  }
  if (len < 4) {
    return failWith(WireErrc::bad_length, "message " + describeType(type) + " length " +
                                              std::to_string(len) + " is below the minimum of 4");
  }
  std::uint32_t limit =
      authenticated_ ? limits_.max_message_length : limits_.max_preauth_message_length;
  if (len > limit) {
    return failWith(WireErrc::message_too_large,
                    "message " + describeType(type) + " length " + std::to_string(len) +
                        " exceeds the limit of " + std::to_string(limit) + " bytes" +
                        (authenticated_ ? "" : " before authentication"));
  }
  const std::size_t total = std::size_t{len} + 1;
  if (limits_.stream_threshold != 0 && len > limits_.stream_threshold && have < total) {
    // Hand out the header and whatever payload is here; the rest follows as continuations.
    stream_type_ = type;
    stream_length_ = len;
    stream_left_ = total - have;
    phase_ = Phase::streaming;
    Frame f = take(FrameKind::message, type, 5, have, len);
    f.complete = false;
    return std::optional<Frame>{f};
  }
  if (have < total) {
    return std::optional<Frame>{};
  }
  return std::optional<Frame>{take(FrameKind::message, type, 5, total, len)};
}

WireResult<std::optional<Frame>> FrameDecoder::nextStreamed() {
  const std::size_t n = std::min(buffered(), stream_left_);
  if (n == 0) {
    return std::optional<Frame>{};
  }
  stream_left_ -= n;
  Frame f = take(FrameKind::continuation, stream_type_, 0, n, stream_length_);
  f.complete = stream_left_ == 0;
  if (f.complete) {
    phase_ = Phase::typed;
  }
  return std::optional<Frame>{f};
}

// 55.2 "SSL Session Encryption" / "GSSAPI Session Encryption": a single byte, or an
// ErrorResponse from a server that does not understand the request.
WireResult<std::optional<Frame>> FrameDecoder::nextEncryptionResponse() {
  if (buffered() == 0) {
    return std::optional<Frame>{};
  }
  const char answer = buf_[begin_];
  if (answer == backend::kErrorResponse) {
    phase_ = Phase::typed;
    return nextTyped();
  }
  if (answer != 'S' && answer != 'G' && answer != 'N') {
    return failWith(WireErrc::unexpected_message,
                    "the server answered the encryption request with " + describeType(answer) +
                        " instead of 'S', 'G', 'N' or an ErrorResponse");
  }
  if (answer != 'N' && buffered() > 1) {
    return failWith(WireErrc::bytes_after_encryption_request,
                    "the server sent " + std::to_string(buffered() - 1) +
                        " bytes after accepting encryption, before the handshake; refusing them "
                        "(CVE-2021-23222)");
  }
  phase_ = Phase::typed;
  return std::optional<Frame>{take(FrameKind::encryption_response, answer, 1, 1, 0)};
}

}  // namespace keel::pgwire
