// The line protocol of `troupe chat-template`.
#include <gtest/gtest.h>

#include "runtime/chat_template/chat_template.hpp"

namespace troupe::runtime {
namespace {

TEST(chat_template_jsonl, renders_or_reports_each_line) {
  auto tpl = chat_template::parse(
      "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"
      "{% if add_generation_prompt %}>{% endif %}{{ tools | tojson }}{{ flag }}"
      "{% if messages | length > 1 %}{{ raise_exception('one message only') }}{% endif %}");
  ASSERT_TRUE(tpl.ok()) << tpl.message();
  std::vector<std::pair<std::string, std::string>> special = {{"bos_token", "<s>"}};
  EXPECT_EQ(
      render_jsonl_line(*tpl, special, R"({"messages": [{"role": "user", "content": "é\n"}]})"),
      R"({"rendered":"<s>é\nnull"})");
  EXPECT_EQ(render_jsonl_line(*tpl, special,
                              R"({"messages": [], "add_generation_prompt": true,
                                  "tools": [{"b": 1, "a": 2}], "extra_context": {"flag": 7}})"),
            R"({"rendered":"<s>>[{\"b\": 1, \"a\": 2}]7"})");
  EXPECT_EQ(render_jsonl_line(*tpl, special, R"({"messages": [{}, {}]})"),
            R"({"error":"one message only"})");
  EXPECT_EQ(render_jsonl_line(*tpl, special, "not json"),
            R"({"error":"line is not a JSON object"})");
  EXPECT_EQ(render_jsonl_line(*tpl, special, R"({"messages": 3})"),
            R"({"error":"\"messages\" must be an array"})");
  EXPECT_EQ(render_jsonl_line(*tpl, special, R"({"messages": [], "extra_context": []})"),
            R"({"error":"\"extra_context\" must be an object"})");
}

}  // namespace
}  // namespace troupe::runtime
