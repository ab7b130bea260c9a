#pragma once
// The wire side of one benchmark request, without sockets: the JSON body benchmark_serving sends
// for each backend, and the server-sent-events parser that turns streamed bytes into TTFT / ITL
// timestamps exactly as benchmark_serving's request functions do:
//
//   every `data: {...}` event whose "choices" is non-empty is a content chunk: the first sets
//   TTFT, each later one appends (t - previous chunk) to ITL; an event with "usage" gives the
//   output token count; `data: [DONE]` ends the stream; E2EL = last chunk - send.
//
// Thread: one parser per request, used by one thread at a time.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace troupe::loadgen {

struct body_options {
  std::string backend = "vllm";  // "vllm" / "openai": completions; "openai-chat": chat
  std::string model;             // the "model" field (served name, else --model); empty: omitted
  bool ignore_eos = false;
  std::optional<double> temperature;  // none: 0 (greedy), as benchmark_serving sends
  std::optional<double> top_p;
  std::optional<int32_t> top_k;
  std::string extra_body;  // a JSON object merged last (its keys win)
};

// Errors when extra_body is not a JSON object.
status validate(const body_options& options);

// requires: validate(options) is ok.
std::string request_body(const body_options& options, const std::string& prompt,
                         int32_t max_tokens);

class sse_parser {
 public:
  explicit sse_parser(bool chat) : chat_(chat) {}

  // Bytes of the response body that arrived at `t` (seconds, the caller's clock).
  void feed(std::string_view bytes, double t);

  bool done() const { return done_; }  // [DONE] seen
  bool got_content() const { return first_ >= 0; }
  double first_chunk_time() const { return first_; }
  double last_chunk_time() const { return last_; }
  const std::vector<double>& itl() const { return itl_; }
  const std::string& text() const { return text_; }
  int32_t output_tokens() const { return output_tokens_; }  // 0 = no usage seen
  const std::string& error() const { return error_; }       // an "error" object the server streamed

 private:
  void on_data(std::string_view data, double t);

  bool chat_;
  std::string pending_;  // bytes after the last complete line
  bool done_ = false;
  double first_ = -1, last_ = -1;
  std::vector<double> itl_;
  std::string text_;
  int32_t output_tokens_ = 0;
  std::string error_;
};

}  // namespace troupe::loadgen
