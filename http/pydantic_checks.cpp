#include "http/pydantic_checks.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "http/openai_json.hpp"

namespace troupe::http {

std::string pydantic_error_json(const pydantic_error& error) {
  return error_json(error.message, "Bad Request", error.param, 400);
}

pydantic_error pydantic_refusal(const api_error& located) {
  const std::string loc = located.param.empty() ? "body" : "body." + located.param;
  return pydantic_error{fmt::format("1 validation error:\n  {}: {}", loc, located.message), loc};
}

std::optional<pydantic_error> read_pydantic_body(std::string_view body,
                                                 std::string_view content_type,
                                                 rapidjson::Document& doc) {
  std::string media(content_type.substr(0, content_type.find(';')));
  std::transform(media.begin(), media.end(), media.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (media != "application/json") {
    return pydantic_error{
        "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed",
        std::nullopt};
  }
  if (check_json_depth(body)) return pydantic_refusal(invalid("", "JSON nested too deeply"));
  doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(body.data(),
                                                                                    body.size());
  if (doc.HasParseError())
    return pydantic_refusal(invalid(std::to_string(doc.GetErrorOffset()), "JSON decode error"));
  if (!doc.IsObject()) return pydantic_refusal(invalid("", "Input should be a valid dictionary"));
  return std::nullopt;
}

bool is_one_of(const Value* v, std::span<const std::string_view> allowed) {
  return v != nullptr && v->IsString() &&
         std::find(allowed.begin(), allowed.end(), view(*v)) != allowed.end();
}

api_error invalid(std::string loc, std::string message) {
  return api_error{400, std::move(message), std::move(loc)};
}

std::string at(std::string_view loc, std::string_view key) {
  return loc.empty() ? std::string(key) : fmt::format("{}.{}", loc, key);
}

std::string at(std::string_view loc, size_t index) {
  return fmt::format("{}.{}", loc, index);
}

parse_error check_string(const Value& object, const char* key, std::string_view loc,
                         bool required) {
  const Value* v = member(object, key);
  if (v == nullptr) {
    return required ? parse_error(invalid(at(loc, key), "Field required")) : std::nullopt;
  }
  if (!v->IsString()) return invalid(at(loc, key), "Input should be a valid string");
  return std::nullopt;
}

parse_error check_kind(const Value& object, const char* key, std::string_view loc,
                       bool (Value::*is)() const, const char* what) {
  const Value* v = member(object, key);
  if (v != nullptr && !(v->*is)()) {
    return invalid(at(loc, key), fmt::format("Input should be a valid {}", what));
  }
  return std::nullopt;
}

parse_error check_literal(const Value* v, std::span<const std::string_view> allowed,
                          std::string loc) {
  if (is_one_of(v, allowed)) return std::nullopt;
  std::string expected;
  for (size_t i = 0; i < allowed.size(); ++i) {
    expected += i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ";
    expected += fmt::format("'{}'", allowed[i]);
  }
  return invalid(std::move(loc), "Input should be " + expected);
}

}  // namespace troupe::http
