#pragma once
// The server's chat template: where it comes from (vLLM's order) and rendering a request's
// messages into the prompt text.
//
// Source order, as vLLM's: `--chat-template` (a file path, or the template text itself), else
// the tokenizer's chat_template.jinja, else its tokenizer_config.json `chat_template` (a string,
// or the "default" of a list of named templates), else a GGUF file's tokenizer.chat_template,
// else none: chat requests are then answered with vLLM's 400.
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "http/api_error.hpp"
#include "runtime/chat_template/chat_template.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::http {

// How message content reaches the template (vLLM's --chat-template-content-format): "string"
// (parts joined with "\n") or "openai" (a list of {"type": "text", "text"} parts).
enum class content_format { string, openai };

// vLLM's "auto" detection: "openai" when the template loops over a message's content (a loop
// variable over `messages`, or over a variable set from it, indexed with 'content'), else
// "string". A text scan of the source standing in for vLLM's walk of the Jinja AST.
content_format detect_content_format(const std::string& source);

struct chat_template_setup;

// vLLM's --chat-template-content-format for a setup with a template: "auto" keeps the detected
// format and logs it as vLLM does; "string" or "openai" replaces it (with vLLM's warning when it
// differs from the detected one).
void apply_content_format_flag(chat_template_setup& setup, std::string_view flag);

struct chat_template_setup {
  std::optional<runtime::chat_template> tpl;       // none: no template anywhere
  std::string origin;                              // where tpl came from, for the log
  content_format format = content_format::string;  // detected from the template
  // bos_token, eos_token, ... as transformers passes them to the template.
  std::vector<std::pair<std::string, std::string>> special_tokens;
  // --chat-template-content-format as given (apply_content_format_flag): a request's own
  // template is detected again unless it names a format.
  std::string content_format_flag = "auto";
  // vLLM's --trust-request-chat-template: a request may bring its own `chat_template`.
  bool trust_request_template = false;
  // vLLM's --default-chat-template-kwargs (a JSON object, "" = none): template variables every
  // render starts from, under what the request sets (a request value of null or "auto" leaves
  // the default, as vLLM's merge_kwargs); a default "tools" list stands for a request without
  // tools; add_generation_prompt and continue_final_message always come from the request.
  std::string default_kwargs_json;
};

// Checks --default-chat-template-kwargs' value: a JSON object without chat_template (vLLM would
// pass it to the renderer as a second template). Returns the object's compact JSON.
result<std::string> parse_default_chat_template_kwargs(std::string_view json);

// The text `--chat-template VALUE` stands for, as vLLM's load_chat_template reads it: the file's
// content when VALUE names a readable file; else VALUE itself when it contains '{', '}' or a
// newline (with Python escapes such as \n decoded); else an error (a path that cannot be read).
result<std::string> read_chat_template_flag(const std::string& value);

// The setup for a server whose tokenizer comes from `tokenizer_path` (a Hugging Face directory,
// a tokenizer.json file, or a GGUF file) and whose `--chat-template` is `flag_value` (empty:
// none). `tokenizer` (may be null) supplies bos/eos texts for a GGUF file without a template
// (used with --chat-template). Errors: an
// unreadable flag value, a template with a syntax error, a malformed tokenizer_config.json.
result<chat_template_setup> load_chat_template_setup(const std::string& flag_value,
                                                     const std::string& tokenizer_path,
                                                     const runtime::tokenizer* tokenizer);

// The message of vLLM's 400 for a chat request when no template is configured.
inline constexpr const char* no_chat_template_message =
    "As of transformers v4.44, default chat template is no longer allowed, so you must provide a "
    "chat template if the tokenizer does not define one.";

// Renders `request` (special tokens taken from `setup`; for a template that does not name the
// "developer" role, developer messages as system messages, merged with the other system messages
// into the first message when one is not first, as vLLM's renderer does; with the openai content
// format, each
// message's string content passed as [{"type": "text", "text": content}]) into the prompt text.
// With `continue_final_message`, the text ends right after the last message's content, as
// transformers cuts it (the template is rendered without a generation prompt). Errors are 400s:
// no template (`setup` null or without one), the template's raise_exception message, a template
// runtime error, a final message the rendered text does not contain. `request_template`, a
// request's own chat_template, replaces the setup's template when the setup trusts requests'
// (else vLLM's 400 refusing an untrusted template; one that does not parse is a 400 too).
std::variant<std::string, api_error> render_chat_prompt(
    const chat_template_setup* setup, runtime::chat_request request, bool continue_final_message,
    const std::optional<std::string>& request_template = std::nullopt);

}  // namespace troupe::http
