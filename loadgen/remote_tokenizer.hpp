#pragma once
// A tokenizer that asks the server: POST /tokenize {"model", "prompt", "add_special_tokens"} ->
// {"tokens", "count"} and POST /detokenize {"model", "tokens"} -> {"prompt"} (vLLM's shapes),
// for `troupe bench` without a local --tokenizer (the random dataset, counting tokens).
//
// The vocabulary size is found when connecting, by bisection on which ids /detokenize accepts
// (vLLM and troupe answer 400 for an id outside the vocabulary): about 2 log2(vocab) requests.
// Special tokens are unknown here: bos/eos are -1, nothing is special, decode keeps every token.
//
// Plain HTTP or, for an https endpoint, TLS checked as http_stream_client does.
// Thread: every call opens its own connection; any thread, concurrently. encode/decode cannot
// return errors through the tokenizer interface: a failed call gives an empty result and is
// kept in first_error(), which callers check after using the tokenizer.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "loadgen/http_stream_client.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::loadgen {

class remote_tokenizer : public runtime::tokenizer {
 public:
  // `server`: host, port and headers; its target is ignored. `path_prefix` precedes
  // /tokenize and /detokenize (a --base-url path). `model` is sent unless empty. Errors when
  // the server does not answer /detokenize for id 0.
  static result<std::shared_ptr<remote_tokenizer>> connect(const http_endpoint& server,
                                                           std::string path_prefix,
                                                           std::string model);

  std::vector<int32_t> encode(std::string_view text, bool add_special) const override;
  std::string decode(std::span<const int32_t> ids, bool skip_special) const override;
  std::string token_bytes(int32_t id) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  int32_t bos_id() const override { return -1; }
  int32_t eos_id() const override { return -1; }
  bool is_special(int32_t) const override { return false; }
  bool is_eog(int32_t) const override { return false; }

  // The first failed /tokenize or /detokenize call since connect(), if any.
  std::optional<std::string> first_error() const;

  // Blocking POST of a JSON body to `path` (after the prefix); the status and body, or a
  // transport error. Exposed for the vocabulary search and tests.
  struct response {
    int status = 0;
    std::string body;
  };
  result<response> post(const std::string& path, const std::string& json) const;

 private:
  remote_tokenizer(http_endpoint server, std::string path_prefix, std::string model);
  template <class Stream>  // tcp::socket or a TLS stream over one
  result<response> exchange(Stream& stream, const std::string& path, const std::string& json) const;
  result<bool> accepts_id(int32_t id) const;  // /detokenize [id]: 200 true, 400 false
  result<int32_t> find_vocab_size() const;
  void note_error(const std::string& message) const;

  http_endpoint server_;
  std::string prefix_;
  std::string model_;
  int32_t vocab_size_ = 0;
  mutable std::mutex mutex_;
  mutable std::optional<std::string> first_error_;
};

}  // namespace troupe::loadgen
