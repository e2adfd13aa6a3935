// `keel agent -c FILE`: the daemon. Wiring only: every piece comes from its module.
//
// Threads: the control-plane io_context (this thread) runs the HA loop, lease renewal, the
// fence watchdog, the DCS client, the embedded etcd supervisor and the REST API. The HA
// loop's PgWorker thread runs blocking PostgreSQL work.
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "api/http_server.h"
#include "api/router.h"
#include "cli/cli.h"
#include "cli/proxy_routes.h"
#include "common/logging.h"
#include "config/config.h"
#include "dcs/embedded_etcd.h"
#include "dcs/etcd_dcs.h"
#include "ha/agent_backend.h"
#include "ha/ha_loop.h"
#include "ha/peer_prober.h"
#include "ha/raft_leader_placement.h"
#include "pg/fence_deadline.h"
#include "pg/pg_files.h"
#include "pg/postgres.h"
#include "proxy/proxy_metrics.h"
#include "proxy/proxy_server.h"

namespace keel::cli {

namespace {

namespace asio = boost::asio;

std::optional<asio::ip::tcp::endpoint> resolveListen(const HostPort& hp, std::string* error) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(hp.host == "localhost" ? "127.0.0.1" : hp.host, ec);
  if (ec) {
    *error = "restapi.listen: \"" + hp.host + "\" is not an IP address; use e.g. 127.0.0.1";
    return std::nullopt;
  }
  return asio::ip::tcp::endpoint(addr, hp.port);
}

// SIGHUP and the admin console's RELOAD: re-read the file and apply its proxy part. The HA
// settings stay those the agent started with.
proxy::ProxyResult<std::string> reloadProxyConfig(const std::string& path, const Config& running,
                                                  proxy::ProxyServer& server) {
  auto loaded = loadConfigFile(path);
  if (!loaded) {
    return fail(proxy::ProxyErrc::bad_input,
                "the config file has problems, nothing was changed:\n" + loaded.message());
  }
  auto notes = server.reload(*loaded);
  if (!notes) {
    return notes.failure();
  }
  std::string summary;
  for (const auto& n : *notes) {
    summary += (summary.empty() ? "" : "; ") + n;
  }
  nlohmann::json before = toJson(running);
  nlohmann::json after = toJson(**loaded);
  before.erase("proxy");
  after.erase("proxy");
  if (before != after) {
    summary += "; settings outside the proxy section changed and apply when the agent restarts";
  }
  return summary;
}

int runAgent(const std::string& path) {
  auto loaded = loadConfigFile(path);
  if (!loaded) {
    std::cerr << loaded.message() << "\n";
    return kExitUsage;
  }
  std::shared_ptr<const Config> config = *loaded;
  initLogging(config->log_level, config->name);
  std::error_code fs_ec;
  std::filesystem::create_directories(config->data_dir, fs_ec);
  if (fs_ec) {
    spdlog::critical("cannot create data_dir {}: {}", config->data_dir, fs_ec.message());
    return kExitFailure;
  }
  chmod(config->data_dir.c_str(), 0711);  // the PostgreSQL user must traverse it

  asio::io_context control(1);
  std::unique_ptr<dcs::EmbeddedEtcd> etcd;
  if (config->etcd.embedded) {
    etcd = std::make_unique<dcs::EmbeddedEtcd>(*config->etcd.embedded, config->scope,
                                               control.get_executor());
    auto started = etcd->start();
    if (!started) {
      spdlog::critical("cannot start the embedded etcd: {}", started.message());
      return kExitFailure;
    }
  }
  dcs::EtcdDcs dcs(control.get_executor(), config->etcd.client_urls(),
                   config->etcd.request_timeout);
  auto postgres = pg::makePostgres(config);
  std::optional<api::Credentials> credentials;
  if (config->restapi.authentication) {
    credentials = api::Credentials{config->restapi.authentication->username,
                                   config->restapi.authentication->password};
  }
  ha::HttpPeerProber prober(credentials);
  SteadyClock clock;
  // In-server fencing (keel_fence): the deadline file PostgreSQL checks at every writing commit.
  // Declared before the loop, whose lease keeper writes to it.
  const pg::PgPaths pg_paths = pg::pathsFor(config->postgresql.data_dir);
  std::unique_ptr<pg::FenceDeadlineFile> fence_deadline;
  if (pg_paths.fence_library.empty()) {
    spdlog::warn(
        "keel_fence.so is not next to the keel binary: PostgreSQL cannot refuse writes by itself "
        "when this agent is frozen past its lease (install keel_fence.so beside keel)");
  } else {
    auto opened = pg::FenceDeadlineFile::open(pg_paths.fence_deadline_file);
    if (!opened) {
      spdlog::critical("{}", opened.message());
      return kExitFailure;
    }
    fence_deadline = std::move(*opened);
  }
  ha::HaLoop loop(config, dcs, *postgres, prober, clock);
  if (fence_deadline) {
    loop.setFenceDeadlineSink(
        [file = fence_deadline.get()](std::int64_t deadline) { file->store(deadline); });
  }
  ha::AgentBackend backend(loop);
  api::Router router(backend, credentials);
  std::string error;
  auto endpoint = resolveListen(config->restapi.listen, &error);
  if (!endpoint) {
    spdlog::critical("{}", error);
    return kExitUsage;
  }
  api::HttpServer server(control.get_executor(), router, *endpoint);
  if (auto s = server.start(); !s) {
    spdlog::critical("{}", s.message());
    return kExitFailure;
  }
  spdlog::info("REST API on http://{}", config->restapi.listen.str());

  // With three or more embedded members, keep etcd's raft leader on another host than the
  // PostgreSQL leader (ha/raft_leader_placement.h).
  std::unique_ptr<ha::RaftLeaderPlacement> placement;
  if (etcd && config->etcd.embedded->initial_cluster.size() >= 3) {
    placement = std::make_unique<ha::RaftLeaderPlacement>(
        control.get_executor(), etcd->clientUrl(), [&loop] { return loop.snapshot().writable; });
    asio::co_spawn(control, placement->run(), asio::detached);
  }
  // The PostgreSQL-protocol proxy runs on its own threads; its routes follow the HA loop's views.
  std::unique_ptr<proxy::ProxyServer> proxy_server;
  if (config->proxy.enabled) {
    proxy_server = std::make_unique<proxy::ProxyServer>(config);
    if (auto started = proxy_server->start(); !started) {
      spdlog::critical("cannot start the proxy: {}", started.message());
      return kExitFailure;
    }
    loop.setViewObserver([&proxy_server, name = config->name](const ha::ClusterView& view) {
      proxy_server->updateRoutes(routesFromView(view, name));
    });
    backend.setExtraMetrics(
        [server = proxy_server.get()] { return proxy::proxyMetricsText(server->context()); });
  }

  if (proxy_server) {
    proxy_server->context().reload_config = [path, config, server = proxy_server.get()] {
      return reloadProxyConfig(path, *config, *server);
    };
  }
  asio::signal_set hangup(control, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_hangup =
      [&](const boost::system::error_code& ec, int) {
        if (ec)
          return;
        if (!proxy_server) {
          spdlog::info(
              "SIGHUP: the proxy is disabled; other settings apply when the agent "
              "restarts");
        } else if (auto r = reloadProxyConfig(path, *config, *proxy_server); r) {
          spdlog::info("SIGHUP: {}", *r);
        } else {
          spdlog::error("SIGHUP: {}", r.message());
        }
        hangup.async_wait(on_hangup);
      };
  hangup.async_wait(on_hangup);

  asio::signal_set signals(control, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec)
      return;
    spdlog::info("signal {} received: shutting down", sig);
    asio::co_spawn(
        control,
        [&]() -> asio::awaitable<void> {
          if (placement)
            placement->stop();
          if (proxy_server)
            proxy_server->stop();
          co_await loop.shutdown();
          server.stop();
          if (etcd)
            etcd->stop();
          hangup.cancel();
          control.stop();
        },
        asio::detached);
  });
  asio::co_spawn(control, loop.run(), [](std::exception_ptr e) {
    if (!e)
      return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("HA loop ended: {}", ex.what());
    }
  });
  control.run();
  spdlog::info("agent stopped");
  return 0;
}

}  // namespace

void addAgentCommand(CLI::App& app, int* exit_code) {
  auto* agent = app.add_subcommand("agent", "Run the Keel daemon for one member");
  auto path = std::make_shared<std::string>();
  agent->add_option("-c,--config", *path, "YAML configuration file")->required();
  agent->callback([=] { *exit_code = runAgent(*path); });
}

}  // namespace keel::cli
