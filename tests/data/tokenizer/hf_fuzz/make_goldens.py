#!/usr/bin/env python3
"""Random texts (fragments of every script, whitespace kinds, literal special tokens, control
characters, Unicode 16 letters) encoded and decoded by the `tokenizers` 0.22.2 library with the
shared tokenizer.json files: a held-out check beyond the shared corpus. Writes
<name>/golden.jsonl here. Usage: make_goldens.py [SEED] [COUNT]  (defaults 7, 175)."""
import json, random, os, sys
from tokenizers import Tokenizer
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
S=os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../../../shared/testdata/tokenizers')
corpus=[json.loads(l)['text'] for l in open(S+'/corpus.jsonl')]
pools = [
 " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u0085", "\u200b",
 "Hello", "world", "THE", "it's", "we'LL", "don't", "I'm", "naïve", "café", "cafe\u0301", "e\u0301\u0301",
 "123", "4567890", "3.14", "½", "²", "٣٤", "Ⅻ", "ﬁ", "Å", "ǅ", "İ", "ΣΑΣ", "ß",
 "日本語", "中文字符", "한국어", "עברית", "العربية", "हिन्दी", "ไทย",
 "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "𝔘𝔫𝔦", "\U0010FFFF", "\ue000", "\x00", "\x7f", "\x1b",
 "<s>", "</s>", "<unk>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<|begin_of_text|>",
 "<|eot_id|>", "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>", "<mask>", "<0x41>",
 "<b>", "<table>", "▁", "▁▁", "Ġ", "<|endoftext|>", "<tool_call>",
 "!", "?", "...", "--", "'", '"', "(", ")", "{", "}", "[", "]", "#", "@", "$", "%", "^", "&", "*",
 "def f(x):\n    return x", "http://example.com/a?b=c", "a_b_c", "snake_case", "CamelCase",
]
def rand_text():
    n = random.randint(0, 25)
    parts = []
    for _ in range(n):
        r = random.random()
        if r < 0.6: parts.append(random.choice(pools))
        elif r < 0.75: parts.append(chr(random.choice([random.randint(0x20, 0x7e), random.randint(0xa0, 0x2fff), random.randint(0x3000, 0xd7ff), random.randint(0xe000, 0xfffd), random.randint(0x10000, 0x1ffff)])))
        else:
            c = random.choice(corpus); i = random.randint(0, len(c)); parts.append(c[i:i+random.randint(0, 30)])
    return "".join(parts)
# Unicode 16 letters (Egyptian hieroglyphs ext. A, CJK ext. H / I, Garay) next to ASCII.
FIXED = ["x\U00014343<b>ed", "a\U00013be4<unk>", "<\U00031350>", "\U0002EBF0\U0002EBF1 1",
         "(\U00010D4A)", "\U00016D40 \U00016D41"]
texts = FIXED + [rand_text() for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 175)]
for name in ['llama2','llama2_metaspace','llama3','qwen3','gemma3']:
    d=os.path.join(os.path.dirname(os.path.abspath(__file__)), name); os.makedirs(d, exist_ok=True)
    tok = Tokenizer.from_file(f'{S}/{name}/tokenizer.json')
    with open(f'{d}/golden.jsonl','w') as out:
        for i,t in enumerate(texts):
            ws = tok.encode(t, add_special_tokens=True).ids; ids = tok.encode(t, add_special_tokens=False).ids
            out.write(json.dumps({"id": f"fz-{i}", "text": t, "ids_with_special": ws, "ids": ids,
              "decoded": tok.decode(ids, skip_special_tokens=False), "decoded_skip_special": tok.decode(ws, skip_special_tokens=True)}, ensure_ascii=False)+"\n")
