#!/usr/bin/env python3
"""Compare troupe's structural-tag grammars with xgrammar's (what vLLM 0.32 compiles), string by
string.

Run by hand (not in CI), after building troupe (it links build/runtime/libtroupe_grammar.a), with
the Python that has vLLM's xgrammar installed:

    ~/.cache/troupe/peers/vllm-venv/bin/python tools/compare_structural_tag_grammar.py [-v]

For every structural tag below (both spellings vLLM reads: the legacy structures + triggers, and
{"type": "structural_tag", "format": ...}) it builds xgrammar's grammar the way vLLM's xgrammar
backend does (Grammar.from_structural_tag) and troupe's (structural_tag_to_grammar, run by a small
driver compiled here, which answers with troupe's own recognizer), then checks that both accept
or refuse each listed string, mechanical mutations of it (a character added at each end, one
dropped, the string cut short) and random joins of pieces of the tag's own strings, and that both
refuse the same tags. Exit status 1 on any
disagreement.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string as accepts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = r'''
#include <fstream>
#include <iostream>
#include <string>
#include <rapidjson/document.h>
#include "runtime/grammar/grammar.hpp"
#include "runtime/grammar/structural_tag_grammar.hpp"
// driver FILE: its first line a structural tag (JSON), each further line a JSON string to check.
// Prints "ERROR: <message>", or per string 1 (accepted), 0 (refused) or E (not UTF-8).
int main(int argc, char** argv) {
  std::ifstream in(argv[1]);
  std::string tag, line;
  std::getline(in, tag);
  auto g = troupe::runtime::grammar::structural_tag_to_grammar(tag);
  if (!g) {
    std::cout << "ERROR: " << g.message() << "\n";
    return 0;
  }
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    auto r = troupe::runtime::grammar::accepts(*g, std::string(d.GetString(), d.GetStringLength()));
    std::cout << (r ? (*r ? "1" : "0") : "E") << "\n";
  }
}
'''


def tag(begin, content, end):
    return {"type": "tag", "begin": begin, "content": content, "end": end}


def const(value):
    return {"type": "const_string", "value": value}


def schema(s):
    return {"type": "json_schema", "json_schema": s}


ANY = {"type": "any_text"}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
FUNC_A = tag("<function=a>", schema(WEATHER), "</function>")
FUNC_B = tag("<function=b>", schema({"type": "integer"}), "</function>")


def fmt(f):
    return {"type": "structural_tag", "format": f}


# (structural tag, strings)
CASES = [
    # The legacy spelling (vLLM's docs): any text, triggers begin JSON structures.
    ({"type": "structural_tag", "triggers": ["<function="],
      "structures": [{"begin": "<function=a>", "schema": WEATHER, "end": "</function>"},
                     {"begin": "<function=b>", "schema": {"type": "integer"}, "end": "</function>"}]},
     ['', 'hello', 'x <function=a>{"city": "Paris"}</function> y', '<function=b>12</function>',
      '<function=b>1.5</function>', '<function=c>1</function>', '<function=a>{}</function>',
      '<function=a>{"city":"Lyon"}</function><function=b>3</function>', '<function', 'a<', '<func']),
    (fmt(const("hello")), ['hello', 'hell', 'hello!', '']),
    (fmt(schema(WEATHER)), ['{"city": "Paris"}', '{"city":"Paris"}', '{ "city" : "x" }', '{}', '']),
    (fmt({"type": "regex", "pattern": "[a-c]+x"}), ['abx', 'x', 'abcabcx', 'abd']),
    (fmt({"type": "grammar", "grammar": 'root ::= "a" b\nb ::= "b"+'}), ['ab', 'abbb', 'a', 'b']),
    (fmt(ANY), ['', 'anything at all', 'ünïcødé ✓']),
    (fmt({"type": "any_text", "excludes": ["ab", "x"]}), ['', 'aab', 'ba', 'xyz', 'aa', 'b']),
    (fmt({"type": "sequence", "elements": [ANY, const("END")]}),
     ['abcEND', 'END', 'abENDcEND', 'abc', 'ENDx']),
    (fmt({"type": "sequence", "elements": [const("a"), const("b"), schema({"type": "boolean"})]}),
     ['abtrue', 'ab false', 'abfalse', 'ab']),
    (fmt({"type": "or", "elements": [const("a"), ANY]}), ['a', 'bcd', '']),
    (fmt({"type": "or", "elements": [const("yes"), const("no"), schema({"type": "null"})]}),
     ['yes', 'no', 'null', 'maybe', '']),
    (fmt(tag("<a>", ANY, "</a>")), ['<a>x</a>', '<a></a>', '<a>x</a>y', '<a>x</a></a>', '<a>x</',
                                    '<a><</a>', '<a></</a>', '<a></a</a>']),
    (fmt(tag("<a>", {"type": "sequence", "elements": [const("k"), ANY]}, "</a>")),
     ['<a>kx</a>', '<a>x</a>', '<a>k</a>']),
    (fmt(tag("<a>", ANY, ["</a>", "</b>"])), ['<a>x</a>', '<a>x</b>', '<a>x</c>', '<a></b></a>']),
    (fmt(tag("<a>", {"type": "any_text", "excludes": ["no"]}, "</a>")),
     ['<a>yes</a>', '<a>no</a>', '<a>n o</a>']),
    (fmt(tag("[", const("x"), "]")), ['[x]', '[x', 'x]']),
    (fmt({"type": "triggered_tags", "triggers": ["<f"],
          "tags": [tag("<f=a>", const("1"), "</f>")]}),
     ['', 'hi', 'hi<f=a>1</f>bye', '<f=b>', '<f', 'hi<', '<f=a>1</f><f=a>1</f>', 'x<g', '<<f=a>1</f>',
      '<f=a>2</f>']),
    (fmt({"type": "triggered_tags", "triggers": ["<f"], "at_least_one": True,
          "tags": [tag("<f=a>", const("1"), "</f>")]}),
     ['', 'hi', 'hi<f=a>1</f>bye', '<f=a>1</f>', '<f=a>1</f>x', '<f=a>1</f>x<f=a>1</f>']),
    (fmt({"type": "triggered_tags", "triggers": ["<f"], "stop_after_first": True,
          "tags": [tag("<f=a>", const("1"), "</f>")]}),
     ['', 'hi', 'hi<f=a>1</f>bye', '<f=a>1</f>', '<f=a>1</f><f=a>1</f>', 'x<f=a>1</f>']),
    (fmt({"type": "triggered_tags", "triggers": ["<f"], "stop_after_first": True,
          "at_least_one": True, "tags": [tag("<f=a>", const("1"), "</f>")]}),
     ['', 'hi', '<f=a>1</f>', '<f=a>1</f>x', 'x<f=a>1</f>']),
    (fmt({"type": "triggered_tags", "triggers": ["<f"], "excludes": ["bad"],
          "tags": [tag("<f=a>", const("1"), "</f>")]}),
     ['ba', 'bad', 'xbadx', '<f=a>1</f>bad', 'b<f=a>1</f>ad']),
    (fmt({"type": "triggered_tags", "triggers": ["<function=", "<tool>"],
          "tags": [FUNC_A, FUNC_B, tag("<tool>", schema({"type": "string"}), "</tool>")]}),
     ['<tool>"x"</tool>', 'a<function=b>7</function>b<tool>"q"</tool>c', '<tool>7</tool>',
      '<function=a>{"city": "Rome"}</function>', '<toolx']),
    (fmt({"type": "sequence", "elements": [
        {"type": "triggered_tags", "triggers": ["<f"], "tags": [tag("<f=a>", const("1"), "</f>")]},
        const("Z")]}),
     ['Z', 'xZ', '<f=a>1</f>Z', '<f=a>1</f>', 'ZZ']),
    (fmt(tag("<a>", {"type": "triggered_tags", "triggers": ["<f"],
                     "tags": [tag("<f=a>", const("1"), "</f>")]}, "</a>")),
     ['<a>x<f=a>1</f>y</a>', '<a></a>', '<a><f=a>1</f></a>', '<a><f=b></a>', '<a>x</a>y']),
    (fmt(tag("<a>", {"type": "triggered_tags", "triggers": ["<f"], "stop_after_first": True,
                     "tags": [tag("<f=a>", const("1"), "</f>")]}, "</a>")),
     ['<a>x<f=a>1</f></a>', '<a>x<f=a>1</f>y</a>', '<a>x</a>']),
    (fmt({"type": "tags_with_separator", "separator": ",",
          "tags": [tag("<a>", const("1"), "</a>"), tag("<b>", const("2"), "</b>")]}),
     ['', '<a>1</a>', '<a>1</a>,<b>2</b>', '<a>1</a>,', 'x', '<a>1</a><b>2</b>']),
    (fmt({"type": "tags_with_separator", "separator": "\n", "at_least_one": True,
          "tags": [tag("<a>", const("1"), "</a>")]}),
     ['', '<a>1</a>', '<a>1</a>\n<a>1</a>']),
    (fmt({"type": "tags_with_separator", "separator": ",", "stop_after_first": True,
          "tags": [tag("<a>", const("1"), "</a>")]}),
     ['', '<a>1</a>', '<a>1</a>,<a>1</a>']),
    (fmt({"type": "sequence", "elements": [const("x"), {"type": "optional", "content": const("y")}]}),
     ['x', 'xy', 'xyy']),
    (fmt({"type": "plus", "content": const("ab")}), ['', 'ab', 'abab', 'aba']),
    (fmt({"type": "star", "content": const("ab")}), ['', 'ab', 'abab', 'aba']),
    (fmt({"type": "repeat", "min": 2, "max": 3, "content": const("a")}), ['a', 'aa', 'aaa', 'aaaa']),
    (fmt({"type": "repeat", "min": 2, "max": -1, "content": const("a")}), ['a', 'aa', 'aaaaa']),
    (fmt(tag("<ü>", {"type": "any_text", "excludes": ["é"]}, "</ü>")),
     ['<ü>abc</ü>', '<ü>é</ü>', '<ü>e</ü>', '<ü></ü</ü>']),
    (fmt({"type": "triggered_tags", "triggers": ["ab"], "excludes": ["b"],
          "tags": [tag("ab!", const("1"), ".")]}), ['ab!1.', 'a', 'b', 'aab!1.']),
    # Refused by both.
    (fmt({"type": "triggered_tags", "triggers": ["<f"], "tags": [tag("<g>", const("1"), "</g>")]}), []),
    (fmt({"type": "nonsense"}), []),
    (fmt({"type": "sequence", "elements": []}), []),
    ({"type": "structural_tag"}, []),
]


def mutations(s, rng):
    out = [s]
    if s:
        i = rng.randrange(len(s))
        out += [s[:i] + s[i + 1:], s[:i], s + s[-1]]
    out += ['<' + s, s + '<', s + '>', ' ' + s]
    return out


def pieces(value):
    """The strings in a structural tag and some of their prefixes and suffixes."""
    out = []
    if isinstance(value, dict):
        for v in value.values():
            out += pieces(v)
    elif isinstance(value, list):
        for v in value:
            out += pieces(v)
    elif isinstance(value, str) and value not in ("structural_tag",):
        out += [value, value[:1], value[:-1], value[1:], value[len(value) // 2:]]
    return [p for p in out if p] + ["x", " ", '"', "1"]


def random_texts(structural_tag, rng, n=40):
    parts = pieces(structural_tag.get("format", structural_tag))
    return ["".join(rng.choice(parts) for _ in range(rng.randint(1, 6))) for _ in range(n)]


def xgrammar_grammar(structural_tag):
    text = json.dumps(structural_tag)
    if "structures" in structural_tag:
        tags = [xgr.StructuralTagItem(begin=s["begin"], schema=json.dumps(s["schema"]), end=s["end"])
                for s in structural_tag["structures"]]
        return xgr.Grammar.from_structural_tag(tags, structural_tag["triggers"])
    return xgr.Grammar.from_structural_tag(text)


def main():
    verbose = "-v" in sys.argv
    rng = random.Random(7)
    tmp = tempfile.mkdtemp(prefix="stag-")
    driver = os.path.join(tmp, "driver")
    with open(os.path.join(tmp, "driver.cpp"), "w") as f:
        f.write(DRIVER)
    subprocess.run(["g++", "-std=c++20", "-O1", "-I" + ROOT, "-o", driver, os.path.join(tmp, "driver.cpp"),
                    os.path.join(ROOT, "build", "runtime", "libtroupe_grammar.a"), "-lfmt"], check=True)
    failures = checked = 0
    for structural_tag, strings in CASES:
        try:
            grammar = xgrammar_grammar(structural_tag)
        except Exception as e:  # noqa: BLE001 - xgrammar raises several kinds
            grammar = None
            xg_error = str(e).splitlines()[0][:100]
        texts = random_texts(structural_tag, rng) if strings else []
        for s in strings:
            texts += mutations(s, rng)
        path = os.path.join(tmp, "case.txt")
        with open(path, "w") as f:
            f.write(json.dumps(structural_tag) + "\n")
            for t in texts:
                f.write(json.dumps(t) + "\n")
        out = subprocess.run([driver, path], capture_output=True, text=True, check=True).stdout.split("\n")
        troupe_error = out[0][7:] if out[0].startswith("ERROR: ") else None
        if grammar is None or troupe_error is not None:
            checked += 1
            if (grammar is None) != (troupe_error is not None):
                failures += 1
                print(f"REFUSAL DIFFERS {json.dumps(structural_tag)}\n  xgrammar: "
                      f"{'refused: ' + xg_error if grammar is None else 'compiled'}\n"
                      f"  troupe:   {'refused: ' + troupe_error if troupe_error else 'compiled'}")
            elif verbose:
                print(f"both refuse {json.dumps(structural_tag)[:80]}: {troupe_error}")
            continue
        for t, mine in zip(texts, out):
            checked += 1
            theirs = accepts(grammar, t)
            if (mine == "1") != theirs:
                failures += 1
                print(f"DIFFERS {json.dumps(structural_tag)[:120]}\n  text {t!r}: xgrammar "
                      f"{theirs}, troupe {mine}")
            elif verbose:
                print(f"ok {t!r}: {theirs}")
    print(f"{checked} checks, {failures} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
