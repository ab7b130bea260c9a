#pragma once
// vLLM's --api-key (or VLLM_API_KEY): requests to the API's paths must carry
// `Authorization: Bearer <key>` naming one of the keys, or get 401 {"error": "Unauthorized"}.
// As vLLM's authentication middleware: only paths under /v1, /v2, /inference and /cohere are
// guarded (/health, /metrics, /tokenize, /dashboard, ... stay open), an OPTIONS request never is
// (a browser's CORS preflight carries no credentials), the scheme is case-insensitive and the
// key is everything after the first space. Keys are compared in time that does not depend on
// where they differ.
#include <string>
#include <string_view>
#include <vector>

namespace troupe::http {

// Whether a request to `path` (no query string) with `method` needs a key.
bool api_key_guarded(std::string_view method, std::string_view path);

// Whether an Authorization header value (empty: none) names one of `keys`.
bool api_key_accepted(const std::vector<std::string>& keys, std::string_view authorization);

// The keys a server takes: --api-key's when given, else VLLM_API_KEY's (`environment`, null when
// unset); empty keys are dropped, and no keys at all means no check.
std::vector<std::string> effective_api_keys(const std::vector<std::string>& flag_keys,
                                            const char* environment);

}  // namespace troupe::http
