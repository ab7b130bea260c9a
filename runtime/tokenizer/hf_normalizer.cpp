#include "runtime/tokenizer/hf_normalizer.hpp"

#include <rapidjson/document.h>

#include "runtime/tokenizer/hf_pattern.hpp"
#include "runtime/tokenizer/hf_text.hpp"

namespace troupe::runtime {
namespace {

std::string json_string(const rapidjson::Value& json, const char* key) {
  if (!json.HasMember(key) || !json[key].IsString()) return {};
  return std::string(json[key].GetString(), json[key].GetStringLength());
}

bool json_bool(const rapidjson::Value& json, const char* key, bool fallback) {
  return json.HasMember(key) && json[key].IsBool() ? json[key].GetBool() : fallback;
}

class unicode_form final : public hf_normalizer {
 public:
  explicit unicode_form(hf_text::form f) : form_(f) {}
  void apply(std::string& text) const override { text = hf_text::normalize(text, form_); }

 private:
  hf_text::form form_;
};

class lowercase final : public hf_normalizer {
 public:
  void apply(std::string& text) const override { text = hf_text::lowercase(text); }
};

class strip final : public hf_normalizer {
 public:
  strip(bool left, bool right) : left_(left), right_(right) {}
  void apply(std::string& text) const override {
    size_t begin = 0;
    size_t end = text.size();
    if (left_) {
      while (begin < end) {
        const auto [cpt, length] = hf_text::next_codepoint(text, begin);
        if (!hf_text::is_whitespace(cpt)) break;
        begin += length;
      }
    }
    if (right_) {
      // Walk forward remembering where the trailing whitespace run starts.
      size_t run = end;
      for (size_t pos = begin; pos < end;) {
        const auto [cpt, length] = hf_text::next_codepoint(text, pos);
        if (!hf_text::is_whitespace(cpt))
          run = end;
        else if (run == end)
          run = pos;
        pos += length;
      }
      end = run;
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class prepend final : public hf_normalizer {
 public:
  explicit prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  // The library prepends only to non-empty text.
  void apply(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class replace final : public hf_normalizer {
 public:
  replace(hf_pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void apply(std::string& text) const override { text = pattern_.replace_all(text, content_); }

 private:
  hf_pattern pattern_;
  std::string content_;
};

class sequence final : public hf_normalizer {
 public:
  explicit sequence(std::vector<std::unique_ptr<hf_normalizer>> steps) : steps_(std::move(steps)) {}
  void apply(std::string& text) const override {
    for (const auto& step : steps_)
      step->apply(text);
  }

 private:
  std::vector<std::unique_ptr<hf_normalizer>> steps_;
};

}  // namespace

result<std::unique_ptr<hf_normalizer>> hf_normalizer::from_json(const rapidjson::Value& json) {
  using ptr = std::unique_ptr<hf_normalizer>;
  if (json.IsNull()) return ptr{};
  if (!json.IsObject()) return error{"normalizer is not an object"};
  const std::string type = json_string(json, "type");
  if (type == "NFC") return ptr(new unicode_form(hf_text::form::nfc));
  if (type == "NFD") return ptr(new unicode_form(hf_text::form::nfd));
  if (type == "NFKC") return ptr(new unicode_form(hf_text::form::nfkc));
  if (type == "NFKD") return ptr(new unicode_form(hf_text::form::nfkd));
  if (type == "Lowercase") return ptr(new lowercase());
  if (type == "Strip")
    return ptr(
        new strip(json_bool(json, "strip_left", true), json_bool(json, "strip_right", true)));
  if (type == "Prepend") return ptr(new prepend(json_string(json, "prepend")));
  if (type == "Replace") {
    if (!json.HasMember("pattern")) return error{"Replace normalizer without pattern"};
    auto pattern = hf_pattern::from_json(json["pattern"]);
    if (!pattern) return error{"Replace normalizer: " + pattern.message()};
    return ptr(new replace(std::move(pattern).value(), json_string(json, "content")));
  }
  if (type == "Sequence") {
    if (!json.HasMember("normalizers") || !json["normalizers"].IsArray())
      return error{"Sequence normalizer without normalizers"};
    std::vector<ptr> steps;
    for (const auto& step : json["normalizers"].GetArray()) {
      auto made = from_json(step);
      if (!made) return made.err();
      if (*made) steps.push_back(std::move(made).value());
    }
    return ptr(new sequence(std::move(steps)));
  }
  return error{"unsupported normalizer type '" + type + "'"};
}

}  // namespace troupe::runtime
