#!/usr/bin/env python3
"""Compare troupe's auto tool-call parsers (http/tool_parsers.hpp) with vLLM 0.32's, text by text.

Run by hand (not in CI) with the Python that has vLLM installed:

    ~/.cache/troupe/peers/vllm-venv/bin/python tools/compare_tool_parsers.py [-v]

It compiles a tiny driver around http/tool_parser*.cpp with g++ (into a temp directory), then
feeds every model output of CORPUS through vLLM's real parser classes and through troupe's:
  - whole (extract_tool_calls): tools_called, each call's name and arguments, content, and that
    every call has an id;
  - streamed (extract_tool_calls_streaming): the text is encoded with a real tokenizer
    (/work/shared/testdata/tokenizers: qwen3 for hermes, llama3 for llama3_json
    and pythonic, llama3 with [TOOL_CALLS] added as a special token and no [ARGS] for mistral),
    decoded token by token as a server would (special tokens kept, a step ending in an
    incomplete character waits), and each increment is fed to both; the sequences of returned
    deltas must agree (ids compared as present/absent), and so must
    get_remaining_unstreamed_args at the end.
mistral is vLLM's MistralToolParser adapter (pre-v11 path) driven with a ChatCompletionRequest
whose tool_choice is "auto", or "required" / a named function for the corpus entries marked so
(troupe: tool_parser_options::forced_call); its stream also gets each increment's token ids.
Deliberate differences (see http/tool_parsers.hpp) are listed in KNOWN and reported apart.
Exit status 1 on any other disagreement.
"""
import json
import logging
import os
import subprocess
import sys
import tempfile

from transformers import PreTrainedTokenizerFast

from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.tool_parsers.hermes_tool_parser import Hermes2ProToolParser
from vllm.tool_parsers.llama_tool_parser import Llama3JsonToolParser
from vllm.tool_parsers.mistral_tool_parser import MistralToolParser
from vllm.tool_parsers.pythonic_tool_parser import PythonicToolParser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZERS = '/work/shared/testdata/tokenizers'
DRIVER = r'''
#include <iostream>
#include <iterator>
#include <string>
#include "http/tool_parsers.hpp"
namespace troupe::http {
std::string make_tool_call_id() { return "chatcmpl-tool-0123456789abcdef"; }
std::string make_mistral_tool_call_id() { return "abcDEF789"; }
}
using namespace troupe::http;
static std::string q(const std::string& s) {  // a JSON string (ASCII-safe escapes only)
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') { o += '\\'; o += static_cast<char>(c); }
    else if (c < 0x20) { char b[8]; snprintf(b, sizeof b, "\\u%04x", c); o += b; }
    else o += static_cast<char>(c);
  }
  return o + "\"";
}
static std::string opt(const std::optional<std::string>& s) { return s ? q(*s) : "null"; }
// argv: KIND MODE FORCED; stdin: pieces, each "<byte count>\n<bytes>"; MODE 0: one piece,
// extract; MODE 1: stream the pieces. FORCED 1: tool_parser_options::forced_call.
int main(int, char** argv) {
  const std::string input((std::istreambuf_iterator<char>(std::cin)), {});
  auto parser = tool_parser::make(*find_tool_parser(argv[1]), {.forced_call = argv[3][0] == '1'});
  std::vector<std::string> pieces;
  for (size_t i = 0; i < input.size();) {
    const size_t nl = input.find('\n', i);
    const size_t n = std::stoul(input.substr(i, nl - i));
    pieces.push_back(input.substr(nl + 1, n));
    i = nl + 1 + n;
  }
  if (argv[2][0] == '0') {
    auto e = parser->extract(pieces.empty() ? "" : pieces[0]);
    std::cout << "{\"tools_called\": " << (e.tools_called ? "true" : "false") << ", \"calls\": [";
    for (size_t i = 0; i < e.calls.size(); ++i)
      std::cout << (i ? ", " : "") << "[" << q(e.calls[i].name) << ", " << q(e.calls[i].arguments)
                << ", " << (e.calls[i].id.empty() ? "false" : "true") << "]";
    std::cout << "], \"content\": " << opt(e.content) << "}";
    return 0;
  }
  std::string current;
  std::cout << "{\"steps\": [";
  for (size_t k = 0; k < pieces.size(); ++k) {
    current += pieces[k];
    auto d = parser->extract_streaming(current, pieces[k]);
    std::cout << (k ? ", " : "");
    if (!d) { std::cout << "null"; continue; }
    std::cout << "{\"content\": " << opt(d->content) << ", \"tool_calls\": [";
    for (size_t i = 0; i < d->calls.size(); ++i) {
      const auto& c = d->calls[i];
      const bool first = !c.id.empty();
      std::cout << (i ? ", " : "") << "{";
      if (first) std::cout << "\"id\": \"<id>\", ";
      if (first || c.mistral_shape) std::cout << "\"type\": \"function\", ";
      else if (c.null_id) std::cout << "\"id\": null, ";
      std::cout << "\"index\": " << c.index << ", \"function\": {";
      if (c.mistral_shape ? c.has_name : first)
        std::cout << "\"name\": " << q(c.name) << (c.has_arguments ? ", " : "");
      if (c.has_arguments) std::cout << "\"arguments\": " << q(c.arguments);
      std::cout << "}}";
    }
    std::cout << "]}";
  }
  std::cout << "], \"remaining\": " << q(parser->remaining_unstreamed_args())
            << ", \"parsed\": " << (parser->has_parsed_calls() ? "true" : "false") << "}";
}
'''

H = lambda body: '<tool_call>\n' + body + '\n</tool_call>'
W = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}'
M = '[TOOL_CALLS]'
MW = '[' + W + ']'
CORPUS = {
    'hermes': [
        'Hello, how can I help?', '', 'plain text with a < sign and <tool', 'a <tool_call',
        H(W), 'Let me check.\n' + H(W), H(W) + '\n' + H('{"name": "get_time", "arguments": {}}'),
        H('{"name": "f", "arguments": {"s": "héllo 世界 😀", "e": "\\u00e9\\n"}}'),
        H('{"name": "f", "arguments": {"a": {"b": [1, 2.50, {"c": null}], "d": true}, "n": -0}}'),
        H('{"name": "f", "arguments": {"x": 1E2, "y": 1e400, "k": 1, "k": 2}}'),
        H('{"name": "f", "arguments": {"x": 1'), '<tool_call>\n{"name": "f", "argu',
        H('{"name": "f", "arguments": {"x": }}'), H('not json at all'), H('{"arguments": {}}'),
        H('{"name": 5, "arguments": {}}'), H('{"name": "f"}'), '<tool_call></tool_call>',
        H('{"name": "f", "arguments": "a string"}'), H('{"name":"f","arguments":{"q":"a}b"}}'),
        'Sure! ' + H(W) + ' trailing text', H(W) + H(W),
        H('{"arguments": {"x": 1}, "name": "late_name"}'),
        'Thinking <tool_c is not a tag', H('{"name": "f", "arguments": {"x": "</tool"}}'),
        H('{"name": "search", "arguments": {"query": "日本語のテキスト", "limit": 10}}'),
        '<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>',
        H('{"name": "f", "arguments": {"a": [1, 2, 3]}}') + '\n' + H('{"name": "g", "arguments": {"b": "c"}}') + '\n' + H('{"name": "h", "arguments": {}}'),
        H('{"name": "f", "arguments": {"nested": {"deep": {"deeper": {"x": [[]]}}}}}'),
        H('  {"name": "f", "arguments": {}}  '), 'text only ending with <',
    ],
    'llama3_json': [
        'Hello there', '', W, '{"name": "get_weather", "parameters": {"city": "Paris"}}',
        '<|python_tag|>' + W, W + '; {"name": "get_time", "parameters": {}}',
        '{"name": "f", "parameters": {"s": "héllo 世界 😀", "e": "\\u00e9"}}',
        '{"name": "f", "parameters": {"a": {"b": [1, 2.50, {"c": null}], "d": true}}}',
        '{"name": "f", "parameters": {"x": 1E2, "n": -0, "f": 0.0001}}',
        '{"name": "f", "parameters": {"x": 1', '{"name": "f"}', '{"parameters": {}}',
        'Text with {braces} inside', 'The set {} is empty', 'I will call {"name": "f", "arguments": {}} now',
        '{"name": 3, "arguments": {}}', '{"name": "f", "arguments": "str"}',
        '{"name": "f", "arguments": {"a": 1}, "parameters": {"b": 2}}',
        '{"name": "f", "parameters": {"x": "a\\"b"}}{"name": "g", "parameters": {}}',
        W + '; ' + W + '; ' + '{"name": "h", "parameters": {"z": [true, false]}}',
        '{"name": "f", "parameters": {"q": "日本語", "n": [1, 2, 3], "m": {"k": "v"}}}',
        '{"name": "f", "parameters": {"x": 1.5e3, "y": -2, "z": null, "b": false}}',
        '{"name": "search", "parameters": {"query": "what is the weather in Paris today?"}}',
        '{"name": "f", "parameters": {}}', '{"name": "f", "parameters": {"x": "}"}}',
        ' {"name": "f", "parameters": {}}', '{"name": "f", "parameters": {"x": [1, {"y": "z"}]}} trailing',
        '{bad json', '{"name": "f", "parameters": {"u": "\\ud83d\\ude00"}}',
    ],
    'pythonic': [
        'Hello, how can I help?', '', "[get_weather(city='Paris', unit=\"celsius\")]",
        "[get_weather(city='Paris'), get_time()]", '[get_time()]', '[get_time(), get_date()]',
        "[f(a=1, b=-2, c=3.5, d=-0.25, e=1e5, g=1E-3, h=.5, i=5., j=1_000, k=0x1F, l=0o17, m=0b101)]",
        "[f(big=123456789012345678901234567890, neg=-0, negf=-0.0, inf=1e400, ninf=-1e400)]",
        "[f(flag=True, off=False, none=None, t=true, n=null)]",
        "[f(items=[1, 2, [3, 4]], d={'a': 1, 'b': {'c': [True, None]}}, t=(1, 2), e=[], o={})]",
        "[f(keys={1: 'a', 2.5: 'b', None: 'c', True: 'd', 1.0: 'e'})]",
        "[search(query='日本語のテキスト', emoji='😀 héllo')]",
        r"""[f(s='it\'s', d="say \"hi\"", n='a\nb\tc', u='\u00e9\x41\101', bs='C:\\path')]""",
        r"""[f(raw=r'a\d+', tri='''multi
line''', tri2=\"\"\"x 'y' "z" \"\"\", cat='a' 'b', u=u'x')]""".replace('\\"', '"'),
        "[f(x=1)]\n", "[f(x=1)] # done", "[f(x=1)]\nI called the tool.", "Let me check: [f(x=1)]",
        "[f(x=1)] and more", " [f(x=1)]", "[]", "[f(1, x=2)]", "[f(x = 1)]", "[f() , g()]",
        "[f(x=1), 'text']", "[f(x=g())]", "[f(x=unknown)]", "[f(x=1, x=2)]", "[f(x=1",
        "[f(x='unterminated)]", "[f(x=[1, 2)]", "[_private(x=1)]", "[ns.tool(x=1)]",
        "[f(x={'a', 'b'})]", "[f(x=1+2)]", "[f(x=b'bytes')]", "[f(x=f'hi')]", "[f(x=1j)]",
        "[f(x=-True)]", "[f(x={-1: 2})]", "[f(x='a]b', y='c)d', z='{e}')]",
        "[get_weather(city='San Francisco', state='CA', unit='fahrenheit'), get_weather(city='New York', state='NY', unit='fahrenheit'), get_time(timezone='America/Los_Angeles')]",
        "[f(\n    a='x',\n    b=[1, 2],  # comment\n)]", "[f(a='x',)]", "[f(a=(1,)), g(b=((1)))]",
        "[f(nested=[{'k': [{'deep': ({'x': -1.5e-7},)}]}])]", r"[f(x='a\\'), g(y='\\')]",
        "[f(text='The \"best\" one', other=\"it's\")]", "[f(x=1), g(y=2), h(z=3)]",
        "[f(a=None, b=[None, True, False])]", "[weird_name123(a_b=1, c2=2)]", "[f(x=01)]",
        "[f(x='tab\there')]", r"[f(s='\N{BULLET}')]", "[f(x=0.1, y=100.0, z=1e16, w=1.5e-5)]",
        "[f(x=[1,2,3])][g()]", "[f(x=1);]", "[f(x=1), g(y='two words here', z='more text')]",
        "[f(a={'x': 1, 'y': {'z': 2}}, b='end')]", "[f(d={'k': 'v'}), g(e={'k2': [1, 2]})]",
        "[f(a={'k': {'x': 1.5, 'y': 'z'}})]", "[f(n=-12), g(m=+3.25)]",
        "[get_weather(city='Par", "[f(a=1), g(b='cut here", "[f(msg='héllo 世界', n=2), g(q='😀'",
        "[f(x=1)]\nDone", "[f(x=1, x=2)]", "[f(d={'a': [1, {'b': 'c'", "[f(x=\"it's\"), g(y='say \"x\"')]",
    ],
    # A plain text is a tool_choice "auto" answer; ('required' | 'named', text) forces a call.
    'mistral': [
        'Hello, how can I help?', '', '[{"name": "f", "arguments": {}}]', '[TOOL', 'a [TOOL_CALL] b',
        M + MW, 'Let me check. ' + M + MW, 'Let me check.\n\n' + M + ' ' + MW, '  \n' + M + MW,
        M + '[' + W + ', {"name": "get_time", "arguments": {}}]',
        M + '[\n  {"name": "a", "arguments": {"x": 1}},\n  {"name": "b", "arguments": {}},\n  {"name": "c", "arguments": {"y": [true]}}\n]',
        M + W, M + W + ' trailing text', M + '{"name": "f", "arguments": {}}',
        M + '[{"name": "f", "arguments": "{\\"a\\": 1}"}]', M + '[{"name": "f", "arguments": ""}]',
        M + '[{"name": "f", "arguments": {"a": {"b": [1, 2.50, {"c": null}], "d": true}, "n": -0}}]',
        M + '[{"name": "f", "arguments": {"x": 1E2, "y": 1e400, "k": 1, "k": 2, "z": -0.0}}]',
        M + '[{"name": "search", "arguments": {"query": "日本語のテキスト", "e": "héllo 😀", "u": "\\u00e9\\n"}}]',
        M + '[{"name": "naïve_名前", "arguments": {"s": "\\ud83d\\ude00"}}]',
        M + '[{"name": "f", "arguments": {"x": }}]', M + 'not json at all', M + '{bad json',
        M + '[{"name": "f", "arguments": {"x": 1', M + '[{"name": "get_wea', M + '[{"name": "f", "argu',
        M + '[{"name": "f", "arguments": {"x": 1}}', M + '[{"name": "f", "arguments": {"x": "a',
        M + '[{"name": "f", "arguments": {}}] I called it.', M + '[{"name": "f", "arguments": {}}]\n\nDone.',
        M + M + '[{"name": "f", "arguments": {}}]', M + ' ' + M + '[{"name": "f", "arguments": {"a": 1}}]',
        M + '[{"name": "f", "arguments": {}}]' + M + '[{"name": "g", "arguments": {"b": 2}}]',
        M + '[{"name": "f", "arguments": {"a": 1}}, ' + M + '{"name": "g", "arguments": {}}]',
        'Text ' + M + '[{"name": "f", "arguments": {}}] more ' + M + ' end', M, M + '   ', M + '[]',
        M + '{}', M + '[{}]', M + '"just a string"', M + '42',
        M + '[{"arguments": {"a": 1}, "name": "f"}]', M + '[{"arguments": {"a": 1}}]',
        M + '[{"name": 5, "arguments": {"a": {"b": 1}}}]', M + '[{"name": "f"}]',
        M + '[{"name": "f", "arguments": null}]', M + '[{"name": "f", "arguments": [1, 2]}]',
        M + '[{"name": "f", "arguments": 7}]',
        M + '[1, "x", {"foo": 1}, {"name": "f", "arguments": {}}]',
        M + '[{"name": "f", "arguments": {"q": "a}b{c", "r": "]", "s": "x:y, z"}}]',
        M + '[{"name": "f", "arguments": {"name": "inner", "arguments": {"x": 1}}}]',
        M + 'Sure: [{"name": "f", "arguments": {"a": 1}}]', M + 'x [{"name": "f", "arguments": {"a": 1}}] y',
        'Some text ' + M + ' [{"name": "f", "arguments": {}}]\n',
        M + '[{"name": "f", "arguments": {"x": NaN}}]', M + '[{"name": "f", "arguments": {"u": "\\ud83d"}}]',
        M + '[{"name":"f","arguments":{"a":1,"b":{"c":[1,{"d":2}]}}},{"name":"g","arguments":{}}]',
        M + '[{"name": "get_weather", "arguments": {"city": "San Francisco", "state": "CA", "unit": "fahrenheit"}}, '
            '{"name": "get_weather", "arguments": {"city": "New York", "state": "NY", "unit": "fahrenheit"}}]',
        ('required', MW), ('required', '[' + W + ', {"name": "b", "arguments": {"x": [1]}}]'),
        ('named', MW), ('named', W), ('required', '  [{"name": "f", "arguments": {}}]  '),
        ('required', 'not json'), ('required', ''), ('required', 'Text then ' + M + MW),
        ('required', '[{"name": "f", "arguments": {"x": 1'), ('named', '[{"name": "get_weather", "arguments": {"city": "日本"}}]\n'),
        ('required', '[{"name": "f", "arguments": {}}] extra'),
    ],
}

# (parser, corpus entry, 'whole'|'stream'): known, deliberate differences (see
# http/tool_parsers.hpp).
KNOWN = {
    # A surrogate-pair escape cut after its high half: partial_json_parser keeps the lone
    # surrogate and vLLM sends an empty arguments piece; troupe holds the escape back.
    ('llama3_json', '{"name": "f", "parameters": {"u": "\\ud83d\\ude00"}}', 'stream'),
    # \N{...} escapes need Unicode's name table: troupe reads no call (http/tool_parsers.hpp).
    ('pythonic', r"[f(s='\N{BULLET}')]", 'whole'),
    ('pythonic', r"[f(s='\N{BULLET}')]", 'stream'),
    # Python's json takes a lone surrogate escape (vLLM's arguments then hold the lone
    # surrogate); troupe's JSON reader refuses it and the text is content.
    ('mistral', '[TOOL_CALLS][{"name": "f", "arguments": {"u": "\\ud83d"}}]', 'whole'),
}


def build_driver():
    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, 'driver.cpp'), 'w') as f:
        f.write(DRIVER)
    sources = [os.path.join(ROOT, 'http', n) for n in sorted(os.listdir(os.path.join(ROOT, 'http')))
               if n.startswith('tool_parser') and n.endswith('.cpp')]
    sources += [os.path.join(ROOT, 'http', n) for n in ('python_json.cpp', 'python_literal.cpp',
                                                         'python_slices.cpp', 'json_events.cpp')]
    sources += [os.path.join(ROOT, 'runtime/tokenizer/utf8.cpp')]
    driver = os.path.join(tmp, 'driver')
    subprocess.run(['g++', '-std=c++20', '-O1', '-I' + ROOT, '-o', driver,
                    os.path.join(tmp, 'driver.cpp')] + sources + ['-lfmt'], check=True)
    return driver


def run_driver(driver, kind, mode, pieces, forced):
    data = b''.join(str(len(p.encode())).encode() + b'\n' + p.encode() for p in pieces)
    out = subprocess.run([driver, kind, mode, '1' if forced else '0'], input=data,
                         capture_output=True, check=True).stdout
    return json.loads(out.decode())


def tokenizer(name):
    if name == 'mistral':  # a pre-v11 Mistral tokenizer's markers: [TOOL_CALLS] and no [ARGS]
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(TOKENIZERS, 'llama3', 'tokenizer.json'))
        tok.add_special_tokens({'additional_special_tokens': ['[TOOL_CALLS]']})
        assert '[ARGS]' not in tok.get_vocab()
        return tok
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(TOKENIZERS, name, 'tokenizer.json'))
    if name == 'llama3':  # an early Llama 3 revision: <|python_tag|> came with Llama 3.1
        tok.add_special_tokens({'additional_special_tokens': ['<|python_tag|>']})
    return tok


PARSERS = {'hermes': (Hermes2ProToolParser, 'qwen3'), 'llama3_json': (Llama3JsonToolParser, 'llama3'),
           'mistral': (MistralToolParser, 'mistral'), 'pythonic': (PythonicToolParser, 'llama3')}

TOOLS = [{'type': 'function', 'function': {'name': 'get_weather', 'parameters': {
    'type': 'object', 'properties': {'city': {'type': 'string'}}}}}]


def chat_request(choice):
    """The request vLLM's mistral parser reads tool_choice from: None for the other parsers."""
    if choice is None:
        return None
    tool_choice = {'type': 'function', 'function': {'name': 'get_weather'}} if choice == 'named' else choice
    return ChatCompletionRequest(model='m', messages=[{'role': 'user', 'content': 'hi'}], tools=TOOLS,
                                 tool_choice=tool_choice)


def increments(tok, text):
    """The text pieces a server streams: decode token by token, hold back an incomplete char.
    Each piece comes with the ids of the tokens that brought it."""
    ids = tok.encode(text, add_special_tokens=False)
    pieces, piece_ids, sent, start = [], [], '', 0
    for k in range(1, len(ids) + 1):
        cur = tok.decode(ids[:k], skip_special_tokens=False)
        if cur.endswith('\ufffd') and k < len(ids):
            continue
        if cur.startswith(sent) and len(cur) > len(sent):
            pieces.append(cur[len(sent):])
            piece_ids.append(ids[start:k])
            sent, start = cur, k
    return pieces, piece_ids


def vllm_whole(cls, tok, text, request):
    r = cls(tok).extract_tool_calls(text, request)
    return {'tools_called': r.tools_called,
            'calls': [[c.function.name, c.function.arguments, bool(c.id)] for c in r.tool_calls],
            'content': r.content}


def vllm_stream(cls, tok, pieces, piece_ids, request):
    p, cur, cur_ids, steps = cls(tok), '', [], []
    for piece, ids in zip(pieces, piece_ids):
        prev, cur = cur, cur + piece
        prev_ids, cur_ids = cur_ids, cur_ids + ids
        if request is None:  # the other parsers are compared without token ids
            prev_ids, cur_ids, ids = [], [], []
        d = p.extract_tool_calls_streaming(prev, cur, piece, prev_ids, cur_ids, ids, request)
        if d is None:
            steps.append(None)
            continue
        calls = []
        for tc in d.tool_calls:
            c = tc.model_dump(exclude_unset=True)
            if c.get('id'):
                c['id'] = '<id>'
            if isinstance(c.get('function'), dict):
                c['function'] = {k: v for k, v in c['function'].items() if k in tc.function.model_fields_set}
            calls.append(c)
        steps.append({'content': d.content, 'tool_calls': calls})
    # The mistral adapter's own prev_tool_call_arr stays empty (its get_remaining_unstreamed_args,
    # which vLLM's server calls, is always ""); troupe's has_parsed_calls follows the engine's.
    parsed = getattr(p, '_parser_engine', p).prev_tool_call_arr
    return {'steps': steps, 'remaining': p.get_remaining_unstreamed_args(), 'parsed': bool(parsed)}


def show(value):
    """JSON for the terminal (a lone surrogate as an escape)."""
    return json.dumps(value, ensure_ascii=False).encode('utf-8', 'backslashreplace').decode()


def main():
    verbose = '-v' in sys.argv
    logging.disable(logging.CRITICAL)  # vLLM logs every refused text with its traceback
    driver = build_driver()
    counts = {'agree': 0, 'known': 0, 'differ': 0}
    for kind, entries in CORPUS.items():
        cls, tok_name = PARSERS[kind]
        tok = tokenizer(tok_name)
        for entry in entries:
            choice, text = entry if isinstance(entry, tuple) else ('auto' if kind == 'mistral' else None, entry)
            request = chat_request(choice)
            forced = choice in ('required', 'named')
            pieces, piece_ids = increments(tok, text)
            for mode, theirs, ours in (
                    ('whole', vllm_whole(cls, tok, text, request),
                     run_driver(driver, kind, '0', [text], forced)),
                    ('stream', vllm_stream(cls, tok, pieces, piece_ids, request),
                     run_driver(driver, kind, '1', pieces, forced))):
                if theirs == ours:
                    counts['agree'] += 1
                    continue
                known = (kind, entry, mode) in KNOWN
                counts['known' if known else 'differ'] += 1
                if verbose or not known:
                    print(f'{"KNOWN" if known else "DIFF"} {kind} {mode} {entry!r}')
                    print(f'  pieces: {pieces!r}' if mode == 'stream' else '', end='')
                    print(f'\n  vllm:   {show(theirs)}')
                    print(f'  troupe: {show(ours)}')
    print(f'{sum(len(t) for t in CORPUS.values())} texts x 2 modes: {counts["agree"]} agree, '
          f'{counts["known"]} known differences, {counts["differ"]} unexpected differences')
    return 1 if counts['differ'] else 0


if __name__ == '__main__':
    sys.exit(main())
