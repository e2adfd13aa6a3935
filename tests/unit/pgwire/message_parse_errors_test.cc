// Parsers against truncated fields, count mismatches, bad lengths and impossible values.
#include <gtest/gtest.h>

#include "pgwire/backend_messages.h"
#include "pgwire/frontend_messages.h"
#include "unit/pgwire/codec_samples.h"

namespace keel::pgwire::testing {
namespace {

using namespace std::string_literals;

std::string be16(std::uint16_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

template <typename T>
void expectFails(const WireResult<T>& r, WireErrc code, std::string_view text) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), code) << r.message();
  EXPECT_NE(r.message().find(text), std::string::npos) << r.message();
}

// Every strict prefix of a payload fails, unless the last field is "the rest of the message".
TEST(MessageParseErrors, EveryTruncationFails) {
  for (const Sample& s : allSamples()) {
    if (s.open_ended) {
      continue;
    }
    SCOPED_TRACE(s.name);
    std::string_view payload = payloadOf(s);
    for (std::size_t len = 0; len < payload.size(); ++len) {
      std::string copy(payload.substr(0, len));  // own buffer: ASan sees any overread
      EXPECT_NE(s.parsesBack(copy), "") << "prefix of " << len << " bytes parsed";
    }
  }
}

TEST(MessageParseErrors, TrailingBytesRejected) {
  for (const Sample& s : allSamples()) {
    if (s.open_ended) {
      continue;
    }
    SCOPED_TRACE(s.name);
    std::string extended = std::string(payloadOf(s)) + "!";
    std::string why = s.parsesBack(extended);
    EXPECT_NE(why, "");
    // The SASL list, error fields and startup parameters end at a terminator; the extra byte
    // then reads as the start of another element, which is truncated instead.
    EXPECT_TRUE(why.find("unexpected bytes after the last field") != std::string::npos ||
                why.find("no terminating NUL") != std::string::npos ||
                why.find("differs") != std::string::npos)
        << why;
  }
}

TEST(MessageParseErrors, BindNegativeParameterLength) {
  std::string p = "\0\0"s + be16(0) + be16(1) + be32(static_cast<std::uint32_t>(-2)) + be16(0);
  expectFails(parseBind(p), WireErrc::malformed, "negative (-2) and not -1");
  std::string null_ok = "\0\0"s + be16(0) + be16(1) + be32(0xffffffff) + be16(0);
  auto b = parseBind(null_ok);
  ASSERT_TRUE(b.ok()) << b.message();
  EXPECT_EQ(b->parameters, std::vector<NullableBytes>{std::nullopt});
}

TEST(MessageParseErrors, BindParameterLongerThanMessage) {
  std::string p = "\0\0"s + be16(0) + be16(1) + be32(0x7fffffff) + "abc" + be16(0);
  expectFails(parseBind(p), WireErrc::truncated, "parameter value");
}

TEST(MessageParseErrors, CountsBeyondThePayload) {
  expectFails(parseBind("\0\0"s + be16(60000)), WireErrc::malformed,
              "count \"parameter format count\" is 60000");
  expectFails(parseBind("\0\0"s + be16(0) + be16(2) + be32(0)), WireErrc::malformed,
              "parameter count");
  expectFails(parseDataRow(be16(65535) + be32(1) + "x"), WireErrc::malformed, "column count");
  expectFails(parseRowDescription(be16(2) + "id\0"s + std::string(18, '\0')), WireErrc::malformed,
              "field count");
  expectFails(parseParse("s\0q\0"s + be16(3) + be32(23) + be32(25)), WireErrc::malformed,
              "parameter type count");
  expectFails(parseParameterDescription(be16(1)), WireErrc::malformed, "parameter count");
  expectFails(parseCopyOutResponse("\0"s + be16(5) + be16(0)), WireErrc::malformed, "column count");
  expectFails(parseFunctionCall(be32(1) + be16(0) + be16(9) + be32(0) + be16(0)),
              WireErrc::malformed, "argument count");
  expectFails(parseNegotiateProtocolVersion(be32(0) + be32(0xffffffff)), WireErrc::malformed,
              "negative");
  expectFails(parseNegotiateProtocolVersion(be32(0) + be32(1000) + "a\0"s), WireErrc::malformed,
              "unrecognized option count");
}

TEST(MessageParseErrors, DataRowNegativeColumnLength) {
  expectFails(parseDataRow(be16(1) + be32(0x80000000)), WireErrc::malformed, "column value");
  auto nulls = parseDataRow(be16(2) + be32(0xffffffff) + be32(0xffffffff));
  ASSERT_TRUE(nulls.ok());
  EXPECT_EQ(nulls->columns.size(), 2u);
  EXPECT_FALSE(nulls->columns[0].has_value());
}

TEST(MessageParseErrors, StringsWithoutNul) {
  expectFails(parseQuery("SELECT 1"), WireErrc::truncated, "query string");
  expectFails(parseExecute("portal"), WireErrc::truncated, "portal name");
  expectFails(parseExecute("portal\0\0\0"s), WireErrc::truncated, "maximum rows");
  expectFails(parseParameterStatus("TimeZone\0UTC"s), WireErrc::truncated, "parameter value");
  expectFails(parseCommandComplete(""), WireErrc::truncated, "command tag");
  expectFails(parseErrorResponse("SERROR\0"s), WireErrc::truncated, "field code");
  expectFails(parseNotificationResponse(be32(1) + "chan\0payload"s), WireErrc::truncated,
              "payload");
}

TEST(MessageParseErrors, ImpossibleValues) {
  expectFails(parseDescribe("Xname\0"s), WireErrc::malformed, "neither 'S'");
  expectFails(parseClose("\0name\0"s), WireErrc::malformed, "neither 'S'");
  expectFails(parseReadyForQuery("Q"), WireErrc::malformed, "transaction status");
  expectFails(parseAuthentication(be32(99)), WireErrc::malformed, "request code 99");
  expectFails(parseAuthentication(be32(5) + "abc"), WireErrc::truncated, "salt");
  expectFails(parseAuthentication(be32(10) + "SCRAM-SHA-256\0"s), WireErrc::truncated,
              "mechanism name");
  expectFails(parseAuthentication(be32(0) + "x"), WireErrc::malformed, "unexpected bytes");
  expectFails(parseSync("x"), WireErrc::malformed, "Sync");
  expectFails(parseSaslInitialResponse("SCRAM-SHA-256\0"s + be32(0xfffffffe)), WireErrc::malformed,
              "initial response");
  expectFails(parseFunctionCallResponse(be32(5) + "ab"), WireErrc::truncated, "result value");
}

TEST(MessageParseErrors, StartupPackets) {
  expectFails(parseStartupMessage(be32(0x00020000) + "\0"s), WireErrc::unsupported_protocol, "2.0");
  expectFails(parseStartupMessage(be32(kProtocolVersion3) + "user\0"s), WireErrc::truncated,
              "parameter value");
  expectFails(parseStartupMessage(be32(kProtocolVersion3) + "user\0bob\0"s), WireErrc::truncated,
              "parameter name");
  expectFails(parseStartupMessage(be32(kProtocolVersion3) + "\0x"s), WireErrc::malformed,
              "unexpected bytes");
  expectFails(parseSslRequest(be32(kCancelRequestCode)), WireErrc::malformed, "request code");
  expectFails(parseCancelRequest(be32(kCancelRequestCode) + be32(1)), WireErrc::truncated,
              "secret key");
}

TEST(MessageParseErrors, MessagesNameWhatFailed) {
  auto r = parseBind("portal");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(),
            "malformed Bind message (6 bytes of payload): field \"portal name\" has no "
            "terminating NUL");
  EXPECT_EQ(sqlstateFor(r.code()), "08P01");
  EXPECT_EQ(toString(r.code()), "truncated");
}

}  // namespace
}  // namespace keel::pgwire::testing
