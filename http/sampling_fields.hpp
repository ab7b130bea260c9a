#pragma once
// The sampling and stop fields /v1/completions and /v1/chat/completions share beyond the basic
// ones of request_fields: stop, stop_token_ids, include_stop_str_in_output, skip_special_tokens,
// min_p, presence/frequency/repetition penalties, logit_bias, min_tokens; and the server-wide
// defaults (runtime::sampling_defaults) for what a request leaves unset. vLLM's ranges and
// messages. Internal to http/: it exposes rapidjson types.
#include <string>

#include "http/request_fields.hpp"

namespace troupe::http {

// Reads the fields above into `out` (after max_tokens was read: min_tokens is checked against
// it), then applies `limits.defaults`.
parse_error read_sampling_fields(const Value& body, const completion_limits& limits,
                                 completion_request& out);

// A double as Python's repr writes it (3.0, 0.5, 1e-05, inf), for vLLM's error messages.
std::string py_float(double value);

}  // namespace troupe::http
