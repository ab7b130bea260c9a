#include "http/json_events.hpp"

#include <optional>

#include "runtime/tokenizer/utf8.hpp"

namespace troupe::http {
namespace {

using event_type = json_event_parser::event_type;

// yajl's whitespace, \v and \f included.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

uint32_t hex_value(std::string_view four) {
  uint32_t v = 0;
  for (char c : four) {
    const uint32_t digit = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
    v = v * 16 + digit;
  }
  return v;
}

char simple_escape(char e) {
  switch (e) {
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return e;  // '"', '\\', '/'
  }
}

// A string's body (between its quotes; the lexer has checked every escape) as yajl decodes it
// and ijson reads the bytes; nullopt where ijson fails (a lone low surrogate).
std::optional<std::string> decode(std::string_view body) {
  std::string out;
  size_t i = 0;
  while (i < body.size()) {
    if (body[i] != '\\') {
      out += body[i++];
      continue;
    }
    const char e = body[i + 1];
    i += 2;
    if (e != 'u') {
      out += simple_escape(e);
      continue;
    }
    uint32_t cp = hex_value(body.substr(i, 4));
    i += 4;
    if ((cp & 0xFC00) == 0xD800) {
      if (body.substr(i, 2) != "\\u") {
        out += '?';
        continue;
      }
      cp = 0x10000 + ((cp & 0x3FF) << 10) + (hex_value(body.substr(i + 2, 4)) & 0x3FF);
      i += 6;
    } else if ((cp & 0xFC00) == 0xDC00) {
      return std::nullopt;
    }
    runtime::utf8::append_codepoint(cp, out);
  }
  return out;
}

}  // namespace

bool json_event_parser::feed(std::string_view piece, std::vector<event>& out) {
  if (failed_) return false;
  for (char c : piece) {
    if (!lex(c, out)) {
      failed_ = true;
      return false;
    }
  }
  return true;
}

bool json_event_parser::lex(char c, std::vector<event>& out) {
  switch (token_) {
    case token_kind::string:
      return lex_string(c, out);
    case token_kind::literal:
      text_ += c;
      if (!literal_.starts_with(text_)) return false;
      if (text_.size() < literal_.size()) return true;
      token_ = token_kind::none;
      return on_scalar(literal_ == "null" ? event_type::null : event_type::boolean, text_, out);
    case token_kind::number: {
      bool complete = false;
      if (continue_number(c, complete)) {
        text_ += c;
        return true;
      }
      if (!complete) return false;
      token_ = token_kind::none;
      if (!on_scalar(event_type::number, text_, out)) return false;
      break;  // `c` begins the next token
    }
    case token_kind::none:
      break;
  }
  return start_token(c, out);
}

bool json_event_parser::lex_string(char c, std::vector<event>& out) {
  if (hex_left_ > 0) {
    if (!is_hex(c)) return false;
    --hex_left_;
  } else if (escaped_) {
    escaped_ = false;
    if (c == 'u') {
      hex_left_ = 4;
    } else if (std::string_view("\"\\/bfnrt").find(c) == std::string_view::npos) {
      return false;
    }
  } else if (c == '\\') {
    escaped_ = true;
  } else if (c == '"') {
    token_ = token_kind::none;
    std::optional<std::string> text = decode(text_);
    if (!text) return false;
    if (expect_ != expect::key_or_end && expect_ != expect::key)
      return on_scalar(event_type::string, std::move(*text), out);
    level& map = levels_.back();
    out.push_back({map.prefix, event_type::map_key, *text});
    // A key of the top-level map is its value's prefix as it is, even "": ijson's C backend
    // joins deeper keys with '.' whatever the map's prefix.
    map.child = levels_.size() == 1 ? std::move(*text) : map.prefix + "." + *text;
    expect_ = expect::colon;
    return true;
  } else if (static_cast<unsigned char>(c) < 0x20) {
    return false;
  }
  text_ += c;
  return true;
}

bool json_event_parser::continue_number(char c, bool& complete) {
  const bool digit = is_digit(c);
  const bool e = c == 'e' || c == 'E';
  auto to = [&](number_part next) {
    number_ = next;
    return true;
  };
  switch (number_) {
    case number_part::minus:
      if (digit) return to(c == '0' ? number_part::zero : number_part::integer);
      return false;
    case number_part::zero:
    case number_part::integer:
      if (digit && number_ == number_part::integer) return true;
      if (c == '.') return to(number_part::dot);
      if (e) return to(number_part::e);
      break;
    case number_part::dot:
      if (digit) return to(number_part::fraction);
      return false;
    case number_part::fraction:
      if (digit) return true;
      if (e) return to(number_part::e);
      break;
    case number_part::e:
      if (c == '+' || c == '-') return to(number_part::e_sign);
      if (digit) return to(number_part::exponent);
      return false;
    case number_part::e_sign:
      if (digit) return to(number_part::exponent);
      return false;
    case number_part::exponent:
      if (digit) return true;
      break;
  }
  complete = true;
  return false;
}

bool json_event_parser::start_token(char c, std::vector<event>& out) {
  if (is_space(c)) return true;
  text_.assign(1, c);
  switch (c) {
    case '"':
      text_.clear();
      token_ = token_kind::string;
      return true;
    case '-':
      token_ = token_kind::number;
      number_ = number_part::minus;
      return true;
    case 't':
    case 'f':
    case 'n':
      token_ = token_kind::literal;
      literal_ = c == 't' ? "true" : c == 'f' ? "false" : "null";
      return true;
    default:
      break;
  }
  if (is_digit(c)) {
    token_ = token_kind::number;
    number_ = c == '0' ? number_part::zero : number_part::integer;
    return true;
  }
  return on_punctuation(c, out);
}

bool json_event_parser::on_scalar(event_type type, std::string value, std::vector<event>& out) {
  if (expect_ != expect::value && expect_ != expect::element_or_end) return false;
  out.push_back({value_prefix(), type, std::move(value)});
  after_value();
  return true;
}

bool json_event_parser::on_punctuation(char c, std::vector<event>& out) {
  const bool takes_value = expect_ == expect::value || expect_ == expect::element_or_end;
  const char open = levels_.empty() ? '\0' : levels_.back().open;
  switch (c) {
    case '{':
    case '[': {
      if (!takes_value) return false;
      std::string own = value_prefix();
      out.push_back({own, c == '{' ? event_type::start_map : event_type::start_array, {}});
      // An array's elements are "item" below its prefix ("item" alone below "").
      std::string child = c == '{' ? "" : own.empty() ? "item" : own + ".item";
      levels_.push_back({c, std::move(own), std::move(child)});
      expect_ = c == '{' ? expect::key_or_end : expect::element_or_end;
      return true;
    }
    case '}':
    case ']': {
      const bool empty = expect_ == (c == '}' ? expect::key_or_end : expect::element_or_end);
      if (!empty && !(expect_ == expect::comma_or_end && open == (c == '}' ? '{' : '['))) {
        return false;
      }
      out.push_back({std::move(levels_.back().prefix),
                     c == '}' ? event_type::end_map : event_type::end_array,
                     {}});
      levels_.pop_back();
      after_value();
      return true;
    }
    case ',':
      if (expect_ != expect::comma_or_end) return false;
      expect_ = open == '{' ? expect::key : expect::value;
      return true;
    case ':':
      if (expect_ != expect::colon) return false;
      expect_ = expect::value;
      return true;
    default:
      return false;
  }
}

void json_event_parser::after_value() {
  expect_ = levels_.empty() ? expect::nothing : expect::comma_or_end;
}

std::string json_event_parser::value_prefix() const {
  return levels_.empty() ? std::string() : levels_.back().child;
}

}  // namespace troupe::http
