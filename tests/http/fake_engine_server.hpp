#pragma once
// The fixture of HTTP tests that serve a fake_engine: start() (re)starts the server on a free port
// with request logging off (unless asked) and the test's other options.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "http/server.hpp"
#include "tests/http/fake_engine.hpp"

namespace troupe::http::testing {

class fake_engine_server : public ::testing::Test {
 protected:
  // `access_log`: keep the options' access lines (off otherwise, to keep test output short).
  void start(server_options options = {}, bool access_log = false) {
    server_.reset();
    options.port = 0;
    if (!access_log) options.disable_log_requests = true;
    auto started = start_server(engine_, options);
    ASSERT_TRUE(started.ok()) << started.message();
    server_ = std::move(started.value());
  }

  uint16_t port() const { return server_->port(); }

  fake_engine engine_;  // declared first: outlives the server
  std::unique_ptr<server> server_;
};

}  // namespace troupe::http::testing
