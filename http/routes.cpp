#include "http/routes.hpp"

#include <algorithm>
#include <array>

namespace troupe::http {
namespace {

constexpr std::array<route, 17> route_table = {{
    {"/v1/completions", method_post, endpoint::completions},
    {"/v1/chat/completions", method_post, endpoint::chat_completions},
    {"/v1/messages", method_post, endpoint::messages},  // Anthropic's Messages API, as vLLM
    {"/v1/messages/count_tokens", method_post, endpoint::count_tokens},
    {"/v1/responses", method_post, endpoint::responses},  // OpenAI's Responses API, as vLLM
    {"/v1/responses/", method_get | method_post, endpoint::response_by_id, /*prefix=*/true},
    // GET with a body too, as vLLM's FastAPI routes accept it.
    {"/tokenize", method_get | method_post, endpoint::tokenize},
    {"/detokenize", method_get | method_post, endpoint::detokenize},
    {"/v1/models", method_get, endpoint::models},
    {"/health", method_get, endpoint::health},
    {"/ping", method_get | method_post, endpoint::health},  // vLLM's (SageMaker's) health check
    {"/version", method_get, endpoint::version},
    {"/load", method_get, endpoint::load},
    {"/reset_prefix_cache", method_post, endpoint::reset_prefix_cache},
    {"/metrics", method_get, endpoint::metrics},
    {"/v1/telemetry", method_get, endpoint::telemetry},
    {"/dashboard", method_get, endpoint::dashboard},
}};

}  // namespace

std::span<const route> routes() {
  return route_table;
}

std::string_view target_path(std::string_view target) {
  return target.substr(0, target.find('?'));
}

std::string_view route_path(std::string_view path, std::string_view root_path) {
  if (root_path.empty() || !path.starts_with(root_path)) return path;
  const std::string_view rest = path.substr(root_path.size());
  return rest.empty() || rest.front() == '/' ? rest : path;
}

const route* find_route(std::string_view path) {
  auto it = std::find_if(route_table.begin(), route_table.end(),
                         [&](const route& r) { return r.path == path; });
  if (it == route_table.end()) {
    it = std::find_if(route_table.begin(), route_table.end(),
                      [&](const route& r) { return r.prefix && path.starts_with(r.path); });
  }
  return it == route_table.end() ? nullptr : &*it;
}

bool allows(const route& r, std::string_view method) {
  if (method == "GET") return (r.methods & method_get) != 0;
  if (method == "POST") return (r.methods & method_post) != 0;
  return false;
}

}  // namespace troupe::http
