#include "proxy/parameter_set.h"

#include <strings.h>

#include <algorithm>
#include <functional>

namespace keel::proxy {
namespace {

int compareNames(std::string_view a, std::string_view b) {
  int c = strncasecmp(a.data(), b.data(), std::min(a.size(), b.size()));
  if (c != 0) {
    return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// The entry named `name` in sorted `entries`, or end().
template <typename Entries>
auto findName(Entries& entries, std::string_view name) {
  auto it = std::lower_bound(
      entries.begin(), entries.end(), name,
      [](const auto& e, std::string_view n) { return compareNames(e.first, n) < 0; });
  if (it != entries.end() && compareNames(it->first, name) == 0) {
    return it;
  }
  return entries.end();
}

std::size_t hashOf(const ParameterEntries& entries) {
  std::size_t h = entries.size();
  std::hash<std::string_view> hash;
  for (const auto& [name, value] : entries) {
    h = h * 1000003 ^ hash(name);
    h = h * 1000003 ^ hash(value);
  }
  return h;
}

}  // namespace

bool ParameterNameLess::operator()(std::string_view a, std::string_view b) const {
  return compareNames(a, b) < 0;
}

std::shared_ptr<const ParameterEntries> ParameterSets::intern(ParameterEntries entries) {
  const std::size_t hash = hashOf(entries);
  std::lock_guard lock(mu_);
  auto [first, last] = lists_.equal_range(hash);
  for (auto it = first; it != last; ++it) {
    if (auto list = it->second.lock(); list && *list == entries) {
      return list;
    }
  }
  if (lists_.size() >= sweep_at_) {
    sweepLocked();
  }
  // Not make_shared: the weak reference here would keep the whole block allocated.
  std::shared_ptr<const ParameterEntries> list(new ParameterEntries(std::move(entries)));
  lists_.emplace(hash, list);
  return list;
}

std::size_t ParameterSets::size() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(lists_.begin(), lists_.end(),
                                                [](const auto& e) { return !e.second.expired(); }));
}

void ParameterSets::sweepLocked() {
  for (auto it = lists_.begin(); it != lists_.end();) {
    it = it->second.expired() ? lists_.erase(it) : std::next(it);
  }
  sweep_at_ = std::max<std::size_t>(64, 2 * lists_.size());
}

const ParameterEntries ParameterSet::kEmpty;

ParameterSet ParameterSet::from(ParameterEntries entries, ParameterSets* sets) {
  // Stable, so that of equal names the later one comes last and wins below.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return compareNames(a.first, b.first) < 0; });
  ParameterEntries unique;
  unique.reserve(entries.size());
  for (auto& e : entries) {
    if (!unique.empty() && compareNames(unique.back().first, e.first) == 0) {
      unique.back().second = std::move(e.second);
    } else {
      unique.push_back(std::move(e));
    }
  }
  ParameterSet out;
  if (sets != nullptr) {
    out.base_ = sets->intern(std::move(unique));
  } else {
    out.base_ = std::make_shared<const ParameterEntries>(std::move(unique));
  }
  return out;
}

ParameterSet ParameterSet::from(const ParameterMap& map, ParameterSets* sets) {
  return from(ParameterEntries(map.begin(), map.end()), sets);
}

const std::string* ParameterSet::find(std::string_view name) const {
  if (auto c = findName(changes_, name); c != changes_.end()) {
    return &c->second;
  }
  const ParameterEntries& base = this->base();
  if (auto b = findName(base, name); b != base.end()) {
    return &b->second;
  }
  return nullptr;
}

void ParameterSet::set(std::string_view name, std::string_view value) {
  const ParameterEntries& base = this->base();
  auto b = findName(base, name);
  const bool as_base = b != base.end() && b->second == value;
  if (auto c = findName(changes_, name); c != changes_.end()) {
    if (as_base) {
      changes_.erase(c);
    } else {
      c->second = std::string(value);
    }
    return;
  }
  if (as_base) {
    return;
  }
  std::string spelled = b != base.end() ? b->first : std::string(name);
  auto at = std::lower_bound(
      changes_.begin(), changes_.end(), spelled,
      [](const auto& e, const std::string& n) { return compareNames(e.first, n) < 0; });
  changes_.emplace(at, std::move(spelled), std::string(value));
}

std::size_t ParameterSet::size() const {
  std::size_t n = base().size();
  for (const auto& [name, value] : changes_) {
    if (findName(base(), name) == base().end()) {
      ++n;
    }
  }
  return n;
}

ParameterEntries ParameterSet::entries() const {
  ParameterEntries out;
  forEach(
      [&](const std::string& name, const std::string& value) { out.emplace_back(name, value); });
  return out;
}

void ParameterSet::share(ParameterSets& sets) {
  ParameterEntries merged = entries();
  changes_ = ParameterEntries();
  base_ = sets.intern(std::move(merged));
}

}  // namespace keel::proxy
