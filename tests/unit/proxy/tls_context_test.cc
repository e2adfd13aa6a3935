#include "proxy/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <functional>

#include "tls_test_files.h"

namespace keel::proxy {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using tls_test::readText;
using tls_test::sharedCertificates;
using tls_test::TempDir;
using tls_test::writeText;

std::string cert(const std::string& name) {
  return sharedCertificates().file(name);
}

ProxyClientTls clientTls(std::string sslmode, bool with_ca = true) {
  ProxyClientTls tls;
  tls.sslmode = std::move(sslmode);
  tls.cert_file = cert("server.crt");
  tls.key_file = cert("server.key");
  if (with_ca)
    tls.ca_file = cert("ca.crt");
  return tls;
}

ProxyServerTls serverTls(std::string sslmode, std::string ca_file = cert("ca.crt")) {
  ProxyServerTls tls;
  tls.sslmode = std::move(sslmode);
  tls.ca_file = std::move(ca_file);
  return tls;
}

std::shared_ptr<ssl::context> clientFacing(const ProxyClientTls& tls) {
  auto ctx = makeClientFacingTlsContext(tls);
  EXPECT_TRUE(ctx.ok()) << ctx.message();
  return ctx.ok() ? *ctx : nullptr;
}

std::shared_ptr<ssl::context> serverFacing(const ProxyServerTls& tls) {
  auto ctx = makeServerFacingTlsContext(tls);
  EXPECT_TRUE(ctx.ok()) << ctx.message();
  return ctx.ok() ? *ctx : nullptr;
}

// A PostgreSQL client (psql's side) that presents `user`'s certificate.
void presentCertificate(ssl::context& ctx, const std::string& dir, const std::string& user) {
  const std::string crt = dir + "/" + user + ".crt";
  const std::string key = dir + "/" + user + ".key";
  ASSERT_EQ(SSL_CTX_use_certificate_file(ctx.native_handle(), crt.c_str(), SSL_FILETYPE_PEM), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx.native_handle(), key.c_str(), SSL_FILETYPE_PEM), 1);
}

struct Handshake {
  bool finished = false;
  boost::system::error_code server;  // the accepting side (Keel facing a client)
  boost::system::error_code client;
  std::optional<std::string> peer_cn;  // the client certificate's CN, as the server saw it
  std::string client_verify;           // the client's certificate check of the server
};

// One TLS handshake over loopback. Bounded by the io_context, no sleeps: a failed side closes
// its socket, so the other side's pending read ends too.
Handshake handshake(ssl::context& server_ctx, ssl::context& client_ctx,
                    const std::function<void(SSL*)>& prepare_client = {}) {
  Handshake out;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ssl::stream<tcp::socket> server(io, server_ctx);
  ssl::stream<tcp::socket> client(io, client_ctx);
  if (prepare_client)
    prepare_client(client.native_handle());
  int pending = 2;
  acceptor.async_accept(server.next_layer(), [&](boost::system::error_code ec) {
    if (ec) {
      out.server = ec;
      --pending;
      return;
    }
    server.async_handshake(ssl::stream_base::server, [&](boost::system::error_code hs) {
      out.server = hs;
      if (!hs)
        out.peer_cn = peerCertificateCommonName(server.native_handle());
      else
        server.next_layer().close();
      --pending;
    });
  });
  client.next_layer().async_connect(acceptor.local_endpoint(), [&](boost::system::error_code ec) {
    if (ec) {
      out.client = ec;
      --pending;
      return;
    }
    client.async_handshake(ssl::stream_base::client, [&](boost::system::error_code hs) {
      out.client = hs;
      out.client_verify = verifyResultText(client.native_handle());
      if (hs)
        client.next_layer().close();
      --pending;
    });
  });
  io.run_for(std::chrono::seconds(20));
  out.finished = pending == 0;
  EXPECT_TRUE(out.finished) << "the handshake did not finish";
  return out;
}

TEST(TlsContext, ContextsLoadForEveryMode) {
  for (const char* mode : {"allow", "prefer", "require", "verify-ca", "verify-full"}) {
    SCOPED_TRACE(mode);
    auto client_facing = clientFacing(clientTls(mode));
    ASSERT_NE(client_facing, nullptr);
    SSL_CTX* ctx = client_facing->native_handle();
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    const auto options = SSL_CTX_get_options(ctx);
    EXPECT_NE(options & SSL_OP_NO_COMPRESSION, 0u);
    EXPECT_NE(options & SSL_OP_NO_RENEGOTIATION, 0u);
    EXPECT_NE(SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER, 0);
    EXPECT_NE(serverFacing(serverTls(mode)), nullptr);
  }
  // Without ca_file, the permissive modes do not ask clients for certificates.
  auto no_ca = clientFacing(clientTls("require", /*with_ca=*/false));
  ASSERT_NE(no_ca, nullptr);
  EXPECT_EQ(SSL_CTX_get_verify_mode(no_ca->native_handle()), SSL_VERIFY_NONE);
  auto require = serverFacing(serverTls("require", ""));
  ASSERT_NE(require, nullptr);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(require->native_handle()), TLS1_2_VERSION);
}

TEST(TlsContext, DisabledOrUnknownSslmodeMakesNoContext) {
  auto disabled = makeClientFacingTlsContext(clientTls("disable"));
  ASSERT_FALSE(disabled.ok());
  EXPECT_EQ(disabled.code(), ProxyErrc::bad_input);
  EXPECT_NE(disabled.message().find("proxy.client_tls.sslmode"), std::string::npos);
  auto unknown = makeServerFacingTlsContext(serverTls("always"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("proxy.server_tls.sslmode"), std::string::npos);
  EXPECT_NE(unknown.message().find("always"), std::string::npos);
}

void expectFailure(const ProxyClientTls& tls, ProxyErrc code,
                   std::initializer_list<std::string> fragments) {
  auto ctx = makeClientFacingTlsContext(tls);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.code(), code) << ctx.message();
  for (const std::string& fragment : fragments)
    EXPECT_NE(ctx.message().find(fragment), std::string::npos) << ctx.message();
}

TEST(TlsContext, MissingSettingsNameTheField) {
  ProxyClientTls tls = clientTls("require");
  tls.cert_file.clear();
  expectFailure(tls, ProxyErrc::bad_input, {"proxy.client_tls.cert_file is not set"});
  tls = clientTls("require");
  tls.key_file.clear();
  expectFailure(tls, ProxyErrc::bad_input, {"proxy.client_tls.key_file is not set"});
  expectFailure(clientTls("verify-ca", /*with_ca=*/false), ProxyErrc::bad_input,
                {"proxy.client_tls.ca_file is not set", "verify-ca"});
  auto server = makeServerFacingTlsContext(serverTls("verify-full", ""));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.message().find("proxy.server_tls.ca_file is not set"), std::string::npos);
}

TEST(TlsContext, MissingFilesNameTheFieldPathAndReason) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string missing = dir.file("nope.crt");
  ProxyClientTls tls = clientTls("require");
  tls.cert_file = missing;
  expectFailure(tls, ProxyErrc::io,
                {"proxy.client_tls.cert_file", missing, "No such file or directory"});
  tls = clientTls("require");
  tls.key_file = missing;
  expectFailure(tls, ProxyErrc::io, {"proxy.client_tls.key_file", missing});
  tls = clientTls("prefer");
  tls.ca_file = missing;
  expectFailure(tls, ProxyErrc::io, {"proxy.client_tls.ca_file", missing});
  tls = clientTls("require");
  tls.cert_file = dir.path();
  expectFailure(tls, ProxyErrc::bad_input, {"proxy.client_tls.cert_file", "not a regular file"});
  auto server = makeServerFacingTlsContext(serverTls("verify-ca", missing));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.message().find("proxy.server_tls.ca_file"), std::string::npos);
}

TEST(TlsContext, WrongContentIsExplained) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string garbage = dir.file("garbage.pem");
  writeText(garbage, "this is not a certificate\n");
  ProxyClientTls tls = clientTls("require");
  tls.cert_file = garbage;
  expectFailure(tls, ProxyErrc::bad_input,
                {"proxy.client_tls.cert_file", "no PEM certificate", "no start line"});
  // A certificate where the key belongs.
  tls = clientTls("require");
  tls.key_file = cert("server.crt");
  expectFailure(tls, ProxyErrc::bad_input, {"proxy.client_tls.key_file", "no PEM private key"});
  // Another certificate's key.
  tls = clientTls("require");
  tls.key_file = cert("alice.key");
  expectFailure(tls, ProxyErrc::bad_input,
                {"proxy.client_tls.key_file", "does not match the certificate",
                 "proxy.client_tls.cert_file"});
  // A CA file without certificates.
  tls = clientTls("verify-ca");
  tls.ca_file = garbage;
  expectFailure(tls, ProxyErrc::bad_input, {"proxy.client_tls.ca_file", "no PEM certificate"});
}

TEST(TlsContext, EncryptedKeyIsRefusedWithoutPrompting) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string key_pem = readText(cert("server.key"));
  BIO* in = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  ASSERT_NE(key, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  static const char kPassphrase[] = "secret";
  ASSERT_EQ(PEM_write_bio_PrivateKey(out, key, EVP_aes_256_cbc(),
                                     reinterpret_cast<const unsigned char*>(kPassphrase),
                                     sizeof kPassphrase - 1, nullptr, nullptr),
            1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  writeText(dir.file("encrypted.key"), std::string(data, static_cast<std::size_t>(size)));
  BIO_free(out);
  EVP_PKEY_free(key);

  ProxyClientTls tls = clientTls("require");
  tls.key_file = dir.file("encrypted.key");
  expectFailure(tls, ProxyErrc::bad_input, {"proxy.client_tls.key_file", "encrypted"});
}

TEST(TlsContext, CertificateFileMayCarryTheChain) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  writeText(dir.file("chain.crt"), readText(cert("server.crt")) + readText(cert("ca.crt")));
  ProxyClientTls tls = clientTls("require");
  tls.cert_file = dir.file("chain.crt");
  auto server = clientFacing(tls);
  auto client = serverFacing(serverTls("verify-full"));
  ASSERT_TRUE(server && client);
  const Handshake hs = handshake(*server, *client, [](SSL* ssl) {
    ASSERT_TRUE(configureServerHostCheck(ssl, "127.0.0.1").ok());
  });
  EXPECT_FALSE(hs.server) << hs.server.message();
  EXPECT_FALSE(hs.client) << hs.client.message();
}

TEST(TlsHandshake, VerifyFullAcceptsTheCertifiedHostsOnly) {
  auto server = clientFacing(clientTls("require", /*with_ca=*/false));
  auto client = serverFacing(serverTls("verify-full"));
  ASSERT_TRUE(server && client);
  for (const char* host : {"127.0.0.1", "localhost", "LOCALHOST"}) {
    SCOPED_TRACE(host);
    const Handshake hs = handshake(
        *server, *client, [&](SSL* ssl) { ASSERT_TRUE(configureServerHostCheck(ssl, host).ok()); });
    EXPECT_FALSE(hs.client) << hs.client.message() << ": " << hs.client_verify;
    EXPECT_FALSE(hs.server) << hs.server.message();
    EXPECT_EQ(hs.client_verify, "ok");
    EXPECT_EQ(hs.peer_cn, std::nullopt);  // no client certificate was asked for
  }
  for (const char* host : {"db.example.com", "127.0.0.2", "::1"}) {
    SCOPED_TRACE(host);
    const Handshake hs = handshake(
        *server, *client, [&](SSL* ssl) { ASSERT_TRUE(configureServerHostCheck(ssl, host).ok()); });
    EXPECT_TRUE(hs.client);
    EXPECT_TRUE(hs.server);  // the client's alert ends the server's handshake too
    EXPECT_NE(hs.client_verify.find("mismatch"), std::string::npos) << hs.client_verify;
  }
}

TEST(TlsHandshake, VerifyCaChecksTheIssuerButNotTheHost) {
  TempDir other;
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(generateCertificates(other.path(), {}).ok());
  auto ours = clientFacing(clientTls("require", /*with_ca=*/false));
  ProxyClientTls foreign_tls = clientTls("require", /*with_ca=*/false);
  foreign_tls.cert_file = other.file("server.crt");
  foreign_tls.key_file = other.file("server.key");
  auto foreign = clientFacing(foreign_tls);
  auto verify_ca = serverFacing(serverTls("verify-ca"));
  auto require = serverFacing(serverTls("require", ""));
  ASSERT_TRUE(ours && foreign && verify_ca && require);

  EXPECT_FALSE(handshake(*ours, *verify_ca).client);
  const Handshake untrusted = handshake(*foreign, *verify_ca);
  EXPECT_TRUE(untrusted.client);
  EXPECT_NE(untrusted.client_verify, "ok");
  // require encrypts without checking, as PgBouncer's server_tls_sslmode=require.
  EXPECT_FALSE(handshake(*foreign, *require).client);
}

TEST(TlsHandshake, HostCheckNeedsAVerifyingConnection) {
  auto require = serverFacing(serverTls("require", ""));
  auto verify_full = serverFacing(serverTls("verify-full"));
  ASSERT_TRUE(require && verify_full);
  SSL* unverified = SSL_new(require->native_handle());
  auto refused = configureServerHostCheck(unverified, "localhost");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("verify-full"), std::string::npos);
  SSL_free(unverified);
  SSL* verified = SSL_new(verify_full->native_handle());
  EXPECT_EQ(configureServerHostCheck(verified, "").code(), ProxyErrc::bad_input);
  EXPECT_TRUE(configureServerHostCheck(verified, "[::1]").ok());
  SSL_free(verified);
}

TEST(TlsHandshake, ClientCertificateCommonNameIsReadBack) {
  for (const char* mode : {"prefer", "verify-ca", "verify-full"}) {
    SCOPED_TRACE(mode);
    auto server = clientFacing(clientTls(mode));
    auto client = serverFacing(serverTls("verify-ca"));
    ASSERT_TRUE(server && client);
    presentCertificate(*client, sharedCertificates().path(), "alice");
    const Handshake hs = handshake(*server, *client);
    EXPECT_FALSE(hs.server) << hs.server.message();
    EXPECT_FALSE(hs.client) << hs.client.message();
    EXPECT_EQ(hs.peer_cn, std::optional<std::string>("alice"));
  }
}

TEST(TlsHandshake, PermissiveModesLetClientsWithoutCertificateIn) {
  auto server = clientFacing(clientTls("prefer"));
  auto client = serverFacing(serverTls("verify-ca"));
  ASSERT_TRUE(server && client);
  const Handshake hs = handshake(*server, *client);
  EXPECT_FALSE(hs.server) << hs.server.message();
  EXPECT_FALSE(hs.client) << hs.client.message();
  EXPECT_EQ(hs.peer_cn, std::nullopt);
}

TEST(TlsHandshake, VerifyCaRefusesClientsWithoutCertificate) {
  auto server = clientFacing(clientTls("verify-ca"));
  auto client = serverFacing(serverTls("verify-ca"));
  ASSERT_TRUE(server && client);
  const Handshake hs = handshake(*server, *client);
  // Under TLS 1.3 the client's side may complete before the server reads its empty
  // Certificate message; the server's side must fail.
  EXPECT_TRUE(hs.server);
  EXPECT_EQ(hs.peer_cn, std::nullopt);
}

TEST(TlsHandshake, ClientCertificateFromAnotherCaIsRefused) {
  TempDir other;
  ASSERT_TRUE(other.ok());
  CertificateOptions options;
  options.clients = {"alice"};
  ASSERT_TRUE(generateCertificates(other.path(), options).ok());
  for (const char* mode : {"prefer", "verify-ca"}) {
    SCOPED_TRACE(mode);
    auto server = clientFacing(clientTls(mode));
    auto client = serverFacing(serverTls("verify-ca"));
    ASSERT_TRUE(server && client);
    presentCertificate(*client, other.path(), "alice");
    const Handshake hs = handshake(*server, *client);
    EXPECT_TRUE(hs.server);
    EXPECT_EQ(hs.peer_cn, std::nullopt);
  }
}

TEST(TlsHandshake, NoCommonNameWithoutAConnection) {
  EXPECT_EQ(peerCertificateCommonName(nullptr), std::nullopt);
  EXPECT_EQ(verifyResultText(nullptr), "no TLS connection");
}

}  // namespace
}  // namespace keel::proxy
