#include "runtime/tokenizer/special_tokens.hpp"

#include <algorithm>
#include <initializer_list>

namespace troupe::runtime {
namespace {

// Texts llama.cpp (llama-vocab.cpp, special token auto-detection) treats as end of generation.
constexpr std::string_view eog_texts[] = {
    "<|eot_id|>",      "<|im_end|>",         "<|end|>",    "<|return|>", "<|call|>",
    "<end_of_turn>",   "<|endoftext|>",      "<|eom_id|>", "<EOT>",      "_<EOT>",
    "<|end_of_text|>", "<end_of_utterance>", "</s>"};

// Fill-in-the-middle pad / repository / file separator tokens: also end of generation.
constexpr std::string_view fim_eog_texts[] = {
    "<|fim_pad|>",   "<fim-pad>",  "<fim_pad>", "<PAD>",      "<|fim_repo|>",
    "<|repo_name|>", "<fim-repo>", "<REPO>",    "<reponame>", "<|file_sep|>"};

// Other texts llama.cpp forces to control type (end of turn, FIM prefix/suffix/middle).
constexpr std::string_view other_control_texts[] = {"<｜end▁of▁sentence｜>",
                                                    "<|fim_prefix|>",
                                                    "<fim-prefix>",
                                                    "<fim_prefix>",
                                                    "<｜fim▁begin｜>",
                                                    "<PRE>",
                                                    "▁<PRE>",
                                                    "<|fim_suffix|>",
                                                    "<fim-suffix>",
                                                    "<fim_suffix>",
                                                    "<｜fim▁hole｜>",
                                                    "<SUF>",
                                                    "▁<SUF>",
                                                    "<|fim_middle|>",
                                                    "<fim-middle>",
                                                    "<fim_middle>",
                                                    "<｜fim▁end｜>",
                                                    "<MID>",
                                                    "▁<MID>"};

template <size_t N>
bool in(const std::string_view (&list)[N], std::string_view text) {
  return std::find(std::begin(list), std::end(list), text) != std::end(list);
}

bool is_eog_text(std::string_view text) {
  return in(eog_texts, text) || in(fim_eog_texts, text);
}

bool matched_literally(token_type t) {
  return t == token_type::control || t == token_type::user_defined || t == token_type::unknown;
}

}  // namespace

std::vector<token_type> effective_types(const vocab_spec& spec) {
  std::vector<token_type> types = spec.types;
  types.resize(spec.tokens.size(), token_type::normal);
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    const std::string_view text = spec.tokens[id];
    // "</s>" is only an end-of-generation text here, not a forced control token in llama.cpp.
    if ((is_eog_text(text) && text != "</s>") || in(other_control_texts, text))
      types[id] = token_type::control;
  }
  return types;
}

std::vector<int32_t> end_of_generation_ids(const vocab_spec& spec) {
  std::vector<int32_t> ids;
  const auto num_tokens = static_cast<int32_t>(spec.tokens.size());
  if (spec.eos_id >= 0 && spec.eos_id < num_tokens) ids.push_back(spec.eos_id);
  for (int32_t id = 0; id < num_tokens; ++id)
    if (is_eog_text(spec.tokens[id])) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::vector<int32_t> literal_match_order(const std::vector<std::string>& tokens,
                                         const std::vector<token_type>& types) {
  std::vector<int32_t> order;
  for (size_t id = 0; id < tokens.size(); ++id)
    if (matched_literally(types[id]) && !tokens[id].empty())
      order.push_back(static_cast<int32_t>(id));
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return tokens[a].size() > tokens[b].size(); });
  return order;
}

std::vector<text_fragment> partition_special(std::string_view text, std::span<const int32_t> order,
                                             const std::vector<std::string>& tokens) {
  std::vector<text_fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, text});
  std::vector<text_fragment> next;
  for (const int32_t id : order) {
    const std::string_view special = tokens[id];
    if (text.find(special) == std::string_view::npos) continue;  // cheap common case
    next.clear();
    for (const auto& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      std::string_view rest = f.text;
      for (size_t at; (at = rest.find(special)) != std::string_view::npos;) {
        if (at > 0) next.push_back({-1, rest.substr(0, at)});
        next.push_back({id, rest.substr(at, special.size())});
        rest.remove_prefix(at + special.size());
      }
      if (!rest.empty()) next.push_back({-1, rest});
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace troupe::runtime
