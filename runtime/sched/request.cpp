#include "runtime/sched/request.hpp"

#include <utility>

namespace troupe::runtime {

std::string_view to_string(finish_reason reason) {
  switch (reason) {
    case finish_reason::stop:
      return "stop";
    case finish_reason::length:
      return "length";
    case finish_reason::abort:
      return "abort";
    case finish_reason::none:
      break;
  }
  return "";
}

sched_request::sched_request(request_spec s) : spec(std::move(s)) {
  // The prompt moves into token_ids: spec.prompt_token_ids is empty from here on.
  token_ids = std::move(spec.prompt_token_ids);
  spec.prompt_token_ids.clear();
  num_prompt_tokens = static_cast<int32_t>(token_ids.size());
  block_hashes = std::move(spec.prompt_block_hashes);
  spec.prompt_block_hashes.clear();
}

}  // namespace troupe::runtime
