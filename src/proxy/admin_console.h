#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "pgwire/frame_decoder.h"
#include "proxy/client_stream.h"
#include "proxy/proxy_context.h"

namespace keel::proxy {

// The virtual databases of the admin console: "pgbouncer" (what PgBouncer's users and tools
// connect to) and its alias "keel".
bool isAdminDatabase(const std::string& database);

// Serves an authenticated client connected to the admin console until it leaves: simple
// Query messages with PgBouncer's commands and semantics. `user` must be in
// proxy.admin_users (every command) or proxy.stats_users (SHOW only); others are refused with
// 28000 before anything is sent. Runs on the session's thread; never throws.
boost::asio::awaitable<void> runAdminConsole(ClientStream& stream, pgwire::FrameDecoder& decoder,
                                             ProxyContext& ctx, std::string user);

}  // namespace keel::proxy
