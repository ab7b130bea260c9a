#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>

#include "actors/engine.hpp"
#include "tools/cli/engine_startup.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

// Collects one generation's events; wait() returns once the final event arrived.
class collecting_sink : public actors::generation_sink {
 public:
  void on_event(actors::generation_event event) override {
    std::lock_guard lock(mutex_);
    text_ += event.text;
    token_ids_.insert(token_ids_.end(), event.token_ids.begin(), event.token_ids.end());
    logprobs_.insert(logprobs_.end(), event.logprobs.begin(), event.logprobs.end());
    if (event.finished || event.error) {
      last_ = std::move(event);
      done_ = true;
      cv_.notify_all();
    }
  }

  // Called after wait(): the final event and everything accumulated.
  const actors::generation_event& wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return done_; });
    return last_;
  }
  const std::string& text() const { return text_; }
  const std::vector<int32_t>& token_ids() const { return token_ids_; }
  const std::vector<actors::token_logprob>& logprobs() const { return logprobs_; }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  actors::generation_event last_;
  std::string text_;
  std::vector<int32_t> token_ids_;
  std::vector<actors::token_logprob> logprobs_;
};

// --generation-config defaults for what the command line leaves unset (vLLM: a request's own
// value wins); its eos_token_id list joins stop_token_ids unless --ignore-eos.
void apply_sampling_defaults(const command_line& cl, const runtime::sampling_defaults& d,
                             actors::generation_request& request) {
  if (d.temperature && !cl.was_given("temperature")) request.sampling.temperature = *d.temperature;
  if (d.top_p && !cl.was_given("top-p")) request.sampling.top_p = *d.top_p;
  if (d.top_k && !cl.was_given("top-k")) request.sampling.top_k = *d.top_k;
  if (d.min_p) request.sampling.min_p = *d.min_p;
  if (d.repetition_penalty) request.sampling.repetition_penalty = *d.repetition_penalty;
  if (d.max_tokens && !cl.was_given("max-tokens")) request.max_tokens = *d.max_tokens;
  if (!request.ignore_eos) {
    request.stop_token_ids.insert(request.stop_token_ids.end(), d.eos_token_ids.begin(),
                                  d.eos_token_ids.end());
  }
}

actors::generation_request make_request(const generate_options& options) {
  actors::generation_request request;
  request.request_id = "generate-0";
  if (options.prompt_ids) {
    request.prompt_token_ids = *options.prompt_ids;
  } else {
    request.prompt = options.prompt;
  }
  request.max_tokens = options.max_tokens;
  request.ignore_eos = options.ignore_eos;
  request.logprobs = options.logprobs;
  request.sampling.temperature = static_cast<float>(options.temperature);
  request.sampling.top_p = static_cast<float>(options.top_p);
  request.sampling.top_k = options.top_k;
  request.sampling.seed = options.seed ? *options.seed : std::random_device{}();
  return request;
}

// {"<id>": logprob, ...} per generated token: the sampled token first, then the most likely.
void write_logprobs(rapidjson::Writer<rapidjson::StringBuffer>& out,
                    const std::vector<actors::token_logprob>& logprobs) {
  out.StartArray();
  for (const auto& token : logprobs) {
    out.StartObject();
    const std::string sampled = std::to_string(token.token_id);
    out.Key(sampled.c_str());
    out.Double(token.logprob);
    for (const auto& [id, logprob] : token.top) {
      if (id == token.token_id) continue;
      out.Key(std::to_string(id).c_str());
      out.Double(logprob);
    }
    out.EndObject();
  }
  out.EndArray();
}

void print_json(const collecting_sink& sink, const actors::generation_event& last) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> out(buffer);
  out.StartObject();
  out.Key("token_ids");
  out.StartArray();
  for (int32_t id : sink.token_ids())
    out.Int(id);
  out.EndArray();
  out.Key("text");
  out.String(sink.text().data(), static_cast<rapidjson::SizeType>(sink.text().size()));
  out.Key("finish_reason");
  out.String(last.finish_reason.c_str());
  out.Key("num_prompt_tokens");
  out.Int(last.num_prompt_tokens);
  if (!sink.logprobs().empty()) {
    out.Key("logprobs");
    write_logprobs(out, sink.logprobs());
  }
  out.EndObject();
  std::printf("%s\n", buffer.GetString());
}

}  // namespace

int run_generate(const command_line& cl) {
  auto defaults = load_sampling_defaults(cl);
  if (!defaults) {
    std::fprintf(stderr, "troupe generate: %s\n", defaults.message().c_str());
    return 1;
  }
  // Offline, as vLLM's LLM class defaults: no engine metrics, no periodic stats line.
  command_line offline = cl;
  offline.engine.disable_log_stats = true;
  auto started = start_engine_from_flags(offline);
  if (!started) {
    std::fprintf(stderr, "troupe generate: %s\n", started.message().c_str());
    return 1;
  }
  actors::generation_request request = make_request(cl.generate);
  apply_sampling_defaults(cl, *defaults, request);
  auto sink = std::make_shared<collecting_sink>();
  started->engine->submit(request, sink);
  const actors::generation_event& last = sink->wait();
  if (last.error) {
    std::fprintf(stderr, "troupe generate: %s\n", last.error->c_str());
    return 1;
  }
  if (cl.generate.json) {
    print_json(*sink, last);
  } else {
    std::printf("%s\n", sink->text().c_str());
  }
  return 0;
}

}  // namespace troupe::cli
