// libFuzzer target: the PostgreSQL wire codec (FrameDecoder and every message parser) on
// arbitrary bytes, as a proxy session drives it: the startup phase, the pre-authentication
// limit, then the authenticated phase, with the bytes arriving in random pieces.
//
// Input layout (fuzz/corpus/pgwire/ holds real protocol streams in it):
//   byte 0   options: bit 0 the bytes come from PostgreSQL (Source::backend) instead of a
//            client; bit 1 stream messages above 32 bytes; bit 2 (backend) the first byte is
//            the answer to an SSLRequest; bit 3 accept SSLRequest/GSSENCRequest; bit 4 accept
//            unknown type bytes; bits 5-6 the largest piece (4, 16, 64 or 512 bytes); bit 7
//            alternate between prepare()/commit() and feed()
//   byte 1   how many frames are decoded before setAuthenticated() (255: never)
//   bytes 2-3  seed of the piece sizes
//   the rest   the byte stream
//
// Every frame goes through the parser of its type and must re-encode to the same payload
// (codec_fuzz_harness.cc); the decoder's own promises (views inside the buffer, lengths within
// the limit in force, sticky failures, encryption-request guards) are checked here. A broken
// promise aborts, so libFuzzer keeps the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "pgwire/frame_decoder.h"
#include "unit/pgwire/codec_fuzz_harness.h"

namespace {

using keel::pgwire::FrameDecoder;
using keel::pgwire::FrameKind;
using keel::pgwire::FrameLimits;
using keel::pgwire::Source;
using keel::pgwire::WireErrc;

constexpr std::uint32_t kMaxMessage = 1 << 16;
constexpr std::uint32_t kMaxPreauth = 1 << 12;
constexpr std::uint32_t kStreamThreshold = 32;

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "pgwire fuzzer: invariant broken: %s\n", what.c_str());
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) {
    broken(what);
  }
}

// Piece sizes from a 16-bit seed: deterministic for one input, so a crash replays.
class Pieces {
 public:
  Pieces(std::uint16_t seed, std::size_t max) : state_(0x9e3779b9u ^ seed), max_(max) {}
  std::size_t next() { return step() % max_ + 1; }
  bool coin() { return (step() & 1) != 0; }

 private:
  std::uint32_t step() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  std::uint32_t state_;
  std::size_t max_;
};

constexpr std::size_t headerSize(FrameKind kind) {
  switch (kind) {
    case FrameKind::message:
      return 5;
    case FrameKind::encryption_response:
      return 1;
    case FrameKind::continuation:
      return 0;
    default:
      return 4;  // startup-phase packets: the length word
  }
}

struct Session {
  Source source;
  bool accept_encryption;
  std::size_t auth_after;
  FrameDecoder decoder;
  std::size_t frames = 0;
  bool typed_seen = false;
  // A streamed message being handed out: bytes still to come.
  std::size_t stream_left = 0;
  char stream_type = '\0';

  // One frame, before more bytes arrive (feeding invalidates its views).
  void onFrame(const keel::pgwire::Frame& f, bool authenticated) {
    const std::size_t header = headerSize(f.kind);
    check(f.raw.size() >= header, "frame shorter than its header");
    check(f.payload.data() == f.raw.data() + header, "payload does not follow the header");
    check(f.payload.size() == f.raw.size() - header, "payload does not end with the frame");
    const std::uint32_t limit = authenticated ? kMaxMessage : kMaxPreauth;

    switch (f.kind) {
      case FrameKind::message:
        check(stream_left == 0, "a new message while a streamed one is unfinished");
        check(f.length >= 4 && f.length <= limit, "message length outside the limit in force");
        typed_seen = true;
        if (f.complete) {
          check(f.raw.size() == std::size_t{f.length} + 1, "message size differs from its length");
        } else {
          check(f.length > kStreamThreshold, "a message at or below the threshold was streamed");
          check(f.raw.size() < std::size_t{f.length} + 1, "a whole message marked incomplete");
          stream_left = std::size_t{f.length} + 1 - f.raw.size();
          stream_type = f.type;
        }
        break;
      case FrameKind::continuation:
        check(stream_left > 0, "a continuation without a streamed message");
        check(f.type == stream_type, "a continuation of another message type");
        check(!f.raw.empty() && f.raw.size() <= stream_left, "continuation of the wrong size");
        stream_left -= f.raw.size();
        check(f.complete == (stream_left == 0), "continuation completeness is wrong");
        break;
      case FrameKind::encryption_response:
        check(source == Source::backend, "an encryption answer from a client");
        check(f.type == 'S' || f.type == 'G' || f.type == 'N', "an unknown encryption answer");
        check(f.type == 'N' || decoder.buffered() == 0,
              "bytes accepted behind an 'S'/'G' answer (CVE-2021-23222)");
        break;
      default:
        check(source == Source::frontend, "a startup-phase packet from the server");
        check(!typed_seen, "a startup-phase packet after the StartupMessage");
        check(f.length == f.raw.size() && f.length >= 8 && f.length <= 10004,
              "startup packet length outside 8..10004");
        if (f.kind == FrameKind::startup) {
          typed_seen = true;
        }
        break;
    }
    if (f.complete && f.kind != FrameKind::continuation) {
      std::string err = keel::pgwire::testing::checkPayload(source, f.kind, f.type, f.payload);
      if (!err.empty()) {
        broken(err);
      }
    }
    if (f.kind == FrameKind::ssl_request || f.kind == FrameKind::gssenc_request) {
      const std::size_t pending = decoder.buffered();
      auto answered = decoder.encryptionAnswered(accept_encryption);
      if (accept_encryption && pending > 0) {
        check(!answered && answered.code() == WireErrc::bytes_after_encryption_request,
              "plaintext behind an accepted encryption request was kept (CVE-2021-3935)");
      } else {
        check(answered.ok(), "answering an encryption request failed without a reason");
      }
    }
  }

  // Decodes everything buffered. False once the decoder failed.
  bool drain() {
    for (;;) {
      const bool authenticated = decoder.authenticated();
      auto next = decoder.next();
      if (!next) {
        check(!next.message().empty(), "a decoder failure without a message");
        auto again = decoder.next();
        check(!again && again.code() == next.code() && again.message() == next.message(),
              "a decoder failure is not sticky");
        return false;
      }
      if (!next->has_value()) {
        check(decoder.bytesWanted() >= 1, "the decoder needs more bytes but wants none");
        return true;
      }
      onFrame(**next, authenticated);
      ++frames;
      if (frames == auth_after) {
        decoder.setAuthenticated();
      }
    }
  }
};

FrameLimits limitsFor(std::uint8_t options) {
  FrameLimits limits;
  limits.max_message_length = kMaxMessage;
  limits.max_preauth_message_length = kMaxPreauth;
  if (options & 2) {
    limits.stream_threshold = kStreamThreshold;
  }
  limits.reject_unknown_types = (options & 16) == 0;
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) {
    return 0;
  }
  const std::uint8_t options = data[0];
  const std::size_t auth_point = data[1];
  const auto seed = static_cast<std::uint16_t>((data[2] << 8) | data[3]);
  const std::string_view input(reinterpret_cast<const char*>(data) + 4, size - 4);
  static constexpr std::size_t kMaxPiece[] = {4, 16, 64, 512};

  Session session{
      .source = (options & 1) ? Source::backend : Source::frontend,
      .accept_encryption = (options & 8) != 0,
      .auth_after = auth_point == 255 ? SIZE_MAX : auth_point,
      .decoder =
          FrameDecoder((options & 1) ? Source::backend : Source::frontend, limitsFor(options)),
  };
  if (auth_point == 0) {
    session.decoder.setAuthenticated();
  }
  if ((options & 4) && session.source == Source::backend) {
    session.decoder.expectEncryptionResponse();
  }
  Pieces pieces(seed, kMaxPiece[(options >> 5) & 3]);
  const bool mix_prepare = (options & 128) != 0;

  for (std::size_t pos = 0; pos < input.size();) {
    const std::size_t n = std::min(pieces.next(), input.size() - pos);
    if (mix_prepare && pieces.coin()) {
      // As a socket read does: ask for room, receive fewer bytes than offered.
      std::span<char> space = session.decoder.prepare(n);
      check(space.size() >= n, "prepare() gave less room than asked for");
      std::memcpy(space.data(), input.data() + pos, n);
      session.decoder.commit(n);
    } else {
      session.decoder.feed(input.substr(pos, n));
    }
    pos += n;
    if (!session.drain()) {
      break;
    }
  }
  return 0;
}
