#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/http_client.h"

namespace keel::cli {

// How `keel ctl` reaches the cluster: the API URLs to try, in order, and credentials for
// mutating calls. Any member's API answers for the whole cluster.
struct CtlTarget {
  std::vector<std::string> api_urls;
  std::optional<api::Credentials> credentials;
};

struct CtlResponse {
  int status = 0;
  std::string body;
  std::string url;  // the URL that answered
  std::optional<nlohmann::json> json() const;
};

// Sends the request to the first API URL that answers (connection errors move on to the next;
// any HTTP status is an answer). Returns the error of the last URL when none answers.
std::optional<CtlResponse> callApi(const CtlTarget& target, const std::string& method,
                                   const std::string& path, const nlohmann::json& body,
                                   std::string* error);
// Same, against one exact URL (a member's own API).
std::optional<CtlResponse> callUrl(const CtlTarget& target, const std::string& method,
                                   const std::string& url, const nlohmann::json& body,
                                   std::string* error);

// Renders GET /cluster as the `keel ctl list` table.
std::string renderMemberTable(const nlohmann::json& cluster, const std::string& scope);

}  // namespace keel::cli
