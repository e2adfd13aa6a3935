#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "pgwire/scram_secret.h"
#include "proxy/proxy_context.h"

namespace keel::proxy {

// Looks up `user`'s secret with proxy.auth_query on the current leader, logged in as
// proxy.auth_user (whose own secret must be in proxy.auth_file), in `database`, as PgBouncer
// does. Returns nullopt when the query finds no such user or no usable secret (the client then
// gets the same failure as for a wrong password); fails when the lookup itself cannot run (no
// writable leader, auth_user cannot log in), with a message for the log and the client.
// Runs on the session's thread; borrows a connection from the auth_user's pool.
boost::asio::awaitable<ProxyResult<std::optional<pgwire::Secret>>> lookupSecret(
    ProxyContext& ctx, std::string user, std::string database);

}  // namespace keel::proxy
