// http/api_keys.hpp: vLLM's --api-key check.
#include "http/api_keys.hpp"

#include <gtest/gtest.h>

namespace troupe::http {
namespace {

TEST(api_keys, the_api_prefixes_are_guarded_and_options_never) {
  for (const char* path : {"/v1/models", "/v1/chat/completions", "/v1", "/v2/x", "/inference/y",
                           "/cohere/z", "/v1telemetry"})
    EXPECT_TRUE(api_key_guarded("POST", path)) << path;
  for (const char* path : {"/health", "/metrics", "/tokenize", "/dashboard", "/version", "/"})
    EXPECT_FALSE(api_key_guarded("GET", path)) << path;
  EXPECT_FALSE(api_key_guarded("OPTIONS", "/v1/models"));
}

TEST(api_keys, a_bearer_token_must_name_one_of_the_keys) {
  const std::vector<std::string> keys = {"secret-1", "other"};
  EXPECT_TRUE(api_key_accepted(keys, "Bearer secret-1"));
  EXPECT_TRUE(api_key_accepted(keys, "bEaReR other"));
  EXPECT_FALSE(api_key_accepted(keys, ""));
  EXPECT_FALSE(api_key_accepted(keys, "Bearer"));
  EXPECT_FALSE(api_key_accepted(keys, "Bearer "));
  EXPECT_FALSE(api_key_accepted(keys, "Bearer secret-2"));
  EXPECT_FALSE(api_key_accepted(keys, "Bearer secret-1 "));  // the rest of the line is the key
  EXPECT_FALSE(api_key_accepted(keys, "Bearer secret"));
  EXPECT_FALSE(api_key_accepted(keys, "Basic secret-1"));
  EXPECT_FALSE(api_key_accepted(keys, "secret-1"));
  EXPECT_FALSE(api_key_accepted({}, "Bearer secret-1"));
}

TEST(api_keys, the_flag_wins_over_the_environment_and_empty_keys_are_none) {
  EXPECT_EQ(effective_api_keys({"a", "b"}, "env"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(effective_api_keys({}, "env"), (std::vector<std::string>{"env"}));
  EXPECT_TRUE(effective_api_keys({}, nullptr).empty());
  EXPECT_TRUE(effective_api_keys({}, "").empty());
  EXPECT_EQ(effective_api_keys({"", "a"}, nullptr), (std::vector<std::string>{"a"}));
}

}  // namespace
}  // namespace troupe::http
