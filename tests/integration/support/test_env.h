#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Helpers for integration tests that run real processes on loopback.
namespace keel::testsupport {

// A fresh directory under $TMPDIR (default /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "keel-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// `count` distinct TCP ports on 127.0.0.1 that were free a moment ago (bound to port 0 together,
// then released). Another process may still take one before the caller binds it.
std::vector<std::uint16_t> freeLoopbackPorts(int count);

// The last `lines` lines of a text file ("" if it cannot be read), for failure messages.
std::string fileTail(const std::string& path, int lines = 20);

}  // namespace keel::testsupport
