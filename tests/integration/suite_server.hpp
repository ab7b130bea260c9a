#pragma once
// The engine and HTTP server that a test suite starts once (in SetUpTestSuite, from what
// runtime::build_engine or assemble_engine built) and shares among its tests.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "actors/engine.hpp"
#include "http/server.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "tests/http/test_client.hpp"
#include "tests/integration/completions.hpp"

namespace troupe::testing {

// The engine the default-model suites serve: 256 KV blocks, and 64-token steps so that long
// prompts are chunked and share steps with decodes.
inline runtime::engine_config default_model_suite_config() {
  runtime::engine_config config;
  config.num_gpu_blocks_override = 256;
  config.max_num_batched_tokens = 64;
  config.disable_log_requests = true;
  return config;
}

// The value of the sample `name` (labels included, as exported) in Prometheus text, or -1.
inline double sample_value(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

class suite_server {
 public:
  // Starts the engine and a server on a free port with request logging off (and, when given, a
  // chat template for /v1/chat/completions); on failure a fatal test failure, and engine() stays
  // null (the suite's tests then skip or fail).
  void start(result<runtime::built_engine> built,
             std::shared_ptr<const http::chat_template_setup> chat_template = nullptr) {
    ASSERT_TRUE(built) << built.message();
    auto started = actors::start_engine(std::move(*built));
    ASSERT_TRUE(started) << started.message();
    engine_ = std::move(*started);
    http::server_options options;
    options.port = 0;
    options.disable_log_requests = true;
    options.chat_template = std::move(chat_template);
    auto server = http::start_server(*engine_, options);
    ASSERT_TRUE(server) << server.message();
    server_ = std::move(*server);
  }
  // The server first: it holds the engine.
  void stop() {
    server_.reset();
    engine_.reset();
  }

  actors::engine* engine() const { return engine_.get(); }
  http::server& server() const { return *server_; }
  // GET /metrics' body.
  std::string metrics() const {
    http::testing::test_client client(server_->port());
    return client.request(http::testing::bhttp::verb::get, "/metrics").body;
  }

 private:
  std::unique_ptr<actors::engine> engine_;
  std::unique_ptr<http::server> server_;
};

// The streamed greedy answers (stream_text) of `max_tokens` tokens to `prompts`, one at a time,
// from a server of its own over what `built` holds; empty when it did not start (a failure is
// reported).
inline std::vector<std::string> answers_one_at_a_time(result<runtime::built_engine> built,
                                                      const std::vector<std::string>& prompts,
                                                      int32_t max_tokens) {
  suite_server one;
  one.start(std::move(built));
  std::vector<std::string> answers;
  if (one.engine() == nullptr) return answers;
  for (const auto& p : prompts)
    answers.push_back(stream_text(one.server().port(), p, max_tokens));
  one.stop();
  return answers;
}

// Once the engine is idle: no KV block held, and no executor of ranks 0 .. num_ranks - 1 of
// each of the num_engines data-parallel engines holding a sequence (troupe_executor_sequences);
// a failure shows what is still held.
inline void expect_everything_released(const suite_server& suite, int32_t num_ranks,
                                       int32_t num_engines = 1) {
  std::string text;
  for (int i = 0; i < 500; ++i) {
    text = suite.metrics();
    bool idle = suite.engine()->stats().num_kv_blocks_used == 0;
    for (int32_t d = 0; d < num_engines && idle; ++d) {
      for (int32_t r = 0; r < num_ranks && idle; ++r) {
        const std::string engine =
            num_engines > 1 ? ",engine=\"" + std::to_string(d) + "\"" : std::string();
        idle = sample_value(text, "troupe_executor_sequences{rank=\"" + std::to_string(r) + "\"" +
                                      engine + "}") == 0;
      }
    }
    if (idle) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "still held: " << suite.engine()->stats().num_kv_blocks_used << " blocks\n"
                << text;
}

}  // namespace troupe::testing
