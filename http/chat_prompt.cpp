#include "http/chat_prompt.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include "runtime/tokenizer/utf8.hpp"

namespace troupe::http {
namespace fs = std::filesystem;
namespace {

std::string to_compact_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  value.Accept(w);
  return std::string(out.GetString(), out.GetSize());
}

std::optional<std::string> read_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  runtime::utf8::append_codepoint(cp, out);
}

// The number `digits` hex digits at s[i..] stand for, or nullopt.
std::optional<uint32_t> hex_at(const std::string& s, size_t i, size_t digits) {
  if (i + digits > s.size()) return std::nullopt;
  uint32_t v = 0;
  for (size_t k = i; k < i + digits; ++k) {
    char c = s[k];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  return v;
}

// Python's "unicode_escape" decoding of a template given on the command line (so that a shell
// argument can say \n). Non-ASCII bytes are kept as UTF-8; unknown escapes stay as written.
std::string decode_escapes(const std::string& s) {
  static const std::string_view simple_from = "ntr\\'\"abfv";
  static const std::string_view simple_to = "\n\t\r\\'\"\a\b\f\v";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char c = s[i + 1];
    size_t width = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (auto k = simple_from.find(c); k != std::string_view::npos) {
      out += simple_to[k];
      ++i;
    } else if (auto cp = width ? hex_at(s, i + 2, width) : std::nullopt) {
      append_utf8(out, *cp);
      i += 1 + width;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view strip(std::string_view s, bool left, bool right) {
  while (left && !s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (right && !s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

// transformers' continue_final_message: cut the rendered text after the final message's content.
std::variant<std::string, api_error> cut_after_final_message(std::string rendered,
                                                             const std::string& messages_json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(messages_json.c_str(), messages_json.size());
  if (doc.HasParseError() || !doc.IsArray() || doc.Empty() || !doc[doc.Size() - 1].IsObject()) {
    return bad_request("continue_final_message needs a final message to continue.", "messages");
  }
  const rapidjson::Value& last = doc[doc.Size() - 1];
  auto content = last.FindMember("content");
  std::string final_text;
  if (content != last.MemberEnd() && content->value.IsString()) {
    final_text.assign(content->value.GetString(), content->value.GetStringLength());
  }
  std::string_view stripped = strip(final_text, true, true);
  size_t at = rendered.rfind(stripped);
  if (at == std::string::npos) {
    return bad_request(
        "continue_final_message is set but the final message does not appear in the chat after "
        "applying the chat template! This can happen if the chat template deletes portions of "
        "the final message. Please verify the chat template and final message in your chat to "
        "ensure they are compatible.",
        "messages");
  }
  std::string_view lstripped = strip(final_text, true, false);
  if (std::string_view(rendered).substr(at, lstripped.size()) == final_text) {
    rendered.resize(at + lstripped.size());
  } else {
    rendered.resize(at + stripped.size());
  }
  return rendered;
}

// Template text and special tokens of a Hugging Face tokenizer directory.
// bos_token / eos_token from the tokenizer, for a file that names no template (and so, through
// this library, no special-token texts either).
void add_tokenizer_specials(const runtime::tokenizer& tok, chat_template_setup& setup) {
  for (auto [name, id] : {std::pair{"bos_token", tok.bos_id()}, {"eos_token", tok.eos_id()}}) {
    bool known = false;
    for (const auto& [key, value] : setup.special_tokens)
      known = known || key == name;
    if (!known && id >= 0 && id < tok.vocab_size()) {
      setup.special_tokens.emplace_back(name, tok.token_bytes(id));
    }
  }
}

// Variables matched by `pattern`'s group 1 where group 2 is in `from`.
std::set<std::string> names_from(const std::string& source, const std::regex& pattern,
                                 const std::set<std::string>& from) {
  std::set<std::string> out;
  for (std::sregex_iterator it(source.begin(), source.end(), pattern), end; it != end; ++it) {
    if (from.count((*it)[2].str()) > 0) out.insert((*it)[1].str());
  }
  return out;
}

// [{"type": "text", "text": content}] for every message whose content is a string.
std::string with_openai_content(const std::string& messages_json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(messages_json.c_str(), messages_json.size());
  if (doc.HasParseError() || !doc.IsArray()) return messages_json;
  auto& a = doc.GetAllocator();
  for (auto& message : doc.GetArray()) {
    if (!message.IsObject()) continue;
    auto content = message.FindMember("content");
    if (content == message.MemberEnd() || !content->value.IsString()) continue;
    rapidjson::Value part(rapidjson::kObjectType);
    part.AddMember("type", "text", a);
    part.AddMember("text", content->value, a);  // moves the string
    rapidjson::Value parts(rapidjson::kArrayType);
    parts.PushBack(part, a);
    content->value = parts;
  }
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  doc.Accept(w);
  return std::string(out.GetString(), out.GetSize());
}

// vLLM's renderer for a template that does not know the "developer" role (neither '"developer"'
// nor "'developer'" in its text): developer messages become system messages, and then, when a
// system message is not first or there are several, they merge into one first system message
// (their non-empty contents joined with a blank line). nullopt: nothing to change.
std::optional<std::string> developer_as_system(const std::string& messages_json,
                                               const std::string& source) {
  if (source.find("\"developer\"") != std::string::npos ||
      source.find("'developer'") != std::string::npos) {
    return std::nullopt;
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(messages_json.c_str(), messages_json.size());
  if (doc.HasParseError() || !doc.IsArray()) return std::nullopt;
  auto role_is = [](const rapidjson::Value& m, std::string_view role) {
    auto it = m.FindMember("role");
    return it != m.MemberEnd() && it->value.IsString() && it->value.GetString() == role;
  };
  bool any = false;
  for (auto& m : doc.GetArray()) {
    if (!m.IsObject() || !role_is(m, "developer")) continue;
    any = true;
    m["role"].SetString("system");
    m.RemoveMember("tools");
  }
  if (!any) return std::nullopt;
  auto& a = doc.GetAllocator();
  std::string merged;
  bool consolidate = false;
  size_t systems = 0;
  rapidjson::Value others(rapidjson::kArrayType);
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    rapidjson::Value& m = doc[i];
    if (!m.IsObject() || !role_is(m, "system")) {
      others.PushBack(rapidjson::Value(m, a), a);
      continue;
    }
    consolidate = consolidate || i > 0 || systems > 0;
    ++systems;
    auto content = m.FindMember("content");
    if (content != m.MemberEnd() && content->value.IsString() &&
        content->value.GetStringLength() > 0) {
      merged += merged.empty() ? "" : "\n\n";
      merged.append(content->value.GetString(), content->value.GetStringLength());
    }
  }
  if (consolidate) {
    rapidjson::Value system(rapidjson::kObjectType);
    system.AddMember("role", "system", a);
    system.AddMember(
        "content",
        rapidjson::Value(merged.data(), static_cast<rapidjson::SizeType>(merged.size()), a), a);
    rapidjson::Value list(rapidjson::kArrayType);
    list.PushBack(system, a);
    for (auto& m : others.GetArray())
      list.PushBack(m, a);
    static_cast<rapidjson::Value&>(doc).Swap(list);
  }
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  doc.Accept(w);
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace

content_format detect_content_format(const std::string& source) {
  static const std::regex set_from(R"(set\s+(\w+)\s*=\s*(\w+))");
  static const std::regex loop_over(R"(for\s+(\w+)\s+in\s+(\w+))");
  static const std::regex content_loop(
      R"(for\s+\w+(?:\s*,\s*\w+)?\s+in\s+(\w+)\s*(?:\[\s*['"]content['"]\s*\]|\.content\b))");
  std::set<std::string> lists{"messages"};
  for (size_t size = 0; size != lists.size();) {  // aliases of aliases
    size = lists.size();
    for (const auto& name : names_from(source, set_from, lists))
      lists.insert(name);
  }
  std::set<std::string> messages = names_from(source, loop_over, lists);
  for (std::sregex_iterator it(source.begin(), source.end(), content_loop), end; it != end; ++it) {
    if (messages.count((*it)[1].str()) > 0) return content_format::openai;
  }
  return content_format::string;
}

result<std::string> read_chat_template_flag(const std::string& value) {
  if (auto text = read_file(value)) return std::move(*text);
  if (value.find_first_of("{}\n") != std::string::npos) return decode_escapes(value);
  return error{fmt::format(
      "The supplied chat template ({}) looks like a file path, but it failed to be opened.",
      value)};
}

result<chat_template_setup> load_chat_template_setup(const std::string& flag_value,
                                                     const std::string& tokenizer_path,
                                                     const runtime::tokenizer* tokenizer) {
  chat_template_setup setup;
  std::string source;
  std::error_code ec;
  fs::path path(tokenizer_path);
  if (fs::is_directory(path, ec) || path.extension() == ".json") {
    auto dir = fs::is_directory(path, ec) ? path : path.parent_path();
    auto found = runtime::read_tokenizer_dir_chat_template(dir.string());
    if (!found) return found.err();
    source = std::move(found->source);
    setup.origin = std::move(found->origin);
    setup.special_tokens = std::move(found->special_tokens);
  } else if (auto gguf = runtime::load_chat_template_config(tokenizer_path)) {
    source = std::move(gguf->source);
    setup.special_tokens = std::move(gguf->special_tokens);
    setup.origin = tokenizer_path + " (tokenizer.chat_template)";
  } else if (tokenizer != nullptr) {
    add_tokenizer_specials(*tokenizer, setup);  // a GGUF without a template
  }
  if (!flag_value.empty()) {
    auto text = read_chat_template_flag(flag_value);
    if (!text) return error{"--chat-template: " + text.message()};
    source = std::move(*text);
    setup.origin = "--chat-template";
  }
  if (setup.origin.empty()) return setup;
  setup.format = detect_content_format(source);
  auto tpl = runtime::chat_template::parse(std::move(source));
  if (!tpl) return error{"chat template from " + setup.origin + ": " + tpl.message()};
  setup.tpl = std::move(*tpl);
  return setup;
}

void apply_content_format_flag(chat_template_setup& setup, std::string_view flag) {
  const std::string_view detected = setup.format == content_format::openai ? "openai" : "string";
  if (flag == "auto") {
    spdlog::info(
        "Detected the chat template content format to be '{}'. You can set "
        "`--chat-template-content-format` to override this.",
        detected);
    return;
  }
  if (flag != detected) {
    spdlog::warn(
        "You specified `--chat-template-content-format {}` which is different from the detected "
        "format '{}'.",
        flag, detected);
  }
  setup.format = flag == "openai" ? content_format::openai : content_format::string;
  setup.content_format_flag = std::string(flag);
}

result<std::string> parse_default_chat_template_kwargs(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return error{
        "--default-chat-template-kwargs: expected a JSON object, e.g. "
        "'{\"enable_thinking\": false}'"};
  }
  if (doc.HasMember("chat_template")) {
    return error{
        "--default-chat-template-kwargs: chat_template is not a template variable "
        "(use --chat-template)"};
  }
  return to_compact_json(doc);
}

namespace {

// The request's template variables over the setup's defaults (chat_template_setup's rules).
void apply_default_kwargs(const std::string& defaults_json, runtime::chat_request& request) {
  rapidjson::Document defaults;
  defaults.Parse(defaults_json.c_str(), defaults_json.size());
  rapidjson::Document extra;
  extra.Parse(request.extra_context_json.empty() ? "{}" : request.extra_context_json.c_str());
  if (defaults.HasParseError() || !defaults.IsObject() || extra.HasParseError() ||
      !extra.IsObject()) {
    return;
  }
  auto& a = extra.GetAllocator();
  for (auto& m : defaults.GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key == "add_generation_prompt" || key == "continue_final_message") continue;
    if (key == "tools") {
      if (!request.tools_json && m.value.IsArray()) request.tools_json = to_compact_json(m.value);
      continue;
    }
    auto given = extra.FindMember(m.name);
    if (given == extra.MemberEnd()) {
      extra.AddMember(rapidjson::Value(m.name, a), rapidjson::Value(m.value, a), a);
    } else if (given->value.IsNull() ||
               (given->value.IsString() && std::string_view(given->value.GetString()) == "auto")) {
      given->value.CopyFrom(m.value, a);
    }
  }
  request.extra_context_json = to_compact_json(extra);
}

std::variant<std::string, api_error> render_with_setup(const chat_template_setup* setup,
                                                       runtime::chat_request request,
                                                       bool continue_final_message) {
  if (setup == nullptr || !setup->tpl) return bad_request(no_chat_template_message);
  if (!setup->default_kwargs_json.empty())
    apply_default_kwargs(setup->default_kwargs_json, request);
  if (continue_final_message && request.add_generation_prompt) {
    return bad_request(
        "continue_final_message and add_generation_prompt are not compatible. Use "
        "continue_final_message when you want the model to continue the final message, and "
        "add_generation_prompt when you want to add a header that will prompt it to start a new "
        "assistant message instead.");
  }
  if (request.messages_json == "[]") {
    return bad_request(
        "Cannot apply chat template to an empty conversation. Provide at least one message.");
  }
  request.special_tokens = setup->special_tokens;
  if (auto converted = developer_as_system(request.messages_json, setup->tpl->source()))
    request.messages_json = std::move(*converted);
  std::string messages_json = request.messages_json;  // continue_final_message reads the text
  if (setup->format == content_format::openai) {
    request.messages_json = with_openai_content(request.messages_json);
  }
  auto rendered = setup->tpl->render(request);
  if (!rendered) return bad_request(rendered.message());
  if (!continue_final_message) return std::move(*rendered);
  return cut_after_final_message(std::move(*rendered), messages_json);
}

}  // namespace

std::variant<std::string, api_error> render_chat_prompt(
    const chat_template_setup* setup, runtime::chat_request request, bool continue_final_message,
    const std::optional<std::string>& request_template) {
  if (!request_template) {
    return render_with_setup(setup, std::move(request), continue_final_message);
  }
  if (setup == nullptr || !setup->trust_request_template) {
    return bad_request(
        "Chat template is passed with request, but --trust-request-chat-template is not set. "
        "Refused request with untrusted chat template.");
  }
  chat_template_setup own;
  own.origin = "the request";
  own.special_tokens = setup->special_tokens;
  own.default_kwargs_json = setup->default_kwargs_json;
  own.format = setup->content_format_flag == "auto"     ? detect_content_format(*request_template)
               : setup->content_format_flag == "openai" ? content_format::openai
                                                        : content_format::string;
  auto tpl = runtime::chat_template::parse(*request_template);
  if (!tpl) return bad_request(tpl.message(), "chat_template");
  own.tpl = std::move(*tpl);
  return render_with_setup(&own, std::move(request), continue_final_message);
}

}  // namespace troupe::http
