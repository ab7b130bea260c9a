#!/usr/bin/env python3
"""Compare troupe's JSON-schema grammars with vLLM 0.32 + xgrammar 0.2.8, string by string.

Run by hand (not in CI) with the Python that has vLLM and xgrammar installed:

    ~/.cache/troupe/peers/vllm-venv/bin/python tools/compare_json_schema_grammar.py [-v] [--cpp]

It compiles a tiny driver around runtime/grammar/json_schema_grammar*.cpp with g++ (into a temp
directory), then for every schema below, in both whitespace modes:
  - vLLM's side: vLLM's pre-check (has_xgrammar_unsupported_json_features), then
    xgrammar.Grammar.from_json_schema(schema, any_whitespace=..., separators=(",", ":") when
    compact, strict_mode=True), exactly as vLLM's xgrammar backend calls it;
  - troupe's side: json_schema_to_grammar(schema) parsed by xgrammar.Grammar.from_ebnf;
and checks that both accept or refuse each string (the listed ones plus mechanical mutations:
whitespace added, a character dropped, truncated, trailing junk) and that both reject the same
schemas. Known, deliberate differences (see runtime/grammar/json_schema_grammar.hpp) are listed
in KNOWN and reported separately; in compact mode the xgrammar side is patched for its bug #945
(see KNOWN). Exit status 1 on any other disagreement.
--cpp prints the agreed (schema, text, accepted) rows in the C++ table format of
tests/runtime/grammar/json_schema_grammar_test.cpp.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string as accepts
from vllm.v1.structured_output.backend_guidance import process_for_additional_properties
from vllm.v1.structured_output.backend_xgrammar import has_xgrammar_unsupported_json_features

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = r'''
#include <fstream>
#include <iostream>
#include <sstream>
#include "runtime/grammar/json_schema_grammar.hpp"
int main(int argc, char** argv) {  // driver FILE COMPACT(0/1) DISABLE_ADDITIONAL(0/1)
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  troupe::runtime::grammar::json_schema_options o;
  o.any_whitespace = argv[2][0] == '0';
  o.disable_additional_properties = argv[3][0] == '1';
  auto r = troupe::runtime::grammar::json_schema_to_grammar(text.str(), o);
  std::cout << (r ? *r : "ERROR: " + r.message());
}
'''

O, A, S = '{"type":"object"}', '{"type":"array"}', '{"type":"string"}'
# (schema, strings, options): options may hold "dap" (disable_additional_properties).
CASES = [
    # Basic types, whitespace around the value.
    (S, ['"abc"', '""', '"a\\"b\\\\c\\/"', '"\\u00e9\\n\\t"', '"\\x"', '"a\tb"', '"é日本😀"',
         '"\x7f"', ' "a"', '"a" ', 'abc', '"\\uD83D\\uDE00"', '"\\u12"']),
    ('{"type":"integer"}', ['0', '-0', '12', '-12', '012', '1.0', '1e3', '+1', '-', '99999999999999999999']),
    ('{"type":"number"}', ['0', '-0', '1.5', '-1.5e-3', '1E+2', '1.', '.5', '01', '1e', '-0.0']),
    ('{"type":"boolean"}', ['true', 'false', 'True', 'null']),
    ('{"type":"null"}', ['null', 'nul', '"null"']),
    ('{}', ['1', '"x"', '{"a":[1,{"b":null}]}', '[ ]', '{ }', 'true', ' 1']),
    ('true', ['1', '[1, 2]', '{"a": {"b": []}}']),
    # Objects: order, required, optional, extra members.
    (O, ['{}', '{ }', '{"a": 1, "b": [true]}', '{"a":1}', '[]', '{"a" 1}', '{"a":1,}']),
    ('{"type":"object","title":"T","description":"d"}', ['{"x": 1}', '{}']),
    ('{"type":"object","required":["a"]}', ['{}', '{"a": 1}']),
    ('{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}}}',
     ['{}', '{"a": 1}', '{"b": "x"}', '{"c": true}', '{"a": 1, "b": "x", "c": false}', '{"a":1,"c":true}',
      '{"b": "x", "a": 1}', '{"a": 1, "a": 2}', '{"d": 1}', '{"a": 1, "d": 1}', '{ "a" : 1 , "b" : "" }',
      '{\n  "a": 1,\n  "b": "x"\n}']),
    ('{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}},"required":["b"]}',
     ['{}', '{"a": 1}', '{"b": "x"}', '{"a": 1, "b": "x"}', '{"b": "x", "c": true}', '{"c": true}']),
    ('{"properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]}',
     ['{"name": "Bo", "age": 3}', '{"name": "Bo"}', '{"age": 3, "name": "Bo"}', '{"name":"Bo","age":3,"x":1}']),
    ('{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":true}',
     ['{}', '{"a": 1}', '{"a": 1, "b": [1]}', '{"b": 2}', '{"b": 2, "a": 1}', '{"a": 1, "a": 2}',
      '{"ab": 1}', '{"": 1}', '{"a": 1, "c": {"d": null}}', '{"\\u0061": 1}']),
    ('{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["b"],"additionalProperties":{"type":"number"}}',
     ['{"b": "x"}', '{"a": 1, "b": "x", "c": 1.5}', '{"c": 1.5}', '{"b": "x", "c": "y"}', '{"a": 1}']),
    ('{"type":"object","properties":{"ab":{"type":"integer"},"ac":{"type":"null"}},"additionalProperties":true}',
     ['{"a": 1}', '{"ab": 1}', '{"abc": 1}', '{"ad": 1}', '{"ac": 1}', '{"ac": null, "x": 2}', '{"x": 2, "ab": 1}']),
    ('{"type":"object","additionalProperties":{"type":"integer"}}', ['{}', '{"a": 1, "b": 2}', '{"a": "x"}']),
    ('{"type":"object","additionalProperties":false}', ['{}', '{"a": 1}']),
    ('{"type":"object","properties":{}}', ['{}', '{"a": 1}']),
    ('{"type":"object","additionalProperties":{"type":"integer"},"minProperties":1,"maxProperties":2}',
     ['{}', '{"a": 1}', '{"a": 1, "b": 2}', '{"a": 1, "b": 2, "c": 3}']),
    ('{"type":"object","properties":{"a":{"type":"integer"}},"unevaluatedProperties":{"type":"string"}}',
     ['{"a": 1, "b": "x"}', '{"b": "x"}', '{"a": 1, "b": 2}']),
    ('{"type":"object","properties":{"a":{"type":"integer"}},"unevaluatedProperties":true}',
     ['{"a": 1, "b": "x"}'], {"dap": True}),
    ('{"type":"object","properties":{"a":{"type":"integer"}},"unevaluatedProperties":true}',
     ['{"a": 1, "b": "x"}']),
    ('{"type":"object","properties":{"a\\"b":{"type":"integer"},"é":{"const":1}},"required":["é"]}',
     ['{"a\\"b": 1, "é": 1}', '{"é": 1}', '{"a\\"b": 1}', '{"\\u00e9": 1}']),
    ('{"type":"object","nullable":true}', ['{}', '{"a": 1}', 'null']),
    # Arrays.
    (A, ['[]', '[ ]', '[1, "a", {}]', '[1,]', '{}']),
    ('{"type":"array","items":{"type":"integer"}}', ['[]', '[1]', '[1, 2, 3]', '[1, "a"]', '[ 1 ,2 ]']),
    ('{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}',
     ['[]', '[1]', '[1, 2, 3]', '[1, 2, 3, 4]']),
    ('{"type":"array","items":{"type":"string"},"minItems":2}', ['["a"]', '["a", "b"]', '["a", "b", "c"]']),
    ('{"type":"array","items":true,"maxItems":0}', ['[]', '[1]']),
    ('{"type":"array","minItems":0}', ['[]', '[1]']),
    ('{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}]}',
     ['[]', '["a"]', '["a", 1]', '["a", 1, 2]', '[1]']),
    ('{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"minItems":1}', ['[]', '["a"]', '["a", 1]']),
    ('{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"null"},"minItems":3,"maxItems":4}',
     ['["a"]', '["a", null]', '["a", null, null]', '["a", null, null, null]', '["a", null, null, null, null]']),
    ('{"type":"array","prefixItems":[{"type":"string"}],"unevaluatedItems":true}', ['["a", 1, {}]', '[]']),
    ('{"items":{"type":"boolean"}}', ['[true, false]', '[1]']),
    ('{"type":"array","items":false}', ['[]', '[1]']),
    # Strings with lengths.
    ('{"type":"string","minLength":2,"maxLength":4}',
     ['"a"', '"ab"', '"abcd"', '"abcde"', '"éé"', '"a\\nb"', '"a\\"b"', '"a\tb"']),
    ('{"type":"string","maxLength":0}', ['""', '"a"']),
    ('{"type":"string","minLength":1}', ['""', '"a"', '"abcdefgh"']),
    # Integer and number ranges.
    ('{"type":"integer","minimum":3,"maximum":120}',
     ['2', '3', '9', '10', '99', '100', '119', '120', '121', '-3', '03', '1000']),
    ('{"type":"integer","minimum":-5}', ['-6', '-5', '-1', '-0', '0', '7', '123456']),
    ('{"type":"integer","maximum":-10}', ['-9', '-10', '-11', '-100', '0']),
    ('{"type":"integer","maximum":10}', ['-100', '-1', '0', '10', '11']),
    ('{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10}', ['0', '1', '9', '10']),
    ('{"type":"integer","minimum":2,"exclusiveMinimum":5}', ['5', '6', '100']),
    ('{"type":"integer","minimum":-1234,"maximum":5678}',
     ['-1235', '-1234', '-999', '-1', '0', '999', '1000', '5678', '5679', '5700']),
    ('{"type":"integer","minimum":1e2,"maximum":1.05e3}', ['99', '100', '1050', '1051']),
    ('{"type":"number","minimum":0}', ['-0', '-0.0', '0', '0.0', '0.000001', '0.0000001', '12.5', '1e2']),
    ('{"type":"number","maximum":3.5}',
     ['-0', '-0.0', '-12.5', '0', '3.5', '3.50', '3.500001', '3.4999999', '3.500000', '1e-2']),
    ('{"type":"number","minimum":-1.25,"maximum":1000}',
     ['-1.25', '-1.250', '-1.2500001', '-1.26', '-1', '-0.5', '0', '999.999999', '1000', '1000.0', '1000.1']),
    ('{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1}',
     ['0', '0.0', '0.000001', '0.5', '0.999999', '0.9999999', '1']),
    ('{"type":"number","minimum":0.1234567}', ['0.123456', '0.123457', '0.1234567', '1']),
    ('{"type":"number","minimum":-0.5,"maximum":-0.25}', ['-0.5', '-0.25', '-0.3', '-0.2', '0', '-0.0']),
    # const and enum.
    ('{"const":"h\\"i\\u00e9\\n"}', ['"h\\"ié\\n"', '"h\\"i\\u00e9\\n"']),
    ('{"const":{"a":[1,2]}}', ['{"a":[1,2]}', '{"a": [1, 2]}']),
    ('{"enum":["a",1,null,true,{"x":[1,2]},2.5,1.0,"\\u0001\\b\\f/"]}',
     ['"a"', '1', 'null', 'true', '{"x":[1,2]}', '2.5', '1.0', '"b"', '"\\u0001\\b\\f/"']),
    ('{"type":"string","enum":["a","b"]}', ['"a"', '"c"']),
    ('{"type":"integer","const":"x"}', ['"x"', '1']),
    # anyOf, oneOf, allOf, type lists.
    ('{"anyOf":[{"type":"string"},{"type":"integer"}]}', ['"a"', '1', 'null']),
    ('{"oneOf":[{"type":"string"},{"type":"null"}]}', ['"a"', 'null', '1']),
    ('{"allOf":[{"type":"string"}],"type":"integer"}', ['"a"', '1']),
    ('{"allOf":[{"type":"object"}]}', ['{}', '{"a": 1}']),
    ('{"type":["string","null"]}', ['"a"', 'null', '1']),
    ('{"type":["object","array"],"properties":{"a":{"type":"integer"}},"items":{"type":"string"}}',
     ['{"a": 1}', '["x"]', '[1]', '{"b": 1}']),
    ('{"type":["object","null"]}', ['{"a": 1}', 'null']),
    ('{"type":[]}', ['1', '"a"']),
    # $ref, $defs, definitions, recursion.
    ('{"$defs":{"n":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/n"},{"type":"null"}]}},"required":["v"]}},"$ref":"#/$defs/n"}',
     ['{"v": 1}', '{"v": 1, "next": null}', '{"v": 1, "next": {"v": 2, "next": {"v": 3}}}', '{"next": null}']),
    ('{"definitions":{"x":{"type":"integer"}},"type":"array","items":{"$ref":"#/definitions/x"}}', ['[1, 2]', '["a"]']),
    ('{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#"}}}}',
     ['{}', '{"kids": []}', '{"kids": [{"kids": [{}]}]}', '{"kids": [1]}']),
    ('{"$defs":{"a/b":{"type":"null"},"t~":{"type":"boolean"}},"type":"array","prefixItems":[{"$ref":"#/$defs/a~1b"},{"$ref":"#/$defs/t~0"}]}',
     ['[null, true]', '[true]']),
    ('{"$defs":{"x":{"type":"integer"}},"$ref":"#/$defs/x","type":"string"}', ['1', '"a"']),
    # Nesting, names that need escaping or cleaning up, unicode.
    ('{"type":"object","properties":{"list":{"type":"array","items":{"type":"object","properties":{"x y":{"type":"number"},"日本":{"type":["integer","null"]}},"required":["x y"]}}},"required":["list"]}',
     ['{"list": []}', '{"list": [{"x y": 1.5}, {"x y": -2, "日本": null}]}', '{"list": [{"日本": 1}]}',
      '{"list": [{"x y": 1, "日本": 2.5}]}', '{ "list" : [ { "x y" : 0 } ] }']),
    ('{"type":"object","properties":{"a\"b":{"type":"integer"},"c":{"type":"integer"}},"additionalProperties":true}',
     ['{"a\"b": 1}', '{"a\"b": 1, "a\"c": 2}', '{"a\"": 1}', '{"a\\b": 1}', '{"c": 1, "a": 2}', '{"a\"bc": 1}']),
    ('{"anyOf":[{"type":"object","properties":{"k":{"const":"a"}},"required":["k"]},{"type":"object","properties":{"n":{"type":"integer"}}}]}',
     ['{"k": "a"}', '{"n": 1}', '{}', '{"k": "b"}', '{"k": "a", "n": 1}']),
    ('{"type":"object","properties":{"a":{"type":"object"},"b":{"type":"array"}}}',
     ['{"a": {"x": [1]}, "b": [{"y": 2}]}', '{"a": []}']),
    ('{"type":["integer","number"]}', ['1', '1.5', '-0']),
    ('{"type":"integer","minimum":0,"maximum":0}', ['0', '-0', '1']),
    ('{"type":"number","minimum":2.5,"maximum":2.5}', ['2.5', '2.50', '2.5000001', '2', '2.4']),
    ('{"type":"integer","minimum":-100000000000,"maximum":100000000000}',
     ['-100000000000', '-100000000001', '100000000000', '99999999999', '100000000001']),
    ('{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":{"type":"null"},"minItems":1,"maxItems":3}',
     ['[]', '["a"]', '["a", 1]', '["a", 1, null]', '["a", 1, null, null]', '["a", null]']),
    ('{"type":"object","properties":{"a":{"type":"integer"}},"required":["a","a","zz"]}', ['{"a": 1}', '{}']),
    ('{"type":"object","properties":{"a":{"type":"integer"}},"required":["x"],"additionalProperties":true}',
     ['{}', '{"a": 1}', '{"x": 1}', '{"a": 1, "x": 2}']),
    ('{"enum":[0.1,1.5e-7,12345678901234567890]}', ['0.1', '0.10000000000000001', '1.5e-7', '12345678901234567890']),
    # String formats.
    ('{"type":"string","format":"date"}', ['"2024-02-29"', '"2024-13-01"', '"2024-1-01"', '"2024-01-32"', '"0000-01-01"']),
    ('{"type":"string","format":"time"}', ['"23:59:60Z"', '"23:59:60.123+05:30"', '"24:00:00Z"', '"12:00:00"', '"12:00:00-00:00"']),
    ('{"type":"string","format":"date-time"}', ['"2024-02-29T12:30:00Z"', '"2024-02-29 12:30:00Z"', '"2024-02-29T12:30:00.5-01:00"']),
    ('{"type":"string","format":"duration"}', ['"P1D"', '"P1Y2M3DT4H5M6S"', '"PT1M"', '"P2W"', '"P"', '"PT"', '"P1Y3D"', '"P1M2D"', '"PT1H2S"']),
    ('{"type":"string","format":"email"}', ['"a.b+c@ex-ample.com"', '"a@b"', '"a@b.c"', '"a@b.cd"', '".a@b.com"', '"a..b@c.com"',
                                             '"\\"john doe\\"@x.org"', '"a@-b.com"', '"a@b-.com"', '"A_1@X9.io"']),
    ('{"type":"string","format":"ipv4"}', ['"192.168.0.1"', '"256.1.1.1"', '"01.02.003.4"', '"1.2.3"', '"255.255.255.255"', '"1.2.3.4.5"']),
    ('{"type":"string","format":"ipv6"}', ['"::1"', '"::"', '"2001:db8::8a2e:370:7334"', '"1:2:3:4:5:6:7:8"', '"1:2:3:4:5:6:7:8:9"',
                                            '"::ffff:192.168.1.1"', '"fe80::1%eth0"', '"1::"', '"1:2::3:4"', '"::ffff:0:1.2.3.4"', '"1:2:3:4::5.6.7.8"',
                                            '"12345::"', '"::1.2.3.256"']),
    ('{"type":"string","format":"hostname"}', ['"example.com"', '"a-b.c"', '"-a.com"', '"a-.com"', '"Example.com"', '"a..b"', '"x"']),
    ('{"type":"string","format":"uuid"}', ['"123e4567-e89b-12d3-a456-426614174000"', '"123e4567e89b12d3a456426614174000"', '"123E4567-E89B-12D3-A456-42661417400G"']),
    ('{"type":"string","format":"uri"}', ['"https://user:pw@example.com:8080/a/b?q=1&r=%20#frag"', '"mailto:a@b.c"', '"urn:isbn:123"',
                                           '"http://"', '"/relative"', '"a:/b//c"', '"http://x y"', '"h:?#"', '"1http://a"', '"http://a/%zz"']),
    ('{"type":"string","format":"uri-reference"}', ['"/a/b?c#d"', '"a/b"', '"//host:1/p"', '""', '"a:b"', '"?q"', '"#f"', '"a b"', '"../x"']),
    ('{"type":"string","format":"uri-template"}', ['"http://x/{id}"', '"/{+path}/{x,y*}{?q,r:3}"', '"{a.b}"', '"{}"', '"{a:0}"', '"{a:10000}"', '""', '"a b"']),
    ('{"type":"string","format":"json-pointer"}', ['""', '"/a/b~0~1"', '"/a~2"', '"a"', '"/é/ x"', '"/a\\"b"']),
    ('{"type":"string","format":"relative-json-pointer"}', ['"0"', '"1#"', '"2/a/b"', '"01"', '"#"']),
    ('{"type":["string","null"],"format":"uuid"}', ['null', '"123e4567-e89b-12d3-a456-426614174000"', '"x"']),
    # Deliberately refused by troupe (see KNOWN).
    ('{"$ref":"#"}', []), ('{"anyOf":[]}', []), ('{"$ref":"https://example.com/s.json"}', []),
    ('{"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}},"$ref":"#/$defs/a"}', []),
    ('{"type":"string","pattern":"^[a-z]+$"}', []), ('{"type":"string","format":"foo"}', []),
    ('{"type":"object","patternProperties":{"^a":{"type":"integer"}}}', []),
    ('{"type":"object","propertyNames":{"maxLength":2}}', []),
    ('{"type":"object","properties":{"a":{}},"minProperties":1}', []),
    # Errors on both sides.
    ('{"type":"foo"}', []), ('false', []), ('{"enum":[]}', []), ('{"type":"integer","minimum":1.5}', []),
    ('{"type":"integer","minimum":5,"maximum":3}', []), ('{"type":"array","minItems":3,"maxItems":1}', []),
    ('{"$ref":"#/$defs/nope"}', []), ('{"type":"array","items":[{"type":"string"}]}', []),
    ('{"type":"array","prefixItems":[{}],"minItems":2}', []), ('{"type":"array","maxItems":1,"prefixItems":[{},{}]}', []),
    ('{"type":"integer","multipleOf":2}', []), ('{"type":"array","uniqueItems":true}', []),
    ('{"allOf":[{"type":"string"},{"maxLength":3}]}', []), ('{"type":"string","format":"date","maxLength":3}', []),
    ('{"type":"string","minLength":1.5}', []), ('{"type":"object","minProperties":1}', []),
    ('{"properties":{"a":false}}', []), ('{"type":"object","properties":[]}', []),
    ('{"type":"object","required":"a","properties":{"a":{}}}', []),
    ('[' * 70 + ']' * 70, []),
]

# Deliberate differences, by (schema, compact, string). Compact mode compares with xgrammar's
# grammar patched for its bug #945 (", " between the items of free-form values; fixed after
# 0.2.8), as troupe implements the intended ",".
# The string is None when the sides disagree on rejecting the schema itself.
KNOWN = {
    'raw control characters in length-bounded strings':
        lambda schema, compact, s: s and 'Length' in schema and any(ord(c) < 0x20 for c in s),
    'shortest number text in const/enum':
        lambda schema, compact, s: s and ('"enum"' in schema or '"const"' in schema) and s[0] in '-0123456789',
    'required names missing from properties are ignored (xgrammar: sometimes another is required)':
        lambda schema, compact, s: s and '"required":["x"]' in schema,
    'allOf of a bare {"type":"object"} is any object (xgrammar: only {})':
        lambda schema, compact, s: s and '"allOf":[{"type":"object"}]' in schema,
    'troupe decodes ~0 and ~1 in $ref JSON pointers':
        lambda schema, compact, s: s is None and '~1' in schema,
    'troupe refuses what xgrammar ignores or turns into an empty language':
        lambda schema, compact, s: s is None and any(k in schema for k in (
            '{"$ref":"#"}', '"anyOf":[]', 'https:', '"anyOf":[{"$ref":"#/$defs/a"}')),
    'troupe does not support pattern, patternProperties, propertyNames, minProperties':
        lambda schema, compact, s: s is None and any(k in schema for k in (
            '"pattern"', 'patternProperties', 'propertyNames', 'minProperties')),
    'string formats keep to JSON': lambda schema, compact, s: s and '"format"' in schema and (
        '\\' in s or any(ord(c) < 0x20 for c in s) or '"' in s[1:-1]),
}


def mutations(s, rng):
    out = {s, s + 'x', s[:-1], ' ' + s, s + '\n'}
    out |= {s.replace(', ', ','), s.replace(',', ' , '), s.replace(':', ': '), s.replace('{', '{\n ')}
    for _ in range(3):
        if len(s) > 1:
            i = rng.randrange(len(s))
            out.add(s[:i] + s[i + 1:])
    return sorted(out)


def build_driver():
    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, 'driver.cpp'), 'w') as f:
        f.write(DRIVER)
    sources = [os.path.join(ROOT, 'runtime/grammar', name) for name in (
        'json_schema_grammar.cpp', 'json_schema_grammar_rules.cpp', 'json_schema_grammar_json.cpp')]
    driver = os.path.join(tmp, 'driver')
    subprocess.run(['g++', '-std=c++20', '-O1', '-I' + ROOT, '-o', driver,
                    os.path.join(tmp, 'driver.cpp')] + sources, check=True)
    return driver, os.path.join(tmp, 'schema.json')


def troupe_grammar(driver, schema_file, schema, compact, opts):
    """(xgrammar.Grammar of troupe's grammar text, or None, and the text or error)."""
    with open(schema_file, 'w') as f:
        f.write(schema)
    out = subprocess.run([driver, schema_file, '1' if compact else '0',
                          '1' if opts.get('dap') else '0'], capture_output=True, text=True).stdout
    return (None if out.startswith('ERROR: ') else xgr.Grammar.from_ebnf(out)), out


def vllm_grammar(schema, compact, opts):
    """The grammar vLLM's xgrammar backend compiles, or None where vLLM refuses the schema."""
    try:
        parsed = json.loads(schema)
        if opts.get('dap'):
            parsed = process_for_additional_properties(parsed)
        if isinstance(parsed, dict) and has_xgrammar_unsupported_json_features(parsed):
            return None
        g = xgr.Grammar.from_json_schema(json.dumps(parsed), any_whitespace=not compact,
                                         separators=(',', ':') if compact else None,
                                         strict_mode=True)
    except Exception:  # noqa: BLE001 - any refusal counts
        return None
    # Bug #945: the builtin rules for free-form values separate items by ", " even when compact.
    return xgr.Grammar.from_ebnf(str(g).replace('(", "', '(","')) if compact else g


def main():
    verbose, emit_cpp = '-v' in sys.argv, '--cpp' in sys.argv
    driver, schema_file = build_driver()
    rng = random.Random(7)
    bad, known, checked, rows = [], [], 0, []

    def report(line, schema, compact, s):
        reasons = [r for r, match in KNOWN.items() if match(schema, compact, s)]
        (known if reasons else bad).append(line + (f'  [{reasons[0]}]' if reasons else ''))

    for case in CASES:
        schema, strings, opts = case[0], case[1], (case[2] if len(case) > 2 else {})
        for compact in (False, True):
            try:
                mine, out = troupe_grammar(driver, schema_file, schema, compact, opts)
            except RuntimeError as e:
                bad.append(f'{schema} compact={compact}: xgrammar cannot read the grammar: {e}')
                continue
            theirs = vllm_grammar(schema, compact, opts)
            if (mine is None) != (theirs is None):
                report(f'{schema} compact={compact}: troupe {out.strip() if mine is None else "accepts"}'
                       f', vLLM {"rejects" if theirs is None else "accepts"}', schema, compact, None)
                continue
            for s in [] if mine is None else sorted({m for s in strings for m in mutations(s, rng)}):
                a, b = accepts(mine, s), accepts(theirs, s)
                checked += 1
                if a != b:
                    report(f'{schema} compact={compact} {s!r}: troupe {a}, xgrammar {b}', schema, compact, s)
                elif s in strings:
                    rows.append((schema, compact, s, a))
    for schema, compact, s, a in rows if emit_cpp else []:
        print(f'      {{R"({schema})", {str(compact).lower()}, R"({s})", {str(a).lower()}}},')
    print(f'{checked} strings compared, {len(known)} known differences, {len(bad)} unexpected')
    for line in known if verbose else []:
        print('  known:', line)
    for line in bad:
        print('  DIFF:', line)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
