// http/cors.hpp: vLLM's CORS answers (Starlette's middleware as vLLM 0.32 ships it).
#include "http/cors.hpp"

#include <gtest/gtest.h>

namespace troupe::http {
namespace {

cors_request preflight(std::string_view origin, std::string_view method,
                       std::optional<std::string_view> headers = std::nullopt) {
  return cors_request{"OPTIONS", origin, method, headers, std::nullopt};
}

cors_request simple(std::optional<std::string_view> origin) {
  return cors_request{"POST", origin, std::nullopt, std::nullopt, std::nullopt};
}

bool has_line(const std::string& headers, std::string_view line) {
  return headers.find(std::string(line) + "\r\n") != std::string::npos;
}

TEST(cors, only_options_with_an_origin_and_a_requested_method_is_a_preflight) {
  const cors_policy policy{{"*"}};
  EXPECT_FALSE(cors_preflight_answer(policy, simple("http://a.example")));
  EXPECT_FALSE(cors_preflight_answer(policy, {"OPTIONS", std::nullopt, "POST"}));
  EXPECT_FALSE(cors_preflight_answer(policy, {"OPTIONS", "http://a.example", std::nullopt}));
  EXPECT_TRUE(cors_preflight_answer(policy, preflight("http://a.example", "POST")));
}

TEST(cors, the_default_policy_refuses_every_origin) {
  const auto answer = cors_preflight_answer(cors_policy{}, preflight("http://a.example", "POST"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 400);
  EXPECT_EQ(answer->body, "Disallowed CORS origin");
  EXPECT_EQ(answer->headers.find("Access-Control-Allow-Origin"), std::string::npos);
  EXPECT_TRUE(has_line(answer->headers,
                       "Access-Control-Allow-Methods: DELETE, GET, HEAD, OPTIONS, PATCH, POST, "
                       "PUT, QUERY"));
  EXPECT_TRUE(has_line(answer->headers, "Access-Control-Max-Age: 600"));
  // A simple answer names no origin, and varies with it.
  EXPECT_EQ(cors_response_headers(cors_policy{}, simple("http://a.example")), "Vary: Origin\r\n");
  EXPECT_EQ(cors_response_headers(cors_policy{}, simple(std::nullopt)), "Vary: Origin\r\n");
}

TEST(cors, any_origin_is_answered_with_a_star_and_requested_headers_are_mirrored) {
  const cors_policy policy{{"*"}};
  const auto answer =
      cors_preflight_answer(policy, preflight("http://a.example", "POST", "Authorization, X-Y"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, "OK");
  EXPECT_TRUE(has_line(answer->headers, "Access-Control-Allow-Origin: *"));
  EXPECT_TRUE(has_line(answer->headers, "Access-Control-Allow-Headers: Authorization, X-Y"));
  EXPECT_EQ(cors_response_headers(policy, simple("http://a.example")),
            "Access-Control-Allow-Origin: *\r\nVary: Origin\r\n");
}

TEST(cors, listed_origins_are_named_back_and_others_refused) {
  const cors_policy policy{{"http://a.example", "http://b.example"}};
  const auto allowed = cors_preflight_answer(policy, preflight("http://b.example", "GET"));
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200);
  EXPECT_TRUE(has_line(allowed->headers, "Access-Control-Allow-Origin: http://b.example"));
  // No headers asked for: none named (every header is allowed).
  EXPECT_EQ(allowed->headers.find("Access-Control-Allow-Headers"), std::string::npos);
  const auto refused = cors_preflight_answer(policy, preflight("http://c.example", "GET"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_EQ(cors_response_headers(policy, simple("http://a.example")),
            "Access-Control-Allow-Origin: http://a.example\r\nVary: Origin\r\n");
  EXPECT_EQ(cors_response_headers(policy, simple("http://A.example")), "Vary: Origin\r\n");
}

TEST(cors, methods_and_headers_outside_the_lists_are_refused_together) {
  const cors_policy policy{{"*"}, {"GET", "POST"}, {"Authorization"}};
  const auto ok = cors_preflight_answer(
      policy, preflight("http://a.example", "POST", "authorization , content-type"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_TRUE(has_line(ok->headers, "Access-Control-Allow-Methods: GET, POST"));
  EXPECT_TRUE(has_line(ok->headers,
                       "Access-Control-Allow-Headers: Accept, Accept-Language, Authorization, "
                       "Content-Language, Content-Type"));
  const auto refused =
      cors_preflight_answer(policy, preflight("http://a.example", "DELETE", "X-Other"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_EQ(refused->body, "Disallowed CORS method, headers");
  // Private-network access is never allowed.
  const auto private_network =
      cors_preflight_answer(policy, {"OPTIONS", "http://a.example", "GET", std::nullopt, "true"});
  ASSERT_TRUE(private_network);
  EXPECT_EQ(private_network->body, "Disallowed CORS private-network");
}

TEST(cors, credentials_name_the_origin_even_when_any_is_allowed) {
  const cors_policy policy{{"*"}, {"*"}, {"*"}, true};
  const auto answer = cors_preflight_answer(policy, preflight("http://a.example", "POST"));
  ASSERT_TRUE(answer);
  EXPECT_TRUE(has_line(answer->headers, "Access-Control-Allow-Origin: http://a.example"));
  EXPECT_TRUE(has_line(answer->headers, "Access-Control-Allow-Credentials: true"));
  EXPECT_EQ(cors_response_headers(policy, simple("http://a.example")),
            "Access-Control-Allow-Credentials: true\r\nAccess-Control-Allow-Origin: "
            "http://a.example\r\nVary: Origin\r\n");
}

TEST(cors, flag_values_are_json_lists_of_strings) {
  auto origins = parse_json_string_list(R"(["http://a.example", "*"])");
  ASSERT_TRUE(origins.ok()) << origins.message();
  EXPECT_EQ(*origins, (std::vector<std::string>{"http://a.example", "*"}));
  EXPECT_TRUE(parse_json_string_list("[]").ok());
  EXPECT_FALSE(parse_json_string_list("*").ok());
  EXPECT_FALSE(parse_json_string_list("[1]").ok());
  EXPECT_FALSE(parse_json_string_list(R"({"a": "b"})").ok());
}

}  // namespace
}  // namespace troupe::http
