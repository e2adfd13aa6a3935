#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace keel::proxy {

// Run-time parameter names compare case-insensitively, as PostgreSQL's GUC names do.
struct ParameterNameLess {
  bool operator()(std::string_view a, std::string_view b) const;
  using is_transparent = void;
};
using ParameterMap = std::map<std::string, std::string, ParameterNameLess>;

// Name/value pairs; in a ParameterSet's shared base, sorted by name with each name once.
using ParameterEntries = std::vector<std::pair<std::string, std::string>>;

// Keeps one copy of each parameter list that ParameterSets share: most clients of a proxy send
// the same startup parameters and are sent the same ParameterStatus values, so ten thousand of
// them hold a handful of lists between them. Lists live as long as a ParameterSet uses them.
// Thread-safe (sessions of every worker thread intern at login).
class ParameterSets {
 public:
  // The shared copy of `entries`, which must be sorted by name (ParameterNameLess) with each
  // name once.
  std::shared_ptr<const ParameterEntries> intern(ParameterEntries entries);
  // Distinct lists in use.
  std::size_t size() const;

 private:
  void sweepLocked();

  mutable std::mutex mu_;
  std::unordered_multimap<std::size_t, std::weak_ptr<const ParameterEntries>> lists_;
  std::size_t sweep_at_ = 64;  // lists_ size at which expired entries are dropped
};

// A client's run-time parameters (what it asked for, or what it was told PostgreSQL uses) held
// compactly for its whole life: a shared, immutable base plus the few names this client changed
// since. Unchanged, it costs the client two pointers and an empty vector. Names compare
// case-insensitively; an existing name keeps its first spelling. One owner thread.
class ParameterSet {
 public:
  ParameterSet() = default;
  // From pairs in any order; of a name given twice, the later value wins. The base is shared
  // through `sets` when given.
  static ParameterSet from(ParameterEntries entries, ParameterSets* sets = nullptr);
  static ParameterSet from(const ParameterMap& map, ParameterSets* sets = nullptr);

  // The value of `name`, or null. Valid until the next set().
  const std::string* find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  // Sets `name` to `value`, adding it when absent.
  void set(std::string_view name, std::string_view value);
  // Calls fn(name, value) for each parameter, in name order.
  template <typename Fn>
  void forEach(Fn&& fn) const;
  std::size_t size() const;
  bool empty() const { return size() == 0; }
  ParameterEntries entries() const;
  // The shared list this set is, when it has no changes of its own (else null): two sets with
  // the same list hold the same parameters.
  const std::shared_ptr<const ParameterEntries>* sharedList() const {
    return changes_.empty() && base_ ? &base_ : nullptr;
  }
  // Folds the changes into a base shared through `sets`, so that clients whose parameters
  // ended up alike (startup parameters plus the same defaults) hold one copy.
  void share(ParameterSets& sets);

 private:
  static const ParameterEntries kEmpty;
  const ParameterEntries& base() const { return base_ ? *base_ : kEmpty; }

  std::shared_ptr<const ParameterEntries> base_;
  // Sorted by name: new values for names of the base (spelled as there) and added names.
  ParameterEntries changes_;
};

template <typename Fn>
void ParameterSet::forEach(Fn&& fn) const {
  const ParameterEntries& base = this->base();
  ParameterNameLess less;
  auto b = base.begin();
  auto c = changes_.begin();
  while (b != base.end() || c != changes_.end()) {
    if (c == changes_.end() || (b != base.end() && less(b->first, c->first))) {
      fn(b->first, b->second);
      ++b;
    } else if (b == base.end() || less(c->first, b->first)) {
      fn(c->first, c->second);
      ++c;
    } else {
      fn(b->first, c->second);  // changed
      ++b;
      ++c;
    }
  }
}

}  // namespace keel::proxy
