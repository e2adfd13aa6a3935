#pragma once

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "proxy/tls_generate.h"

namespace keel::proxy::tls_test {

// A fresh directory under the test temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "keel-tls-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr)
      path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void writeText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Handle = std::unique_ptr<X509, X509Free>;

inline X509Handle readCertificate(const std::string& path) {
  const std::string pem = readText(path);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = bio != nullptr ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  return X509Handle(cert);
}

// One certificate set for the whole test binary, removed at exit: hosts localhost and
// 127.0.0.1, client certificates for alice and bob.
inline const TempDir& sharedCertificates() {
  static TempDir dir;
  static const bool generated = [] {
    CertificateOptions options;
    options.clients = {"alice", "bob"};
    auto written = generateCertificates(dir.path(), options);
    EXPECT_TRUE(written.ok()) << "generating test certificates: " << written.message();
    return written.ok();
  }();
  (void)generated;
  return dir;
}

}  // namespace keel::proxy::tls_test
