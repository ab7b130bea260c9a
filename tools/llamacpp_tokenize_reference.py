#!/usr/bin/env python3
"""Reference token ids from llama.cpp for troupe's tokenizer tests.

How tests/data/tokenizer/smollm2_llamacpp_ids.jsonl, smollm2_llamacpp_corpus_ids.jsonl and
smollm2_llamacpp_vocab.json were made:

    python3 tools/llamacpp_tokenize_reference.py --out-dir tests/data/tokenizer \
        --corpus ../shared/testdata/tokenizers/corpus.jsonl

with llama-cpp-python 0.3.16 and the default model
~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf.

Each string is tokenized the way llama.cpp's server tokenizes a completion prompt:
add_special=True (BOS only if the GGUF asks for it) and parse_special=True (control tokens written
literally in the text become single tokens). Output, one JSON object per line:
    {"text": str, "ids": [int], "detok": str}
(smollm2_llamacpp_corpus_ids.jsonl: the same for every "text" of the shared tokenizer corpus, with
its "id" added), where "detok" is llama.cpp's detokenization of "ids" with special tokens rendered (UTF-8, invalid
sequences replaced by U+FFFD). The vocab file records what llama.cpp derives from the GGUF:
add_bos, bos/eos ids, the end-of-generation ids and the control ids.
"""
import argparse
import ctypes
import json
import os

import llama_cpp

DEFAULT_MODEL = os.path.expanduser("~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf")

TEXTS = [
    "",
    " ",
    "  ",
    "   ",
    "\n",
    "\n\n",
    "\n\n\n",
    "\t",
    "\t\tindented",
    "a\tb",
    " \n \n ",
    "\r\n",
    "Hello world",
    "Hello, world!",
    "hello   world",
    "trailing spaces   ",
    "   leading spaces",
    "The quick brown fox jumps over the lazy dog.",
    "It's John's book; they're here, we've gone, I'm sure, you'll see, he'd say.",
    "IT'S LOUD, THEY'RE SHOUTING",
    "don't won't can't shouldn't",
    "'s 't 're 've 'm 'll 'd",
    "1234567",
    "3.14159 and 2,718,281",
    "Numbers: 0 12 345 6789 10000 123456789012",
    "x=1+2*3-4/5",
    "version v1.2.3-rc4",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber stra\u00dfe",
    "e\u0301 (combining accent)",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "\u4f60\u597d\uff0c\u4e16\u754c\u3002",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "emoji \U0001F600\U0001F680 and \U0001F44D\U0001F3FD",
    "family \U0001F468\u200D\U0001F469\u200D\U0001F467",
    "flags \U0001F1FA\U0001F1F8 \U0001F1EF\U0001F1F5",
    "\u00a0non-breaking\u00a0space and\u3000ideographic space",
    "em\u2014dash \u201cquotes\u201d \u2018single\u2019 \u2026",
    "\u00bd \u00b2 \u2167 \u0663\u0664",
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>",
    "text<|endoftext|>more text",
    "<|im_start|><|im_end|><|im_start|>",
    "<|im_start",
    "< |im_start| >",
    "<|im_end|>\n\n",
    "<reponame>troupe<file_sep>main.cpp",
    "<jupyter_code>print(1)<jupyter_output>1<empty_output>",
    "def add(a, b):\n    return a + b\n",
    "int main() {\n\treturn 0;\n}",
    "for (int i = 0; i < n; ++i) { sum += x[i]; }",
    "    four spaces then code",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "https://example.com/path?query=1&x=y#frag",
    "user@example.com",
    "$100.00 (50% off!) #hashtag @mention",
    "!!!???...,,,;;;",
    "ALLCAPS lowercase MiXeD CamelCase snake_case",
    "A\n\nB\n\n\nC",
    "line one\nline two\r\nline three",
    "Tabs\tand\tspaces  mixed \t here",
    "\u00e9\u00e8\u00ea\u00eb \u00c0\u00c1\u00c2",
    "Z\u0308\u0301\u0327 zalgo",
    "\u200bzero\u200bwidth",
    "\U00010348 gothic and \U0001D11E music",
    "A long sentence about tokenizers, which split text into pieces that a model reads; "
    "the pieces come from merges learned on a large corpus of text.",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--out-dir", default="tests/data/tokenizer")
    parser.add_argument("--corpus", help="JSONL with {id, text} lines (the shared tokenizer corpus)")
    args = parser.parse_args()

    llm = llama_cpp.Llama(args.model, vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    num_tokens = llama_cpp.llama_vocab_n_tokens(vocab)

    def piece(token):
        # Llama.detokenize truncates pieces at 32 bytes; ask llama_token_to_piece directly.
        buf = ctypes.create_string_buffer(1024)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, True)
        assert 0 <= n <= len(buf)
        return buf.raw[:n]

    def reference(text):
        ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        detok = b"".join(piece(t) for t in ids).decode("utf-8", errors="replace")
        return {"text": text, "ids": ids, "detok": detok}

    with open(os.path.join(args.out_dir, "smollm2_llamacpp_ids.jsonl"), "w", encoding="utf-8") as f:
        for text in TEXTS:
            f.write(json.dumps(reference(text)) + "\n")
    if args.corpus:
        out = os.path.join(args.out_dir, "smollm2_llamacpp_corpus_ids.jsonl")
        with open(args.corpus, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as f:
            for line in src:
                if line.strip():
                    record = json.loads(line)
                    f.write(json.dumps({"id": record["id"], **reference(record["text"])}) + "\n")

    meta = {
        "model_file": os.path.basename(args.model),
        "llama_cpp_python_version": llama_cpp.__version__,
        "num_tokens": num_tokens,
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
        "bos_id": llama_cpp.llama_vocab_bos(vocab),
        "eos_id": llama_cpp.llama_vocab_eos(vocab),
        "eog_ids": [i for i in range(num_tokens) if llama_cpp.llama_vocab_is_eog(vocab, i)],
        "control_ids": [i for i in range(num_tokens) if llama_cpp.llama_vocab_is_control(vocab, i)],
    }
    with open(os.path.join(args.out_dir, "smollm2_llamacpp_vocab.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"wrote {len(TEXTS)} strings to {args.out_dir}")


if __name__ == "__main__":
    main()
