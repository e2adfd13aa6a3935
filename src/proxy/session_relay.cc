#include "proxy/session_relay.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

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
  handle_.setServerSocket(&server_);
  // The relay writes without waiting when the socket takes the bytes at once (writeNow): the
  // sockets must not block the worker (ServerConnection::attach made the server's so).
  boost::system::error_code ec;
  if (!stream_.tls()) {
    stream_.socket().non_blocking(true, ec);
  }
  running_ = 2;
  readClient();
  readServer();
  while (running_ > 0) {
    co_await stopped_.wait();
  }
  handle_.setServerSocket(nullptr);
  RelayEnd end = end_.value_or(RelayEnd::client_gone);
  if (handle_.killed()) {
    end = RelayEnd::killed;
  }
  co_return end;
}

void SessionRelay::finish(RelayEnd end) {
  if (end_) {
    return;
  }
  end_ = end;
  boost::system::error_code ignored;
  server_.cancel(ignored);
  stream_.socket().cancel(ignored);
}

void SessionRelay::stopped() {
  --running_;
  stopped_.notify();
}

void SessionRelay::addSpan(std::vector<Span>& spans, std::string_view raw) {
  if (!spans.empty() && spans.back().data + spans.back().size == raw.data()) {
    spans.back().size += raw.size();
  } else {
    spans.push_back(Span{raw.data(), raw.size()});
  }
}

void SessionRelay::readClient() {
  auto space = client_dec_.prepare(kRelayReadSize);
  stream_.async_read_some(
      asio::buffer(space.data(), space.size()),
      [this](boost::system::error_code ec, std::size_t n) { clientRead(ec, n); });
}

// Forwards client bytes to the server until the client terminates or goes away.
void SessionRelay::clientRead(boost::system::error_code ec, std::size_t n) {
  if (end_ || ec) {
    finish(RelayEnd::client_gone);
    stopped();
    return;
  }
  client_dec_.commit(n);
  stats_.bytes_received += n;
  to_server_.clear();
  bool terminated = false;
  std::string fatal;
  while (true) {
    auto next = client_dec_.next();
    if (!next) {
      fatal = pgwire::errorResponse("FATAL", sqlstate::kProtocolViolation, next.message());
      break;
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
    addSpan(to_server_, f.raw);
  }
  if (!fatal.empty()) {  // what came with the broken frame is not forwarded
    asio::co_spawn(server_.get_executor(), clientSlow(to_server_.size(), std::move(fatal), false),
                   asio::detached);
    return;
  }
  std::size_t i = 0;
  for (; i < to_server_.size(); ++i) {
    const std::size_t done = writeNow(server_, to_server_[i].data, to_server_[i].size, ec);
    if (ec) {
      finish(RelayEnd::server_gone);
      stopped();
      return;
    }
    if (done < to_server_[i].size) {
      to_server_[i].data += done;
      to_server_[i].size -= done;
      break;
    }
  }
  if (i < to_server_.size()) {
    asio::co_spawn(server_.get_executor(), clientSlow(i, std::string(), terminated),
                   asio::detached);
    return;
  }
  if (terminated) {
    finish(RelayEnd::client_terminated);
    stopped();
    return;
  }
  readClient();
}

asio::awaitable<void> SessionRelay::clientSlow(std::size_t from, std::string fatal,
                                               bool terminated) {
  for (std::size_t i = from; i < to_server_.size(); ++i) {
    auto [ec, n] = co_await asio::async_write(
        server_, asio::buffer(to_server_[i].data, to_server_[i].size), kNoThrow);
    if (ec) {
      finish(RelayEnd::server_gone);
      stopped();
      co_return;
    }
  }
  if (!fatal.empty()) {
    co_await stream_.write(fatal, kClient);
    finish(RelayEnd::client_gone);
  } else if (terminated) {
    finish(RelayEnd::client_terminated);
  } else if (!end_) {
    readClient();
    co_return;
  }
  stopped();
}

void SessionRelay::readServer() {
  auto space = server_dec_.prepare(kRelayReadSize);
  server_.async_read_some(
      asio::buffer(space.data(), space.size()),
      [this](boost::system::error_code ec, std::size_t n) { serverRead(ec, n); });
}

// Forwards server bytes to the client, tracking transaction state.
void SessionRelay::serverRead(boost::system::error_code ec, std::size_t n) {
  if (end_ || ec) {
    finish(handle_.killed() ? RelayEnd::killed : RelayEnd::server_gone);
    stopped();
    return;
  }
  server_dec_.commit(n);
  to_client_.clear();
  bool broken = false;
  while (true) {
    auto next = server_dec_.next();
    if (!next) {
      server_error_ = "the server broke the protocol: " + next.message();
      broken = true;
      break;
    }
    if (!*next) {
      break;
    }
    const pgwire::Frame& f = **next;
    if (f.kind == pgwire::FrameKind::message) {
      noteServerMessage(f);
    }
    addSpan(to_client_, f.raw);
  }
  if (broken) {  // what came with the broken frame is not forwarded
    finish(RelayEnd::server_gone);
    stopped();
    return;
  }
  std::size_t i = 0;
  if (!stream_.tls()) {
    for (; i < to_client_.size(); ++i) {
      const std::size_t done =
          writeNow(stream_.socket(), to_client_[i].data, to_client_[i].size, ec);
      stats_.bytes_sent += done;
      if (ec) {
        finish(RelayEnd::client_gone);
        stopped();
        return;
      }
      if (done < to_client_[i].size) {
        to_client_[i].data += done;
        to_client_[i].size -= done;
        break;
      }
    }
  }
  if (i < to_client_.size()) {
    asio::co_spawn(server_.get_executor(), serverSlow(i), asio::detached);
    return;
  }
  readServer();
}

asio::awaitable<void> SessionRelay::serverSlow(std::size_t from) {
  for (std::size_t i = from; i < to_client_.size(); ++i) {
    auto [ec, n] = co_await stream_.async_write_all(
        asio::buffer(to_client_[i].data, to_client_[i].size), kNoThrow);
    if (ec) {
      finish(RelayEnd::client_gone);
      stopped();
      co_return;
    }
    stats_.bytes_sent += to_client_[i].size;
  }
  if (!end_) {
    readServer();
    co_return;
  }
  stopped();
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
