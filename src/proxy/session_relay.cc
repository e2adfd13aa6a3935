#include "proxy/session_relay.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <variant>

#include "pgwire/message_builder.h"
#include "proxy/relay_io.h"

namespace keel::proxy {

using asio::ip::tcp;
namespace sqlstate = pgwire::sqlstate;

namespace {
constexpr std::string_view kClient = "the client";
// What the relay asks the decoders for per read.
constexpr std::size_t kRelayReadSize = 16 * 1024;
}  // namespace

SessionRelay::SessionRelay(ClientStream& stream, pgwire::FrameDecoder& client_decoder,
                           tcp::socket& server, ServerConnection& conn, PoolStats& stats,
                           SessionHandle& handle, pgwire::FrameLimits server_limits)
    : stream_(stream),
      client_dec_(client_decoder),
      server_(server),
      conn_(conn),
      stats_(stats),
      handle_(handle),
      server_dec_(pgwire::Source::backend, server_limits) {
  server_dec_.setAuthenticated();
}

bool SessionRelay::idleAtBoundary() const {
  return requests_.pending() == 0 && tx_status_ == 'I' && !server_sent_fatal_ &&
         server_dec_.buffered() == 0;
}

asio::awaitable<RelayEnd> SessionRelay::run() {
  using namespace asio::experimental::awaitable_operators;
  handle_.setServerSocket(&server_);
  // The relay writes without waiting when the socket takes the bytes at once (sendPlain): the
  // sockets must not block the worker (ServerConnection::attach made the server's so).
  boost::system::error_code ec;
  if (!stream_.tls()) {
    stream_.socket().non_blocking(true, ec);
  }
  auto result = co_await (clientToServer() || serverToClient());
  handle_.setServerSocket(nullptr);
  RelayEnd end = std::visit([](RelayEnd e) { return e; }, result);
  if (handle_.killed()) {
    end = RelayEnd::killed;
  }
  co_return end;
}

// Sends to the client: plain without suspending when possible, TLS by async_write.
asio::awaitable<bool> SessionRelay::sendToClient(tcp::socket* plain, const char* data,
                                                 std::size_t size) {
  if (plain != nullptr) {
    co_return co_await sendPlain(*plain, data, size);
  }
  auto [ec, n] = co_await stream_.async_write_all(asio::buffer(data, size), kNoThrow);
  co_return !ec;
}

// Forwards client bytes to the server until the client terminates or goes away.
asio::awaitable<RelayEnd> SessionRelay::clientToServer() {
  while (true) {
    auto space = client_dec_.prepare(kRelayReadSize);
    auto [ec, n] =
        co_await stream_.async_read_some(asio::buffer(space.data(), space.size()), kNoThrow);
    if (ec) {
      co_return RelayEnd::client_gone;
    }
    client_dec_.commit(n);
    stats_.bytes_received += n;
    const char* span = nullptr;
    std::size_t span_len = 0;
    bool terminated = false;
    while (true) {
      auto next = client_dec_.next();
      if (!next) {
        std::string out =
            pgwire::errorResponse("FATAL", sqlstate::kProtocolViolation, next.message());
        co_await stream_.write(out, kClient);
        co_return RelayEnd::client_gone;
      }
      if (!*next) {
        break;
      }
      const pgwire::Frame& f = **next;
      if (f.kind == pgwire::FrameKind::message) {
        if (f.type == pgwire::frontend::kTerminate) {
          terminated = true;
          break;
        }
        requests_.clientMessage(f.type, &stats_);
      }
      if (span != nullptr && span + span_len == f.raw.data()) {
        span_len += f.raw.size();
        continue;
      }
      if (span_len > 0) {
        bool sent = co_await sendPlain(server_, span, span_len);
        if (!sent) {
          co_return RelayEnd::server_gone;
        }
      }
      span = f.raw.data();
      span_len = f.raw.size();
    }
    if (span_len > 0) {
      bool sent = co_await sendPlain(server_, span, span_len);
      if (!sent) {
        co_return RelayEnd::server_gone;
      }
    }
    if (terminated) {
      co_return RelayEnd::client_terminated;
    }
  }
}

// Forwards server bytes to the client, tracking transaction state.
asio::awaitable<RelayEnd> SessionRelay::serverToClient() {
  tcp::socket* client = stream_.tls() ? nullptr : &stream_.socket();
  while (true) {
    auto space = server_dec_.prepare(kRelayReadSize);
    auto [ec, n] =
        co_await server_.async_read_some(asio::buffer(space.data(), space.size()), kNoThrow);
    if (ec) {
      co_return handle_.killed() ? RelayEnd::killed : RelayEnd::server_gone;
    }
    server_dec_.commit(n);
    const char* span = nullptr;
    std::size_t span_len = 0;
    while (true) {
      auto next = server_dec_.next();
      if (!next) {
        server_error_ = "the server broke the protocol: " + next.message();
        co_return RelayEnd::server_gone;
      }
      if (!*next) {
        break;
      }
      const pgwire::Frame& f = **next;
      if (f.kind == pgwire::FrameKind::message) {
        noteServerMessage(f);
      }
      if (span != nullptr && span + span_len == f.raw.data()) {
        span_len += f.raw.size();
        continue;
      }
      if (span_len > 0) {
        stats_.bytes_sent += span_len;
        bool sent = co_await sendToClient(client, span, span_len);
        if (!sent) {
          co_return RelayEnd::client_gone;
        }
      }
      span = f.raw.data();
      span_len = f.raw.size();
    }
    if (span_len > 0) {
      stats_.bytes_sent += span_len;
      bool sent = co_await sendToClient(client, span, span_len);
      if (!sent) {
        co_return RelayEnd::client_gone;
      }
    }
  }
}

void SessionRelay::noteServerMessage(const pgwire::Frame& f) {
  switch (f.type) {
    case pgwire::backend::kReadyForQuery: {
      char status = f.payload.empty() ? 'I' : f.payload[0];
      requests_.readyForQuery(status, stats_);
      tx_status_ = status;
      break;
    }
    case pgwire::backend::kParameterStatus:
      if (f.complete) {
        if (auto p = pgwire::parseParameterStatus(f.payload)) {
          conn_.changeParameters()[std::string(p->name)] = std::string(p->value);
        }
      }
      break;
    case pgwire::backend::kErrorResponse:
      if (f.complete && isFatalError(f.payload)) {
        server_sent_fatal_ = true;
      }
      break;
    default:
      break;
  }
}

}  // namespace keel::proxy
