#include "http/response_store.hpp"

namespace troupe::http {

void response_store::put(const std::string& id, entry e) {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  auto [it, added] = entries_.insert_or_assign(id, std::move(e));
  if (!added) return;
  order_.push_back(id);
  while (order_.size() > capacity_) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
}

std::optional<response_store::entry> response_store::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::size_t response_store::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace troupe::http
