#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "pgwire/backend_messages.h"
#include "pgwire/frame_decoder.h"
#include "proxy/client_session.h"
#include "proxy/client_stream.h"
#include "proxy/proxy_context.h"
#include "proxy/server_pool.h"

// Transaction pooling: after login the client holds no server connection; each transaction
// borrows one from the pool and gives it back (without server_reset_query) once PostgreSQL
// reports ReadyForQuery 'I' with nothing else in flight (TransactionRelay::releasable()).
namespace keel::proxy {

// How the transaction-mode loop gets and gives back server connections. Implemented by the
// client session (client_session.cc), which owns routing, the pool and the login errors, so that
// both pool modes fail the same way. Used on the session's thread only.
class ServerLender {
 public:
  virtual ~ServerLender() = default;
  // Routes and borrows a server connection and gives it `wanted` (SET, responses swallowed).
  // False: the client got its FATAL error (as a session-mode client would) and must be closed.
  // `wanted` stays valid until the borrow completes.
  virtual boost::asio::awaitable<bool> borrow(const ParameterSet& wanted) = 0;
  // borrow() without suspending, when that can be done at once: an idle connection to the
  // current route needs no SET and nothing waits. False: nothing was borrowed; call borrow().
  virtual bool borrowNow(const ParameterSet& wanted) = 0;
  // Preconditions for the next four: a connection is borrowed.
  virtual ServerPool& pool() = 0;
  virtual ServerConnection& server() = 0;
  virtual boost::asio::ip::tcp::socket& serverSocket() = 0;
  // Back to the pool as it is (no operation may be pending on the socket).
  virtual void giveBack() = 0;
  // Closes it: its state is unknown.
  virtual void discard() = 0;
  // The session is over (no connection borrowed): forgets the client's cancel key, leaves the
  // session registry and closes the client connection, after a linger so that a FATAL error
  // written last reaches the client.
  virtual boost::asio::awaitable<void> finish() = 0;
};

// What the logged-in client session hands to the transaction-mode loop.
struct TransactionSessionParts {
  ClientStream& stream;
  pgwire::FrameDecoder& client_decoder;  // authenticated, possibly holding bytes already read
  ProxyContext& ctx;
  SessionHandle& handle;
  ServerLender& lender;
  pgwire::BackendKeyData client_key;  // issued to the client, registered in ctx.cancels
  ParameterSet settings;              // what the client asked for (startup + tracked defaults)
  ParameterSet seen;                  // the ParameterStatus values the client was sent
};

// Runs the client's session in transaction pooling until it terminates, goes away, or gets a
// FATAL error, then ends it (ServerLender::finish()). Takes over `owner`, the logged-in client
// session that `parts` refer into (and `parts.lender` is), and returns at once: between
// transactions the session is a pending read of the client whose completion handler owns it, not
// a suspended coroutine, so that an idle client costs little memory. Session thread only.
void startTransactionSession(TransactionSessionParts parts, std::unique_ptr<ServerLender> owner);

}  // namespace keel::proxy
