// loadgen::request_headers: the Bearer token a benchmark sends (OPENAI_API_KEY, as vLLM's
// benchmark) and --header's pairs over it.
#include <gtest/gtest.h>

#include "loadgen/http_stream_client.hpp"

namespace troupe::loadgen {
namespace {

using header_list = std::vector<std::pair<std::string, std::string>>;

TEST(request_headers, the_api_key_becomes_a_bearer_token) {
  EXPECT_EQ(request_headers({}, "sk-1"), (header_list{{"Authorization", "Bearer sk-1"}}));
  EXPECT_TRUE(request_headers({}, "").empty());
}

TEST(request_headers, header_flags_come_after_and_replace_the_same_name) {
  EXPECT_EQ(request_headers({{"x-a", "1"}}, "sk-1"),
            (header_list{{"Authorization", "Bearer sk-1"}, {"x-a", "1"}}));
  EXPECT_EQ(request_headers({{"authorization", "Bearer other"}}, "sk-1"),
            (header_list{{"authorization", "Bearer other"}}));
  EXPECT_EQ(request_headers({{"x-a", "1"}, {"X-A", "2"}}, ""), (header_list{{"X-A", "2"}}));
}

}  // namespace
}  // namespace troupe::loadgen
