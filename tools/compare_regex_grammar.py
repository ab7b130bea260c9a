#!/usr/bin/env python3
"""Checks runtime/grammar/regex_grammar.cpp against vLLM 0.32 + xgrammar 0.2.8 (run by hand).

For every pattern below, the grammar text our regex_to_grammar() writes is parsed with
xgrammar.Grammar.from_ebnf() and compared with xgrammar.Grammar.from_regex(pattern) (what vLLM
compiles for structured_outputs.regex) on many strings, both through
xgrammar.testing._is_grammar_accept_string(). The strings are the listed ones, their one-edit
mutants, and every string of up to 3 characters over a small alphabet taken from the pattern.
Both sides must also agree on whether the pattern is an error. choice_to_grammar() is compared
with vLLM's choice_as_grammar() (same text, same acceptance).

When troupe's grammar engine is there (runtime/grammar/grammar.cpp, recognizer.cpp), every grammar
we write must also compile in it (it refuses left recursion, which xgrammar tolerates) and its
accepts() must give xgrammar's verdicts on the same strings.

A tiny driver is built from the .cpp files with g++ into a temporary directory each run.

Usage (vLLM's venv has xgrammar 0.2.8 and vLLM 0.32):
  ~/.cache/troupe/peers/vllm-venv/bin/python tools/compare_regex_grammar.py [--cases] [--fuzz N]
  --cases   also print the listed strings with xgrammar's verdicts as C++ table rows
            {pattern, {matches...}, {non-matches...}} (the source of regex_grammar_test.cpp)
  --fuzz N  also compare N random patterns built from the constructs both sides share
Exit status 1 when an unexpected difference is found. KNOWN_DIFFERENCES lists the deliberate
ones (regex_grammar.hpp documents them); they are reported, not counted as failures.
"""
import itertools
import os
import random
import subprocess
import sys
import tempfile

import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string as accepts

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

DRIVER = r"""
#include <iostream>
#include <sstream>
#include "runtime/grammar/regex_grammar.hpp"
#ifdef WITH_ENGINE
#include "runtime/grammar/grammar.hpp"
#endif
using namespace troupe::runtime::grammar;
static std::string unhex(const std::string& h) {
  std::string s;
  for (size_t i = 0; i + 1 < h.size(); i += 2) s += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return s;
}
static std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) { h += d[c >> 4]; h += d[c & 15]; }
  return h;
}
// Lines "R <hex pattern>", "C <hex choice>..." or "A <hex grammar> <hex text>" (engine builds);
// answers "OK <hex grammar or 01/00>" or "ERR <hex message>".
int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string kind, item;
    in >> kind;
    std::vector<std::string> items;
    while (in >> item) items.push_back(unhex(item == "-" ? "" : item));
#ifdef WITH_ENGINE
    if (kind == "A") {
      auto a = accepts(items[0], items.size() > 1 ? items[1] : "");
      std::cout << (a.ok() ? (*a ? "OK 01" : "OK 00") : "ERR " + hex(a.message())) << "\n";
      continue;
    }
#endif
    auto r = kind == "R" ? regex_to_grammar(items.empty() ? "" : items[0])
                         : choice_to_grammar(items);
    std::cout << (r.ok() ? "OK " + hex(*r) : "ERR " + hex(r.message())) << "\n";
  }
}
"""

# (pattern, strings to try). The strings mix matches and near misses.
CASES = [
    ("", ["", "a"]),
    ("abc", ["abc", "ab", "abcd", "ABC"]),
    ("héllo wörld", ["héllo wörld", "hello world"]),
    ("😀+", ["😀", "😀😀", "", "😁"]),
    ('say "hi"', ['say "hi"', "say hi"]),
    ("a\tb\nc", ["a\tb\nc", "a b c"]),
    ("a.c", ["abc", "a\nc", "a😀c", "ac", "a\x00c", "abbc"]),
    (".*", ["", "anything\n at all", "😀"]),
    ("a|b|cd", ["a", "b", "cd", "c", "ab", ""]),
    ("ab|cd", ["ab", "cd", "abcd", "ad"]),
    ("a|", ["a", "", "aa"]),
    ("|a", ["a", ""]),
    ("a||b", ["a", "b", ""]),
    ("(a|b)c", ["ac", "bc", "c", "abc"]),
    ("(?:ab)+", ["ab", "abab", "", "aba"]),
    ("(?<name>x)y", ["xy", "y"]),
    ("(?P<year>\\d{4})-(?P<m>\\d\\d)", ["2024-01", "24-01"]),
    ("()", [""]),
    ("(|)", ["", "a"]),
    ("a()b", ["ab"]),
    ("((a)|b)*", ["", "a", "ab", "bab", "c"]),
    ("(a(b(c)?)*)+", ["a", "abc", "abbc", "aabc", "ac", ""]),
    ("a*", ["", "a", "aaaa", "b"]),
    ("a+", ["", "a", "aaa"]),
    ("a?", ["", "a", "aa"]),
    ("ab*c", ["ac", "abc", "abbbc", "abac"]),
    ("ab+c?", ["ab", "abb", "abbc", "ac"]),
    ("a{3}", ["aa", "aaa", "aaaa"]),
    ("a{2,}", ["a", "aa", "aaaaaa"]),
    ("a{2,4}", ["a", "aa", "aaa", "aaaa", "aaaaa"]),
    ("a{0}b", ["b", "ab"]),
    ("a{0,1}", ["", "a", "aa"]),
    ("a{1}", ["a", ""]),
    ("a{1,1}b", ["ab"]),
    ("a{02}", ["aa", "a"]),
    ("(ab){2}", ["abab", "ab", "ababab"]),
    ("[ab]{1,3}", ["a", "bab", "abab", ""]),
    ("a*?b", ["b", "aab"]),
    ("a+?", ["a", "aa", ""]),
    ("a??", ["", "a"]),
    ("a{2,3}?", ["aa", "aaa", "a"]),
    ("a{2,}?", ["aa", "aaaaa"]),
    ("a{2}?", ["aa", "a"]),
    ("^abc$", ["abc", "^abc$"]),
    ("^^a$$", ["a"]),
    ("a$b", ["ab", "a$b"]),
    ("a^b", ["ab"]),
    ("a^*", ["", "aaa"]),
    ("(^a|b$)", ["a", "b"]),
    ("[abc]", ["a", "c", "d", ""]),
    ("[a-z]+", ["hello", "Hello", ""]),
    ("[a-zA-Z0-9_]", ["a", "Z", "5", "_", "-"]),
    ("[^abc]", ["d", "a", "\n", "😀"]),
    ("[^a-z]+", ["ABC", "aB"]),
    ("[-a]", ["-", "a", "b"]),
    ("[a-]", ["-", "a"]),
    ("[-]", ["-"]),
    ("[^-]", ["-", "a"]),
    ("[!--]", ["!", "-", ",", "."]),
    ("[--z]", ["-", "a", "z", ","]),
    ("[a-z-0]", ["-", "0", "m", "1"]),
    ("[\\x41-\\x43-\\x45]", ["A", "C", "-", "E", "D"]),
    ("[\\d-z]", ["5", "-", "z", "a"]),
    ("[\\W-~]", ["-", "~", "!", "a"]),
    ("[a\\-z]", ["-", "a", "z", "m"]),
    ("[\\-a]", ["-", "a"]),
    ("[.]", [".", "a"]),
    ("[*+?|()$^{}]+", ["*+?|()", "$^{}", "a"]),
    ("[a^]", ["a", "^"]),
    ("[^^]", ["^", "a"]),
    ("[[]", ["["]),
    ("[a[b]", ["a", "[", "b"]),
    ('["]', ['"']),
    ("[\\\\]", ["\\"]),
    ("[\\]]", ["]"]),
    ("[\\[]", ["["]),
    ("[\\n-\\r]", ["\n", "\r", "\x0b", " "]),
    ("[\\x41-\\x43]", ["A", "B", "C", "D"]),
    ("[\\u0041-\\u0043]", ["A", "C", "D"]),
    ("[\\u{41}-\\u{43}]", ["A", "D"]),
    ("[é-ë]", ["é", "ê", "ë", "e"]),
    ("[😀-😂]", ["😀", "😁", "😂", "😃"]),
    ("[\\d]", ["5", "a"]),
    ("[\\D]", ["a", "5", "\n"]),
    ("[\\w]", ["a", "_", "-"]),
    ("[\\W]", ["-", "a", "é"]),
    ("[\\s]", [" ", "\t", "a", "\xa0"]),
    ("[\\S]", ["a", " ", "\xa0", "\x85"]),
    ("[\\s\\S]*", ["", "a b\nc"]),
    ("[^\\s\\S]", ["a", " "]),
    ("a|[^\\s\\S]", ["a", "b"]),
    ("[^\\d\\D]", ["a", "1"]),
    ("[^\\S]", [" ", "a", "\n"]),
    ("[^\\W]", ["a", "-"]),
    ("[\\w.-]+", ["a.b-c", "a b"]),
    ("[\\b]", ["\b", "b"]),
    ("[\\B]", ["B"]),
    ("[\\1]", ["1", "\x01"]),
    ("[\\0]", ["\x00", "0"]),
    ("[\\cA]", ["\x01", "A"]),
    ("[\\.]", [".", "a"]),
    ("[a-a]", ["a", "b"]),
    ("[^]", ["a", "\n", ""]),
    ("[^]]", ["a]", "]]", "]", "a"]),
    ("[[:alpha:]]", ["a]", ":]", "[]", "a"]),
    ("\\d+", ["0", "123", "12a", ""]),
    ("\\D", ["a", "1"]),
    ("\\w+", ["hello_World1", "é", "a-b"]),
    ("\\W", ["-", "a", " "]),
    ("\\s", [" ", "\t", "\n", "\r", "\f", "\v", "\xa0", "\u2003", "\u3000", "\x1c", "\ufeff"]),
    ("\\S", ["a", " ", "[", "\xa0", "\u2003"]),
    ("\\w+@\\w+\\.com", ["me@example.com", "me@examplexcom", "@x.com"]),
    ("\\n\\t\\r\\f\\v\\a\\e", ["\n\t\r\f\v\x07\x1b"]),
    ("\\0", ["\x00", "0", ""]),
    ("\\01", ["\x001", "\x01"]),
    ("\\x41\\x7e", ["A~"]),
    ("\\x00", ["\x00"]),
    ("\\u0041\\u00e9", ["Aé"]),
    ("\\u0041B", ["AB"]),
    ("\\u{1F600}", ["😀"]),
    ("\\u{41}", ["A"]),
    ("\\U0001F600", ["😀"]),
    ("\\cZ\\ca", ["\x1a\x01"]),
    ("\\(\\)\\[\\]\\{\\}\\|\\*\\+\\?\\.\\^\\$\\\\\\/", ["()[]{}|*+?.^$\\/"]),
    ("\\-\\ \\#\\'\\\"\\<\\,\\:\\=\\!\\@\\%\\&\\~\\`", ["- #'\"<,:=!@%&~`"]),
    ("\\q\\é\\A\\Z", ["qéAZ"]),
    ("x}", ["x}"]),
    ("x]", ["x]"]),
    ("]", ["]"]),
    ("}", ["}"]),
    ("[a-z]{2,4}?\\d*", ["ab", "abcd12", "a1"]),
    ("(?:a|b)+c?", ["abab", "abc", "c"]),
    ("\\d{3}-\\d{3}-\\d{4}", ["555-123-4567", "555-1234-567"]),
    ("(true|false)", ["true", "false", "truefalse"]),
    ("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?", ["0", "-12.5e+3", "01", "1."]),
    ('"([^"\\\\]|\\\\.)*"', ['""', '"a\\"b"', '"a"b"']),
    ("[A-Z][a-z]*( [A-Z][a-z]*)*", ["Hello World", "hello"]),
    ("(a*)*", ["", "aaa", "b"]),
    # Unbounded repetitions of something that matches "" (rewritten to avoid left recursion).
    ("(a|)+", ["", "a", "aa"]),
    ("(a?b?)*", ["", "ab", "ba", "abba", "c"]),
    ("(a?b?){2,}", ["", "a", "abab"]),
    ("((a?)*)*", ["", "aaa"]),
    ("(|a)*b", ["b", "aab", ""]),
    ("(a*|b)+", ["", "aab", "c"]),
    ("(\\s*\\w*,?)*", ["", "a, b,c", " ,", "a;"]),
    ("(a?(a?b?)*)*", ["", "ab", "bab", "c"]),
    ("(a?){2,3}", ["", "a", "aaa", "aaaa"]),
    ("(){2}", ["", "a"]),
    ("()*", [""]),
    ("(a{0})+", ["", "a"]),
    ("(a|ab)(c|bcd)(d*)", ["abcd", "acd", "abcdd"]),
    ("a{1000}", ["a" * 1000, "a" * 999]),
    ("(" * 200 + "a" + ")" * 200, ["a", ""]),
    ("(ab){0}c", ["c", "abc"]),
    ("(ab){2,3}", ["abab", "ababab", "ab"]),
    ("[a]*", ["", "aaa"]),
    ("(a|)", ["a", ""]),
    ("(?:)", [""]),
    ("[\\]-a]", ["]", "^", "a", "b"]),
    ("[!-\\-]", ["!", "-", "."]),
    ("[\\--/]", ["-", ".", "/", ","]),
    ("[a-\\]]", []),
    ("\\x41B", ["AB", "\u041b"]),
    ("\\x0041", ["A", "\x0041"]),
    ("\\ud83d\\ude00", ["😀"]),
    ("[^\n]*", ["abc", "a\nb"]),
    ("[\r]", ["\r"]),
    ("a{2,1000}", ["aa", "a" * 1000, "a" * 1001]),
    # Errors in xgrammar (and in ours).
    ("\\1", []), ("(a)\\1", []), ("\\k<a>", []), ("\\p{L}", []), ("\\P{L}", []), ("\\b", []),
    ("a\\B", []), ("(?=a)", []), ("(?!a)", []), ("(?<=a)b", []), ("(?<!a)b", []), ("(?i)a", []),
    ("(?i:a)", []), ("(?#c)", []), ("(?>a)", []), ("(?", []), ("(?<a b)", []), ("(?P=n)", []),
    ("(", []), (")", []), ("a)", []), ("(a", []), ("((a)", []), ("[", []), ("[a", []), ("[a-", []),
    ("[]", []), ("[]a]", []), ("[z-a]", []), ("[a-\\d]", []), ("[a-\\x00]", []), ("*a", []),
    ("+", []), ("?", []), ("(*a)", []), ("|*", []), ("^*", []), ("a**", []), ("a*+", []),
    ("a++", []), ("a?+", []), ("a*??", []), ("a???", []), ("a{2}{3}", []), ("a{2}*", []),
    ("a{2}??", []), ("a*^*", []), ("a*$?", []), ("a{3,2}", []), ("a{,3}", []), ("a{,}", []),
    ("a{}", []), ("a{", []), ("a{x}", []), ("a{2", []), ("a{2,", []), ("a{2,3", []), ("{2}", []),
    ("{", []), ("x{a}", []), ("\\", []), ("a\\", []), ("\\c", []), ("\\c1", []), ("[\\c1]", []),
    ("\\u{}", []), ("\\u{1234567}", []), ("\\x", []), ("\\x4", []), ("[\\p{L}]", []),
]

KNOWN_DIFFERENCES = {
    # xgrammar's \x takes every hex digit that follows; we take two, as Python and JavaScript.
    "\\x41B": "\\x takes exactly two hex digits (xgrammar: U+041B)",
    "\\x4z": "\\x needs two hex digits (xgrammar: U+0004 then 'z')",
    "\\xg1": "\\x needs two hex digits (xgrammar: literal 'xg1')",
    "\\x0041": "\\x takes exactly two hex digits (xgrammar: 'A')",
    # xgrammar reads a malformed \u or \U as a literal 'u'/'U'.
    "\\u004": "malformed \\u is an error (xgrammar: literal 'u004')",
    "[\\u00]": "malformed \\u is an error (xgrammar: literal 'u', '0')",
    "\\U0001F60": "malformed \\U is an error (xgrammar: literal 'U0001F60')",
    "\\u{110000}": "code point past U+10FFFF is an error (xgrammar accepts)",
    # Surrogates: xgrammar keeps them, and they match nothing (no UTF-8 text holds one).
    "\\ud83d\\ude00": "surrogates are an error (xgrammar: matches nothing, not even '😀')",
    "\\ud83d": "surrogates are an error (xgrammar: matches nothing)",
    # xgrammar pastes class escapes as grammar text.
    "[\\^a]": "escaped ^ in a class is literal (xgrammar: negates the class)",
    "[\\^]": "escaped ^ in a class is literal (xgrammar: [^], any character)",
    "[\\w-.]": "'-' after a shorthand is literal (xgrammar: range '_'-'.', an error)",
    "[\\s-~]": "'-' after a shorthand is literal (xgrammar: range U+00A0-'~', an error)",
    "[\\w-~]": "'-' after a shorthand is literal (xgrammar: the range '_'-'~')",
    # Extensions: xgrammar refuses these group names.
    "(?P<year>\\d{4})-(?P<m>\\d\\d)": "(?P<name>...) accepted (xgrammar: error)",
    "(?<n1>x)": "group names may hold digits and '_' (xgrammar: letters only)",
    "(?<a_b>x)": "group names may hold digits and '_' (xgrammar: letters only)",
    # Stricter than xgrammar, where it silently reads something else.
    # xgrammar pastes a raw newline or CR in a class into its grammar, where the lexer refuses it.
    "[^\n]*": "a raw newline in a class is accepted (xgrammar: error)",
    "[\r]": "a raw CR in a class is accepted (xgrammar: error)",
    "[\\p{L}]": "\\p in a class is an error (xgrammar: the letters p, {, L, })",
    "(" * 201 + ")" * 201: "groups nested deeper than max_regex_group_depth are errors",
    "a{100001}": "counts above max_regex_repetition are errors (xgrammar accepts)",
}
for pattern in KNOWN_DIFFERENCES:
    if not any(pattern == p for p, _ in CASES):
        CASES.append((pattern, []))

SPECIALS = ["a", "0", "_", " ", "\n", "-", "é", "😀", "]", "\\"]


ENGINE_SOURCES = ["runtime/grammar/grammar.cpp", "runtime/grammar/recognizer.cpp"]


def build_driver(tmp):
    """Returns (driver path, whether it links troupe's grammar engine)."""
    src = os.path.join(tmp, "driver.cpp")
    with open(src, "w") as f:
        f.write(DRIVER)
    exe = os.path.join(tmp, "driver")
    base = ["g++", "-std=c++20", "-O1", "-I", ROOT, src,
            os.path.join(ROOT, "runtime/grammar/regex_grammar.cpp"), "-o", exe]
    engine = [os.path.join(ROOT, f) for f in ENGINE_SOURCES]
    if all(os.path.exists(f) for f in engine):
        built = subprocess.run(base + engine + ["-DWITH_ENGINE"], capture_output=True, text=True)
        if built.returncode == 0:
            return exe, True
        print("note   troupe's grammar engine did not build; comparing with xgrammar only\n"
              + built.stderr[-2000:])
    subprocess.run(base, check=True)
    return exe, False


def run_driver(exe, requests):
    lines = [kind + " " + " ".join(s.encode().hex() or "-" for s in items)
             for kind, items in requests]
    out = subprocess.run([exe], input="\n".join(lines) + "\n", capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return [(status == "OK", bytes.fromhex(body).decode()) for status, _, body in
            (line.partition(" ") for line in out)]


def candidates(pattern, listed):
    alphabet = sorted(set(c for c in pattern if c not in "\\()[]{}|*+?^$")
                      | set(SPECIALS))[:12]
    strings = set(listed)
    for s in (s for s in listed if len(s) <= 40):  # long ones would make thousands
        for i in range(len(s) + 1):
            strings.add(s[:i] + s[i + 1:])
            for c in alphabet[:6]:
                strings.add(s[:i] + c + s[i:])
    for n in range(4):
        strings.update("".join(t) for t in itertools.product(alphabet[:10 - 2 * n], repeat=n))
    return sorted(strings)


def silenced(fn, *args):
    """xgrammar logs parse errors and warnings on stderr; keep the report readable."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            return fn(*args)
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def reference(pattern):
    try:
        return silenced(xgr.Grammar.from_regex, pattern)
    except Exception as e:  # noqa: BLE001: any failure is vLLM's 400
        return str(e).strip().splitlines()[0]


def random_pattern(rng, depth=0):
    """A random regex over constructs where ours and xgrammar's are meant to agree."""
    atoms = ["a", "b", "-", ".", "\\d", "\\w", "\\s", "\\D", "[ab]", "[^a]", "[a-c1]", "[\\d-]",
             "[^\\s]", "\\.", "\\u0061", "\\n", " ", "^", "$", "é"]
    quantifiers = ["", "", "", "*", "+", "?", "{2}", "{1,2}", "{0,}", "*?", "{0}"]
    branches = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        seq = ""
        for _ in range(rng.randint(0, 3)):
            if depth < 3 and rng.random() < 0.25:
                atom = rng.choice(["(", "(?:"]) + random_pattern(rng, depth + 1) + ")"
            else:
                atom = rng.choice(atoms)
            seq += atom + ("" if atom in "^$" else rng.choice(quantifiers))
        branches.append(seq)
    return "|".join(branches)


def compare_regexes(exe, has_engine, print_cases, num_fuzz):
    rng = random.Random(1)
    cases = CASES + [(random_pattern(rng), []) for _ in range(num_fuzz)]
    ours = run_driver(exe, [("R", [p]) for p, _ in cases])
    problems = [[] for _ in cases]
    checks = []  # (case index, grammar text, string, xgrammar's verdict) for troupe's engine
    for i, ((pattern, listed), (ok, text)) in enumerate(zip(cases, ours)):
        ref = reference(pattern)
        if isinstance(ref, str) or not ok:
            if isinstance(ref, str) != (not ok):
                problems[i].append(f"xgrammar: {ref if isinstance(ref, str) else 'ok'}; "
                                   f"ours: {text if not ok else 'ok'}")
            elif print_cases and not listed:
                print(f"    {cpp(pattern)},  // {text}")
            continue
        try:
            mine = silenced(xgr.Grammar.from_ebnf, text)
        except Exception as e:  # noqa: BLE001
            problems[i].append(f"our grammar does not parse: {e} in {text!r}")
            continue
        for s in candidates(pattern, listed):
            want, got = accepts(ref, s), accepts(mine, s)
            if want != got:
                problems[i].append(f"{s!r}: xgrammar {want}, ours {got}")
            checks.append((i, text, s, want))
        if print_cases and listed:
            verdicts = [(s, accepts(ref, s)) for s in listed]
            yes = ", ".join(cpp(s) for s, v in verdicts if v)
            no = ", ".join(cpp(s) for s, v in verdicts if not v)
            print(f"    {{{cpp(pattern)}, {{{yes}}}, {{{no}}}}},")
    if has_engine:
        verdicts = run_driver(exe, [("A", [text, s]) for _, text, s, _ in checks])
        for (i, text, s, want), (ok, body) in zip(checks, verdicts):
            if not ok:
                problems[i].append(f"troupe's engine refuses our grammar: {body}")
            elif (body == "\x01") != want:
                problems[i].append(f"{s!r}: xgrammar {want}, troupe's engine {not want}")
    failures = known = 0
    for (pattern, _), (_, text), found in zip(cases, ours, problems):
        found = list(dict.fromkeys(found))  # an engine refusal repeats for every string
        if found and pattern in KNOWN_DIFFERENCES:
            known += 1
            print(f"known  {pattern!r}: {KNOWN_DIFFERENCES[pattern]} ({found[0]})")
        elif found:
            failures += 1
            print(f"FAIL   {pattern!r} -> {text!r}")
            for p in found[:8]:
                print("         " + p)
        elif pattern in KNOWN_DIFFERENCES:
            print(f"note   {pattern!r}: listed as a known difference but none was seen")
    engine = " (and troupe's engine)" if has_engine else ""
    print(f"regex: {len(cases)} patterns, {len(checks)} strings checked with xgrammar{engine}, "
          f"{failures} unexpected differences, {known} known")
    return failures


def compare_choices(exe, has_engine):
    from vllm.v1.structured_output.utils import choice_as_grammar
    lists = [["yes", "no"], ["a"], [""], ["", "x"], ['say "hi"', "back\\slash"],
             ["tab\there", "new\nline", "cr\rlf", "nul\x00", "bell\x07", "del\x7f"],
             ["héllo", "😀", "日本語"], ["a|b", "(x)", "[y]", "z*"], ["same", "same"]]
    ours = run_driver(exe, [("C", c) for c in lists] + [("C", [])])
    failures = 0
    checks = []  # (grammar text, string, xgrammar's verdict) for troupe's engine
    for choices, (ok, text) in zip(lists, ours):
        ref = choice_as_grammar(choices)
        if not ok or text.rstrip("\n") != ref:
            failures += 1
            print(f"FAIL   choice {choices!r}: ours {text!r}, vLLM {ref!r}")
            continue
        g_ref, g_mine = xgr.Grammar.from_ebnf(ref), xgr.Grammar.from_ebnf(text)
        for s in set(choices) | {c + "x" for c in choices} | {c[:-1] for c in choices}:
            want = accepts(g_ref, s)
            checks.append((text, s, want))
            if want != accepts(g_mine, s):
                failures += 1
                print(f"FAIL   choice {choices!r} on {s!r}")
    verdicts = run_driver(exe, [("A", [t, s]) for t, s, _ in checks]) if has_engine else []
    for (text, s, want), (ok, body) in zip(checks, verdicts):
        if not ok or (body == "\x01") != want:
            failures += 1
            print(f"FAIL   choice grammar {text!r} on {s!r} in troupe's engine: {body!r}")
    if ours[-1][0]:
        failures += 1
        print("FAIL   choice []: expected an error")
    print(f"choice: {len(lists) + 1} lists, {failures} differences")
    return failures


def cpp(s):
    """s as a C++ string literal (UTF-8), with invisible characters escaped."""
    out = ""
    for i, ch in enumerate(s):
        if ch in '\\"':
            out += "\\" + ch
        elif ch in "\n\t\r":
            out += {"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch]
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            hex_follows = i + 1 < len(s) and s[i + 1] in "0123456789abcdefABCDEF"
            out += f"\\x{ord(ch):02x}" + ('""' if hex_follows else "")
        elif not ch.isprintable() or (ch.isspace() and ch != " "):
            out += f"\\u{ord(ch):04x}"
        else:
            out += ch
    return '"' + out + '"' + ("sv" if "\0" in s else "")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        exe, has_engine = build_driver(tmp)
        num_fuzz = int(sys.argv[sys.argv.index("--fuzz") + 1]) if "--fuzz" in sys.argv else 0
        failures = compare_regexes(exe, has_engine, "--cases" in sys.argv, num_fuzz)
        failures += compare_choices(exe, has_engine)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
