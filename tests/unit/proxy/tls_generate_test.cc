#include "proxy/tls_generate.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>

#include "tls_test_files.h"

namespace keel::proxy {
namespace {

using tls_test::readCertificate;
using tls_test::readText;
using tls_test::TempDir;
using tls_test::X509Handle;

mode_t modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Chain verification as a client would do it, with `ca` as the only trust anchor.
int verifyAgainst(X509* ca, X509* cert, int purpose) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
  const int verified = X509_verify_cert(ctx);
  const int error = verified == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return error;
}

std::string commonName(X509* cert) {
  char buffer[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buffer, sizeof buffer);
  return buffer;
}

TEST(TlsGenerate, WritesCaServerAndClientFilesWithTheirModes) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string out = dir.file("certs/sub");  // created on the way
  CertificateOptions options;
  options.clients = {"alice"};
  options.days = 30;
  auto written = generateCertificates(out, options);
  ASSERT_TRUE(written.ok()) << written.message();
  std::vector<std::string> paths;
  for (const WrittenFile& file : *written) {
    paths.push_back(file.path);
    EXPECT_FALSE(file.description.empty());
  }
  const std::vector<std::string> expected{out + "/ca.crt",     out + "/ca.key",
                                          out + "/server.crt", out + "/server.key",
                                          out + "/alice.crt",  out + "/alice.key"};
  EXPECT_EQ(paths, expected);
  for (const std::string& path : expected) {
    const bool key = path.ends_with(".key");
    EXPECT_EQ(modeOf(path), key ? 0600u : 0644u) << path;
    EXPECT_NE(readText(path).find(key ? "-----BEGIN PRIVATE KEY-----" : "-----BEGIN CERTIFICATE"),
              std::string::npos)
        << path;
  }
  // Nothing but the six files: temporary files are gone.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(out))
    ++entries;
  EXPECT_EQ(entries, 6u);
}

TEST(TlsGenerate, CertificatesChainAndNameTheirHosts) {
  const TempDir& dir = tls_test::sharedCertificates();
  X509Handle ca = readCertificate(dir.file("ca.crt"));
  X509Handle server = readCertificate(dir.file("server.crt"));
  X509Handle alice = readCertificate(dir.file("alice.crt"));
  ASSERT_TRUE(ca && server && alice);

  EXPECT_GE(X509_check_ca(ca.get()), 1);
  EXPECT_NE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN, 0u);
  EXPECT_NE(X509_get_extension_flags(ca.get()) & EXFLAG_SS, 0u);  // self-signed
  EXPECT_EQ(X509_check_ca(server.get()), 0);
  EXPECT_EQ(X509_check_ca(alice.get()), 0);

  EXPECT_EQ(verifyAgainst(ca.get(), server.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(verifyAgainst(ca.get(), alice.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  // Each certificate serves only its own purpose.
  EXPECT_NE(verifyAgainst(ca.get(), server.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_NE(verifyAgainst(ca.get(), alice.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);

  EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(server.get(), "127.0.0.1", 0, 0, nullptr), 0);  // an IP entry
  EXPECT_EQ(X509_check_host(server.get(), "example.com", 0, 0, nullptr), 0);
  EXPECT_EQ(commonName(server.get()), "localhost");
  EXPECT_EQ(commonName(alice.get()), "alice");
  EXPECT_EQ(commonName(ca.get()), "Keel CA");
}

TEST(TlsGenerate, KeysMatchTheirCertificates) {
  const TempDir& dir = tls_test::sharedCertificates();
  for (const std::string stem : {"ca", "server", "alice", "bob"}) {
    X509Handle cert = readCertificate(dir.file(stem + ".crt"));
    const std::string pem = readText(dir.file(stem + ".key"));
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ASSERT_TRUE(cert && key) << stem;
    EXPECT_EQ(X509_check_private_key(cert.get(), key), 1) << stem;
    EVP_PKEY_free(key);
  }
}

TEST(TlsGenerate, HostsAreDnsNamesOrIpAddresses) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  CertificateOptions options;
  options.hosts = {"db.example.com", "10.1.2.3", "[::1]", "*.pg.example.com", "db.example.com"};
  ASSERT_TRUE(generateCertificates(dir.path(), options).ok());
  X509Handle server = readCertificate(dir.file("server.crt"));
  ASSERT_TRUE(server);
  EXPECT_EQ(X509_check_host(server.get(), "db.example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(server.get(), "node1.pg.example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "10.1.2.3", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 0);
  EXPECT_EQ(commonName(server.get()), "db.example.com");
  GENERAL_NAMES* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(server.get(), NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(sk_GENERAL_NAME_num(names), 4);  // the duplicate is written once
  GENERAL_NAMES_free(names);
}

TEST(TlsGenerate, RefusesToOverwriteUnlessAsked) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(generateCertificates(dir.path(), {}).ok());
  const std::string ca_before = readText(dir.file("ca.crt"));

  CertificateOptions options;
  options.clients = {"carol"};
  auto again = generateCertificates(dir.path(), options);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.code(), ProxyErrc::io);
  EXPECT_NE(again.message().find(dir.file("ca.crt") + " already exists"), std::string::npos)
      << again.message();
  EXPECT_NE(again.message().find("--force"), std::string::npos);
  EXPECT_EQ(readText(dir.file("ca.crt")), ca_before);
  EXPECT_FALSE(std::filesystem::exists(dir.file("carol.crt")));  // all or nothing

  options.overwrite = true;
  auto forced = generateCertificates(dir.path(), options);
  ASSERT_TRUE(forced.ok()) << forced.message();
  EXPECT_NE(readText(dir.file("ca.crt")), ca_before);
  EXPECT_EQ(modeOf(dir.file("carol.key")), 0600u);
}

TEST(TlsGenerate, BadInputIsRefusedBeforeAnythingIsWritten) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string out = dir.file("out");
  auto expectRefused = [&](const CertificateOptions& options, const std::string& fragment) {
    auto r = generateCertificates(out, options);
    ASSERT_FALSE(r.ok()) << fragment;
    EXPECT_EQ(r.code(), ProxyErrc::bad_input) << r.message();
    EXPECT_NE(r.message().find(fragment), std::string::npos) << r.message();
    EXPECT_FALSE(std::filesystem::exists(out));
  };
  CertificateOptions options;
  options.hosts = {"localhost", "bad host!"};
  expectRefused(options, "\"bad host!\"");
  options.hosts = {"-leading.example.com"};
  expectRefused(options, "-leading");
  options.hosts = {"a..b"};
  expectRefused(options, "a..b");
  options.hosts = {};
  options.days = 0;
  expectRefused(options, "1 to 36500");
  options.days = 36501;
  expectRefused(options, "1 to 36500");
  options.days = 10;
  for (const std::string& user :
       std::vector<std::string>{"a/b", "", "..", "server", "ca", std::string(65, 'u')}) {
    options.clients = {user};
    expectRefused(options, "client user");
  }
  options.clients = {"alice", "alice"};
  expectRefused(options, "twice");
  EXPECT_EQ(generateCertificates("", {}).code(), ProxyErrc::bad_input);
}

}  // namespace
}  // namespace keel::proxy
