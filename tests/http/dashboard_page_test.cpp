// The /dashboard page as compiled in: self-contained (no external URL, no resource loaded from
// anywhere: no src=, <link>, @import or url()), every chart present, the scripts inlined; and the
// page's pure functions (http/dashboard/telemetry.js) under node, when node is installed.
#include "http/dashboard_page.hpp"

#include <cstdlib>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/testdata.hpp"

namespace troupe::http {
namespace {

TEST(dashboard_page, is_self_contained) {
  const std::string page(dashboard_html());
  ASSERT_GT(page.size(), 1000u);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  // Every include marker was replaced by its file.
  EXPECT_EQ(page.find("// include "), std::string::npos);
  EXPECT_EQ(page.find("/* include "), std::string::npos);
  EXPECT_NE(page.find("var T = (function"), std::string::npos);
  EXPECT_NE(page.find("var Charts = (function"), std::string::npos);
  EXPECT_NE(page.find("fetch(\"v1/telemetry\""), std::string::npos);
  // Nothing that would make the browser ask another host, or load anything at all.
  for (const char* banned : {"http:", "https:", "ws:", "wss:", "src=", "<link", "@import", "url(",
                             "@font-face", "<iframe", "<img", "//cdn", "fonts."}) {
    EXPECT_EQ(page.find(banned), std::string::npos) << banned;
  }
  // Protocol-relative URLs ("//host/...") in attributes or strings.
  EXPECT_FALSE(std::regex_search(page, std::regex(R"((["'(=]\s*)//[A-Za-z0-9])")));
  // The only link is relative.
  EXPECT_NE(page.find("href=\"metrics\""), std::string::npos);
}

TEST(dashboard_page, has_every_chart) {
  const std::string page(dashboard_html());
  for (const char* id :
       {"chart-tokens", "chart-requests", "chart-ttft", "chart-itl", "chart-e2e", "chart-kv",
        "chart-mailbox", "chart-busy", "chart-step-time", "chart-step-tokens"}) {
    EXPECT_NE(page.find(std::string("<canvas id=\"") + id + "\""), std::string::npos) << id;
    EXPECT_NE(page.find(std::string("[\"") + id + "\""), std::string::npos) << id << " not drawn";
  }
}

TEST(dashboard_page, telemetry_functions_under_node) {
  if (std::system("node --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "node is not installed (apt-get install nodejs)";
  }
  const std::string dir = testing::source_dir();
  const std::string command = "node " + dir + "/tests/http/dashboard_telemetry_test.js " + dir +
                              "/http/dashboard/telemetry.js";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace troupe::http
