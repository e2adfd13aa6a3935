// Framing: lengths and limits, phases (startup, encryption, typed), CVE-2021-3935 and
// CVE-2021-23222 guards, streaming of large messages, buffer reuse.
#include "pgwire/frame_decoder.h"

#include <gtest/gtest.h>

#include <cstring>

#include "unit/pgwire/codec_samples.h"

namespace keel::pgwire::testing {
namespace {

std::string be32(std::uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}

std::string typedHeader(char type, std::uint32_t length) {
  return std::string(1, type) + be32(length);
}

std::string startupPacket(std::uint32_t code, std::string body = "") {
  return be32(static_cast<std::uint32_t>(8 + body.size())) + be32(code) + body;
}

// The decoder's answer after feeding `bytes`: a frame, nullopt, or a failure.
WireResult<std::optional<Frame>> feedAndNext(FrameDecoder& d, std::string_view bytes) {
  d.feed(bytes);
  return d.next();
}

void expectFailure(const WireResult<std::optional<Frame>>& r, WireErrc code,
                   std::string_view text = {}) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), code) << r.message();
  EXPECT_NE(r.message().find(text), std::string::npos) << r.message();
}

void expectNeedMore(const WireResult<std::optional<Frame>>& r) {
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_FALSE(r->has_value());
}

const std::string kStartup = encoded(StartupMessage{kProtocolVersion3, {{"user", "u"}}});

// --- Typed message lengths ---

TEST(FrameDecoderLength, RejectsTypedLengthsBelowFour) {
  for (std::uint32_t len : {0u, 1u, 3u}) {
    FrameDecoder d = typedFrontendDecoder();
    expectFailure(feedAndNext(d, typedHeader('Q', len)), WireErrc::bad_length, "below the minimum");
  }
}

TEST(FrameDecoderLength, RejectsNegativeLengths) {
  for (std::uint32_t len : {0x80000000u, 0xfffffffcu, 0xffffffffu}) {
    FrameDecoder d = typedFrontendDecoder();
    d.setAuthenticated();
    expectFailure(feedAndNext(d, typedHeader('d', len)), WireErrc::bad_length, "negative");
  }
}

TEST(FrameDecoderLength, RejectsLengthsNearTwoGiBEvenWhenConfiguredHigher) {
  FrameLimits limits;
  limits.max_message_length = 0xffffffff;  // lowered to kMaxMessageLengthCap
  FrameDecoder d = typedFrontendDecoder(limits);
  d.setAuthenticated();
  expectFailure(feedAndNext(d, typedHeader('d', 0x7fffffff)), WireErrc::message_too_large,
                std::to_string(kMaxMessageLengthCap));
  FrameDecoder def = typedFrontendDecoder();
  def.setAuthenticated();
  expectFailure(feedAndNext(def, typedHeader('d', 0x7fffffff)), WireErrc::message_too_large);
}

TEST(FrameDecoderLength, EnforcesConfiguredMaximumExactly) {
  FrameLimits limits;
  limits.max_message_length = 1000;
  FrameDecoder d = typedFrontendDecoder(limits);
  d.setAuthenticated();
  expectNeedMore(feedAndNext(d, typedHeader('d', 1000)));  // at the limit: waits for the body
  EXPECT_EQ(d.bytesWanted(), 996u);

  FrameDecoder over = typedFrontendDecoder(limits);
  over.setAuthenticated();
  expectFailure(feedAndNext(over, typedHeader('d', 1001)), WireErrc::message_too_large, "1001");
}

TEST(FrameDecoderLength, PreAuthLimitUntilAuthenticated) {
  FrameDecoder d = typedFrontendDecoder();
  expectFailure(feedAndNext(d, typedHeader('p', kDefaultMaxPreauthMessageLength + 1)),
                WireErrc::message_too_large, "before authentication");

  FrameDecoder ok = typedFrontendDecoder();
  expectNeedMore(feedAndNext(ok, typedHeader('p', kDefaultMaxPreauthMessageLength)));

  FrameDecoder after = typedFrontendDecoder();
  after.setAuthenticated();
  EXPECT_TRUE(after.authenticated());
  expectNeedMore(feedAndNext(after, typedHeader('d', kDefaultMaxPreauthMessageLength + 1)));
}

TEST(FrameDecoderLength, BackendSideHasThePreAuthLimitToo) {
  FrameDecoder d(Source::backend);
  expectFailure(feedAndNext(d, typedHeader('R', 1 << 20)), WireErrc::message_too_large);
  FrameDecoder after(Source::backend);
  after.setAuthenticated();
  expectNeedMore(feedAndNext(after, typedHeader('D', 1 << 20)));
}

TEST(FrameDecoderLength, FailureIsSticky) {
  FrameDecoder d = typedFrontendDecoder();
  expectFailure(feedAndNext(d, typedHeader('Q', 3)), WireErrc::bad_length);
  expectFailure(feedAndNext(d, encoded(Sync{})), WireErrc::bad_length);
  d.reset();
  ASSERT_TRUE(feedAndNext(d, kStartup).ok());
}

// --- Startup phase ---

TEST(FrameDecoderStartup, RejectsBadStartupLengths) {
  for (std::uint32_t len : {0u, 3u, 4u, 7u}) {
    FrameDecoder d(Source::frontend);
    expectFailure(feedAndNext(d, be32(len)), WireErrc::bad_length, "startup packet length");
  }
  for (std::uint32_t len : {0x80000000u, 0xffffffffu}) {
    FrameDecoder d(Source::frontend);
    expectFailure(feedAndNext(d, be32(len)), WireErrc::bad_length, "negative");
  }
  FrameDecoder over(Source::frontend);
  expectFailure(feedAndNext(over, be32(kMaxStartupPacketLength + 1)), WireErrc::message_too_large);
  FrameDecoder big(Source::frontend);
  expectFailure(feedAndNext(big, be32(0x7fffffff)), WireErrc::message_too_large);
  FrameDecoder at_limit(Source::frontend);
  expectNeedMore(feedAndNext(at_limit, be32(kMaxStartupPacketLength)));
}

TEST(FrameDecoderStartup, FixedSizeRequestsMustHaveTheirSize) {
  FrameDecoder ssl(Source::frontend);
  expectFailure(feedAndNext(ssl, startupPacket(kSslRequestCode, "xxxx")), WireErrc::bad_length,
                "SSLRequest");
  FrameDecoder cancel(Source::frontend);
  expectFailure(feedAndNext(cancel, startupPacket(kCancelRequestCode, "1234")),
                WireErrc::bad_length, "CancelRequest");
}

TEST(FrameDecoderStartup, ProtocolVersions) {
  FrameDecoder v2(Source::frontend);
  expectFailure(feedAndNext(v2, startupPacket(0x00020000, std::string("user\0u\0\0", 8))),
                WireErrc::unsupported_protocol, "2.0");
  FrameDecoder v4(Source::frontend);
  expectFailure(feedAndNext(v4, startupPacket(0x00040000, std::string(1, '\0'))),
                WireErrc::unsupported_protocol);
  // 3.2: framed; the proxy answers with NegotiateProtocolVersion.
  FrameDecoder v32(Source::frontend);
  auto f = feedAndNext(v32, encoded(StartupMessage{(3u << 16) | 2, {{"user", "u"}}}));
  ASSERT_TRUE(f.ok()) << f.message();
  ASSERT_TRUE(f->has_value());
  EXPECT_EQ((*f)->kind, FrameKind::startup);
  EXPECT_EQ(protocolMinor(parseStartupMessage((*f)->payload)->protocol_version), 2);
}

TEST(FrameDecoderStartup, StartupMessageEntersTypedPhase) {
  FrameDecoder d(Source::frontend);
  EXPECT_FALSE(d.inTypedPhase());
  auto f = feedAndNext(d, kStartup + encoded(Query{"SELECT 1"}));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->kind, FrameKind::startup);
  EXPECT_TRUE(d.inTypedPhase());
  auto q = d.next();
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)->type, 'Q');
}

TEST(FrameDecoderStartup, SecondStartupMessageRejected) {
  FrameDecoder d = typedFrontendDecoder();
  expectFailure(feedAndNext(d, kStartup), WireErrc::unexpected_message, "second StartupMessage");
  // Detected from the first byte, without waiting for the rest.
  FrameDecoder early = typedFrontendDecoder();
  expectFailure(feedAndNext(early, std::string(1, '\0')), WireErrc::unexpected_message);
  FrameDecoder ssl = typedFrontendDecoder();
  expectFailure(feedAndNext(ssl, encoded(SslRequest{})), WireErrc::unexpected_message);
}

TEST(FrameDecoderStartup, UnknownTypeBytes) {
  FrameDecoder fe = typedFrontendDecoder();
  expectFailure(feedAndNext(fe, encoded(ReadyForQuery{})), WireErrc::unexpected_message,
                "invalid frontend message type 0x5a ('Z')");
  FrameDecoder be(Source::backend);
  expectFailure(feedAndNext(be, encoded(Query{"x"})), WireErrc::unexpected_message,
                "invalid backend message type");
  FrameLimits lax;
  lax.reject_unknown_types = false;
  FrameDecoder any(Source::backend, lax);
  auto f = feedAndNext(any, encoded(Query{"x"}));
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ((*f)->type, 'Q');
}

TEST(FrameDecoderStartup, DirectTlsHandshakeRejectedClearly) {
  FrameDecoder d(Source::frontend);
  expectFailure(feedAndNext(d, "\x16\x03\x01\x02\x00"), WireErrc::unexpected_message, "TLS");
}

TEST(FrameDecoderStartup, CancelRequestEndsTheConnection) {
  FrameDecoder d(Source::frontend);
  auto f = feedAndNext(d, encoded(CancelRequest{12, 34}));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->kind, FrameKind::cancel_request);
  auto c = parseCancelRequest((*f)->payload);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->process_id, 12);
  EXPECT_EQ(c->secret_key, 34);
  expectNeedMore(d.next());
  expectFailure(feedAndNext(d, kStartup), WireErrc::unexpected_message, "after its CancelRequest");
}

// --- Encryption negotiation (55.2) ---

TEST(FrameDecoderEncryption, BytesAfterSslRequestRefusedWhenAccepting) {
  // CVE-2021-3935: a man in the middle appends a plaintext StartupMessage to the SSLRequest.
  FrameDecoder d(Source::frontend);
  auto f = feedAndNext(d, encoded(SslRequest{}) + kStartup);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->kind, FrameKind::ssl_request);
  EXPECT_EQ(d.buffered(), kStartup.size());
  auto answered = d.encryptionAnswered(true);
  ASSERT_FALSE(answered.ok());
  EXPECT_EQ(answered.code(), WireErrc::bytes_after_encryption_request);
  EXPECT_NE(answered.message().find("CVE-2021-3935"), std::string::npos);
  expectFailure(d.next(), WireErrc::bytes_after_encryption_request);
}

TEST(FrameDecoderEncryption, BytesAfterGssEncRequestRefusedWhenAccepting) {
  FrameDecoder d(Source::frontend);
  auto f = feedAndNext(d, encoded(GssEncRequest{}) + "X");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->kind, FrameKind::gssenc_request);
  EXPECT_EQ(d.encryptionAnswered(true).code(), WireErrc::bytes_after_encryption_request);
}

TEST(FrameDecoderEncryption, RefusedEncryptionContinuesInPlaintext) {
  FrameDecoder d(Source::frontend);
  auto f = feedAndNext(d, encoded(SslRequest{}) + kStartup);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(d.encryptionAnswered(false).ok());
  auto s = d.next();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ((*s)->kind, FrameKind::startup);
}

TEST(FrameDecoderEncryption, AcceptedThenStartupOverTls) {
  FrameDecoder d(Source::frontend);
  ASSERT_TRUE(feedAndNext(d, encoded(SslRequest{})).ok());
  ASSERT_TRUE(d.encryptionAnswered(true).ok());
  // Decrypted bytes from the TLS stream.
  auto s = feedAndNext(d, kStartup);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ((*s)->kind, FrameKind::startup);
}

TEST(FrameDecoderEncryption, RequestOrderFollowsPostgres) {
  {
    SCOPED_TRACE("SSL refused, SSL again");
    FrameDecoder d(Source::frontend);
    ASSERT_TRUE(feedAndNext(d, encoded(SslRequest{})).ok());
    ASSERT_TRUE(d.encryptionAnswered(false).ok());
    expectFailure(feedAndNext(d, encoded(SslRequest{})), WireErrc::unexpected_message,
                  "second SSLRequest");
  }
  {
    SCOPED_TRACE("GSS refused, SSL accepted, then GSS");
    FrameDecoder d(Source::frontend);
    ASSERT_TRUE(feedAndNext(d, encoded(GssEncRequest{})).ok());
    ASSERT_TRUE(d.encryptionAnswered(false).ok());
    auto ssl = feedAndNext(d, encoded(SslRequest{}));
    ASSERT_TRUE(ssl.ok()) << ssl.message();
    ASSERT_TRUE(d.encryptionAnswered(true).ok());
    expectFailure(feedAndNext(d, encoded(GssEncRequest{})), WireErrc::unexpected_message);
  }
  {
    SCOPED_TRACE("SSL accepted, then SSL");
    FrameDecoder d(Source::frontend);
    ASSERT_TRUE(feedAndNext(d, encoded(SslRequest{})).ok());
    ASSERT_TRUE(d.encryptionAnswered(true).ok());
    expectFailure(feedAndNext(d, encoded(SslRequest{})), WireErrc::unexpected_message);
  }
}

TEST(FrameDecoderEncryption, AnswerIsRequiredAndOnlyWhenPending) {
  FrameDecoder d(Source::frontend);
  EXPECT_EQ(d.encryptionAnswered(true).code(), WireErrc::invalid_state);
  ASSERT_TRUE(feedAndNext(d, encoded(SslRequest{})).ok());
  expectFailure(d.next(), WireErrc::invalid_state, "encryptionAnswered");
  EXPECT_EQ(sqlstateFor(WireErrc::invalid_state), "XX000");
}

TEST(FrameDecoderEncryption, BackendAnswerFramedAsOneByte) {
  for (char answer : {'S', 'G', 'N'}) {
    FrameDecoder d(Source::backend);
    d.expectEncryptionResponse();
    auto f = feedAndNext(d, std::string(1, answer));
    ASSERT_TRUE(f.ok()) << f.message();
    EXPECT_EQ((*f)->kind, FrameKind::encryption_response);
    EXPECT_EQ((*f)->type, answer);
    EXPECT_EQ((*f)->raw.size(), 1u);
  }
}

TEST(FrameDecoderEncryption, BackendBytesAfterAcceptRefused) {
  // CVE-2021-23222: bytes injected after the server's 'S'.
  FrameDecoder d(Source::backend);
  d.expectEncryptionResponse();
  expectFailure(feedAndNext(d, "S" + encoded(Authentication::ok())),
                WireErrc::bytes_after_encryption_request, "CVE-2021-23222");
  // After 'N' the server carries on in plaintext.
  FrameDecoder n(Source::backend);
  n.expectEncryptionResponse();
  auto f = feedAndNext(n, "N" + encoded(Authentication::ok()));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->type, 'N');
  auto auth = n.next();
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ((*auth)->type, 'R');
}

TEST(FrameDecoderEncryption, BackendErrorInsteadOfAnswer) {
  FrameDecoder d(Source::backend);
  d.expectEncryptionResponse();
  std::string err = errorResponse("FATAL", "08P01", "unsupported");
  auto f = feedAndNext(d, err);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ((*f)->kind, FrameKind::message);
  EXPECT_EQ((*f)->type, 'E');
  FrameDecoder bad(Source::backend);
  bad.expectEncryptionResponse();
  expectFailure(feedAndNext(bad, "x"), WireErrc::unexpected_message);
}

// --- Streaming ---

TEST(FrameDecoderStreaming, LargeMessageHandedOutInParts) {
  FrameLimits limits;
  limits.stream_threshold = 16;
  FrameDecoder d = typedFrontendDecoder(limits);
  d.setAuthenticated();
  std::string big =
      encoded(CopyData{std::string_view("0123456789abcdefghijklmnopqrstuvwxyz"
                                        "0123456789abcdefghijklmnopqrstuvwxyz")});
  std::string stream = big + encoded(CopyDone{});
  std::string forwarded;
  std::vector<FrameKind> kinds;
  bool saw_done = false;
  for (std::size_t pos = 0; pos < stream.size(); pos += 7) {
    d.feed(std::string_view(stream).substr(pos, 7));
    for (;;) {
      auto f = d.next();
      ASSERT_TRUE(f.ok()) << f.message();
      if (!f->has_value()) {
        break;
      }
      if ((*f)->type == 'c') {
        saw_done = true;
        continue;
      }
      EXPECT_EQ((*f)->type, 'd');
      EXPECT_EQ((*f)->length, big.size() - 1);
      kinds.push_back((*f)->kind);
      forwarded += (*f)->raw;
      EXPECT_EQ((*f)->complete, forwarded.size() == big.size());
    }
  }
  EXPECT_EQ(forwarded, big);
  EXPECT_TRUE(saw_done);
  ASSERT_GE(kinds.size(), 3u);
  EXPECT_EQ(kinds.front(), FrameKind::message);
  EXPECT_EQ(kinds.back(), FrameKind::continuation);
}

TEST(FrameDecoderStreaming, WholeMessageInBufferIsNotSplit) {
  FrameLimits limits;
  limits.stream_threshold = 16;
  FrameDecoder d = typedFrontendDecoder(limits);
  std::string big = encoded(Query{"SELECT 'a long enough query text'"});
  auto f = feedAndNext(d, big);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE((*f)->complete);
  EXPECT_EQ((*f)->raw, big);
}

// --- Buffer management ---

TEST(FrameDecoderBuffer, PrepareCommitReadsInPlace) {
  FrameDecoder d = typedFrontendDecoder();
  std::string q = encoded(Query{"SELECT 1"});
  std::span<char> space = d.prepare(q.size());
  ASSERT_GE(space.size(), q.size());
  std::memcpy(space.data(), q.data(), 3);
  d.commit(3);
  expectNeedMore(d.next());
  space = d.prepare(q.size() - 3);
  std::memcpy(space.data(), q.data() + 3, q.size() - 3);
  d.commit(q.size() - 3);
  auto f = d.next();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->raw, q);
}

TEST(FrameDecoderBuffer, SteadyStateDoesNotGrow) {
  FrameDecoder d = typedFrontendDecoder();
  std::string batch;
  for (int i = 0; i < 50; ++i) {
    batch +=
        encoded(Bind{"", "P_1", {}, {"12345"}, {}}) + encoded(Execute{"", 0}) + encoded(Sync{});
  }
  std::size_t capacity_after_warmup = 0;
  for (int round = 0; round < 200; ++round) {
    for (std::size_t pos = 0; pos < batch.size(); pos += 1000) {
      d.feed(std::string_view(batch).substr(pos, 1000));
      for (;;) {
        auto f = d.next();
        ASSERT_TRUE(f.ok());
        if (!f->has_value()) {
          break;
        }
      }
    }
    if (round == 1) {
      capacity_after_warmup = d.capacity();
    }
  }
  EXPECT_EQ(d.capacity(), capacity_after_warmup);
  EXPECT_LE(d.capacity(), 16u * 1024);
}

TEST(FrameDecoderBuffer, LargeBufferReleasedWhenEmpty) {
  FrameDecoder d = typedFrontendDecoder();
  d.setAuthenticated();
  std::string big = encoded(CopyData{std::string(3 << 20, 'x')});
  auto f = feedAndNext(d, big);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->has_value());
  EXPECT_GE(d.capacity(), big.size());
  expectNeedMore(d.next());
  d.prepare(4096);
  EXPECT_LT(d.capacity(), std::size_t{1} << 20);
}

TEST(FrameDecoderBuffer, BytesWantedTracksTheFrameInProgress) {
  FrameDecoder d = typedFrontendDecoder();
  EXPECT_EQ(d.bytesWanted(), 5u);
  d.feed("Q");
  EXPECT_EQ(d.bytesWanted(), 4u);
  d.feed(be32(104));
  EXPECT_EQ(d.bytesWanted(), 100u);
  d.feed(std::string(40, 'a'));
  EXPECT_EQ(d.bytesWanted(), 60u);
}

TEST(FrameDecoderBuffer, ShrinkIfEmptyKeepsASmallBufferAndNeverDropsUnreadBytes) {
  FrameDecoder d = typedFrontendDecoder();
  d.setAuthenticated();
  std::string query = encoded(Query{"SELECT 1"});
  auto f = feedAndNext(d, query + query.substr(0, 3));  // one message and the start of another
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->has_value());
  d.shrinkIfEmpty(512);  // three bytes are unread: nothing changes
  EXPECT_EQ(d.buffered(), 3u);
  EXPECT_GE(d.capacity(), 8u * 1024);
  d.feed(std::string_view(query).substr(3));
  auto second = d.next();
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->type, 'Q');
  d.shrinkIfEmpty(512);
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_EQ(d.capacity(), 512u);
  // The small buffer takes a read, and grows for a message larger than it.
  EXPECT_EQ(d.prepare(1).size(), 512u);
  auto big = feedAndNext(d, encoded(Query{std::string(4000, 'x')}));
  ASSERT_TRUE(big.ok());
  ASSERT_TRUE(big->has_value());
  EXPECT_GE(d.capacity(), 4000u);
}

}  // namespace
}  // namespace keel::pgwire::testing
