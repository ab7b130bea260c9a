#!/usr/bin/env python3
"""Compare troupe's reasoning parsers (http/reasoning_parsers.hpp, http/chat_output_parser.hpp)
with vLLM 0.32's "deepseek_r1" and "qwen3", answer by answer.

Run by hand (not in CI) with the Python that has vLLM installed:

    ~/.cache/troupe/peers/vllm-venv/bin/python tools/compare_reasoning_parsers.py [-v]

It compiles a tiny driver around http/{reasoning_parsers,qwen3_reasoning_parser,marker_lexer,
python_slices,chat_output_parser}.cpp with g++ (into a temp directory). Every answer of CORPUS
is encoded with the Qwen3 tokenizer of /work/shared/testdata/tokenizers/qwen3 (it has <think>,
</think>, <tool_call>) and, for each parser, each prompt ending and include_reasoning, fed to:
  - vLLM: the Parser class ParserManager.get_parser(reasoning_parser_name=...) composes (a
    DelegatingParser with the reasoning parser and no tool parser), per choice, with
    chat_template_kwargs={"enable_thinking": ...}: parse(text, ids) and
    count_reasoning_tokens(ids) for the whole answer; parse_delta(delta_text, delta_ids,
    prompt_ids, finished) for streams of 1, 2 and 5 tokens per delta whose texts are the
    incremental decodes a server sends (held back while the decode ends in U+FFFD), then
    count_reasoning_tokens(all ids);
  - troupe: chat_output_parser with reasoning_parser::make(kind, tokens, enable_thinking).
Each delta is compared field by field (unset, None, "" and text kept apart, as
model_dump_json(exclude_unset=True) writes them), as are the counts.
Exit status 1 on any difference.
"""
import os
import subprocess
import sys
import tempfile

from transformers import AutoTokenizer
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.parser.parser_manager import ParserManager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = '/work/shared/testdata/tokenizers/qwen3'
SOURCES = ['reasoning_parsers', 'qwen3_reasoning_parser', 'marker_lexer', 'python_slices',
           'chat_output_parser']
DRIVER = r'''
#include <iostream>
#include <sstream>
#include <string>
#include <vector>
#include "http/chat_output_parser.hpp"
using namespace troupe::http;
// No tool parser here (it would link the tool parsers' dependencies): a stub for the linker.
std::string tool_parser::remaining_unstreamed_args() const { return {}; }
static std::string unhex(const std::string& h) {
  std::string s;
  for (size_t i = 0; i + 1 < h.size(); i += 2) s += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return s;
}
static std::string hex(const std::optional<std::string>& s);
static std::string hexf(const delta_text_field& f) { return f ? hex(*f) : "~"; }
static std::string hex(const std::optional<std::string>& s) {
  if (!s) return "-";
  if (s->empty()) return "=";
  static const char* d = "0123456789abcdef";
  std::string h;
  for (unsigned char c : *s) { h += d[c >> 4]; h += d[c & 15]; }
  return h;
}
static std::vector<int32_t> ids_of(std::istringstream& in) {
  std::vector<int32_t> v; int32_t x; while (in >> x) v.push_back(x); return v;
}
int main() {  // stdin: lines of commands, see compare_reasoning_parsers.py
  reasoning_tokens tokens;
  std::unique_ptr<chat_output_parser> parser;
  reasoning_parser_kind kind{}; bool thinking = true, include = true;
  std::vector<int32_t> prompt; bool first = true;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line); std::string cmd; in >> cmd;
    if (cmd == "TOKENS") { in >> tokens.start_id >> tokens.end_id >> tokens.tool_start_id >> tokens.tool_end_id; }
    else if (cmd == "BOUNDARY") { tokens.turn_boundary_ids = ids_of(in); }
    else if (cmd == "DROP") { special_token t; std::string h; in >> t.id >> h; t.text = unhex(h); tokens.dropped.push_back(t); }
    else if (cmd == "NEW") {
      std::string name; in >> name >> thinking >> include;
      kind = *find_reasoning_parser(name);
      parser = std::make_unique<chat_output_parser>(reasoning_parser::make(kind, tokens, thinking), nullptr, include);
      first = true;
    }
    else if (cmd == "PROMPT") { prompt = ids_of(in); }
    else if (cmd == "PARSE") {
      std::string h; in >> h; auto out = parser->parse(unhex(h == "=" ? "" : h));
      std::cout << "PARSE " << hex(out.reasoning) << " " << hex(out.content) << "\n";
    }
    else if (cmd == "COUNT") { auto v = ids_of(in); std::cout << "COUNT " << parser->count_reasoning_tokens(v) << "\n"; }
    else if (cmd == "DELTA") {
      int fin; std::string h; in >> fin >> h; auto v = ids_of(in);
      std::optional<std::span<const int32_t>> p;
      if (first) p = std::span<const int32_t>(prompt);
      first = false;
      auto d = parser->parse_delta(unhex(h == "=" ? "" : h), v, p, fin != 0);
      if (!d) std::cout << "DELTA none\n";
      else std::cout << "DELTA " << hexf(d->reasoning) << " " << hexf(d->content) << "\n";
    }
  }
}
'''

CORPUS = [
    '<think>\nI think 2+2 is 4.\n</think>\n\nThe answer is 4.',
    'Reasoning that the prompt opened.\n</think>\n\nAnswer after it.',
    '<think>\nTruncated before the end of the reason',
    'No thinking markers at all.',
    '',
    '<think></think>Hello',
    '<think>\nonly reasoning</think>',
    '<think>a</think>b</think>c',
    '<think>a<think>b</think>c</think>d',
    '<think>\nI will call a tool.\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>',
    '<think>\nreason then <tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>',
    '<think>日本語の思考 😀 é</think>café ☕ done',
    '<think>a < b > c <thi</think>x <function=y> </parameter>',
    '<think>\n\n</think>\n\n',
    '<think>x</think>   \n  y',
    '<think>x</think>\n\n<tool_call>',
    'plain <think>late</think> tail',
    '<think>sum</think>ok<|im_end|>',
    '<think>drop <|endoftext|> this</think>and <|im_start|> that',
    '<think>\nmultiline\nreasoning\n\nwith blank lines\n</think>\n\n# Title\n\nBody text.',
    '</think>',
    '<think>',
    '<think>emoji 🤔🤔🤔 and combining é</think>😀',
    '<think>\n<function=f>\n<parameter=x>\n1\n</parameter>\n</function>\n</think>done',
]


def hexopt(s):
    if s is None:
        return '-'
    if s == '':
        return '='
    return s.encode().hex()


def field(delta, name):
    """A DeltaMessage field as model_dump_json(exclude_unset=True) sees it: ~ unset."""
    return hexopt(getattr(delta, name)) if name in delta.model_fields_set else '~'


def build_driver(tmp):
    src = os.path.join(tmp, 'driver.cpp')
    with open(src, 'w') as f:
        f.write(DRIVER)
    exe = os.path.join(tmp, 'driver')
    files = [os.path.join(ROOT, 'http', s + '.cpp') for s in SOURCES]
    subprocess.run(['g++', '-std=c++20', '-O1', '-I' + ROOT, '-o', exe, src] + files, check=True)
    return exe


def stream_deltas(tok, ids, per_delta):
    """(text, ids) increments as a detokenizing server sends them."""
    deltas, sent, start = [], '', 0
    for end in range(per_delta, len(ids) + per_delta, per_delta):
        end = min(end, len(ids))
        text = tok.decode(ids[:end], skip_special_tokens=False)
        new = '' if text.endswith('\ufffd') and end < len(ids) else text[len(sent):]
        if not text.endswith('\ufffd') or end == len(ids):
            sent = text
        deltas.append((new, ids[start:end]))
        start = end
        if end == len(ids):
            break
    return deltas or [('', [])]


def main():
    verbose = '-v' in sys.argv
    tok = AutoTokenizer.from_pretrained(TOKENIZER)
    vocab = tok.get_vocab()
    markers = ['<think>', '</think>', '<tool_call>', '</tool_call>']
    lines = ['TOKENS ' + ' '.join(str(vocab[m]) for m in markers),
             'BOUNDARY %d %d' % (vocab['<|im_start|>'], vocab['<|im_end|>'])]
    for text, tid in zip(tok.all_special_tokens, tok.all_special_ids):
        if text not in markers:
            lines.append('DROP %d %s' % (tid, text.encode().hex()))
    head = '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n'
    prompts = {'open': head, 'think': head + '<think>\n', 'closed': head + '<think>\n\n</think>\n\n'}
    settings = [('deepseek_r1', True), ('qwen3', True), ('qwen3', False)]
    expected, labels = [], []
    for name, thinking in settings:
        parser_cls = ParserManager.get_parser(reasoning_parser_name=name, tokenizer=tok)
        for include in (True, False):
            request = ChatCompletionRequest(model='m', messages=[{'role': 'user', 'content': 'hi'}],
                                            include_reasoning=include)
            kwargs = {'enable_thinking': thinking}
            for text in CORPUS:
                ids = tok.encode(text)
                new = 'NEW %s %d %d' % (name, thinking, include)
                parser = parser_cls(tok, None, chat_template_kwargs=kwargs)
                reasoning, content, _ = parser.parse(text, request, model_output_token_ids=ids)
                if not include:
                    reasoning = None
                count = parser.count_reasoning_tokens(ids)
                lines += [new, 'PARSE ' + (text.encode().hex() or '='), 'COUNT ' + ' '.join(map(str, ids))]
                expected += ['PARSE %s %s' % (hexopt(reasoning), hexopt(content)), 'COUNT %d' % count]
                labels += [(name, thinking, include, text, 'parse', None)] * 2
                for pname, ptext in prompts.items():
                    prompt_ids = tok.encode(ptext)
                    for per in (1, 2, 5):
                        parser = parser_cls(tok, None, chat_template_kwargs=kwargs)
                        lines += [new, 'PROMPT ' + ' '.join(map(str, prompt_ids))]
                        deltas = stream_deltas(tok, ids, per)
                        for k, (dtext, dids) in enumerate(deltas):
                            fin = k == len(deltas) - 1
                            d = parser.parse_delta(dtext, list(dids), request,
                                                   prompt_token_ids=prompt_ids, finished=fin)
                            lines.append('DELTA %d %s %s' % (fin, dtext.encode().hex() or '=',
                                                             ' '.join(map(str, dids))))
                            expected.append('DELTA none' if d is None else 'DELTA %s %s' % (
                                field(d, 'reasoning'), field(d, 'content')))
                            labels.append((name, thinking, include, text, pname, per))
                        lines.append('COUNT ' + ' '.join(map(str, ids)))
                        expected.append('COUNT %d' % parser.count_reasoning_tokens(tuple(ids)))
                        labels.append((name, thinking, include, text, pname, per))
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_driver(tmp)
        out = subprocess.run([exe], input='\n'.join(lines) + '\n', capture_output=True,
                             text=True, check=True).stdout.splitlines()
    assert len(out) == len(expected), (len(out), len(expected))
    bad = [i for i, (a, b) in enumerate(zip(out, expected)) if a != b]
    kinds = {}
    for k in ('PARSE', 'COUNT', 'DELTA'):
        n = sum(1 for e in expected if e.startswith(k))
        kinds[k] = (n, sum(1 for i in bad if expected[i].startswith(k)))
    streams = len({l[:6] for l in labels if l[4] != 'parse'})
    print('answers: %d, settings (parser, thinking, include_reasoning): %d, streams: %d'
          % (len(CORPUS), len(settings) * 2, streams))
    for k, (n, b) in kinds.items():
        print('%-5s %5d compared, %d differ' % (k, n, b))
    shown = 0
    for i in bad:
        if shown < 20 or verbose:
            name, thinking, include, text, pname, per = labels[i]
            print('DIFF %s thinking=%d include=%d prompt=%s per=%s text=%r\n  vllm:   %s\n  troupe: %s'
                  % (name, thinking, include, pname, per, text, expected[i], out[i]))
            shown += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
