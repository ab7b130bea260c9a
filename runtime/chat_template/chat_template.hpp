#pragma once
// Chat templates: the Jinja2 program in a tokenizer's config that turns a list of chat messages
// into the prompt text. Rendered as transformers' apply_chat_template does: jinja2
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with loop controls, the
// `{% generation %}` tag, globals raise_exception(msg) and strftime_now(fmt), and `tojson` as
// json.dumps(ensure_ascii=False) with keys in insertion order.
//
//   auto tpl = chat_template::parse(source);           // once
//   chat_request req;
//   req.messages_json = R"([{"role": "user", "content": "Hi"}])";
//   req.add_generation_prompt = true;
//   req.special_tokens = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
//   result<std::string> prompt = tpl->render(req);     // many times, from any thread
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

namespace jinja {
struct stmt;
}

struct chat_request {
  std::string messages_json = "[]";  // a JSON array (message objects, keys in order)
  bool add_generation_prompt = false;
  std::optional<std::string> tools_json;  // a JSON array; nullopt passes tools = None
  std::string extra_context_json;         // a JSON object whose members become variables; ""
  // Special-token variables (bos_token, eos_token, ...): only those that are set. A value that
  // starts with '[' is read as a JSON list (additional_special_tokens).
  std::vector<std::pair<std::string, std::string>> special_tokens;
};

class chat_template {
 public:
  // Compiles a template. Fails with "template syntax error (line N): ..." on bad syntax.
  static result<chat_template> parse(std::string source);

  // Renders one request. Fails on bad JSON input, on a template runtime error ("template error
  // (line N): ..."), on an abuse limit, and with exactly `msg` when the template calls
  // raise_exception(msg). Thread: any thread, concurrently (const, no shared mutable state).
  result<std::string> render(const chat_request& request) const;

  const std::string& source() const { return source_; }

 private:
  struct program;
  chat_template(std::string source, std::shared_ptr<const program> p);

  std::string source_;
  std::shared_ptr<const program> program_;
};

// A template and the special-token variables transformers passes with it (bos_token,
// eos_token, unk_token, sep_token, pad_token, cls_token, mask_token, additional_special_tokens,
// then extra_special_tokens; only those set), in chat_request::special_tokens' form.
struct chat_template_config {
  std::string source;  // empty only from read_tokenizer_dir_chat_template: no template there
  std::string origin;  // where source came from, for logs: "DIR/chat_template.jinja", ...
  std::vector<std::pair<std::string, std::string>> special_tokens;
};

// The chat template of a Hugging Face tokenizer directory, as transformers' from_pretrained
// loads it: DIR/chat_template.jinja when the file exists (transformers 5 saves the template
// only there), else tokenizer_config.json's `chat_template` (see
// chat_template_from_tokenizer_config); the special tokens from tokenizer_config.json (none
// without one). `source` is empty when neither file names a template. Errors: a
// tokenizer_config.json that is not a JSON object, a chat_template.jinja that cannot be read.
result<chat_template_config> read_tokenizer_dir_chat_template(const std::string& dir);

// The one loader of "the chat template of a tokenizer path" (troupe serve, bench,
// chat-template): `path` is a Hugging Face tokenizer directory (as above), a .json file in one
// such as its tokenizer.json (its directory), or a GGUF file (tokenizer.chat_template; bos, eos,
// unk, sep, pad, cls, mask token texts by id). Errors when there is no template.
result<chat_template_config> load_chat_template_config(const std::string& path);
// The special-token variables of a tokenizer_config.json's text.
result<std::vector<std::pair<std::string, std::string>>> special_tokens_from_tokenizer_config(
    const std::string& json_text);

// The template text from a tokenizer_config.json's `chat_template`: a string, or a list of
// {"name", "template"} objects from which "default" is picked. Fails when there is none.
result<std::string> chat_template_from_tokenizer_config(const std::string& json_text);
// The same, read from a file path.
result<std::string> chat_template_from_tokenizer_config_file(const std::string& path);
// The `tokenizer.chat_template` string of a GGUF file (reads only the metadata).
result<std::string> chat_template_from_gguf(const std::string& path);

// One line of `troupe chat-template`: a JSON object {"messages": [...],
// "add_generation_prompt": bool, "tools": [...] | null, "extra_context": {...}} (all but
// messages optional) rendered with `special_tokens`; returns the JSON line {"rendered": "..."}
// or {"error": "..."} (also for a line that is not such an object). No trailing newline.
std::string render_jsonl_line(
    const chat_template& tpl,
    const std::vector<std::pair<std::string, std::string>>& special_tokens,
    const std::string& line);

}  // namespace troupe::runtime
