#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/http_message.h"

namespace keel::api {

// The Router's view of a request Beast parsed: method upper-cased, target split and
// percent-decoded (parseTarget), header names lower-cased with repeated headers joined by ", "
// (RFC 9110 5.3), body as received. Pure; used by HttpServer and the REST fuzz target.
HttpRequest fromBeastRequest(
    const boost::beast::http::request<boost::beast::http::string_body>& request);

}  // namespace keel::api
