#include "actors/request_log.hpp"

#include <cstdio>

namespace troupe::actors {

request_log_line::request_log_line(uint64_t id, std::string_view event) {
  line_ = "request id=" + std::to_string(id) + " event=";
  line_ += logfmt_value(event);
}

request_log_line& request_log_line::add(std::string_view key, std::string_view value) {
  line_ += ' ';
  line_ += key;
  line_ += '=';
  line_ += logfmt_value(value);
  return *this;
}

request_log_line& request_log_line::add(std::string_view key, int64_t value) {
  return add(key, std::string_view{std::to_string(value)});
}

request_log_line& request_log_line::add(std::string_view key, uint64_t value) {
  return add(key, std::string_view{std::to_string(value)});
}

request_log_line& request_log_line::add(std::string_view key, double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return add(key, std::string_view{buf});
}

std::string logfmt_value(std::string_view value) {
  bool quote = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      quote = true;
  }
  if (!quote) return std::string{value};
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

}  // namespace troupe::actors
