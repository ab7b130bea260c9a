#pragma once
// Engine events of one answer and the chat options the rewriting responders
// (anthropic_responder, responses_responder) are tested with.
#include <memory>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "http/chat_output_parser.hpp"
#include "http/chat_responder.hpp"
#include "tests/http/fake_engine.hpp"

namespace troupe::http::testing {

// One event of a 5-token prompt's answer: `text` (of `ids`), `num_output` tokens so far, and the
// finish reason when it ends the answer.
inline actors::generation_event answer_piece(std::string text, int32_t num_output,
                                             std::string finish = "",
                                             std::vector<int32_t> ids = {}) {
  actors::generation_event e;
  e.text = std::move(text);
  e.token_ids = std::move(ids);
  e.num_prompt_tokens = 5;
  e.num_output_tokens = num_output;
  e.finished = !finish.empty();
  e.finish_reason = std::move(finish);
  return e;
}

// Chat options without framing (chunked false), usage in streams, logprobs off.
inline chat_responder_options unframed_chat_options(bool stream,
                                                    const runtime::tokenizer& tokenizer) {
  chat_responder_options o;
  o.response = responder_options{stream, /*include_usage=*/stream, true, /*chunked=*/false};
  o.logprobs = chat_logprobs_format{&tokenizer, -1};
  return o;
}

// A deepseek_r1 reasoning parser whose <think> and </think> are token ids 100 and 101.
inline void add_reasoning_parser(chat_responder_options& o) {
  o.make_parser = [] {
    reasoning_tokens markers;
    markers.start_id = 100;
    markers.end_id = 101;
    return std::make_unique<chat_output_parser>(
        reasoning_parser::make(reasoning_parser_kind::deepseek_r1, markers), nullptr, true);
  };
}

}  // namespace troupe::http::testing
