#include "runtime/grammar/json_schema_grammar_rules.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>

namespace troupe::runtime::grammar::json_schema_detail {

namespace {

// -- text ------------------------------------------------------------------------------------

std::string hex_byte(unsigned char c, const char* prefix) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%s%02x", prefix, c);
  return buf;
}

std::string alternatives(const std::vector<std::string>& alts) {
  std::string out;
  for (size_t i = 0; i < alts.size(); ++i)
    out += (i == 0 ? "" : " | ") + alts[i];
  return out;
}

// Alternatives as one element of a sequence: parenthesized when there are several.
std::string group(const std::vector<std::string>& alts) {
  return alts.size() == 1 ? alts[0] : "( " + alternatives(alts) + " )";
}

// A character as it may appear inside a GBNF class [...].
std::string class_char(std::string_view c) {
  if (c.size() == 1) {
    auto b = static_cast<unsigned char>(c[0]);
    if (b < 0x20 || b == 0x7f) return hex_byte(b, "\\u00");
    if (std::string_view(R"("\[]-^)").find(c[0]) != std::string_view::npos)
      return std::string("\\").append(c);
  }
  return std::string(c);
}

// -- decimals --------------------------------------------------------------------------------
// Bounds are compared exactly, as decimal digit strings, so that no bound (1e300, 0.1) is
// rounded on its way into the grammar.

// A non-negative integer as digits without leading zeros ("0" for zero).
using magnitude = std::string;

struct big_int {
  bool negative = false;
  magnitude mag = "0";
};

magnitude strip_zeros(const std::string& s) {
  size_t i = s.find_first_not_of('0');
  return i == std::string::npos ? "0" : s.substr(i);
}

int mag_cmp(const magnitude& a, const magnitude& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

magnitude mag_add1(magnitude m) {
  int i = static_cast<int>(m.size()) - 1;
  while (i >= 0 && m[static_cast<size_t>(i)] == '9')
    m[static_cast<size_t>(i--)] = '0';
  if (i < 0) return "1" + m;
  ++m[static_cast<size_t>(i)];
  return m;
}

magnitude mag_sub1(magnitude m) {  // requires m > 0
  size_t i = m.size() - 1;
  while (m[i] == '0')
    m[i--] = '9';
  --m[i];
  return strip_zeros(m);
}

int big_cmp(const big_int& a, const big_int& b) {
  if (a.negative != b.negative) return a.negative ? -1 : 1;
  return a.negative ? -mag_cmp(a.mag, b.mag) : mag_cmp(a.mag, b.mag);
}

big_int big_add1(big_int x) {
  if (!x.negative) return {false, mag_add1(x.mag)};
  x.mag = mag_sub1(x.mag);
  if (x.mag == "0") x.negative = false;
  return x;
}

big_int big_sub1(big_int x) {
  if (x.negative) return {true, mag_add1(x.mag)};
  if (x.mag == "0") return {true, "1"};
  return {false, mag_sub1(x.mag)};
}

// ±digits × 10^exponent, read from the shortest text that gives back the parsed double (which
// is the decimal the schema wrote for any bound of up to 15 significant digits).
struct decimal {
  bool negative = false;
  std::string digits;
  int exponent = 0;
};

decimal to_decimal(const json_value& v) {
  std::string t = number_text(v);
  decimal d;
  size_t i = 0;
  if (t[i] == '-') d.negative = true, ++i;
  std::string frac;
  for (; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i)
    d.digits += t[i];
  if (i < t.size() && t[i] == '.')
    for (++i; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i)
      frac += t[i];
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) d.exponent = std::stoi(t.substr(i + 1));
  d.digits = strip_zeros(d.digits + frac);
  d.exponent -= static_cast<int>(frac.size());
  return d;
}

// floor or ceil of d × 10^shift.
big_int scaled(const decimal& d, int shift, bool ceil) {
  int e = d.exponent + shift;
  magnitude whole;
  bool inexact = false;
  if (e >= 0) {
    whole = d.digits + std::string(static_cast<size_t>(e), '0');
  } else {
    size_t drop = static_cast<size_t>(-e);
    size_t keep = d.digits.size() > drop ? d.digits.size() - drop : 0;
    whole = keep > 0 ? d.digits.substr(0, keep) : "0";
    inexact = d.digits.find_first_not_of('0', keep) != std::string::npos;
  }
  whole = strip_zeros(whole);
  // Rounding away from zero is ceil for a positive value and floor for a negative one.
  if (inexact && ceil != d.negative) whole = mag_add1(whole);
  return {d.negative && whole != "0", whole};
}

struct bounds {
  std::optional<big_int> lo, hi;
};

// The schema's bounds on value × 10^shift, as an inclusive range of integers.
result<bounds> read_bounds(const json_value& schema, int shift, bool whole_only) {
  bounds b;
  const char* keys[] = {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"};
  for (int k = 0; k < 4; ++k) {
    auto it = schema.FindMember(keys[k]);
    if (it == schema.MemberEnd()) continue;
    if (!it->value.IsNumber()) return error{std::string(keys[k]) + " must be a number"};
    decimal d = to_decimal(it->value);
    if (whole_only && big_cmp(scaled(d, 0, false), scaled(d, 0, true)) != 0)
      return error{std::string("integer ") + keys[k] + " must be a whole number"};
    big_int v;
    if (k == 0) v = scaled(d, shift, true);
    if (k == 1) v = big_add1(scaled(d, shift, false));
    if (k == 2) v = scaled(d, shift, false);
    if (k == 3) v = big_sub1(scaled(d, shift, true));
    auto& slot = k < 2 ? b.lo : b.hi;
    bool tighter = !slot || (k < 2 ? big_cmp(v, *slot) > 0 : big_cmp(v, *slot) < 0);
    if (tighter) slot = v;
  }
  if (b.lo && b.hi && big_cmp(*b.lo, *b.hi) > 0)
    return error{"minimum is greater than maximum: the range is empty"};
  return b;
}

// -- digit ranges ----------------------------------------------------------------------------

std::string digit_set(char lo, char hi) {
  if (lo == hi) return std::string("\"") + lo + "\"";
  return std::string("[") + lo + "-" + hi + "]";
}

std::string any_digits(size_t n) {
  if (n == 0) return "";
  if (n == 1) return "[0-9]";
  return "[0-9]{" + std::to_string(n) + "}";
}

// Digit strings of a's length from a to b (leading zeros allowed), a <= b.
//   a = 1 2 7 4     common prefix "12", then 7 < 9:
//   b = 1 2 9 1     "12" ( "7" [4-9] | "8" [0-9] | "9" [0-1] )
std::string fixed_range(const std::string& a, const std::string& b) {
  size_t k = 0;
  while (k < a.size() && a[k] == b[k])
    ++k;
  std::string prefix = k > 0 ? gbnf_literal(a.substr(0, k)) : "";
  if (k == a.size()) return prefix;
  size_t r = a.size() - k - 1;
  std::string ra = a.substr(k + 1), rb = b.substr(k + 1);
  bool low_full = ra.find_first_not_of('0') == std::string::npos;
  bool high_full = rb.find_first_not_of('9') == std::string::npos;
  char mid_lo = low_full ? a[k] : static_cast<char>(a[k] + 1);
  char mid_hi = high_full ? b[k] : static_cast<char>(b[k] - 1);
  std::vector<std::string> alts;
  if (!low_full) alts.push_back(seq({digit_set(a[k], a[k]), fixed_range(ra, std::string(r, '9'))}));
  if (mid_lo <= mid_hi) alts.push_back(seq({digit_set(mid_lo, mid_hi), any_digits(r)}));
  if (!high_full)
    alts.push_back(seq({digit_set(b[k], b[k]), fixed_range(std::string(r, '0'), rb)}));
  return seq({prefix, group(alts)});
}

// [1-9] and then lo to hi more digits (no upper end when hi is nullopt).
std::string leading_nonzero(size_t lo, std::optional<size_t> hi) {
  std::string reps;
  if (!hi)
    reps = lo == 0 ? "*" : lo == 1 ? "+" : std::string("{").append(std::to_string(lo)).append(",}");
  else if (lo == *hi)
    reps = lo == 0 ? "" : std::string("{").append(std::to_string(lo)).append("}");
  else
    reps = std::string("{")
               .append(std::to_string(lo))
               .append(",")
               .append(std::to_string(*hi))
               .append("}");
  return reps.empty() ? "[1-9]" : "[1-9] [0-9]" + reps;
}

// Decimal integers without leading zeros from lo to hi (no upper end when hi is nullopt).
std::vector<std::string> uint_range(const magnitude& lo, const std::optional<magnitude>& hi) {
  size_t n_lo = lo.size(), n_hi = hi ? hi->size() : n_lo;
  // From a power of ten up: every number with at least that many digits.
  if (!hi && lo[0] == '1' && lo.find_first_not_of('0', 1) == std::string::npos)
    return {leading_nonzero(n_lo - 1, std::nullopt)};
  std::vector<std::string> alts;
  alts.push_back(fixed_range(lo, hi && n_hi == n_lo ? *hi : std::string(n_lo, '9')));
  if (!hi) {
    alts.push_back(leading_nonzero(n_lo, std::nullopt));
  } else if (n_hi > n_lo) {
    if (n_hi > n_lo + 1) alts.push_back(leading_nonzero(n_lo, n_hi - 2));  // lengths between
    alts.push_back(fixed_range(std::string("1").append(n_hi - 1, '0'), *hi));
  }
  return alts;
}

// ".F" fraction digits (one to six) whose value, padded to six digits, is in [lo6, hi6].
std::vector<std::string> fraction_alts(int lo6, int hi6) {
  if (lo6 == 0 && hi6 == 999999) return {"[0-9]{1,6}"};
  std::vector<std::string> alts;
  int unit = 100000;
  for (size_t k = 1; k <= 6; ++k, unit /= 10) {
    int lo = (lo6 + unit - 1) / unit, hi = hi6 / unit;
    if (lo > hi) continue;
    auto pad = [k](int x) {
      std::string s = std::to_string(x);
      return std::string(k - s.size(), '0') + s;
    };
    alts.push_back(fixed_range(pad(lo), pad(hi)));
  }
  return alts;
}

// Number texts without sign whose value × 10^6 is in [lo, hi]. `bare_zero` says whether "0"
// without fraction may be written (xgrammar refuses "-0" but takes "-0.0").
std::vector<std::string> magnitude_alts(const magnitude& lo, const std::optional<magnitude>& hi,
                                        bool bare_zero) {
  auto split = [](const magnitude& m) {
    std::string padded = std::string(m.size() < 7 ? 7 - m.size() : 0, '0') + m;
    size_t cut = padded.size() - 6;
    return std::make_pair(strip_zeros(padded.substr(0, cut)), std::stoi(padded.substr(cut)));
  };
  std::vector<std::string> alts;
  auto emit = [&](const std::string& int_part, bool zero, int lo6, int hi6) {
    std::vector<std::string> fracs = fraction_alts(lo6, hi6);
    bool bare = lo6 == 0 && (bare_zero || !zero);
    if (fracs.empty() && !bare) return;
    std::string frac = fracs.empty() ? "" : seq({"\".\"", group(fracs)});
    if (bare && !frac.empty()) frac = "( " + frac + " )?";
    alts.push_back(seq({int_part, frac}));
  };
  auto [i_lo, f_lo] = split(lo);
  if (hi && split(*hi).first == i_lo) {
    emit(gbnf_literal(i_lo), i_lo == "0", f_lo, split(*hi).second);
    return alts;
  }
  emit(gbnf_literal(i_lo), i_lo == "0", f_lo, 999999);
  magnitude next = mag_add1(i_lo);
  if (!hi) {
    emit(group(uint_range(next, std::nullopt)), false, 0, 999999);
    return alts;
  }
  auto [i_hi, f_hi] = split(*hi);
  if (mag_cmp(next, i_hi) < 0) emit(group(uint_range(next, mag_sub1(i_hi))), false, 0, 999999);
  emit(gbnf_literal(i_hi), false, 0, f_hi);
  return alts;
}

}  // namespace

std::string seq(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += ' ';
    out += p;
  }
  return out;
}

std::string repeat(const std::string& x, int64_t lo, int64_t hi) {
  if (hi == 0) return "";
  std::string g = "( " + x + " )";
  if (lo == 0 && hi < 0) return g + "*";
  if (lo == 1 && hi < 0) return g + "+";
  if (lo == 0 && hi == 1) return g + "?";
  if (hi < 0) return g + "{" + std::to_string(lo) + ",}";
  if (lo == hi) return g + "{" + std::to_string(lo) + "}";
  return g + "{" + std::to_string(lo) + "," + std::to_string(hi) + "}";
}

std::string sanitize(std::string_view text) {
  std::string out;
  for (char c : text) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    if (ok)
      out += c;
    else if (!out.empty() && out.back() != '_')
      out += '_';
    if (out.size() >= 32) break;
  }
  return out.empty() ? "x" : out;
}

std::string gbnf_literal(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\')
      out += '\\', out += ch;
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f)
      out += hex_byte(c, "\\u00");  // xgrammar reads \x greedily
    else
      out += ch;
  }
  return out + "\"";
}

result<std::optional<std::string>> integer_range_expr(const json_value& schema) {
  auto b = read_bounds(schema, 0, true);
  if (!b) return b.err();
  if (!b->lo && !b->hi) return std::optional<std::string>();
  std::vector<std::string> alts;
  if (!b->hi || !b->hi->negative) {
    magnitude lo = b->lo && !b->lo->negative ? b->lo->mag : "0";
    for (auto& a : uint_range(lo, b->hi ? std::optional(b->hi->mag) : std::nullopt))
      alts.push_back(a);
  }
  if (!b->lo || b->lo->negative) {
    magnitude lo = b->hi && b->hi->negative ? b->hi->mag : "1";
    alts.push_back(
        seq({"\"-\"", group(uint_range(lo, b->lo ? std::optional(b->lo->mag) : std::nullopt))}));
  }
  return std::optional("( " + alternatives(alts) + " )");
}

result<std::optional<std::string>> number_range_expr(const json_value& schema) {
  auto b = read_bounds(schema, 6, false);
  if (!b) return b.err();
  if (!b->lo && !b->hi) return std::optional<std::string>();
  std::vector<std::string> alts;
  if (!b->hi || !b->hi->negative) {
    magnitude lo = b->lo && !b->lo->negative ? b->lo->mag : "0";
    auto part = magnitude_alts(lo, b->hi ? std::optional(b->hi->mag) : std::nullopt, true);
    alts.insert(alts.end(), part.begin(), part.end());
  }
  if (!b->lo || b->lo->negative) {
    magnitude lo = b->hi && b->hi->negative ? b->hi->mag : "0";
    auto part = magnitude_alts(lo, b->lo ? std::optional(b->lo->mag) : std::nullopt, false);
    if (!part.empty()) alts.push_back(seq({"\"-\"", group(part)}));
  }
  if (alts.empty()) return error{"no number with at most six fraction digits is in the range"};
  return std::optional("( " + alternatives(alts) + " )");
}

std::vector<rule_text> string_except_rules(const std::function<std::string(size_t)>& rule_name,
                                           const std::vector<std::string>& excluded) {
  // A trie over the keys' units: one character, or one escape sequence (\" or \u0001).
  struct node {
    bool terminal = false;
    std::vector<std::pair<std::string, size_t>> children;
  };
  std::vector<node> nodes(1);
  for (const auto& key : excluded) {
    size_t at = 0;
    for (size_t i = 0; i < key.size();) {
      size_t len = 1;
      auto c = static_cast<unsigned char>(key[i]);
      if (c == '\\')
        len = key[i + 1] == 'u' ? 6 : 2;
      else if (c >= 0xf0)
        len = 4;
      else if (c >= 0xe0)
        len = 3;
      else if (c >= 0xc0)
        len = 2;
      std::string unit = key.substr(i, len);
      i += len;
      auto& kids = nodes[at].children;
      auto it = std::find_if(kids.begin(), kids.end(), [&](auto& k) { return k.first == unit; });
      if (it != kids.end()) {
        at = it->second;
        continue;
      }
      kids.emplace_back(unit, nodes.size());
      at = nodes.size();
      nodes.emplace_back();
    }
    nodes[at].terminal = true;
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < nodes.size(); ++i)
    names.push_back(rule_name(i));
  std::vector<rule_text> rules;
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::vector<std::string> alts;
    if (!nodes[i].terminal) alts.push_back(R"("\"")");
    std::string plain = R"([^"\\)", escapes;
    for (const auto& [unit, child] : nodes[i].children) {
      alts.push_back(gbnf_literal(unit) + " " + names[child]);
      if (unit[0] != '\\')
        plain += class_char(unit);
      else if (unit.size() == 2)
        escapes += unit[1];
    }
    // A differing character or escape leaves the excluded keys behind: any string follows.
    alts.push_back(plain + R"(\x00-\x1f] json-string-rest)");
    if (escapes.empty()) {
      alts.push_back(R"("\\" json-escape json-string-rest)");
    } else {
      std::string other;
      for (char e : std::string(R"("\/bfnrt)"))
        if (escapes.find(e) == std::string::npos) other += class_char(std::string(1, e));
      std::string esc = other.empty() ? "" : "[" + other + "] | ";
      alts.push_back(R"("\\" ( )" + esc + R"("u" [0-9a-fA-F]{4} ) json-string-rest)");
    }
    rules.push_back({names[i], alternatives(alts)});
  }
  return rules;
}

}  // namespace troupe::runtime::grammar::json_schema_detail
