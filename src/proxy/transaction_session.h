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
  // `wanted` stays valid until the borrow completes. `grant`: what the pool handed the waiter
  // that borrowNow() queued, other than a connection (adoptNow()).
  virtual boost::asio::awaitable<bool> borrow(const ParameterSet& wanted,
                                              ServerPool::Grant grant) = 0;
  enum class Now {
    attached,  // borrowed: an idle connection to the current route, in line with `wanted`
    queued,    // the pool is full: `waiter` joined its queue, and the pool wakes it
    full,      // the pool is full and no `waiter` was given: call again with one
    slow,      // nothing borrowed and nothing queued: call borrow()
  };
  // The plain cases of borrow(), without suspending. Only a read-write client that borrowed
  // before, whose route is unchanged and open, and whose settings are shared.
  virtual Now borrowNow(const ParameterSet& wanted, const ServerPool::WaiterPtr& waiter) = 0;
  enum class Adopt {
    attached,  // borrowed, in line with `wanted`
    settle,    // borrowed, but needs settle() before use
    gone,      // the route changed or closed meanwhile: `conn` went back; call borrow()
  };
  // Takes the connection the pool handed to borrowNow()'s waiter.
  virtual Adopt adoptNow(std::unique_ptr<ServerConnection> conn, const ParameterSet& wanted) = 0;
  // Gives the connection adoptNow() took the client's settings. False as for borrow().
  virtual boost::asio::awaitable<bool> settle(const ParameterSet& wanted) = 0;
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
