#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "pgwire/frame_decoder.h"
#include "proxy/client_stream.h"
#include "proxy/proxy_context.h"
#include "proxy/server_connection.h"

namespace keel::proxy {

// Why a client was refused, as the FATAL ErrorResponse it gets.
struct ClientRefusal {
  std::string sqlstate;
  std::string message;
};

// Authenticates a client by `method` (from the hba rules) as PostgreSQL would, against the
// proxy's userlist: scram-sha-256, md5 (SCRAM when only a SCRAM verifier is stored, as
// PostgreSQL does), cert (the verified TLS client certificate's CN must be the user), trust.
// A user missing from the userlist is looked up with proxy.auth_query when proxy.auth_user is
// set. Unknown users run the same exchange and fail with the same message as a wrong password.
// Returns how Keel can log in to PostgreSQL as that user. SCRAM key derivation runs on
// ctx.crypto, never on the session's thread. Runs on the session's thread.
boost::asio::awaitable<Result<ServerSecret, ClientRefusal>> authenticateClient(
    ClientStream& stream, pgwire::FrameDecoder& decoder, const std::string& user,
    const std::string& database, const std::string& method, ProxyContext& ctx);

}  // namespace keel::proxy
