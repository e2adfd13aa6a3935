// `keel tls generate`: a private CA with server and client certificates for the proxy's TLS
// (and for PostgreSQL's own ssl_cert_file if wanted).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "proxy/tls_generate.h"

namespace keel::cli {

namespace {

struct GenerateArgs {
  std::string dir;
  std::vector<std::string> hosts;
  std::vector<std::string> clients;
  int days = 365;
  bool force = false;
};

int runGenerate(const GenerateArgs& args) {
  proxy::CertificateOptions options;
  options.hosts = args.hosts;
  options.clients = args.clients;
  options.days = args.days;
  options.overwrite = args.force;
  auto written = proxy::generateCertificates(args.dir, options);
  if (!written) {
    std::cerr << "keel tls generate: " << written.message() << "\n";
    return written.code() == proxy::ProxyErrc::bad_input ? kExitUsage : kExitFailure;
  }
  for (const proxy::WrittenFile& file : *written)
    std::cout << "wrote " << file.path << "  (" << file.description << ")\n";
  const std::string host = args.hosts.empty() ? "127.0.0.1" : args.hosts.front();
  std::cout << "clients check the proxy with: psql \"host=" << host
            << " sslmode=verify-full sslrootcert=" << args.dir << "/ca.crt\"\n";
  return 0;
}

}  // namespace

void addTlsCommands(CLI::App& app, int* exit_code) {
  auto* tls = app.add_subcommand("tls", "Make TLS certificates for Keel's proxy");
  tls->require_subcommand(1);
  auto* generate = tls->add_subcommand(
      "generate",
      "Write a private CA (ca.crt, ca.key), a server certificate signed by it (server.crt, "
      "server.key) and optional client certificates (USER.crt, USER.key; CN=USER)");
  auto args = std::make_shared<GenerateArgs>();
  generate->add_option("--dir", args->dir, "directory to write to (created if missing)")
      ->required();
  generate
      ->add_option("--host", args->hosts,
                   "DNS name or IP address clients connect to, repeatable "
                   "(default: localhost and 127.0.0.1)")
      ->allow_extra_args(false);
  generate->add_option("--days", args->days, "validity in days")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  generate
      ->add_option("--client", args->clients,
                   "user name for a client certificate (hba cert, psql sslcert), repeatable")
      ->allow_extra_args(false);
  generate->add_flag("--force", args->force, "replace existing files");
  generate->callback([args, exit_code] { *exit_code = runGenerate(*args); });
}

}  // namespace keel::cli
