#include "proxy/tls_generate.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "proxy/tls_context.h"

namespace keel::proxy {

namespace {

namespace fs = std::filesystem;

template <auto Free>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslFree<BN_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES_free>>;
using NamePtr = std::unique_ptr<GENERAL_NAME, OpenSslFree<GENERAL_NAME_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslFree<X509_EXTENSION_free>>;

constexpr int kMaxDays = 36500;
// Certificates start an hour in the past so a peer whose clock lags still accepts them.
constexpr long kBackdateSeconds = 3600;
constexpr std::size_t kMaxCommonName = 64;  // ub-common-name, RFC 5280

Failure<ProxyErrc> failOpenSsl(const std::string& what) {
  std::string reason = takeOpenSslErrors();
  if (reason.empty())
    reason = "no detail from OpenSSL";
  return fail(ProxyErrc::io, what + " (OpenSSL: " + reason + ")");
}

struct Host {
  std::string name;  // without IPv6 brackets
  bool ip = false;
};

bool isDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253)
    return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t end = std::min(name.find('.', start), name.size());
    const std::string_view label(name.data() + start, end - start);
    const bool wildcard = start == 0 && label == "*" && end < name.size();
    if (!wildcard) {
      if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
        return false;
      for (const char c : label) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok)
          return false;
      }
    }
    start = end + 1;
  }
  return true;
}

ProxyResult<std::vector<Host>> parseHosts(const std::vector<std::string>& given) {
  static const std::vector<std::string> kDefaults{"localhost", "127.0.0.1"};
  std::vector<Host> hosts;
  std::set<std::string> seen;
  for (const std::string& host : given.empty() ? kDefaults : given) {
    std::string name = host;
    if (name.size() > 2 && name.front() == '[' && name.back() == ']')
      name = name.substr(1, name.size() - 2);
    Host parsed{name, false};
    if (name.find('\0') == std::string::npos) {
      if (ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str())) {
        ASN1_OCTET_STRING_free(ip);
        parsed.ip = true;
      }
    }
    ERR_clear_error();
    if (!parsed.ip && !isDnsName(name)) {
      return fail(ProxyErrc::bad_input,
                  "host \"" + host +
                      "\" is neither an IP address nor a DNS name (letters, digits, '-' and "
                      "'.', at most 253 characters; a leading \"*.\" for a wildcard)");
    }
    if (seen.insert(name).second)
      hosts.push_back(std::move(parsed));
  }
  return hosts;
}

ProxyResult<void> checkClientNames(const std::vector<std::string>& clients) {
  std::set<std::string> seen;
  for (const std::string& user : clients) {
    const bool control = std::any_of(user.begin(), user.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (user.empty() || user.size() > kMaxCommonName || control ||
        user.find('/') != std::string::npos || user.front() == '.') {
      return fail(ProxyErrc::bad_input,
                  "client user \"" + user +
                      "\" cannot name a certificate: give 1 to 64 characters without '/', "
                      "control characters or a leading '.'");
    }
    if (user == "ca" || user == "server") {
      return fail(ProxyErrc::bad_input, "client user \"" + user + "\" would overwrite " + user +
                                            ".crt, the " + user + " certificate; pick another");
    }
    if (!seen.insert(user).second)
      return fail(ProxyErrc::bad_input, "client user \"" + user + "\" is given twice");
  }
  return {};
}

ProxyResult<PkeyPtr> makeKey() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key)
    return failOpenSsl("cannot generate an ECDSA P-256 key");
  return key;
}

enum class Purpose { authority, server, client };

struct CertificateSpec {
  Purpose purpose;
  std::string common_name;
  std::vector<Host> hosts;  // server only
  int days;
};

ProxyResult<void> addExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return failOpenSsl(std::string("cannot add the extension ") + OBJ_nid2sn(nid));
  return {};
}

ProxyResult<void> addSubjectAltNames(X509* cert, const std::vector<Host>& hosts) {
  NamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names)
    return failOpenSsl("cannot build subjectAltName");
  for (const Host& host : hosts) {
    NamePtr entry(GENERAL_NAME_new());
    if (!entry)
      return failOpenSsl("cannot build subjectAltName");
    if (host.ip) {
      ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.name.c_str());
      if (ip == nullptr)
        return failOpenSsl("cannot encode IP address " + host.name);
      GENERAL_NAME_set0_value(entry.get(), GEN_IPADD, ip);
    } else {
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (dns == nullptr ||
          ASN1_STRING_set(dns, host.name.data(), static_cast<int>(host.name.size())) != 1) {
        ASN1_IA5STRING_free(dns);
        return failOpenSsl("cannot encode DNS name " + host.name);
      }
      GENERAL_NAME_set0_value(entry.get(), GEN_DNS, dns);
    }
    if (sk_GENERAL_NAME_push(names.get(), entry.get()) == 0)
      return failOpenSsl("cannot build subjectAltName");
    (void)entry.release();  // owned by `names`
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
    return failOpenSsl("cannot add subjectAltName");
  return {};
}

// Issues a certificate for `subject_key`; `issuer`/`issuer_key` null makes it self-signed.
ProxyResult<X509Ptr> issue(const CertificateSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                           EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1)
    return failOpenSsl("cannot create a certificate");

  // RFC 5280 4.1.2.2: positive, at most 20 bytes; random so reissued certificates differ.
  BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return failOpenSsl("cannot make a serial number");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), spec.days, 0, nullptr) == nullptr) {
    return failOpenSsl("cannot set the validity period");
  }
  if (X509_set_pubkey(cert.get(), subject_key) != 1)
    return failOpenSsl("cannot set the public key");

  X509_NAME* subject = X509_get_subject_name(cert.get());
  const auto* cn = reinterpret_cast<const unsigned char*>(spec.common_name.c_str());
  if (X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("Keel"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, cn,
                                 static_cast<int>(spec.common_name.size()), -1, 0) != 1) {
    return failOpenSsl("cannot set the subject CN=" + spec.common_name);
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1)
    return failOpenSsl("cannot set the issuer");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
  const bool ca = spec.purpose == Purpose::authority;
  struct Extension {
    int nid;
    const char* value;
  };
  std::vector<Extension> extensions{
      {NID_basic_constraints, ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE"},
      {NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  if (spec.purpose == Purpose::server)
    extensions.push_back({NID_ext_key_usage, "serverAuth"});
  if (spec.purpose == Purpose::client)
    extensions.push_back({NID_ext_key_usage, "clientAuth"});
  for (const Extension& e : extensions) {
    if (auto added = addExtension(cert.get(), &ctx, e.nid, e.value); !added)
      return added.failure();
  }
  if (spec.purpose == Purpose::server) {
    if (auto added = addSubjectAltNames(cert.get(), spec.hosts); !added)
      return added.failure();
  }
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : subject_key, EVP_sha256()) == 0)
    return failOpenSsl("cannot sign the certificate for CN=" + spec.common_name);
  return cert;
}

ProxyResult<std::string> bioText(BIO* bio, bool written, const std::string& what) {
  if (!written)
    return failOpenSsl("cannot encode " + what + " as PEM");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

ProxyResult<std::string> certificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  return bioText(bio.get(), bio && PEM_write_bio_X509(bio.get(), cert) == 1, "a certificate");
}

ProxyResult<std::string> keyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  const bool written =
      bio && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return bioText(bio.get(), written, "a private key");
}

// Writes a temporary file next to `path` with `mode` (umask does not apply), then moves it into
// place: rename() replaces, link() refuses an existing file.
ProxyResult<void> writeFile(const std::string& path, const std::string& content, mode_t mode,
                            bool overwrite) {
  const fs::path target(path);
  std::string temp =
      (target.parent_path() / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0)
    return fail(ProxyErrc::io,
                "cannot create a file next to " + path + ": " + std::strerror(errno));
  struct TempFile {
    std::string path;
    int fd;
    bool keep = false;
    ~TempFile() {
      if (fd >= 0)
        ::close(fd);
      if (!keep)
        ::unlink(path.c_str());
    }
  } temp_file{temp, fd};

  auto failed = [&](const char* step) {
    return fail(ProxyErrc::io,
                "cannot " + std::string(step) + " " + path + ": " + std::strerror(errno));
  };
  if (::fchmod(fd, mode) != 0)
    return failed("set the mode of");
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return failed("write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0)
    return failed("sync");
  const int closed = ::close(temp_file.fd);
  temp_file.fd = -1;
  if (closed != 0)
    return failed("write");
  if (overwrite) {
    if (::rename(temp.c_str(), path.c_str()) != 0)
      return failed("replace");
    temp_file.keep = true;
    return {};
  }
  if (::link(temp.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) {
      return fail(ProxyErrc::io, path +
                                     " appeared while certificates were written; nothing "
                                     "was replaced (overwrite with --force)");
    }
    return failed("create");
  }
  return {};
}

struct PendingFile {
  std::string name;
  std::string content;
  mode_t mode;
  std::string description;
};

std::string joinHosts(const std::vector<Host>& hosts) {
  std::string out;
  for (const Host& h : hosts)
    out += (out.empty() ? "" : ", ") + h.name;
  return out;
}

}  // namespace

ProxyResult<std::vector<WrittenFile>> generateCertificates(const std::string& dir,
                                                           const CertificateOptions& options) {
  if (dir.empty())
    return fail(ProxyErrc::bad_input, "no directory given for the certificates");
  if (options.days < 1 || options.days > kMaxDays) {
    return fail(ProxyErrc::bad_input, "validity of " + std::to_string(options.days) +
                                          " days is out of range: give 1 to 36500");
  }
  auto hosts = parseHosts(options.hosts);
  if (!hosts)
    return hosts.failure();
  if (auto checked = checkClientNames(options.clients); !checked)
    return checked.failure();

  std::vector<std::string> names{"ca.crt", "ca.key", "server.crt", "server.key"};
  for (const std::string& user : options.clients) {
    names.push_back(user + ".crt");
    names.push_back(user + ".key");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return fail(ProxyErrc::io, "cannot create the directory " + dir + ": " + ec.message());
  if (!options.overwrite) {
    for (const std::string& name : names) {
      const fs::path path = fs::path(dir) / name;
      if (fs::symlink_status(path, ec).type() != fs::file_type::not_found) {
        return fail(ProxyErrc::io, path.string() +
                                       " already exists; nothing was written (overwrite "
                                       "with --force; clients trusting the old ca.crt then "
                                       "need the new one)");
      }
    }
  }

  ERR_clear_error();
  std::vector<PendingFile> files;
  auto ca_key = makeKey();
  if (!ca_key)
    return ca_key.failure();
  auto ca =
      issue({Purpose::authority, "Keel CA", {}, options.days}, ca_key->get(), nullptr, nullptr);
  if (!ca)
    return ca.failure();
  auto add = [&](const std::string& stem, X509* cert, EVP_PKEY* key, std::string cert_what,
                 std::string key_what) -> ProxyResult<void> {
    auto cert_pem = certificatePem(cert);
    if (!cert_pem)
      return cert_pem.failure();
    auto key_pem = keyPem(key);
    if (!key_pem)
      return key_pem.failure();
    files.push_back({stem + ".crt", std::move(*cert_pem), 0644, std::move(cert_what)});
    files.push_back({stem + ".key", std::move(*key_pem), 0600, std::move(key_what)});
    return {};
  };
  if (auto added = add("ca", ca->get(), ca_key->get(),
                       "CA certificate: clients' sslrootcert, proxy.client_tls.ca_file",
                       "CA private key: signs new certificates; keep it away from servers");
      !added) {
    return added.failure();
  }

  auto server_key = makeKey();
  if (!server_key)
    return server_key.failure();
  auto server = issue({Purpose::server, hosts->front().name, *hosts, options.days},
                      server_key->get(), ca->get(), ca_key->get());
  if (!server)
    return server.failure();
  if (auto added =
          add("server", server->get(), server_key->get(),
              "server certificate for " + joinHosts(*hosts) + ": proxy.client_tls.cert_file",
              "server private key: proxy.client_tls.key_file");
      !added) {
    return added.failure();
  }

  for (const std::string& user : options.clients) {
    auto key = makeKey();
    if (!key)
      return key.failure();
    auto cert =
        issue({Purpose::client, user, {}, options.days}, key->get(), ca->get(), ca_key->get());
    if (!cert)
      return cert.failure();
    if (auto added =
            add(user, cert->get(), key->get(), "client certificate CN=" + user + ": psql sslcert",
                "client private key of " + user + ": psql sslkey");
        !added) {
      return added.failure();
    }
  }

  std::vector<WrittenFile> written;
  for (const PendingFile& file : files) {
    const std::string path = (fs::path(dir) / file.name).string();
    if (auto done = writeFile(path, file.content, file.mode, options.overwrite); !done)
      return done.failure();
    written.push_back({path, file.description});
  }
  return written;
}

}  // namespace keel::proxy
