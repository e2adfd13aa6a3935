#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "proxy/credentials.h"

// OpenSSL contexts for the proxy's two TLS faces: Keel as the TLS server of PostgreSQL clients
// (libpq sslmode, hba `cert`) and Keel as the TLS client of PostgreSQL. Pure setup: files are
// read and checked once, when the context is made (at start-up or reload); sessions share the
// resulting context read-only from any worker thread, as OpenSSL allows once it is set up.
//
// Both faces: TLS 1.2 or later, OpenSSL's default ciphers, no compression, no renegotiation,
// no session resumption (so a resumed session never skips the client-certificate check).
namespace keel::proxy {

// For clients of the proxy (PostgreSQL docs 19.9 "Secure TCP/IP Connections with SSL";
// PgBouncer client_tls_*). `cert_file` (the server certificate, optionally followed by its
// chain) and `key_file` (an unencrypted PEM private key) are required; `ca_file` holds the
// CAs that client certificates must chain to.
//   sslmode verify-ca, verify-full: a client certificate is required (the handshake fails
//     without one); ca_file is required.
//   allow, prefer, require: a client certificate is requested only when ca_file is set, so
//     hba `cert` rules can use it; a client sending none still completes the handshake. A
//     client certificate that does not verify fails the handshake, as with PostgreSQL.
//   disable: refused (make no context).
// Failures are bad_input or io, naming the config field (proxy.client_tls.cert_file...), the
// path and OpenSSL's reason.
ProxyResult<std::shared_ptr<boost::asio::ssl::context>> makeClientFacingTlsContext(
    const ProxyClientTls& tls);

// The common name of the client certificate the handshake on `ssl` verified against ca_file;
// nullopt when the client sent none, when it was not verified, or when its subject has no
// single, NUL-free CN. Call on the session's thread after a successful server handshake; the
// proxy compares it with the startup user for hba `cert`.
std::optional<std::string> peerCertificateCommonName(const SSL* ssl);

// For connections to PostgreSQL (PgBouncer server_tls_*):
//   verify-ca, verify-full: the server certificate must chain to ca_file (required);
//     verify-full also needs configureServerHostCheck() on each connection.
//   allow, prefer, require: encrypted, the certificate is not checked.
//   disable: refused (make no context).
// Keel presents no client certificate to PostgreSQL.
ProxyResult<std::shared_ptr<boost::asio::ssl::context>> makeServerFacingTlsContext(
    const ProxyServerTls& tls);

// Before the client handshake of one connection to PostgreSQL at `host` under verify-full:
// sets SNI (for DNS names only, as libpq does) and makes the handshake fail unless the
// certificate names `host` (a subjectAltName DNS entry, or an IP entry when `host` is an IP
// address; the CN only when the certificate has no DNS names). bad_input for an empty host.
ProxyResult<void> configureServerHostCheck(SSL* ssl, const std::string& host);

// Why certificate verification failed on `ssl` ("Hostname mismatch", "unable to get local
// issuer certificate"...), for messages after a failed handshake; "ok" when it did not fail.
std::string verifyResultText(const SSL* ssl);

// Drains this thread's OpenSSL error queue into one line ("reason; reason"); "" when empty.
// OpenSSL keeps errors per thread: call on the thread that saw the failing call.
std::string takeOpenSslErrors();

}  // namespace keel::proxy
