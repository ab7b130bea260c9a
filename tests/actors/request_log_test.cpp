// --enable-log-requests lines: logfmt, one per lifecycle event.
#include "actors/request_log.hpp"

#include <gtest/gtest.h>

namespace troupe::actors {
namespace {

TEST(RequestLog, FieldsInOrderAsKeyValuePairs) {
  EXPECT_EQ(request_log_line(7, "received")
                .add("request_id", "cmpl-3-0")
                .add("prompt_tokens", int32_t{5})
                .add("seed", uint64_t{18446744073709551615u})
                .add("temperature", 0.7)
                .add("ttft_s", 0.0131234567)
                .str(),
            "request id=7 event=received request_id=cmpl-3-0 prompt_tokens=5 "
            "seed=18446744073709551615 temperature=0.7 ttft_s=0.0131235");
}

TEST(RequestLog, ValuesThatWouldBreakTheLineAreQuoted) {
  EXPECT_EQ(logfmt_value("plain-value_1.5"), "plain-value_1.5");
  EXPECT_EQ(logfmt_value(""), "\"\"");
  EXPECT_EQ(logfmt_value("two words"), "\"two words\"");
  EXPECT_EQ(logfmt_value("a=b"), "\"a=b\"");
  EXPECT_EQ(logfmt_value("say \"hi\"\\\n\tend"), "\"say \\\"hi\\\"\\\\\\n\\tend\"");
  EXPECT_EQ(request_log_line(1, "failed").add("error", "prompt too long").str(),
            "request id=1 event=failed error=\"prompt too long\"");
}

}  // namespace
}  // namespace troupe::actors
