#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "pgwire/frame_decoder.h"
#include "pgwire/message_builder.h"
#include "proxy/transaction_relay.h"

// Drives a TransactionRelay the way a client session does: bytes go through a FrameDecoder per
// direction and each frame is handed to the relay at once; what the relay writes is collected
// per direction and compared byte for byte with messages built by the pgwire encoders.
namespace keel::proxy::relay_test {

template <typename... M>
std::string wire(const M&... messages) {
  std::string out;
  (pgwire::encode(out, messages), ...);
  return out;
}

// "P B E S": the type bytes of the messages in `bytes`, to make a failed comparison readable.
inline std::string types(std::string_view bytes) {
  std::string out;
  while (bytes.size() >= 5) {
    auto len = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[1])) << 24 |
               static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[2])) << 16 |
               static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[3])) << 8 |
               static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[4]));
    if (!out.empty()) {
      out.push_back(' ');
    }
    out.push_back(bytes[0]);
    if (len + 1 > bytes.size()) {
      out += "(truncated)";
      break;
    }
    bytes.remove_prefix(len + 1);
  }
  return out;
}

// The messages in `bytes`, each whole (type, length, payload).
inline std::vector<std::string> messages(std::string_view bytes) {
  std::vector<std::string> out;
  while (bytes.size() >= 5) {
    std::size_t len = static_cast<std::size_t>(static_cast<unsigned char>(bytes[1])) << 24 |
                      static_cast<std::size_t>(static_cast<unsigned char>(bytes[2])) << 16 |
                      static_cast<std::size_t>(static_cast<unsigned char>(bytes[3])) << 8 |
                      static_cast<std::size_t>(static_cast<unsigned char>(bytes[4]));
    out.emplace_back(bytes.substr(0, std::min(len + 1, bytes.size())));
    bytes.remove_prefix(out.back().size());
  }
  return out;
}

// A complete message frame as FrameDecoder yields it; views into `message`.
inline pgwire::Frame frameOf(std::string_view message) {
  return pgwire::Frame{.type = message[0],
                       .payload = message.substr(5),
                       .raw = message,
                       .length = static_cast<std::uint32_t>(message.size() - 1)};
}

// Drives any relay with whole messages (for a second client next to the fixture's).
inline void fromClient(TransactionRelay& relay, std::string_view bytes, std::string& to_server,
                       std::string& to_client) {
  for (const std::string& m : messages(bytes)) {
    relay.fromClient(frameOf(m), to_server, to_client);
  }
}
inline pgwire::WireResult<void> fromServer(TransactionRelay& relay, std::string_view bytes,
                                           std::string& to_client) {
  for (const std::string& m : messages(bytes)) {
    auto r = relay.fromServer(frameOf(m), to_client);
    if (!r) {
      return r;
    }
  }
  return {};
}

// Byte-exact comparison that names the message types on failure; takes `<< "context"`.
inline ::testing::AssertionResult wireEqual(const char* actual_expr, const char* expected_expr,
                                            const std::string& actual,
                                            const std::string& expected) {
  if (actual == expected) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << actual_expr << " is [" << types(actual) << "], expected " << expected_expr << " ["
         << types(expected) << "]\n  actual bytes:   " << ::testing::PrintToString(actual)
         << "\n  expected bytes: " << ::testing::PrintToString(expected);
}
#define EXPECT_WIRE(actual, expected) \
  EXPECT_PRED_FORMAT2(::keel::proxy::relay_test::wireEqual, actual, expected)

inline pgwire::Parse parse(std::string_view name, std::string_view query,
                           std::vector<pgwire::Oid> types = {}) {
  return pgwire::Parse{.statement = name, .query = query, .parameter_types = std::move(types)};
}
inline pgwire::Bind bind(std::string_view statement, std::vector<pgwire::NullableBytes> params = {},
                         std::string_view portal = "") {
  return pgwire::Bind{.portal = portal, .statement = statement, .parameters = std::move(params)};
}
inline pgwire::Execute execute(std::string_view portal = "", std::int32_t max_rows = 0) {
  return pgwire::Execute{.portal = portal, .max_rows = max_rows};
}
inline pgwire::Describe describeStatement(std::string_view name) {
  return pgwire::Describe{.kind = pgwire::TargetKind::statement, .name = name};
}
inline pgwire::Describe describePortal(std::string_view name = "") {
  return pgwire::Describe{.kind = pgwire::TargetKind::portal, .name = name};
}
inline pgwire::Close closeStatement(std::string_view name) {
  return pgwire::Close{.kind = pgwire::TargetKind::statement, .name = name};
}
inline pgwire::Query query(std::string_view sql) {
  return pgwire::Query{.sql = sql};
}
inline pgwire::ReadyForQuery ready(char status = 'I') {
  return pgwire::ReadyForQuery{.status = static_cast<pgwire::TransactionStatus>(status)};
}
inline pgwire::CommandComplete done(std::string_view tag) {
  return pgwire::CommandComplete{.tag = tag};
}
inline pgwire::DataRow row(std::string_view value) {
  return pgwire::DataRow{.columns = {value}};
}
inline pgwire::RowDescription columns(std::string_view name) {
  return pgwire::RowDescription{.fields = {pgwire::FieldDescription{.name = name, .type = 23}}};
}
inline pgwire::ErrorResponse error(std::string_view sqlstate, std::string_view message) {
  pgwire::ErrorResponse e;
  e.fields = {{'S', "ERROR"}, {'V', "ERROR"}, {'C', sqlstate}, {'M', message}};
  return e;
}

inline const pgwire::ParseComplete parsed;
inline const pgwire::BindComplete bound;
inline const pgwire::CloseComplete closed;
inline const pgwire::Sync sync;
inline const pgwire::Flush flush;
inline const pgwire::NoData nodata;

class TransactionRelayTest : public ::testing::Test {
 protected:
  void SetUp() override { relay.attach(names, server1); }

  // Decoders as the session configures them; `threshold` streams messages above it in parts.
  void streamAbove(std::uint32_t threshold) {
    pgwire::FrameLimits limits;
    limits.stream_threshold = threshold;
    client_dec_ = pgwire::FrameDecoder(pgwire::Source::frontend, limits);
    client_dec_.feed(wire(pgwire::StartupMessage{.parameters = {{"user", "app"}}}));
    auto startup = client_dec_.next();
    ASSERT_TRUE(startup && *startup);
    client_dec_.setAuthenticated();
    server_dec_ = pgwire::FrameDecoder(pgwire::Source::backend, limits);
    server_dec_.setAuthenticated();
  }

  void client(std::string_view bytes) {
    if (!client_dec_.inTypedPhase()) {
      streamAbove(0);
    }
    client_dec_.feed(bytes);
    while (true) {
      auto frame = client_dec_.next();
      ASSERT_TRUE(frame) << frame.message();
      if (!*frame) {
        return;
      }
      relay.fromClient(**frame, to_server_, to_client_);
    }
  }

  // Feeds server bytes; the first failure of the relay, if any.
  pgwire::WireResult<void> serverResult(std::string_view bytes) {
    if (!client_dec_.inTypedPhase()) {
      streamAbove(0);
    }
    server_dec_.feed(bytes);
    while (true) {
      auto frame = server_dec_.next();
      if (!frame) {
        return frame.failure();
      }
      if (!*frame) {
        return {};
      }
      auto r = relay.fromServer(**frame, to_client_);
      if (!r) {
        return r;
      }
    }
  }
  void server(std::string_view bytes) {
    auto r = serverResult(bytes);
    ASSERT_TRUE(r) << r.message();
  }

  std::string sent() { return std::exchange(to_server_, {}); }
  std::string received() { return std::exchange(to_client_, {}); }

  // The server connection goes back to the pool; the client lands on `next`.
  void moveTo(ServerStatements& next) {
    ASSERT_TRUE(relay.releasable());
    relay.detach();
    relay.attach(names, next);
  }

  // One round trip preparing `name` as the next pooled statement on the current server.
  void prepare(std::string_view name, std::string_view sql, std::string_view pooled) {
    client(wire(parse(name, sql), sync));
    EXPECT_WIRE(sent(), wire(parse(pooled, sql), sync));
    server(wire(parsed, ready()));
    EXPECT_WIRE(received(), wire(parsed, ready()));
    EXPECT_TRUE(relay.releasable());
  }

  StatementNames names{1000};
  ServerStatements server1{100};
  ServerStatements server2{100};
  ServerStatements server3{100};
  TransactionRelay relay{100};

 private:
  pgwire::FrameDecoder client_dec_{pgwire::Source::frontend};
  pgwire::FrameDecoder server_dec_{pgwire::Source::backend};
  std::string to_server_;
  std::string to_client_;
};

}  // namespace keel::proxy::relay_test
