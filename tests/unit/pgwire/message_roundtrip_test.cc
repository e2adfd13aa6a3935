// Build -> feed -> parse round trips for every message, at every split point and concatenated.
#include <gtest/gtest.h>

#include <set>

#include "unit/pgwire/codec_samples.h"

namespace keel::pgwire::testing {
namespace {

// Feeds `parts` in order and collects every frame, failing the test on a decoder error. Frames
// are copied out (raw bytes) since later feeds may move the buffer.
std::vector<std::string> decodeAll(FrameDecoder& d, const std::vector<std::string_view>& parts) {
  std::vector<std::string> frames;
  for (std::string_view part : parts) {
    d.feed(part);
    for (;;) {
      auto next = d.next();
      EXPECT_TRUE(next.ok()) << next.message();
      if (!next.ok() || !next->has_value()) {
        break;
      }
      frames.emplace_back((*next)->raw);
      FrameKind kind = (*next)->kind;
      if (kind == FrameKind::ssl_request || kind == FrameKind::gssenc_request) {
        EXPECT_TRUE(d.encryptionAnswered(false).ok());
      }
    }
  }
  return frames;
}

TEST(MessageRoundTrip, EveryMessageDecodesAndParsesBack) {
  for (const Sample& s : allSamples()) {
    SCOPED_TRACE(s.name);
    FrameDecoder d = decoderFor(s);
    d.feed(s.wire);
    auto next = d.next();
    ASSERT_TRUE(next.ok()) << next.message();
    ASSERT_TRUE(next->has_value());
    const Frame& f = **next;
    EXPECT_EQ(f.kind, s.kind);
    EXPECT_EQ(f.type, s.type);
    EXPECT_EQ(f.raw, s.wire);
    EXPECT_EQ(f.payload, payloadOf(s));
    EXPECT_EQ(f.length, s.wire.size() - (s.kind == FrameKind::message ? 1 : 0));
    EXPECT_TRUE(f.complete);
    EXPECT_EQ(s.parsesBack(f.payload), "");
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(MessageRoundTrip, CoversEveryMessageType) {
  std::set<char> frontend;
  std::set<char> backend;
  std::set<FrameKind> startup;
  for (const Sample& s : allSamples()) {
    if (s.kind != FrameKind::message) {
      startup.insert(s.kind);
    } else {
      (s.source == Source::frontend ? frontend : backend).insert(s.type);
    }
  }
  EXPECT_EQ(frontend,
            (std::set<char>{'B', 'C', 'd', 'c', 'f', 'D', 'E', 'H', 'F', 'p', 'P', 'Q', 'S', 'X'}));
  EXPECT_EQ(backend, (std::set<char>{'R', 'K', '2', '3', 'C', 'd', 'c', 'G', 'H', 'W', 'D', 'I',
                                     'E', 'V', 'v', 'n', 'N', 'A', 't', 'S', '1', 's', 'Z', 'T'}));
  EXPECT_EQ(startup.size(), 4u);
}

TEST(MessageRoundTrip, EveryTwoWaySplitPoint) {
  for (const Sample& s : allSamples()) {
    SCOPED_TRACE(s.name);
    std::string_view wire = s.wire;
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
      SCOPED_TRACE(cut);
      FrameDecoder d = decoderFor(s);
      d.feed(wire.substr(0, cut));
      auto first = d.next();
      ASSERT_TRUE(first.ok()) << first.message();
      if (cut < wire.size()) {
        ASSERT_FALSE(first->has_value());
        EXPECT_GE(d.bytesWanted(), 1u);
        EXPECT_LE(d.bytesWanted(), wire.size() - cut);
        d.feed(wire.substr(cut));
        first = d.next();
        ASSERT_TRUE(first.ok()) << first.message();
      }
      ASSERT_TRUE(first->has_value());
      EXPECT_EQ((*first)->raw, wire);
      EXPECT_EQ(s.parsesBack((*first)->payload), "");
    }
  }
}

TEST(MessageRoundTrip, ByteByByte) {
  for (const Sample& s : allSamples()) {
    SCOPED_TRACE(s.name);
    FrameDecoder d = decoderFor(s);
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < s.wire.size(); ++i) {
      bytes.push_back(std::string_view(s.wire).substr(i, 1));
    }
    std::vector<std::string> frames = decodeAll(d, bytes);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0], s.wire);
  }
}

// The typed messages of one direction back to back, fed in chunks of every size from 1 to 23:
// each frame comes out whole, in order, and parses back.
TEST(MessageRoundTrip, ConcatenatedStreamInChunks) {
  for (Source source : {Source::frontend, Source::backend}) {
    std::vector<Sample> samples;
    std::string stream;
    for (const Sample& s : allSamples()) {
      if (s.source == source && s.kind == FrameKind::message) {
        samples.push_back(s);
        stream += s.wire;
      }
    }
    for (std::size_t chunk = 1; chunk <= 23; ++chunk) {
      SCOPED_TRACE(chunk);
      FrameDecoder d = source == Source::frontend ? typedFrontendDecoder() : FrameDecoder(source);
      std::size_t next_sample = 0;
      for (std::size_t pos = 0; pos < stream.size(); pos += chunk) {
        d.feed(std::string_view(stream).substr(pos, chunk));
        for (;;) {
          auto f = d.next();
          ASSERT_TRUE(f.ok()) << f.message();
          if (!f->has_value()) {
            break;
          }
          ASSERT_LT(next_sample, samples.size());
          const Sample& s = samples[next_sample++];
          EXPECT_EQ((*f)->raw, s.wire) << s.name;
          EXPECT_EQ(s.parsesBack((*f)->payload), "") << s.name;
        }
      }
      EXPECT_EQ(next_sample, samples.size());
      EXPECT_EQ(d.buffered(), 0u);
    }
  }
}

// A relay decodes every frame of one read before forwarding: all views stay valid together.
TEST(MessageRoundTrip, FramesOfOneReadStayValidTogether) {
  std::string batch = encoded(Parse{"s", "SELECT 1", {}}) + encoded(Bind{}) +
                      encoded(Execute{"", 0}) + encoded(Sync{});
  FrameDecoder d = typedFrontendDecoder();
  d.feed(batch);
  std::vector<Frame> frames;
  for (;;) {
    auto f = d.next();
    ASSERT_TRUE(f.ok());
    if (!f->has_value()) {
      break;
    }
    frames.push_back(**f);
  }
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].type, 'P');
  EXPECT_EQ(frames[3].type, 'S');
  // Contiguous: the first frame's start to the last frame's end is the batch.
  EXPECT_EQ(std::string_view(frames[0].raw.data(),
                             frames[3].raw.data() + frames[3].raw.size() - frames[0].raw.data()),
            batch);
  EXPECT_EQ(parseParse(frames[0].payload)->query, "SELECT 1");
}

TEST(MessageRoundTrip, ErrorResponseHelpers) {
  std::string wire = errorResponse("FATAL", sqlstate::kProtocolViolation, "bad message",
                                   "detail text", "hint text");
  ASSERT_EQ(wire[0], 'E');
  auto e = parseErrorResponse(std::string_view(wire).substr(5));
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(e->severity(), "FATAL");
  EXPECT_EQ(e->get('S'), "FATAL");
  EXPECT_EQ(e->sqlstate(), "08P01");
  EXPECT_EQ(e->message(), "bad message");
  EXPECT_EQ(e->get('D'), "detail text");
  EXPECT_EQ(e->get('H'), "hint text");
  EXPECT_EQ(e->get('W'), "");

  std::string notice = noticeResponse("WARNING", "01000", "careful");
  ASSERT_EQ(notice[0], 'N');
  auto n = parseNoticeResponse(std::string_view(notice).substr(5));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->fields.size(), 4u);  // S, V, C, M: empty detail and hint are left out

  std::string from_failure =
      errorResponseFor(Failure<WireErrc>{WireErrc::bad_length, "length 3 is below 4"});
  auto f = parseErrorResponse(std::string_view(from_failure).substr(5));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->sqlstate(), "08P01");
  EXPECT_EQ(f->severity(), "FATAL");
  EXPECT_EQ(f->message(), "length 3 is below 4");
}

TEST(MessageRoundTrip, EncodersKeepFramingWithNulInStrings) {
  using namespace std::string_view_literals;
  std::string wire = encoded(Query{"SELECT 1\0; DROP TABLE t"sv});
  auto q = parseQuery(std::string_view(wire).substr(5));
  ASSERT_TRUE(q.ok()) << q.message();
  EXPECT_EQ(q->sql, "SELECT 1");
}

TEST(MessageRoundTrip, StartupParameterLookup) {
  StartupMessage m{kProtocolVersion3, {{"user", "bob"}, {"database", "db"}}};
  std::string wire = encoded(m);
  auto p = parseStartupMessage(std::string_view(wire).substr(4));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->parameter("database"), "db");
  EXPECT_EQ(p->parameter("options"), std::nullopt);
}

TEST(MessageRoundTrip, EncryptionResponseByte) {
  std::string out;
  appendEncryptionResponse(out, true);
  appendEncryptionResponse(out, false);
  appendEncryptionResponse(out, true, /*gss=*/true);
  EXPECT_EQ(out, "SNG");
}

}  // namespace
}  // namespace keel::pgwire::testing
