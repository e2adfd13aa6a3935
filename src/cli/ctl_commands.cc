// `keel ctl`: the operator CLI, shaped after patronictl. Every command talks to a member's
// REST API; any member answers for the cluster.
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cli/cli.h"
#include "cli/ctl_client.h"
#include "config/config.h"

namespace keel::cli {

namespace {

using nlohmann::json;

struct CtlOptions {
  std::vector<std::string> api_urls;
  std::string config_file;
  std::string user;  // "name:password"
};

// Resolves where to send requests: --api, then KEEL_API, then the config file's restapi.
std::optional<CtlTarget> resolveTarget(const CtlOptions& o, std::string* error) {
  CtlTarget t;
  t.api_urls = o.api_urls;
  if (t.api_urls.empty()) {
    if (const char* env = std::getenv("KEEL_API"); env && *env) {
      std::string all = env;
      std::size_t start = 0;
      while (start <= all.size()) {
        auto comma = all.find(',', start);
        std::string one =
            all.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!one.empty())
          t.api_urls.push_back(one);
        if (comma == std::string::npos)
          break;
        start = comma + 1;
      }
    }
  }
  if (!o.config_file.empty()) {
    auto cfg = loadConfigFile(o.config_file);
    if (!cfg) {
      *error = cfg.message();
      return std::nullopt;
    }
    if (t.api_urls.empty()) {
      t.api_urls.push_back("http://" + (*cfg)->restapi.connect_address.str());
    }
    if ((*cfg)->restapi.authentication) {
      t.credentials = api::Credentials{(*cfg)->restapi.authentication->username,
                                       (*cfg)->restapi.authentication->password};
    }
  }
  if (!o.user.empty()) {
    auto colon = o.user.find(':');
    if (colon == std::string::npos) {
      *error = "--user: expected name:password";
      return std::nullopt;
    }
    t.credentials = api::Credentials{o.user.substr(0, colon), o.user.substr(colon + 1)};
  }
  if (t.api_urls.empty())
    t.api_urls.push_back("http://127.0.0.1:8008");
  return t;
}

// Prints an operation's answer; returns the exit code.
int report(const std::optional<CtlResponse>& r, const std::string& error) {
  if (!r) {
    std::cerr << "error: " << error << "\n";
    return kExitFailure;
  }
  std::string body = r->body;
  if (auto j = r->json(); j && j->is_object() && j->contains("message")) {
    body = (*j)["message"].get<std::string>();
  }
  bool ok = r->status >= 200 && r->status < 300;
  (ok ? std::cout : std::cerr) << (ok ? "" : "error: ") << body
                               << (body.empty() || body.back() != '\n' ? "\n" : "");
  if (r->status == 401) {
    std::cerr << "hint: pass --user name:password or -c with the agent's config file\n";
  }
  return ok ? 0 : kExitFailure;
}

std::optional<json> fetchCluster(const CtlTarget& t, std::string* error) {
  auto r = callApi(t, "GET", "/cluster", nullptr, error);
  if (!r)
    return std::nullopt;
  auto j = r->json();
  if (r->status != 200 || !j) {
    *error = "GET " + r->url + " answered " + std::to_string(r->status) + ": " + r->body;
    return std::nullopt;
  }
  return j;
}

// Members in the order a rolling operation visits them: replicas first, the leader last.
std::vector<json> rollingOrder(const json& cluster, const std::vector<std::string>& only) {
  std::vector<json> replicas, leaders;
  for (const auto& m : cluster.value("members", json::array())) {
    std::string name = m.value("name", "");
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end())
      continue;
    (m.value("role", "") == "leader" ? leaders : replicas).push_back(m);
  }
  replicas.insert(replicas.end(), leaders.begin(), leaders.end());
  return replicas;
}

// "a.b.c=value" -> {"a":{"b":{"c":value}}}; value parsed as JSON when it is JSON.
bool addPatch(json& patch, const std::string& assignment, std::string* error) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    *error = "expected path=value, got \"" + assignment + "\"";
    return false;
  }
  std::string path = assignment.substr(0, eq);
  std::string text = assignment.substr(eq + 1);
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded())
    value = text;
  json* node = &patch;
  std::size_t start = 0;
  for (;;) {
    auto dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return true;
    }
    if (!(*node)[part].is_object())
      (*node)[part] = json::object();
    node = &(*node)[part];
    start = dot + 1;
  }
}

}  // namespace

void addCtlCommands(CLI::App& app, int* exit_code) {
  auto* ctl = app.add_subcommand("ctl", "Operate a Keel cluster through any member's REST API");
  ctl->require_subcommand(1);
  auto opts = std::make_shared<CtlOptions>();
  ctl->add_option("--api", opts->api_urls,
                  "member API URL(s) to use, e.g. http://127.0.0.1:8008 (env KEEL_API)")
      ->delimiter(',');
  ctl->add_option("-c,--config", opts->config_file,
                  "an agent's config file: its API address and credentials");
  ctl->add_option("-u,--user", opts->user, "API credentials as name:password");

  // Each command resolves the target and runs `body`.
  auto command = [=](CLI::App* sub, std::function<int(const CtlTarget&)> body) {
    sub->callback([=] {
      std::string error;
      auto target = resolveTarget(*opts, &error);
      if (!target) {
        std::cerr << "error: " << error << "\n";
        *exit_code = kExitUsage;
        return;
      }
      *exit_code = body(*target);
    });
  };

  auto* list = ctl->add_subcommand("list", "Show the members, their roles, state and lag");
  command(list, [](const CtlTarget& t) {
    std::string error;
    auto cluster = fetchCluster(t, &error);
    if (!cluster)
      return report(std::nullopt, error);
    auto patroni = callApi(t, "GET", "/patroni", nullptr, &error);
    std::string scope = "?";
    if (patroni) {
      if (auto j = patroni->json())
        scope = j->value("patroni", json::object()).value("scope", "?");
    }
    std::cout << renderMemberTable(*cluster, scope);
    return 0;
  });

  auto* topology = ctl->add_subcommand("topology", "Same as list");
  command(topology, [](const CtlTarget& t) {
    std::string error;
    auto cluster = fetchCluster(t, &error);
    if (!cluster)
      return report(std::nullopt, error);
    std::cout << renderMemberTable(*cluster, "");
    return 0;
  });

  auto sw_leader = std::make_shared<std::string>();
  auto sw_candidate = std::make_shared<std::string>();
  auto sw_at = std::make_shared<std::string>();
  auto sw_cancel = std::make_shared<bool>(false);
  auto* switchover = ctl->add_subcommand("switchover", "Planned switchover to a replica");
  switchover->add_option("--leader,--primary", *sw_leader, "the current leader (checked)");
  switchover->add_option("--candidate", *sw_candidate, "the member to promote (default: best)");
  switchover->add_option("--scheduled", *sw_at, "ISO-8601 time, e.g. 2026-11-23T18:00:00Z");
  switchover->add_flag("--cancel", *sw_cancel, "cancel a scheduled switchover");
  switchover->add_flag("--force")->description(
      "accepted for patronictl compatibility; never prompts");
  command(switchover, [=](const CtlTarget& t) {
    std::string error;
    if (*sw_cancel)
      return report(callApi(t, "DELETE", "/switchover", nullptr, &error), error);
    json body = json::object();
    if (!sw_leader->empty())
      body["leader"] = *sw_leader;
    if (!sw_candidate->empty())
      body["candidate"] = *sw_candidate;
    if (!sw_at->empty())
      body["scheduled_at"] = *sw_at;
    if (sw_leader->empty()) {
      // The API wants the leader's name; fill it in from /cluster.
      if (auto cluster = fetchCluster(t, &error)) {
        for (const auto& m : cluster->value("members", json::array())) {
          if (m.value("role", "") == "leader")
            body["leader"] = m.value("name", "");
        }
      }
    }
    return report(callApi(t, "POST", "/switchover", body, &error), error);
  });

  auto fo_candidate = std::make_shared<std::string>();
  auto* failover = ctl->add_subcommand("failover", "Promote a named replica now");
  failover->add_option("--candidate", *fo_candidate, "the member to promote")->required();
  failover->add_flag("--force")->description(
      "accepted for patronictl compatibility; never prompts");
  command(failover, [=](const CtlTarget& t) {
    std::string error;
    return report(callApi(t, "POST", "/failover", json{{"candidate", *fo_candidate}}, &error),
                  error);
  });

  auto rs_members = std::make_shared<std::vector<std::string>>();
  auto rs_pending = std::make_shared<bool>(false);
  auto rs_role = std::make_shared<std::string>();
  auto* restart =
      ctl->add_subcommand("restart", "Restart PostgreSQL on members one at a time, replicas first");
  restart->add_option("members", *rs_members, "members to restart (default: all)");
  restart->add_flag("--pending", *rs_pending, "only members with a pending_restart parameter");
  restart->add_option("--role", *rs_role, "only members of this role: primary or replica");
  command(restart, [=](const CtlTarget& t) {
    std::string error;
    auto cluster = fetchCluster(t, &error);
    if (!cluster)
      return report(std::nullopt, error);
    int rc = 0;
    for (const auto& m : rollingOrder(*cluster, *rs_members)) {
      std::string name = m.value("name", "");
      bool is_leader = m.value("role", "") == "leader";
      if (!rs_role->empty() && (*rs_role == "primary") != is_leader)
        continue;
      if (*rs_pending && !m.value("pending_restart", false)) {
        std::cout << name << ": no pending restart\n";
        continue;
      }
      json body = {{"restart_pending", *rs_pending}};
      std::cout << name << ": ";
      std::cout.flush();
      auto r = callUrl(t, "POST", m.value("api_url", "") + "/restart", body, &error);
      if (report(r, error) != 0)
        rc = kExitFailure;
    }
    return rc;
  });

  auto ri_member = std::make_shared<std::string>();
  auto ri_force = std::make_shared<bool>(false);
  auto* reinit = ctl->add_subcommand("reinit", "Wipe a replica's data and clone it afresh");
  reinit->add_option("member", *ri_member, "the member to reinitialize")->required();
  reinit->add_flag("--force", *ri_force, "even if it streams normally");
  command(reinit, [=](const CtlTarget& t) {
    std::string error;
    auto cluster = fetchCluster(t, &error);
    if (!cluster)
      return report(std::nullopt, error);
    for (const auto& m : cluster->value("members", json::array())) {
      if (m.value("name", "") == *ri_member) {
        return report(callUrl(t, "POST", m.value("api_url", "") + "/reinitialize",
                              json{{"force", *ri_force}}, &error),
                      error);
      }
    }
    std::cerr << "error: " << *ri_member << " is not a member of the cluster\n";
    return kExitFailure;
  });

  auto rl_members = std::make_shared<std::vector<std::string>>();
  auto* reload = ctl->add_subcommand("reload", "Reload PostgreSQL's configuration on members");
  reload->add_option("members", *rl_members, "members to reload (default: all)");
  command(reload, [=](const CtlTarget& t) {
    std::string error;
    auto cluster = fetchCluster(t, &error);
    if (!cluster)
      return report(std::nullopt, error);
    int rc = 0;
    for (const auto& m : rollingOrder(*cluster, *rl_members)) {
      std::cout << m.value("name", "") << ": ";
      std::cout.flush();
      if (report(callUrl(t, "POST", m.value("api_url", "") + "/reload", nullptr, &error), error) !=
          0) {
        rc = kExitFailure;
      }
    }
    return rc;
  });

  auto* pause = ctl->add_subcommand("pause", "Maintenance mode: members observe, never act");
  command(pause, [](const CtlTarget& t) {
    std::string error;
    return report(callApi(t, "PATCH", "/config", json{{"pause", true}}, &error), error);
  });
  auto* resume = ctl->add_subcommand("resume", "Leave maintenance mode");
  command(resume, [](const CtlTarget& t) {
    std::string error;
    return report(callApi(t, "PATCH", "/config", json{{"pause", nullptr}}, &error), error);
  });

  auto* show = ctl->add_subcommand("show-config", "Print the cluster-wide configuration");
  command(show, [](const CtlTarget& t) {
    std::string error;
    auto r = callApi(t, "GET", "/config", nullptr, &error);
    if (!r || r->status != 200)
      return report(r, error);
    auto j = r->json();
    std::cout << (j ? j->dump(2) : r->body) << "\n";
    return 0;
  });

  auto ec_sets = std::make_shared<std::vector<std::string>>();
  auto ec_pg = std::make_shared<std::vector<std::string>>();
  auto* edit =
      ctl->add_subcommand("edit-config", "Change the cluster-wide configuration (PATCH /config)");
  edit->alias("set");
  edit->add_option("-s,--set", *ec_sets, "path=value, e.g. maximum_lag_on_failover=2097152");
  edit->add_option("-p,--pg", *ec_pg, "PostgreSQL parameter name=value, e.g. work_mem=64MB");
  edit->add_option("assignments", *ec_sets, "more path=value assignments");
  command(edit, [=](const CtlTarget& t) {
    std::string error;
    json patch = json::object();
    for (const auto& s : *ec_sets) {
      if (!addPatch(patch, s, &error))
        return report(std::nullopt, error);
    }
    for (const auto& p : *ec_pg) {
      if (!addPatch(patch, "postgresql.parameters." + p, &error)) {
        return report(std::nullopt, error);
      }
    }
    if (patch.empty()) {
      std::cerr << "error: nothing to change; pass -p name=value or -s path=value\n";
      return kExitUsage;
    }
    auto r = callApi(t, "PATCH", "/config", patch, &error);
    if (r && r->status == 200) {
      auto j = r->json();
      std::cout << (j ? j->dump(2) : r->body) << "\n";
      return 0;
    }
    return report(r, error);
  });

  auto* history = ctl->add_subcommand("history", "Show failovers and switchovers");
  command(history, [](const CtlTarget& t) {
    std::string error;
    auto r = callApi(t, "GET", "/history", nullptr, &error);
    if (!r || r->status != 200)
      return report(r, error);
    auto j = r->json();
    if (!j || !j->is_array())
      return report(r, error);
    std::cout << "TL  LSN           Time                      New leader  Reason\n";
    for (const auto& e : *j) {
      if (!e.is_array() || e.size() < 4)
        continue;
      char line[512];
      std::snprintf(line, sizeof line, "%-3s %-13s %-25s %-11s %s\n", e[0].dump().c_str(),
                    e[1].is_string() ? e[1].get<std::string>().c_str() : e[1].dump().c_str(),
                    e[3].is_string() ? e[3].get<std::string>().c_str() : e[3].dump().c_str(),
                    e.size() > 4 && e[4].is_string() ? e[4].get<std::string>().c_str() : "",
                    e[2].is_string() ? e[2].get<std::string>().c_str() : "");
      std::cout << line;
    }
    return 0;
  });
}

}  // namespace keel::cli
