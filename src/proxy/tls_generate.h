#pragma once

#include <string>
#include <vector>

#include "proxy/credentials.h"

// A small private CA and the certificates the proxy's TLS needs, made with OpenSSL's library
// (no openssl binary): what `keel tls generate` and `keel demo` write. Keys are ECDSA P-256,
// signatures SHA-256, files PEM.
namespace keel::proxy {

struct CertificateOptions {
  // server.crt's subjectAltNames: DNS names and IP addresses (IPv6 with or without brackets).
  // Empty: localhost and 127.0.0.1. The first is also the certificate's CN.
  std::vector<std::string> hosts;
  // One USER.crt/USER.key pair each, with CN=USER (hba `cert`, psql sslcert/sslkey).
  std::vector<std::string> clients;
  int days = 365;  // validity of every certificate, 1 to 36500
  // Replace existing files; otherwise nothing is written when any target file exists.
  bool overwrite = false;
};

struct WrittenFile {
  std::string path;
  std::string description;  // what it is and where it goes, for the operator
};

// Writes into `dir` (created if missing):
//   ca.crt, ca.key          self-signed CA (basicConstraints CA:TRUE pathlen:0, keyUsage
//                           keyCertSign, cRLSign)
//   server.crt, server.key  signed by the CA, extendedKeyUsage serverAuth, subjectAltName for
//                           every host: passes libpq's sslmode=verify-full for each of them
//   USER.crt, USER.key      per client, signed by the CA, extendedKeyUsage clientAuth
// Keys are written with mode 0600 (libpq refuses sslkey files others can read) and
// certificates 0644, each through a temporary file renamed into place.
// Failures: bad_input for an invalid host, user or day count (nothing is written); io when a
// target exists without `overwrite` (nothing is written) or a write fails.
ProxyResult<std::vector<WrittenFile>> generateCertificates(const std::string& dir,
                                                           const CertificateOptions& options);

}  // namespace keel::proxy
