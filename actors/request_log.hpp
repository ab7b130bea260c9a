#pragma once
// The lines --enable-log-requests writes: one per lifecycle event of a request, in logfmt
// (key=value; a value with a space, quote, '=' or control character is quoted and escaped), so
// `grep 'id=7 '` follows one request and a log pipeline can parse every field:
//
//   request id=7 event=received request_id=cmpl-3-0 prompt_tokens=5 max_tokens=16 n=1 ...
//   request id=7 event=queued waiting=1                          (batcher)
//   request id=7 event=scheduled cached_tokens=0                 (batcher, first admission)
//   request id=7 event=first_token ttft_s=0.0131
//   request id=7 event=finished request_id=cmpl-3-0 finish_reason=length prompt_tokens=5
//       output_tokens=16 cached_tokens=0 queue_s=... prefill_s=... decode_s=... inference_s=...
//       ttft_s=... e2e_s=...                                     (event=aborted for "abort")
//   request id=7 event=failed request_id=cmpl-3-0 status=400 error="..."
//
// Built only when request logging is on: it formats strings.
#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::actors {

class request_log_line {
 public:
  request_log_line(uint64_t id, std::string_view event);

  request_log_line& add(std::string_view key, std::string_view value);
  request_log_line& add(std::string_view key, const char* value) {
    return add(key, std::string_view{value});
  }
  request_log_line& add(std::string_view key, int64_t value);
  request_log_line& add(std::string_view key, int32_t value) {
    return add(key, static_cast<int64_t>(value));
  }
  request_log_line& add(std::string_view key, uint64_t value);
  request_log_line& add(std::string_view key, double value);  // 6 significant digits

  const std::string& str() const { return line_; }

 private:
  std::string line_;
};

// A logfmt value: as is, or quoted with \\, \" and \n, \t, \r escaped when it needs quoting.
std::string logfmt_value(std::string_view value);

}  // namespace troupe::actors
