#include "runtime/formats/llama_gguf.hpp"

#include <limits>
#include <string>
#include <vector>

#include "runtime/formats/ggml_types.hpp"
#include "runtime/formats/parallel_dequant.hpp"
#include "runtime/formats/weight_matrix.hpp"

namespace troupe::runtime {
namespace {

constexpr int64_t max_dim = std::numeric_limits<int32_t>::max();

// Reads the integer key `<arch>.<name>` into `out`; absent is an error unless `fallback` is set.
status read_count(const gguf_file& file, const std::string& arch, const std::string& name,
                  int32_t& out, std::optional<int64_t> fallback = std::nullopt) {
  const std::string key = arch + "." + name;
  std::optional<int64_t> value = file.get_int(key);
  if (!value && file.find(key) != nullptr) return error{key + " is not an integer"};
  if (!value) value = fallback;
  if (!value) return error{"missing metadata " + key};
  if (*value <= 0 || *value > max_dim)
    return error{key + " = " + std::to_string(*value) + " is out of range"};
  out = static_cast<int32_t>(*value);
  return ok_status();
}

status read_real(const gguf_file& file, const std::string& key, float& out, double fallback) {
  std::optional<double> value = file.get_float(key);
  if (!value && file.find(key) != nullptr) return error{key + " is not a number"};
  out = static_cast<float>(value.value_or(fallback));
  if (!(out > 0.0f)) return error{key + " must be positive"};
  return ok_status();
}

// llama_hparams has no RoPE scaling fields, so a model that needs them must not load silently.
status check_no_rope_scaling(const gguf_file& file, const std::string& arch) {
  const std::optional<std::string> type = file.get_string(arch + ".rope.scaling.type");
  if (type && *type != "none") return error{"RoPE scaling '" + *type + "' is not supported"};
  if (file.find_tensor("rope_freqs.weight") != nullptr) {
    return error{
        "per-dimension RoPE frequencies (rope_freqs.weight, Llama 3 scaling) are not supported"};
  }
  return ok_status();
}

status read_vocab_size(const gguf_file& file, const std::string& arch, llama_hparams& hp) {
  const gguf_tensor_info* embd = file.find_tensor("token_embd.weight");
  if (embd == nullptr) return error{"missing tensor 'token_embd.weight'"};
  std::optional<int64_t> rows;
  if (embd != nullptr && embd->shape.size() >= 2) rows = static_cast<int64_t>(embd->shape[1]);
  return read_count(file, arch, "vocab_size", hp.vocab_size, rows);
}

status read_hparams(const gguf_file& file, const std::string& arch, llama_hparams& hp) {
  for (status s : {read_count(file, arch, "block_count", hp.num_layers),
                   read_count(file, arch, "embedding_length", hp.hidden_size),
                   read_count(file, arch, "feed_forward_length", hp.intermediate_size),
                   read_count(file, arch, "attention.head_count", hp.num_heads),
                   read_count(file, arch, "context_length", hp.max_position_embeddings)}) {
    if (!s) return s;
  }
  const int64_t default_head_dim = hp.hidden_size / hp.num_heads;
  for (status s :
       {read_count(file, arch, "attention.head_count_kv", hp.num_kv_heads, hp.num_heads),
        read_count(file, arch, "attention.key_length", hp.head_dim, default_head_dim),
        read_real(file, arch + ".rope.freq_base", hp.rope_theta, 10000.0),
        read_real(file, arch + ".attention.layer_norm_rms_epsilon", hp.rms_norm_eps, 1e-5),
        read_vocab_size(file, arch, hp), check_no_rope_scaling(file, arch)}) {
    if (!s) return s;
  }
  return ok_status();
}

status check_consistency(const gguf_file& file, const std::string& arch, const llama_hparams& hp) {
  if (hp.num_heads % hp.num_kv_heads != 0) {
    return error{"attention.head_count " + std::to_string(hp.num_heads) +
                 " is not a multiple of head_count_kv " + std::to_string(hp.num_kv_heads)};
  }
  if (!file.get_int(arch + ".attention.key_length") && hp.hidden_size % hp.num_heads != 0) {
    return error{"embedding_length is not a multiple of attention.head_count"};
  }
  const std::optional<int64_t> value_length = file.get_int(arch + ".attention.value_length");
  if (value_length && *value_length != hp.head_dim) {
    return error{"attention.value_length differs from key_length (not supported)"};
  }
  return ok_status();
}

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Collects (tensor -> destination) jobs, checking each tensor exists with the expected shape.
// Trailing dims of 1 are ignored ([16, 1] is [16]). Matrices in a format the backends compute
// with (weight_format_of_ggml) are copied as stored; everything else is dequantized to f32.
class job_list {
 public:
  explicit job_list(const gguf_file& file) : file_(file) {}

  void add(const std::string& name, std::vector<uint64_t> expected, std::vector<float>& out) {
    if (const gguf_tensor_info* t = find(name, std::move(expected))) jobs_.push_back({t, &out});
  }

  void add(const std::string& name, std::vector<uint64_t> expected, weight_matrix& out) {
    const gguf_tensor_info* t = find(name, std::move(expected));
    if (t == nullptr) return;
    const auto format = weight_format_of_ggml(t->type);
    if (!format || *format == backend::weight_format::f32) {
      jobs_.push_back({t, &out.values});
      return;
    }
    const std::span<const uint8_t> data = file_.tensor_data(*t);
    if (ggml_nbytes(t->type, t->num_elements()) != data.size()) {
      problem_ = "tensor '" + name + "' holds " + std::to_string(data.size()) +
                 " bytes, not the size of its type and shape";
      return;
    }
    out = weight_matrix(*format, std::vector<uint8_t>(data.begin(), data.end()));
  }

  status done() const { return problem_.empty() ? ok_status() : status(error{problem_}); }
  std::span<const dequant_job> jobs() const { return jobs_; }

 private:
  const gguf_tensor_info* find(const std::string& name, std::vector<uint64_t> expected) {
    if (!problem_.empty()) return nullptr;
    const gguf_tensor_info* t = file_.find_tensor(name);
    if (t == nullptr) {
      problem_ = "missing tensor '" + name + "'";
      return nullptr;
    }
    std::vector<uint64_t> shape = t->shape;
    while (shape.size() > expected.size() && shape.back() == 1)
      shape.pop_back();
    if (shape != expected) {
      problem_ = "tensor '" + name + "' has shape " + shape_text(t->shape) + ", expected " +
                 shape_text(expected);
      return nullptr;
    }
    return t;
  }

  const gguf_file& file_;
  std::vector<dequant_job> jobs_;
  std::string problem_;
};

void add_layer_jobs(job_list& jobs, const llama_hparams& hp, int layer, llama_layer_weights& w) {
  const auto hidden = static_cast<uint64_t>(hp.hidden_size);
  const auto q_dim = static_cast<uint64_t>(hp.num_heads) * static_cast<uint64_t>(hp.head_dim);
  const auto kv_dim = static_cast<uint64_t>(hp.num_kv_heads) * static_cast<uint64_t>(hp.head_dim);
  const auto ffn = static_cast<uint64_t>(hp.intermediate_size);
  const std::string p = "blk." + std::to_string(layer) + ".";
  jobs.add(p + "attn_norm.weight", {hidden}, w.attn_norm);
  jobs.add(p + "attn_q.weight", {hidden, q_dim}, w.wq);
  jobs.add(p + "attn_k.weight", {hidden, kv_dim}, w.wk);
  jobs.add(p + "attn_v.weight", {hidden, kv_dim}, w.wv);
  jobs.add(p + "attn_output.weight", {q_dim, hidden}, w.wo);
  jobs.add(p + "ffn_norm.weight", {hidden}, w.ffn_norm);
  jobs.add(p + "ffn_gate.weight", {hidden, ffn}, w.w_gate);
  jobs.add(p + "ffn_up.weight", {hidden, ffn}, w.w_up);
  jobs.add(p + "ffn_down.weight", {ffn, hidden}, w.w_down);
}

}  // namespace

result<llama_hparams> llama_hparams_from_gguf(const gguf_file& file) {
  const std::optional<std::string> arch = file.get_string("general.architecture");
  if (!arch) return error{file.path() + ": missing general.architecture"};
  if (*arch != "llama" && *arch != "mistral") {
    return error{file.path() + ": architecture '" + *arch + "' is not supported (llama, mistral)"};
  }
  llama_hparams hp;
  hp.architecture = *arch;
  hp.rope = rope_style::interleaved;
  status s = read_hparams(file, *arch, hp);
  if (s) s = check_consistency(file, *arch, hp);
  if (!s) return error{file.path() + ": " + s.message()};
  hp.tie_word_embeddings = file.find_tensor("output.weight") == nullptr;
  return hp;
}

result<llama_weights> load_llama_gguf(const gguf_file& file, unsigned num_threads) {
  result<llama_hparams> hp = llama_hparams_from_gguf(file);
  if (!hp) return hp.err();
  llama_weights w;
  w.hparams = *hp;
  w.layers.resize(static_cast<size_t>(hp->num_layers));
  const auto hidden = static_cast<uint64_t>(hp->hidden_size);
  const auto vocab = static_cast<uint64_t>(hp->vocab_size);
  job_list jobs(file);
  jobs.add("token_embd.weight", {hidden, vocab}, w.token_embedding);
  for (int layer = 0; layer < hp->num_layers; ++layer) {
    add_layer_jobs(jobs, *hp, layer, w.layers[static_cast<size_t>(layer)]);
  }
  jobs.add("output_norm.weight", {hidden}, w.output_norm);
  if (!hp->tie_word_embeddings) jobs.add("output.weight", {hidden, vocab}, w.output);
  status s = jobs.done();
  if (s) s = dequantize_all(file, jobs.jobs(), num_threads);
  if (!s) return error{file.path() + ": " + s.message()};
  return w;
}

}  // namespace troupe::runtime
