#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "pg/postgres.h"

// The agent's side of keel_fence (src/pgext/keel_fence.c): an 8-byte file, mapped shared, that
// holds the leader-lease deadline as nanoseconds of CLOCK_MONOTONIC. PostgreSQL backends refuse
// to commit a writing transaction once that time has passed, which keeps holding while the
// agent itself is frozen. 0 means "no lease" (refuse), kNoDeadline "maintenance mode" (accept).
namespace keel::pg {

class FenceDeadlineFile {
 public:
  static constexpr std::int64_t kNoDeadline = INT64_MAX;

  // Creates (or reuses) `path` with mode 0644 and stores 0 in it.
  static PgResult<std::unique_ptr<FenceDeadlineFile>> open(const std::string& path);
  ~FenceDeadlineFile();
  FenceDeadlineFile(const FenceDeadlineFile&) = delete;
  FenceDeadlineFile& operator=(const FenceDeadlineFile&) = delete;

  // One atomic store, safe from any thread.
  void store(std::int64_t monotonic_ns);
  std::int64_t load() const;
  const std::string& path() const { return path_; }

 private:
  FenceDeadlineFile(std::string path, std::int64_t* value)
      : path_(std::move(path)), value_(value) {}
  std::string path_;
  std::int64_t* value_;
};

// keel_fence.so next to the running keel binary, or "" when it is not there.
std::string fenceLibraryNextToExecutable();

}  // namespace keel::pg
