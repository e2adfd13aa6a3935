#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "pgwire/frame_decoder.h"
#include "proxy/parameter_set.h"
#include "proxy/proxy_context.h"
#include "proxy/server_connection.h"

namespace keel::proxy {

// One client connection from accept to close, on the worker thread that accepted it:
// startup packets (SSLRequest -> TLS, CancelRequest), hba and authentication, routing (RW: the
// writable leader, held during a failover for up to failover_hold_timeout; RO: a qualifying
// replica), a server connection from the pool for the whole session (session pooling), the relay
// in both directions, and at the end the server connection's reset and return to its pool.
// Transaction pooling: once the client is logged in, hands the session to
// startTransactionSession() and returns. Takes one of ctx.clients, counted by the caller, and
// gives it back when the session ends. Never throws.
boost::asio::awaitable<void> runClientSession(boost::asio::ip::tcp::socket socket,
                                              Listener listener, ProxyContext& ctx);

// Startup parameters a client may send, turned into the statements that give a pooled
// server connection the client's settings. `options` may hold "-c name=value" / "--name=value"
// pairs. Fails (message for the client) on `replication` and on other options. Pure.
struct ClientSettings {
  std::vector<std::pair<std::string, std::string>> parameters;  // name (as sent), value
};
Result<ClientSettings, std::string> clientSettingsFrom(
    const std::vector<std::pair<std::string, std::string>>& startup);
// "SELECT pg_catalog.set_config(E'name', E'value', false), ...;" for the settings whose value
// differs from `current` (names compared case-insensitively, as PostgreSQL does), in name
// order, then "RESET "name"; ..." for
// each name of `resettable` that `wanted` lacks and `current` has (a value an earlier client
// left on the connection); empty when all match. Pure.
std::string settingStatements(const ParameterSet& wanted, const ParameterMap& current,
                              const std::vector<std::string>& resettable = {});
// Records in `current` what settingStatements(wanted, current, resettable) did once it ran.
void noteSettingsApplied(const ParameterSet& wanted, ParameterMap& current,
                         const std::vector<std::string>& resettable = {});

// Transaction pooling. Whether PostgreSQL reports `name` (ParameterStatus) and Keel carries the
// client's value of it to every server connection the client borrows: application_name,
// client_encoding, DateStyle, IntervalStyle, standard_conforming_strings, TimeZone.
bool trackedParameter(std::string_view name);
// Whether `name` is one of `extra` (proxy.track_extra_parameters), compared case-insensitively.
bool extraParameter(std::string_view name, const std::vector<std::string>& extra);
// The simple query that reads the current values of `names` (each NULL when the server has no
// such parameter): SELECT current_setting(E'name', true), ...
std::string readSettingsQuery(const std::vector<std::string>& names);
// Whether PostgreSQL 15 reports `name` with ParameterStatus (GUC_REPORT), so a server
// connection's recorded value of it stays true after a reset; other settings are forgotten.
bool reportedParameter(std::string_view name);
// Adds the tracked parameters of `login` (what PostgreSQL reported at login) that `settings`
// lacks, so that a client that never set them gets PostgreSQL's values, not those an earlier
// client of the same server connection set.
// `extra` names count as tracked too.
void addTrackedDefaults(ParameterSet& settings, const ParameterMap& login,
                        const std::vector<std::string>& extra = {});
// A simple-Query text that starts with the LISTEN command.
bool isListenCommand(std::string_view sql);
// What a LISTEN becomes in transaction pooling: a Query that fails on the server (0A000, naming
// pool_mode) as PostgreSQL fails a command, so that inside a transaction block the transaction
// is aborted as the client expects. A view of a static message.
pgwire::Frame listenRefusal();

// Transaction pooling, when a client borrows `server`: a ParameterStatus into `out` for each
// value PostgreSQL reports differently on this connection (after the SETs) from what the client
// was told (`seen`, updated). Parameters Keel set and PostgreSQL does not report are skipped.
// Nothing is compared when the connection was last checked against the same shared list of
// values seen and has not changed since.
void reportServerParameters(ServerConnection& server, ParameterSet& seen, std::string& out);

}  // namespace keel::proxy
