// The server's /tokenize and /detokenize as the tokenizer (mock server: word vocabulary of 1000),
// and the random dataset sampled through them.
#include "loadgen/remote_tokenizer.hpp"

#include <gtest/gtest.h>

#include "loadgen/datasets.hpp"
#include "tests/loadgen/mock_server.hpp"

namespace troupe::loadgen {
namespace {

http_endpoint endpoint_of(const test_support::mock_server& server) {
  http_endpoint e;
  e.port = std::to_string(server.port());
  return e;
}

TEST(remote_tokenizer, finds_the_vocabulary_and_round_trips) {
  test_support::mock_server server(0.001, 0.001);
  auto tok = remote_tokenizer::connect(endpoint_of(server), "", "mock");
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ((*tok)->vocab_size(), 1000);
  EXPECT_LT(server.num_tokenizer_calls(), 30);
  EXPECT_EQ((*tok)->encode("w5 w999 hello", false), (std::vector<int32_t>{5, 999, 0}));
  const int32_t ids[] = {7, 8};
  EXPECT_EQ((*tok)->decode(ids, true), "w7 w8");
  EXPECT_EQ((*tok)->token_bytes(42), "w42");
  EXPECT_FALSE((*tok)->first_error());
  const int32_t bad[] = {5000};
  EXPECT_EQ((*tok)->decode(bad, true), "");
  ASSERT_TRUE((*tok)->first_error());
  EXPECT_NE((*tok)->first_error()->find("400"), std::string::npos) << *(*tok)->first_error();
}

TEST(remote_tokenizer, random_dataset_through_the_server) {
  test_support::mock_server server(0.001, 0.001);
  auto tok = remote_tokenizer::connect(endpoint_of(server), "", "");
  ASSERT_TRUE(tok.ok()) << tok.message();
  auto requests = sample_random(*tok, {12, 4, 0.0, 3}, 5, 9);
  ASSERT_TRUE(requests.ok()) << requests.message();
  ASSERT_EQ(requests->size(), 5u);
  for (const auto& r : *requests) {
    EXPECT_EQ(r.prompt_len, 15);  // the word vocabulary round-trips exactly
    EXPECT_EQ(r.prompt.rfind('w', 0), 0u) << r.prompt;
    EXPECT_EQ(r.expected_output_len, 4);
  }
  EXPECT_FALSE((*tok)->first_error());
}

TEST(remote_tokenizer, a_server_without_the_endpoints_is_an_error) {
  auto tok = remote_tokenizer::connect(http_endpoint{"127.0.0.1", "1", "", {}}, "", "");
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.message().find("cannot connect"), std::string::npos) << tok.message();
}

}  // namespace
}  // namespace troupe::loadgen
