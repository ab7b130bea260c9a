// Request bodies per backend and the SSE parser's TTFT/ITL bookkeeping.
#include "loadgen/openai_stream.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace troupe::loadgen {
namespace {

TEST(request_body, completions_stream_with_usage_and_extra_body_wins) {
  body_options options;
  options.model = "m";
  options.ignore_eos = true;
  options.temperature = 0.0;
  options.extra_body = R"({"temperature": 0.7, "seed": 3})";
  ASSERT_TRUE(validate(options).ok());
  rapidjson::Document doc;
  doc.Parse(request_body(options, "hi \"there\"", 12).c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_STREQ(doc["prompt"].GetString(), "hi \"there\"");
  EXPECT_EQ(doc["max_tokens"].GetInt(), 12);
  EXPECT_TRUE(doc["stream"].GetBool());
  EXPECT_TRUE(doc["stream_options"]["include_usage"].GetBool());
  EXPECT_TRUE(doc["ignore_eos"].GetBool());
  EXPECT_DOUBLE_EQ(doc["temperature"].GetDouble(), 0.7);
  EXPECT_EQ(doc["seed"].GetInt(), 3);
  EXPECT_FALSE(doc.HasMember("top_p"));
  options.extra_body = "[1]";
  EXPECT_FALSE(validate(options).ok());
}

TEST(request_body, chat_uses_messages) {
  body_options options;
  options.backend = "openai-chat";
  options.model = std::string(1, 'm');  // GCC 12 -Wrestrict false positive on `= "m"` here
  rapidjson::Document doc;
  doc.Parse(request_body(options, "hello", 5).c_str());
  EXPECT_STREQ(doc["messages"][0]["role"].GetString(), "user");
  EXPECT_STREQ(doc["messages"][0]["content"].GetString(), "hello");
  EXPECT_EQ(doc["max_completion_tokens"].GetInt(), 5);
}

// benchmark_serving sends temperature 0 when --temperature is not given (the server's default
// would sample), and cache_prompt false to llama-server.
TEST(request_body, unset_temperature_is_sent_as_greedy) {
  body_options options;
  rapidjson::Document doc;
  doc.Parse(request_body(options, "x", 1).c_str());
  ASSERT_TRUE(doc.HasMember("temperature"));
  EXPECT_EQ(doc["temperature"].GetDouble(), 0.0);
  EXPECT_FALSE(doc.HasMember("cache_prompt"));
  options.temperature = 0.5;
  options.backend = "llama.cpp";
  doc.Parse(request_body(options, "x", 1).c_str());
  EXPECT_EQ(doc["temperature"].GetDouble(), 0.5);
  ASSERT_TRUE(doc.HasMember("cache_prompt"));
  EXPECT_FALSE(doc["cache_prompt"].GetBool());
}

TEST(sse_parser, timestamps_content_chunks_across_split_reads) {
  sse_parser p(false);
  p.feed("data: {\"choices\":[{\"text\":\"He\"}]}\n", 1.0);
  p.feed("\ndata: {\"choices\":[{\"te", 1.5);
  p.feed("xt\":\"llo\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"completion_tokens\":7}}\n\n", 2.0);
  EXPECT_FALSE(p.done());
  p.feed("data: [DONE]\n\n", 2.5);
  EXPECT_TRUE(p.done());
  EXPECT_DOUBLE_EQ(p.first_chunk_time(), 1.0);
  EXPECT_DOUBLE_EQ(p.last_chunk_time(), 2.0);
  ASSERT_EQ(p.itl().size(), 1u);
  EXPECT_DOUBLE_EQ(p.itl()[0], 1.0);
  EXPECT_EQ(p.text(), "Hello");
  EXPECT_EQ(p.output_tokens(), 7);
}

TEST(sse_parser, chat_deltas_crlf_and_streamed_errors) {
  sse_parser p(true);
  p.feed("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n", 0.1);
  p.feed("data: {\"choices\":[{\"delta\":{\"content\":\"A\"}}]}\r\n\r\n", 0.3);
  EXPECT_TRUE(p.got_content());
  EXPECT_DOUBLE_EQ(p.first_chunk_time(), 0.1);
  EXPECT_EQ(p.text(), "A");
  sse_parser e(false);
  e.feed("data: {\"error\":{\"message\":\"too long\"}}\n\n", 0.0);
  EXPECT_EQ(e.error(), "too long");
  EXPECT_FALSE(e.got_content());
}

}  // namespace
}  // namespace troupe::loadgen
