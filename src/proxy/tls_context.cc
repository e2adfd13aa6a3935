#include "proxy/tls_context.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

namespace keel::proxy {

namespace {

template <auto Free>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslFree<SSL_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;

// PEM files beyond this are not certificates or keys (a large CA bundle is ~250 KiB).
constexpr off_t kMaxPemFileSize = 16 * 1024 * 1024;

// A config field and the file it names, for messages.
struct PemSource {
  std::string field;  // "proxy.client_tls.cert_file"
  std::string path;
  std::string describe() const { return field + " \"" + path + "\""; }
};

Failure<ProxyErrc> failOpenSsl(ProxyErrc code, const std::string& what) {
  std::string reason = takeOpenSslErrors();
  if (reason.empty())
    reason = "no detail from OpenSSL";
  return fail(code, what + " (OpenSSL: " + reason + ")");
}

// Keys must be unencrypted: without this OpenSSL would prompt on the terminal for a passphrase.
int refusePassphrase(char*, int, int, void*) {
  return -1;
}

ProxyResult<std::string> readPemFile(const PemSource& source) {
  const int fd = ::open(source.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail(ProxyErrc::io, source.describe() + ": cannot open: " + std::strerror(errno));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return fail(ProxyErrc::io, source.describe() + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return fail(ProxyErrc::bad_input, source.describe() + ": not a regular file");
  if (st.st_size > kMaxPemFileSize) {
    return fail(ProxyErrc::bad_input, source.describe() + ": larger than 16 MiB, not a PEM file");
  }
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail(ProxyErrc::io, source.describe() + ": cannot read: " + std::strerror(errno));
    if (n == 0)
      break;
    done += static_cast<std::size_t>(n);
  }
  data.resize(done);
  return data;
}

BioPtr memoryBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// True when the last PEM read stopped only because no further PEM block follows.
bool onlyEndOfPemLeft() {
  const unsigned long e = ERR_peek_last_error();
  if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return true;
  }
  return false;
}

ProxyResult<SslCtxPtr> newContext(const SSL_METHOD* method, bool server) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx)
    return failOpenSsl(ProxyErrc::io, "cannot create a TLS context");
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1)
    return failOpenSsl(ProxyErrc::io, "cannot require TLS 1.2 or later");
  std::uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET;
  if (server)
    options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  SSL_CTX_set_options(ctx.get(), options);
  // No resumption: every connection runs the full handshake and its certificate checks.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // Thousands of idle pooled connections should not each hold 34 KiB of TLS buffers.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  // Only the callback: Asio's context owns (and deletes) the callback user data.
  SSL_CTX_set_default_passwd_cb(ctx.get(), refusePassphrase);
  return ctx;
}

ProxyResult<X509Ptr> loadCertificateChain(SSL_CTX* ctx, const PemSource& source) {
  auto data = readPemFile(source);
  if (!data)
    return data.failure();
  BioPtr bio = memoryBio(*data);
  if (!bio)
    return failOpenSsl(ProxyErrc::io, source.describe() + ": out of memory");
  X509Ptr leaf(PEM_read_bio_X509_AUX(bio.get(), nullptr, refusePassphrase, nullptr));
  if (!leaf) {
    return failOpenSsl(ProxyErrc::bad_input,
                       source.describe() +
                           ": no PEM certificate found; expected a file starting with "
                           "-----BEGIN CERTIFICATE-----");
  }
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    return failOpenSsl(ProxyErrc::bad_input, source.describe() + ": certificate refused");
  }
  SSL_CTX_clear_chain_certs(ctx);
  while (X509Ptr next{PEM_read_bio_X509(bio.get(), nullptr, refusePassphrase, nullptr)}) {
    if (SSL_CTX_add0_chain_cert(ctx, next.get()) != 1) {
      return failOpenSsl(ProxyErrc::bad_input,
                         source.describe() + ": intermediate certificate refused");
    }
    (void)next.release();  // owned by the context now
  }
  if (!onlyEndOfPemLeft()) {
    return failOpenSsl(ProxyErrc::bad_input,
                       source.describe() + ": a certificate after the first one is malformed");
  }
  return leaf;
}

ProxyResult<void> loadPrivateKey(SSL_CTX* ctx, const PemSource& source, X509* certificate,
                                 const PemSource& certificate_source) {
  auto data = readPemFile(source);
  if (!data)
    return data.failure();
  BioPtr bio = memoryBio(*data);
  if (!bio)
    return failOpenSsl(ProxyErrc::io, source.describe() + ": out of memory");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refusePassphrase, nullptr));
  if (!key) {
    if (data->find("ENCRYPTED") != std::string::npos) {
      return failOpenSsl(ProxyErrc::bad_input,
                         source.describe() +
                             ": the private key is encrypted; Keel needs it unencrypted "
                             "(openssl pkey -in KEY -out PLAIN, then restrict PLAIN to mode 0600)");
    }
    return failOpenSsl(ProxyErrc::bad_input,
                       source.describe() +
                           ": no PEM private key found; expected a file starting with "
                           "-----BEGIN PRIVATE KEY----- (or an RSA/EC PRIVATE KEY block)");
  }
  if (X509_check_private_key(certificate, key.get()) != 1) {
    return failOpenSsl(ProxyErrc::bad_input,
                       source.describe() + ": the private key does not match the certificate in " +
                           certificate_source.describe() +
                           "; give the key the certificate was issued for");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return failOpenSsl(ProxyErrc::bad_input, source.describe() + ": private key refused");
  }
  return {};
}

// Loads every certificate of `source` as a trust anchor; with `advertise`, also names them in
// the CertificateRequest so clients holding several certificates pick a matching one.
ProxyResult<void> loadCaFile(SSL_CTX* ctx, const PemSource& source, bool advertise) {
  auto data = readPemFile(source);
  if (!data)
    return data.failure();
  BioPtr bio = memoryBio(*data);
  if (!bio)
    return failOpenSsl(ProxyErrc::io, source.describe() + ": out of memory");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509Ptr ca{PEM_read_bio_X509(bio.get(), nullptr, refusePassphrase, nullptr)}) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) {
      return failOpenSsl(ProxyErrc::bad_input, source.describe() + ": CA certificate refused");
    }
    if (advertise && SSL_CTX_add_client_CA(ctx, ca.get()) != 1) {
      return failOpenSsl(ProxyErrc::bad_input, source.describe() + ": CA name refused");
    }
    ++count;
  }
  if (!onlyEndOfPemLeft()) {
    return failOpenSsl(ProxyErrc::bad_input, source.describe() + ": a CA certificate is malformed");
  }
  if (count == 0) {
    return fail(ProxyErrc::bad_input,
                source.describe() +
                    ": no PEM certificate found; expected CA certificates starting with "
                    "-----BEGIN CERTIFICATE-----");
  }
  return {};
}

ProxyResult<std::shared_ptr<boost::asio::ssl::context>> wrap(SslCtxPtr ctx) {
  try {
    auto wrapped = std::make_shared<boost::asio::ssl::context>(ctx.get());
    (void)ctx.release();  // owned by `wrapped` now
    return wrapped;
  } catch (const std::exception& e) {
    return fail(ProxyErrc::io, std::string("cannot create a TLS context: ") + e.what());
  }
}

bool verifies(const std::string& sslmode) {
  return sslmode == "verify-ca" || sslmode == "verify-full";
}

bool encrypts(const std::string& sslmode) {
  return sslmode == "allow" || sslmode == "prefer" || sslmode == "require" || verifies(sslmode);
}

Failure<ProxyErrc> refuseSslmode(const std::string& field, const std::string& sslmode) {
  if (sslmode == "disable") {
    return fail(ProxyErrc::bad_input,
                field +
                    " is disable: no TLS context is needed; set it to prefer, require, "
                    "verify-ca or verify-full to use TLS");
  }
  return fail(ProxyErrc::bad_input, field + " \"" + sslmode +
                                        "\" is not one of disable, allow, prefer, require, "
                                        "verify-ca, verify-full");
}

}  // namespace

std::string takeOpenSslErrors() {
  std::string out;
  std::string last;
  const char* data = nullptr;
  int flags = 0;
  while (const unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    std::string item;
    if (const char* reason = ERR_reason_error_string(e)) {
      item = reason;
    } else {
      char buffer[256];
      ERR_error_string_n(e, buffer, sizeof buffer);
      item = buffer;
    }
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0')
      item += std::string(" (") + data + ")";
    if (item == last)
      continue;
    if (!out.empty())
      out += "; ";
    out += item;
    last = std::move(item);
  }
  return out;
}

ProxyResult<std::shared_ptr<boost::asio::ssl::context>> makeClientFacingTlsContext(
    const ProxyClientTls& tls) {
  const std::string mode_field = "proxy.client_tls.sslmode";
  if (!encrypts(tls.sslmode))
    return refuseSslmode(mode_field, tls.sslmode);
  const PemSource cert{"proxy.client_tls.cert_file", tls.cert_file};
  const PemSource key{"proxy.client_tls.key_file", tls.key_file};
  const PemSource ca{"proxy.client_tls.ca_file", tls.ca_file};
  for (const PemSource* required : {&cert, &key}) {
    if (required->path.empty()) {
      return fail(ProxyErrc::bad_input,
                  required->field + " is not set; " + mode_field + " " + tls.sslmode +
                      " needs the proxy's certificate and key (keel tls generate makes both)");
    }
  }
  if (verifies(tls.sslmode) && tls.ca_file.empty()) {
    return fail(ProxyErrc::bad_input,
                ca.field + " is not set; " + mode_field + " " + tls.sslmode +
                    " checks client certificates against it: name the CA that issued them");
  }

  auto ctx = newContext(TLS_server_method(), /*server=*/true);
  if (!ctx)
    return ctx.failure();
  auto leaf = loadCertificateChain(ctx->get(), cert);
  if (!leaf)
    return leaf.failure();
  if (auto loaded = loadPrivateKey(ctx->get(), key, leaf->get(), cert); !loaded)
    return loaded.failure();

  int verify_mode = SSL_VERIFY_NONE;
  if (!tls.ca_file.empty()) {
    if (auto loaded = loadCaFile(ctx->get(), ca, /*advertise=*/true); !loaded)
      return loaded.failure();
    verify_mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    if (verifies(tls.sslmode))
      verify_mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(ctx->get(), verify_mode, nullptr);
  // Required by OpenSSL whenever a server verifies peers, even with resumption off.
  static constexpr unsigned char kSessionContext[] = "keel-proxy";
  SSL_CTX_set_session_id_context(ctx->get(), kSessionContext, sizeof kSessionContext - 1);
  return wrap(std::move(*ctx));
}

std::optional<std::string> peerCertificateCommonName(const SSL* ssl) {
  if (ssl == nullptr || (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) == 0)
    return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK)
    return std::nullopt;
  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  // Two CNs would make the user ambiguous: accept neither.
  if (index < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0)
    return std::nullopt;
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::string name(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  // An embedded NUL could make "alice\0.evil" match "alice" somewhere else (as PostgreSQL).
  if (name.empty() || name.find('\0') != std::string::npos)
    return std::nullopt;
  return name;
}

ProxyResult<std::shared_ptr<boost::asio::ssl::context>> makeServerFacingTlsContext(
    const ProxyServerTls& tls) {
  const std::string mode_field = "proxy.server_tls.sslmode";
  if (!encrypts(tls.sslmode))
    return refuseSslmode(mode_field, tls.sslmode);
  const PemSource ca{"proxy.server_tls.ca_file", tls.ca_file};
  if (verifies(tls.sslmode) && tls.ca_file.empty()) {
    return fail(ProxyErrc::bad_input,
                ca.field + " is not set; " + mode_field + " " + tls.sslmode +
                    " checks PostgreSQL's certificate against it: name the CA that issued it");
  }
  auto ctx = newContext(TLS_client_method(), /*server=*/false);
  if (!ctx)
    return ctx.failure();
  if (verifies(tls.sslmode)) {
    if (auto loaded = loadCaFile(ctx->get(), ca, /*advertise=*/false); !loaded)
      return loaded.failure();
    SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_NONE, nullptr);
  }
  return wrap(std::move(*ctx));
}

ProxyResult<void> configureServerHostCheck(SSL* ssl, const std::string& host) {
  if (ssl == nullptr)
    return fail(ProxyErrc::bad_input, "no TLS connection to check the host of");
  std::string name = host;
  if (name.size() > 2 && name.front() == '[' && name.back() == ']')
    name = name.substr(1, name.size() - 2);
  if (name.empty() || name.find('\0') != std::string::npos) {
    return fail(ProxyErrc::bad_input, "cannot check PostgreSQL's certificate against host \"" +
                                          host + "\": not a host name or IP address");
  }
  if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) == 0) {
    return fail(ProxyErrc::bad_input,
                "cannot check PostgreSQL's certificate against host \"" + host +
                    "\": the connection does not verify certificates; make it from a "
                    "verify-full context");
  }
  ERR_clear_error();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str())) {
    ASN1_OCTET_STRING_free(ip);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1)
      return failOpenSsl(ProxyErrc::bad_input, "cannot check IP address \"" + host + "\"");
    return {};
  }
  ERR_clear_error();
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) != 1)
    return failOpenSsl(ProxyErrc::bad_input, "cannot check host name \"" + host + "\"");
  if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1)
    return failOpenSsl(ProxyErrc::bad_input, "cannot send host name \"" + host + "\" as SNI");
  return {};
}

std::string verifyResultText(const SSL* ssl) {
  if (ssl == nullptr)
    return "no TLS connection";
  return X509_verify_cert_error_string(SSL_get_verify_result(ssl));
}

}  // namespace keel::proxy
