#include "runtime/tokenizer/hf_pre_tokenizer.hpp"

#include <rapidjson/document.h>

#include <functional>

#include "runtime/tokenizer/byte_level.hpp"
#include "runtime/tokenizer/hf_pattern.hpp"
#include "runtime/tokenizer/hf_text.hpp"

namespace troupe::runtime {

std::vector<hf_piece> split_by_matches(const hf_piece& piece,
                                       const std::vector<std::pair<size_t, size_t>>& matches,
                                       split_behavior behavior, bool invert) {
  // Every span of the text, flagged as match or gap.
  struct span {
    size_t begin, end;
    bool is_match;
  };
  std::vector<span> spans;
  size_t done = 0;
  for (const auto& [begin, end] : matches) {
    if (begin > done) spans.push_back({done, begin, invert});
    spans.push_back({begin, end, !invert});
    done = end;
  }
  if (done < piece.text.size()) spans.push_back({done, piece.text.size(), invert});

  std::vector<span> kept;
  bool previous_match = false;
  const auto push_or_extend_last = [&](const span& s, bool extend) {
    if (extend && !kept.empty())
      kept.back().end = s.end;
    else
      kept.push_back({s.begin, s.end, false});
  };
  switch (behavior) {
    case split_behavior::isolated:
      kept = spans;
      break;
    case split_behavior::removed:
      for (const auto& s : spans)
        if (!s.is_match) kept.push_back(s);
      break;
    case split_behavior::contiguous:
      for (const auto& s : spans) {
        push_or_extend_last(s, s.is_match == previous_match);
        previous_match = s.is_match;
      }
      break;
    case split_behavior::merged_with_previous:
      for (const auto& s : spans) {
        push_or_extend_last(s, s.is_match && !previous_match);
        previous_match = s.is_match;
      }
      break;
    case split_behavior::merged_with_next:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !kept.empty())
          kept.back().begin = it->begin;
        else
          kept.push_back({it->begin, it->end, false});
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  std::vector<hf_piece> out;
  for (const auto& s : kept)
    if (s.end > s.begin)
      out.push_back({piece.text.substr(s.begin, s.end - s.begin), piece.at_origin && s.begin == 0});
  return out;
}

namespace {

std::string json_string(const rapidjson::Value& json, const char* key, std::string fallback = {}) {
  if (!json.HasMember(key) || !json[key].IsString()) return fallback;
  return std::string(json[key].GetString(), json[key].GetStringLength());
}

bool json_bool(const rapidjson::Value& json, const char* key, bool fallback) {
  return json.HasMember(key) && json[key].IsBool() ? json[key].GetBool() : fallback;
}

result<split_behavior> behavior_of(const std::string& name) {
  if (name == "Removed") return split_behavior::removed;
  if (name == "Isolated") return split_behavior::isolated;
  if (name == "MergedWithPrevious") return split_behavior::merged_with_previous;
  if (name == "MergedWithNext") return split_behavior::merged_with_next;
  if (name == "Contiguous") return split_behavior::contiguous;
  return error{"unknown split behavior '" + name + "'"};
}

// Each character for which `pred` holds is its own match (the library's char-predicate pattern).
std::vector<std::pair<size_t, size_t>> char_matches(std::string_view text,
                                                    const std::function<bool(uint32_t)>& pred) {
  std::vector<std::pair<size_t, size_t>> matches;
  for (size_t pos = 0; pos < text.size();) {
    const auto [cpt, length] = hf_text::next_codepoint(text, pos);
    if (pred(cpt)) matches.emplace_back(pos, pos + length);
    pos += length;
  }
  return matches;
}

// Applies `split` to each piece and concatenates the results.
template <class F>
void split_each(std::vector<hf_piece>& pieces, F&& split) {
  std::vector<hf_piece> out;
  out.reserve(pieces.size());
  for (const auto& piece : pieces) {
    auto parts = split(piece);
    for (auto& p : parts)
      out.push_back(std::move(p));
  }
  pieces.swap(out);
}

class split_pre final : public hf_pre_tokenizer {
 public:
  split_pre(hf_pattern pattern, split_behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void apply(std::vector<hf_piece>& pieces) const override {
    split_each(pieces, [&](const hf_piece& p) {
      return split_by_matches(p, pattern_.find_all(p.text), behavior_, invert_);
    });
  }

 private:
  hf_pattern pattern_;
  split_behavior behavior_;
  bool invert_;
};

class predicate_pre final : public hf_pre_tokenizer {
 public:
  predicate_pre(std::function<bool(uint32_t)> pred, split_behavior behavior)
      : pred_(std::move(pred)), behavior_(behavior) {}
  void apply(std::vector<hf_piece>& pieces) const override {
    split_each(pieces, [&](const hf_piece& p) {
      return split_by_matches(p, char_matches(p.text, pred_), behavior_, false);
    });
  }

 private:
  std::function<bool(uint32_t)> pred_;
  split_behavior behavior_;
};

constexpr std::string_view gpt2_pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

class byte_level_pre final : public hf_pre_tokenizer {
 public:
  byte_level_pre(bool add_prefix_space, std::shared_ptr<const hf_text::regex> regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(regex)) {}
  void apply(std::vector<hf_piece>& pieces) const override {
    split_each(pieces, [&](const hf_piece& p) {
      hf_piece piece = p;
      if (add_prefix_space_ && (piece.text.empty() || piece.text[0] != ' '))
        piece.text = " " + piece.text;
      std::vector<hf_piece> parts = regex_ ? split_by_matches(piece, regex_->find_all(piece.text),
                                                              split_behavior::isolated, false)
                                           : std::vector<hf_piece>{piece};
      for (auto& part : parts)
        part.text = byte_level::encode(part.text);
      return parts;
    });
  }

 private:
  bool add_prefix_space_;
  std::shared_ptr<const hf_text::regex> regex_;
};

class metaspace_pre final : public hf_pre_tokenizer {
 public:
  metaspace_pre(std::string replacement, std::string scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(std::move(scheme)), split_(split) {}
  void apply(std::vector<hf_piece>& pieces) const override {
    const hf_pattern space = hf_pattern::literal(" ");
    const hf_pattern marker = hf_pattern::literal(replacement_);
    split_each(pieces, [&](const hf_piece& p) {
      hf_piece piece{space.replace_all(p.text, replacement_), p.at_origin};
      const bool starts = piece.text.starts_with(replacement_);
      if (!starts && (scheme_ == "always" || (scheme_ == "first" && piece.at_origin)))
        piece.text.insert(0, replacement_);
      if (!split_) return std::vector<hf_piece>{piece};
      return split_by_matches(piece, marker.find_all(piece.text), split_behavior::merged_with_next,
                              false);
    });
  }

 private:
  std::string replacement_;
  std::string scheme_;
  bool split_;
};

class sequence_pre final : public hf_pre_tokenizer {
 public:
  explicit sequence_pre(std::vector<std::unique_ptr<hf_pre_tokenizer>> steps)
      : steps_(std::move(steps)) {}
  void apply(std::vector<hf_piece>& pieces) const override {
    for (const auto& step : steps_)
      step->apply(pieces);
  }

 private:
  std::vector<std::unique_ptr<hf_pre_tokenizer>> steps_;
};

using pre_ptr = std::unique_ptr<hf_pre_tokenizer>;

result<pre_ptr> make_split(const rapidjson::Value& json) {
  if (!json.HasMember("pattern")) return error{"Split pre-tokenizer without pattern"};
  auto pattern = hf_pattern::from_json(json["pattern"]);
  if (!pattern) return error{"Split pre-tokenizer: " + pattern.message()};
  auto behavior = behavior_of(json_string(json, "behavior"));
  if (!behavior) return behavior.err();
  return pre_ptr(
      new split_pre(std::move(pattern).value(), *behavior, json_bool(json, "invert", false)));
}

result<pre_ptr> make_byte_level(const rapidjson::Value& json) {
  std::shared_ptr<const hf_text::regex> regex;
  if (json_bool(json, "use_regex", true)) {
    auto made = hf_text::regex::make(gpt2_pattern);
    if (!made) return made.err();
    regex = std::move(made).value();
  }
  return pre_ptr(new byte_level_pre(json_bool(json, "add_prefix_space", true), std::move(regex)));
}

result<pre_ptr> make_metaspace(const rapidjson::Value& json) {
  std::string scheme = json_string(json, "prepend_scheme");
  // Older files carry add_prefix_space instead of prepend_scheme.
  if (scheme.empty()) scheme = json_bool(json, "add_prefix_space", true) ? "always" : "never";
  if (scheme != "always" && scheme != "first" && scheme != "never")
    return error{"Metaspace: unknown prepend_scheme '" + scheme + "'"};
  return pre_ptr(new metaspace_pre(json_string(json, "replacement", "\xE2\x96\x81"), scheme,
                                   json_bool(json, "split", true)));
}

result<pre_ptr> make_whitespace() {
  // \w+|[^\w\s]+, keeping the matches.
  auto regex = hf_text::regex::make("\\w+|[^\\w\\s]+");
  if (!regex) return regex.err();
  return pre_ptr(
      new split_pre(hf_pattern::of_regex(std::move(regex).value()), split_behavior::removed, true));
}

result<pre_ptr> make_sequence(const rapidjson::Value& json) {
  if (!json.HasMember("pretokenizers") || !json["pretokenizers"].IsArray())
    return error{"Sequence pre-tokenizer without pretokenizers"};
  std::vector<pre_ptr> steps;
  for (const auto& step : json["pretokenizers"].GetArray()) {
    auto made = hf_pre_tokenizer::from_json(step);
    if (!made) return made.err();
    if (*made) steps.push_back(std::move(made).value());
  }
  return pre_ptr(new sequence_pre(std::move(steps)));
}

}  // namespace

result<pre_ptr> hf_pre_tokenizer::from_json(const rapidjson::Value& json) {
  if (json.IsNull()) return pre_ptr{};
  if (!json.IsObject()) return error{"pre_tokenizer is not an object"};
  const std::string type = json_string(json, "type");
  if (type == "Split") return make_split(json);
  if (type == "ByteLevel") return make_byte_level(json);
  if (type == "Metaspace") return make_metaspace(json);
  if (type == "Sequence") return make_sequence(json);
  if (type == "Whitespace") return make_whitespace();
  if (type == "WhitespaceSplit")
    return pre_ptr(new predicate_pre(hf_text::is_whitespace, split_behavior::removed));
  if (type == "Digits")
    return pre_ptr(
        new predicate_pre(hf_text::is_numeric, json_bool(json, "individual_digits", false)
                                                   ? split_behavior::isolated
                                                   : split_behavior::contiguous));
  if (type == "Punctuation") {
    auto behavior = behavior_of(json_string(json, "behavior", "Isolated"));
    if (!behavior) return behavior.err();
    return pre_ptr(new predicate_pre(hf_text::is_punctuation, *behavior));
  }
  return error{"unsupported pre_tokenizer type '" + type + "'"};
}

}  // namespace troupe::runtime
