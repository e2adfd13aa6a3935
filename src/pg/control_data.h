#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "pg/postgres.h"

namespace keel::pg {

// Parses `pg_controldata` output produced with LC_ALL=C ("Key:   value" lines). Pure.
// Fails (command_failed) when the system identifier, cluster state or checkpoint fields are
// missing, so a truncated or localized output is never mistaken for a valid reading.
PgResult<ControlData> parseControlData(std::string_view text);

// Parses a timeline history file (pg_wal/NNNNNNNN.history): one
// "parentTLI<TAB>switchpoint<TAB>reason" line a timeline this one descends from; blank lines
// and '#' comments are skipped (PostgreSQL docs, "Timelines"). Pure.
PgResult<std::vector<std::pair<int, WalPosition>>> parseTimelineHistory(std::string_view text);

}  // namespace keel::pg
