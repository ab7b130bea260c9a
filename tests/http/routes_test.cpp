// The route table: every endpoint once, exact path matches, the query string ignored, methods.
#include "http/routes.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace troupe::http {
namespace {

TEST(routes, every_path_and_handler_appears_once) {
  std::set<std::string_view> paths;
  std::set<endpoint> handlers;
  for (const route& r : routes()) {
    EXPECT_TRUE(paths.insert(r.path).second) << r.path;
    // /ping is vLLM's other name of /health.
    if (r.path == "/ping") EXPECT_EQ(r.handler, endpoint::health);
    if (r.path != "/ping") EXPECT_TRUE(handlers.insert(r.handler).second) << r.path;
    EXPECT_NE(r.methods, 0) << r.path;
    EXPECT_EQ(find_route(r.path), &r);
  }
  EXPECT_EQ(handlers.size(), 16u);
}

TEST(routes, paths_match_exactly_without_the_query) {
  EXPECT_EQ(target_path("/reset_prefix_cache?device=gpu"), "/reset_prefix_cache");
  EXPECT_EQ(target_path("/health"), "/health");
  ASSERT_NE(find_route("/reset_prefix_cache"), nullptr);
  EXPECT_EQ(find_route("/reset_prefix_cache")->handler, endpoint::reset_prefix_cache);
  EXPECT_EQ(find_route("/reset_prefix_cache/"), nullptr);
  EXPECT_EQ(find_route("/v1/completion"), nullptr);
  EXPECT_EQ(find_route(""), nullptr);
  // A prefix route takes its path parameters.
  ASSERT_NE(find_route("/v1/responses/resp_1/cancel"), nullptr);
  EXPECT_EQ(find_route("/v1/responses/resp_1/cancel")->handler, endpoint::response_by_id);
  EXPECT_EQ(find_route("/v1/responses")->handler, endpoint::responses);
}

// --root-path: Starlette's get_route_path.
TEST(routes, a_root_path_prefix_is_taken_off_when_a_slash_or_nothing_follows) {
  EXPECT_EQ(route_path("/api/v1/models", "/api"), "/v1/models");
  EXPECT_EQ(route_path("/v1/models", "/api"), "/v1/models");
  EXPECT_EQ(route_path("/api", "/api"), "");
  EXPECT_EQ(route_path("/apiv1/models", "/api"), "/apiv1/models");
  EXPECT_EQ(route_path("/api/v1/models", ""), "/api/v1/models");
  EXPECT_EQ(route_path("/api/v1/models", "/api/"), "/api/v1/models");
}

TEST(routes, methods) {
  const route& reset = *find_route("/reset_prefix_cache");
  EXPECT_TRUE(allows(reset, "POST"));
  EXPECT_FALSE(allows(reset, "GET"));
  EXPECT_FALSE(allows(reset, "post"));  // methods are case-sensitive
  const route& tokenize = *find_route("/tokenize");
  EXPECT_TRUE(allows(tokenize, "GET"));
  EXPECT_TRUE(allows(tokenize, "POST"));
  EXPECT_FALSE(allows(tokenize, "PUT"));
  EXPECT_TRUE(allows(*find_route("/health"), "GET"));
  EXPECT_FALSE(allows(*find_route("/v1/completions"), "GET"));
}

}  // namespace
}  // namespace troupe::http
