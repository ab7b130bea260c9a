#include "http/api_keys.hpp"

#include <boost/beast/core/string.hpp>

namespace troupe::http {
namespace {

// Equal strings, in time that depends on the lengths only (every byte of `given` is compared).
bool equal_in_constant_time(std::string_view given, std::string_view key) {
  unsigned diff = given.size() == key.size() ? 0u : 1u;
  for (size_t i = 0; i < given.size(); ++i) {
    const unsigned char k = key.empty() ? 0 : static_cast<unsigned char>(key[i % key.size()]);
    diff |= static_cast<unsigned char>(given[i]) ^ k;
  }
  return diff == 0;
}

}  // namespace

bool api_key_guarded(std::string_view method, std::string_view path) {
  if (method == "OPTIONS") return false;
  for (std::string_view prefix : {"/v1", "/v2", "/inference", "/cohere"})
    if (path.starts_with(prefix)) return true;
  return false;
}

bool api_key_accepted(const std::vector<std::string>& keys, std::string_view authorization) {
  const size_t space = authorization.find(' ');
  if (authorization.empty() || !boost::beast::iequals(authorization.substr(0, space), "bearer"))
    return false;
  const std::string_view given =
      space == std::string_view::npos ? std::string_view() : authorization.substr(space + 1);
  bool match = false;
  for (const std::string& key : keys)  // every key compared, matched or not
    match |= equal_in_constant_time(given, key);
  return match;
}

std::vector<std::string> effective_api_keys(const std::vector<std::string>& flag_keys,
                                            const char* environment) {
  std::vector<std::string> keys;
  if (!flag_keys.empty()) {
    keys = flag_keys;
  } else if (environment != nullptr) {
    keys.emplace_back(environment);
  }
  std::erase(keys, std::string());
  return keys;
}

}  // namespace troupe::http
