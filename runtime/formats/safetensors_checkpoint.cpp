// Sharded checkpoints (model.safetensors.index.json) and the safetensors writer (contract:
// safetensors.hpp).
#include <rapidjson/document.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "runtime/formats/half.hpp"
#include "runtime/formats/safetensors.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;

result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{path.string() + ": cannot open"};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The weight map of an index file: tensor name -> shard file name.
result<std::map<std::string, std::string>> read_weight_map(const fs::path& index_path) {
  auto text = read_text(index_path);
  if (!text) return text.err();
  rapidjson::Document doc;
  doc.Parse(text->data(), text->size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("weight_map") ||
      !doc["weight_map"].IsObject()) {
    return error{index_path.string() + ": not a JSON object with a \"weight_map\" object"};
  }
  std::map<std::string, std::string> map;
  for (const auto& m : doc["weight_map"].GetObject()) {
    if (!m.value.IsString()) return error{index_path.string() + ": a shard name is not a string"};
    std::string shard = m.value.GetString();
    if (shard.find('/') != std::string::npos || shard == "..") {
      return error{index_path.string() + ": shard '" + shard + "' is not a file name"};
    }
    map[m.name.GetString()] = std::move(shard);
  }
  return map;
}

void append_bytes(std::string& out, const safetensors_entry& t) {
  for (float v : t.values) {
    if (t.dtype == safetensors_dtype::f32) {
      out.append(reinterpret_cast<const char*>(&v), 4);
      continue;
    }
    if (t.dtype == safetensors_dtype::i8) {
      out.push_back(static_cast<char>(static_cast<int8_t>(v)));
      continue;
    }
    uint16_t h = t.dtype == safetensors_dtype::f16 ? f32_to_f16(v) : f32_to_bf16(v);
    out.append(reinterpret_cast<const char*>(&h), 2);
  }
}

}  // namespace

result<safetensors_checkpoint> safetensors_checkpoint::open_dir(const std::string& dir) {
  safetensors_checkpoint ckpt;
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single_path = fs::path(dir) / "model.safetensors";
  if (!fs::exists(index_path)) {
    if (!fs::exists(single_path)) {
      return error{dir + ": neither model.safetensors nor model.safetensors.index.json"};
    }
    auto file = safetensors_file::open(single_path.string());
    if (!file) return file.err();
    for (const auto& [name, t] : (*file)->tensors())
      ckpt.index_[name] = &t;
    ckpt.files_.push_back(std::move(*file));
    return ckpt;
  }
  auto map = read_weight_map(index_path);
  if (!map) return map.err();
  std::map<std::string, std::shared_ptr<const safetensors_file>> shards;
  for (const auto& [name, shard] : *map) {
    if (!shards.count(shard)) {
      auto file = safetensors_file::open((fs::path(dir) / shard).string());
      if (!file) return file.err();
      shards[shard] = *file;
      ckpt.files_.push_back(std::move(*file));
    }
    const safetensors_tensor* t = shards[shard]->find(name);
    if (t == nullptr) return error{dir + ": tensor '" + name + "' is not in its shard " + shard};
    ckpt.index_[name] = t;
  }
  return ckpt;
}

const safetensors_tensor* safetensors_checkpoint::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

status write_safetensors(const std::string& path, const std::vector<safetensors_entry>& tensors) {
  std::string header = "{";
  std::string data;
  for (const auto& t : tensors) {
    const size_t begin = data.size();
    append_bytes(data, t);
    if (header.size() > 1) header += ',';
    header +=
        "\"" + t.name + "\":{\"dtype\":\"" + safetensors_dtype_name(t.dtype) + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) {
      if (i > 0) header += ',';
      header += std::to_string(t.shape[i]);
    }
    header +=
        "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return error{path + ": cannot create"};
  const uint64_t len = header.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << header << data;
  if (!out) return error{path + ": write failed"};
  return ok_status();
}

}  // namespace troupe::runtime
