#include "tools/cli/config_file.hpp"

#include <yaml.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "http/python_json.hpp"

namespace troupe::cli {
namespace {

// A YAML scalar as PyYAML's safe_load types it (YAML 1.1's implicit types; quoted: a string).
struct scalar {
  enum class kind { null, boolean, integer, real, text } type = kind::text;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;
};

const std::regex& int_pattern() {
  static const std::regex re(
      "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|"
      "[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+");
  return re;
}

const std::regex& float_pattern() {
  static const std::regex re(
      "[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9_]+(?:[eE][-+][0-9]+)?|"
      "[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)");
  return re;
}

bool one_of(std::string_view text, std::initializer_list<std::string_view> words) {
  for (std::string_view w : words)
    if (text == w) return true;
  return false;
}

// PyYAML's int constructor: underscores dropped, 0b / 0x / leading-0 octal / base-60 parts.
result<int64_t> yaml_int(std::string text) {
  std::erase(text, '_');
  bool negative = false;
  if (text[0] == '-' || text[0] == '+') {
    negative = text[0] == '-';
    text.erase(0, 1);
  }
  auto parse = [&](std::string_view digits, int base) -> result<int64_t> {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (ec != std::errc() || end != digits.data() + digits.size())
      return error{"integer out of range: " + text};
    return v;
  };
  result<int64_t> value = int64_t{0};
  if (text.starts_with("0b")) {
    value = parse(std::string_view(text).substr(2), 2);
  } else if (text.starts_with("0x")) {
    value = parse(std::string_view(text).substr(2), 16);
  } else if (text.size() > 1 && text[0] == '0') {
    value = parse(std::string_view(text).substr(1), 8);
  } else if (text.find(':') != std::string::npos) {
    int64_t v = 0;
    std::istringstream parts(text);
    for (std::string part; std::getline(parts, part, ':');)
      v = v * 60 + std::stoll(part);
    value = v;
  } else {
    value = parse(text, 10);
  }
  if (!value) return value;
  return negative ? -*value : *value;
}

double yaml_float(std::string text) {
  std::erase(text, '_');
  const bool negative = text[0] == '-';
  std::string_view body(text);
  if (body[0] == '-' || body[0] == '+') body.remove_prefix(1);
  if (body.size() == 4 && body[0] == '.' && (body[1] == 'i' || body[1] == 'I'))
    return negative ? -INFINITY : INFINITY;
  if (body.size() == 4 && body[0] == '.') return NAN;
  return std::stod(text);
}

result<scalar> resolve(const yaml_node_t& node) {
  scalar s;
  s.text.assign(reinterpret_cast<const char*>(node.data.scalar.value), node.data.scalar.length);
  if (node.data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return s;
  const std::string_view t = s.text;
  if (one_of(t, {"", "~", "null", "Null", "NULL"})) {
    s.type = scalar::kind::null;
  } else if (one_of(t, {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    s.type = scalar::kind::boolean;
    s.boolean = true;
  } else if (one_of(t, {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    s.type = scalar::kind::boolean;
  } else if (std::regex_match(s.text, int_pattern())) {
    auto v = yaml_int(s.text);
    if (!v) return v.err();
    s.type = scalar::kind::integer;
    s.integer = *v;
  } else if (std::regex_match(s.text, float_pattern())) {
    s.type = scalar::kind::real;
    s.real = yaml_float(s.text);
  }
  return s;
}

// Python's str() of a float (repr: 0.9, 1500.0, 1e-05, inf, nan).
std::string python_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  return http::python_float_repr(v);
}

// Python's str() of a scalar.
std::string python_str(const scalar& s) {
  switch (s.type) {
    case scalar::kind::null:
      return "None";
    case scalar::kind::boolean:
      return s.boolean ? "True" : "False";
    case scalar::kind::integer:
      return std::to_string(s.integer);
    case scalar::kind::real:
      return python_float(s.real);
    case scalar::kind::text:
      break;
  }
  return s.text;
}

class yaml_doc {
 public:
  explicit yaml_doc(std::string_view text) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    loaded_ = yaml_parser_load(&parser_, &doc_) != 0;
  }
  ~yaml_doc() {
    if (loaded_) yaml_document_delete(&doc_);
    yaml_parser_delete(&parser_);
  }
  yaml_doc(const yaml_doc&) = delete;
  yaml_doc& operator=(const yaml_doc&) = delete;

  status ok() const {
    if (loaded_) return ok_status();
    return error{fmt::format("invalid YAML at line {}: {}", parser_.problem_mark.line + 1,
                             parser_.problem != nullptr ? parser_.problem : "unknown problem")};
  }
  const yaml_node_t* root() { return yaml_document_get_root_node(&doc_); }
  const yaml_node_t* node(int index) { return yaml_document_get_node(&doc_, index); }

  // The node as Python holds it after safe_load (for json.dumps).
  result<http::python_value> python(const yaml_node_t& n) {
    using kind = http::python_value::kind;
    http::python_value v;
    if (n.type == YAML_SCALAR_NODE) {
      auto s = resolve(n);
      if (!s) return s.err();
      switch (s->type) {
        case scalar::kind::null:
          break;
        case scalar::kind::boolean:
          v.type = kind::boolean;
          v.text = s->boolean ? "true" : "false";
          break;
        case scalar::kind::integer:
          v.type = kind::integer;
          v.text = std::to_string(s->integer);
          break;
        case scalar::kind::real:
          v.type = kind::floating;  // read back with strtod: "NaN", "inf", "-inf" or the repr
          v.text = std::isnan(s->real) ? "NaN" : python_float(s->real);
          break;
        case scalar::kind::text:
          v.type = kind::string;
          v.text = std::move(s->text);
          break;
      }
      return v;
    }
    if (n.type == YAML_SEQUENCE_NODE) {
      v.type = kind::array;
      for (const yaml_node_item_t* item = n.data.sequence.items.start;
           item < n.data.sequence.items.top; ++item) {
        auto element = python(*node(*item));
        if (!element) return element;
        v.items.push_back(std::move(*element));
      }
      return v;
    }
    v.type = kind::object;
    for (const yaml_node_pair_t* pair = n.data.mapping.pairs.start; pair < n.data.mapping.pairs.top;
         ++pair) {
      const yaml_node_t& key = *node(pair->key);
      if (key.type != YAML_SCALAR_NODE) return error{"a mapping key must be a scalar"};
      auto k = resolve(key);
      if (!k) return k.err();
      auto member = python(*node(pair->value));
      if (!member) return member;
      // json.dumps turns keys into strings: None -> "null", True -> "true", 1 -> "1".
      std::string name = k->type == scalar::kind::null      ? "null"
                         : k->type == scalar::kind::boolean ? (k->boolean ? "true" : "false")
                                                            : python_str(*k);
      v.members.emplace_back(std::move(name), std::move(*member));
    }
    return v;
  }

 private:
  yaml_parser_t parser_{};
  yaml_document_t doc_{};
  bool loaded_ = false;
};

}  // namespace

result<std::vector<std::string>> config_yaml_args(std::string_view yaml,
                                                  const negatable_flag& negatable) {
  yaml_doc doc(yaml);
  if (auto ok = doc.ok(); !ok) return ok.err();
  const yaml_node_t* root = doc.root();
  if (root == nullptr || root->type != YAML_MAPPING_NODE)
    return error{"the config file must hold a mapping of flag names to values"};
  std::vector<std::string> args;
  for (const yaml_node_pair_t* pair = root->data.mapping.pairs.start;
       pair < root->data.mapping.pairs.top; ++pair) {
    const yaml_node_t& key_node = *doc.node(pair->key);
    const yaml_node_t& value = *doc.node(pair->value);
    if (key_node.type != YAML_SCALAR_NODE) return error{"a flag name must be a scalar"};
    auto key_scalar = resolve(key_node);
    if (!key_scalar) return key_scalar.err();
    const std::string key = python_str(*key_scalar);
    const std::string flag = "--" + key;
    if (value.type == YAML_MAPPING_NODE) {
      auto mapping = doc.python(value);
      if (!mapping) return mapping.err();
      args.insert(args.end(), {flag, http::python_json_dumps(*mapping, /*ensure_ascii=*/true)});
    } else if (value.type == YAML_SEQUENCE_NODE) {
      if (value.data.sequence.items.start == value.data.sequence.items.top) continue;
      args.push_back(flag);
      for (const yaml_node_item_t* item = value.data.sequence.items.start;
           item < value.data.sequence.items.top; ++item) {
        const yaml_node_t& n = *doc.node(*item);
        if (n.type != YAML_SCALAR_NODE)
          return error{"the list under '" + key + "' may hold only scalars"};
        auto s = resolve(n);
        if (!s) return s.err();
        args.push_back(python_str(*s));
      }
    } else {
      auto s = resolve(value);
      if (!s) return s.err();
      if (s->type == scalar::kind::boolean) {
        if (s->boolean) {
          args.push_back(flag);
        } else if (negatable(key)) {
          args.push_back("--no-" + key);
        }
        continue;
      }
      args.insert(args.end(), {flag, python_str(*s)});
    }
  }
  return args;
}

result<std::vector<std::string>> expand_config_file(std::vector<std::string> args, bool positional,
                                                    const negatable_flag& negatable) {
  std::optional<size_t> at;
  std::string path;
  size_t taken = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const bool separate = args[i] == "--config";
    if (!separate && !args[i].starts_with("--config=")) continue;
    if (at) return error{"More than one config file specified!"};
    if (separate && i + 1 == args.size())
      return error{"No config file specified! Please check your command-line arguments."};
    at = i;
    path = separate ? args[i + 1] : args[i].substr(std::string_view("--config=").size());
    taken = separate ? 2 : 1;
  }
  if (!at) return args;
  const std::string extension = path.substr(path.rfind('.') + 1);
  if (extension != "yaml" && extension != "yml")
    return error{"Config file must be of a yaml/yml type. " + extension + " supplied"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot read the config file " + path};
  std::stringstream text;
  text << in.rdbuf();
  auto config = config_yaml_args(text.str(), negatable);
  if (!config) return error{path + ": " + config.message()};
  args.erase(args.begin() + static_cast<std::ptrdiff_t>(*at),
             args.begin() + static_cast<std::ptrdiff_t>(*at + taken));
  const size_t splice = positional && !args.empty() && !args[0].starts_with("-") ? 1 : 0;
  if (splice == 1) {
    // A positional model wins over the file's (vLLM's serve takes its model_tag).
    for (size_t i = 0; i + 1 < config->size(); ++i) {
      if ((*config)[i] == "--model") {
        config->erase(config->begin() + static_cast<std::ptrdiff_t>(i),
                      config->begin() + static_cast<std::ptrdiff_t>(i + 2));
        break;
      }
    }
  }
  args.insert(args.begin() + static_cast<std::ptrdiff_t>(splice), config->begin(), config->end());
  return args;
}

}  // namespace troupe::cli
