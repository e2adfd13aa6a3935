#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::pg {

// Quoting for the three text formats Keel writes for PostgreSQL. Pure functions.

// A libpq connection-string value: always single-quoted, with `\` and `'` backslash-escaped
// (PostgreSQL docs, libpq "Connection Strings", keyword/value form).
std::string quoteConninfoValue(std::string_view value);

// "k1='v1' k2='v2'" from keyword/value pairs, in the given order.
std::string renderConninfo(const std::vector<std::pair<std::string, std::string>>& pairs);

// A postgresql.conf string literal: single-quoted, `'` doubled, `\` and control characters
// backslash-escaped, as the configuration file scanner reads them back (PostgreSQL docs,
// "Parameter Interaction via the Configuration File").
std::string quoteConfString(std::string_view value);

// A role or database name in pg_hba.conf: bare when it is made of [A-Za-z0-9_], otherwise
// double-quoted (which also stops keywords such as "all" from matching specially).
// Names containing '"' or a line break cannot be written to pg_hba.conf; callers check with
// validHbaName first.
std::string quoteHbaName(std::string_view name);
bool validHbaName(std::string_view name);

// A postgresql.conf parameter name: [A-Za-z_][A-Za-z0-9_.]* (custom "ext.name" included).
bool validParameterName(std::string_view name);

}  // namespace keel::pg
