#include "http/cors.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <rapidjson/document.h>
#include <boost/beast/core/string.hpp>

namespace troupe::http {
namespace {

// What "*" in the allowed methods stands for (Starlette's list).
constexpr std::string_view all_methods[] = {"DELETE", "GET",  "HEAD", "OPTIONS",
                                            "PATCH",  "POST", "PUT",  "QUERY"};
// Headers a browser may always send; a policy's allowed headers add to them.
constexpr std::string_view safelisted_headers[] = {"Accept", "Accept-Language", "Content-Language",
                                                   "Content-Type"};

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string_view trim(std::string_view text) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && space(text.back()))
    text.remove_suffix(1);
  return text;
}

bool allows_any_origin(const cors_policy& policy) {
  return contains(policy.allowed_origins, "*");
}

bool allowed_origin(const cors_policy& policy, std::string_view origin) {
  return allows_any_origin(policy) || contains(policy.allowed_origins, origin);
}

std::vector<std::string> effective_methods(const cors_policy& policy) {
  if (contains(policy.allowed_methods, "*"))
    return std::vector<std::string>(std::begin(all_methods), std::end(all_methods));
  return policy.allowed_methods;
}

// The safelisted and allowed headers, sorted, as a preflight names them.
std::vector<std::string> effective_headers(const cors_policy& policy) {
  std::set<std::string> headers(std::begin(safelisted_headers), std::end(safelisted_headers));
  headers.insert(policy.allowed_headers.begin(), policy.allowed_headers.end());
  return {headers.begin(), headers.end()};
}

std::string header_line(std::string_view name, std::string_view value) {
  return fmt::format("{}: {}\r\n", name, value);
}

}  // namespace

std::optional<cors_preflight> cors_preflight_answer(const cors_policy& policy,
                                                    const cors_request& request) {
  if (request.method != "OPTIONS" || !request.origin || !request.request_method)
    return std::nullopt;
  const bool any_origin = allows_any_origin(policy);
  const bool explicit_origin = !any_origin || policy.allow_credentials;
  const bool any_header = contains(policy.allowed_headers, "*");
  const std::vector<std::string> methods = effective_methods(policy);
  const std::vector<std::string> headers = effective_headers(policy);
  cors_preflight answer;
  std::vector<std::string_view> failures;
  answer.headers = header_line("Vary",
                               "Origin, Access-Control-Request-Method, "
                               "Access-Control-Request-Headers, "
                               "Access-Control-Request-Private-Network");
  if (allowed_origin(policy, *request.origin)) {
    answer.headers += header_line("Access-Control-Allow-Origin",
                                  explicit_origin ? *request.origin : std::string_view("*"));
  } else {
    failures.push_back("origin");
  }
  answer.headers +=
      header_line("Access-Control-Allow-Methods", fmt::format("{}", fmt::join(methods, ", ")));
  answer.headers += header_line("Access-Control-Max-Age", "600");
  if (!contains(methods, *request.request_method)) failures.push_back("method");
  if (any_header) {
    // Whatever is asked for is allowed: named back as asked.
    if (request.request_headers)
      answer.headers += header_line("Access-Control-Allow-Headers", *request.request_headers);
  } else {
    answer.headers +=
        header_line("Access-Control-Allow-Headers", fmt::format("{}", fmt::join(headers, ", ")));
    if (request.request_headers) {
      const auto allowed = [&](std::string_view name) {
        return std::ranges::any_of(
            headers, [&](const std::string& h) { return boost::beast::iequals(h, name); });
      };
      std::string_view rest = *request.request_headers;
      while (true) {
        const size_t comma = rest.find(',');
        if (!allowed(trim(rest.substr(0, comma)))) {
          failures.push_back("headers");
          break;
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
  }
  if (policy.allow_credentials)
    answer.headers += header_line("Access-Control-Allow-Credentials", "true");
  // vLLM's server never allows private-network access.
  if (request.request_private_network) failures.push_back("private-network");
  if (failures.empty()) {
    answer.body = "OK";
  } else {
    answer.status = 400;
    answer.body = fmt::format("Disallowed CORS {}", fmt::join(failures, ", "));
  }
  return answer;
}

std::string cors_response_headers(const cors_policy& policy, const cors_request& request) {
  // Every answer varies with the Origin header; one to an allowed origin names it ("*" when any
  // origin is allowed without credentials).
  if (!request.origin) return header_line("Vary", "Origin");
  std::string out;
  const bool any_origin = allows_any_origin(policy);
  if (any_origin && !policy.allow_credentials)
    out += header_line("Access-Control-Allow-Origin", "*");
  if (policy.allow_credentials) out += header_line("Access-Control-Allow-Credentials", "true");
  if ((any_origin && policy.allow_credentials) ||
      (!any_origin && allowed_origin(policy, *request.origin))) {
    out += header_line("Access-Control-Allow-Origin", *request.origin);
  }
  return out + header_line("Vary", "Origin");
}

result<std::vector<std::string>> parse_json_string_list(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsArray())
    return error{fmt::format("expected a JSON list of strings, e.g. '[\"*\"]', got '{}'", text)};
  std::vector<std::string> out;
  for (const auto& item : doc.GetArray()) {
    if (!item.IsString())
      return error{fmt::format("expected a JSON list of strings, got '{}'", text)};
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}

}  // namespace troupe::http
