#!/usr/bin/env python3
"""Greedy reference outputs from llama.cpp for troupe's correctness tests.

How tests/data/reference/smollm2_f32_greedy.json was produced (on the 2-core dev box, ~2 min):

    python3 tools/llamacpp_reference.py --out tests/data/reference/smollm2_f32_greedy.json

with llama-cpp-python 0.3.16 (pip, built from source) and the default model
~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf.

What it does:
  1. troupe computes with dequantized f32 weights, so the exact reference must come from the same
     weights in f32. llama.cpp's own quantize API (llama_model_quantize, ftype ALL_F32,
     allow_requantize) dequantizes every Q4_1/Q8_0 tensor of the GGUF into an F32 GGUF written to a
     temporary directory (deleted afterwards, never committed).
  2. For each prompt: tokenize with add_special=True (BOS if the GGUF asks) and parse_special=True, as
     llama.cpp's server does for a completion prompt; evaluate the prompt in one batch in a fresh
     context (single sequence, n_threads 2, n_ctx large enough), then take the argmax of the logits
     ourselves for exactly --num-tokens steps, feeding each token back, never stopping at EOS/EOG.
     Ties break to the lowest token id (numpy-style argmax).
  3. The same on the original Q4_1 file gives "greedy_ids_q4_1"; the script prints how often the
     Q4_1 run agrees with the F32 run (tokens before the first divergence), for information only.

Output JSON: {"model_sha256", "model_file", "llama_cpp_python_version", "num_tokens",
"tokenizer": {"add_bos", "bos_id", "eos_id"} (as llama.cpp reads them from the GGUF; this file has
add_bos_token false, so prompt_ids carry no BOS), "prompts": [{"name", "prompt", "prompt_ids", "greedy_ids", "greedy_ids_q4_1"}]}.
"""
import argparse
import ctypes
import hashlib
import json
import os
import sys
import tempfile

import llama_cpp
import numpy as np  # a dependency of llama-cpp-python

DEFAULT_MODEL = os.path.expanduser("~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf")

LONG_PARAGRAPH = (
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg, a "
    "goldsmith from Mainz, combined several existing technologies into a single practical system. "
    "Movable type had been used earlier in East Asia, where artisans carved characters from wood or "
    "cast them in ceramic and bronze, but the enormous number of characters in those writing systems "
    "made the method laborious. Gutenberg's alphabet needed only a few dozen letters, punctuation "
    "marks and abbreviations, so a compositor could assemble a page quickly from a case of metal "
    "sorts. He developed a hand mould for casting type in large quantities, an oil-based ink that "
    "adhered to metal, and a screw press adapted from those used to make wine and olive oil. The "
    "result was a workshop that could produce hundreds of identical copies of a book in the time a "
    "scribe needed to copy one. Within fifty years printing shops had spread to more than two "
    "hundred cities across Europe, and millions of volumes had been printed. Prices fell, literacy "
    "rose, and ideas travelled faster than ever before. Scholars could compare identical editions, "
    "errors could be corrected in later printings, and vernacular languages gained standard "
    "spellings. The Reformation, the Scientific Revolution and the growth of newspapers all owe a "
    "great deal to this invention. In short, the printing press changed"
)

PROMPTS = [
    ("english", "The capital of France is"),
    ("code", "def fibonacci(n):"),
    ("list", "Here is a list of fruits:\n1. Apple\n2. Banana\n3."),
    ("question", "Why is the sky blue?"),
    ("numbers", "1, 2, 3, 5, 8, 13, 21,"),
    ("unicode", "Les élèves du lycée à Zürich ont mangé des crêpes et"),
    ("chat", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"),
    ("chat_system", "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
     "<|im_start|>user\nName three colors.<|im_end|>\n<|im_start|>assistant\n"),
    ("long_paragraph", LONG_PARAGRAPH),
    ("one_word", "Hello"),
    ("json", '{"name": "Alice", "age": 30, "city":'),
    ("whitespace", "  Indented text\n\n\twith a tab and   spaces"),
]


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dequantize_to_f32(src, dst):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_ALL_F32
    params.allow_requantize = True
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize to F32 failed with code {rc}")
    try:  # the gguf package is optional: when present, prove every tensor really is F32
        import gguf
    except ImportError:
        return
    types = {t.tensor_type.name for t in gguf.GGUFReader(dst).tensors}
    if types != {"F32"}:
        sys.exit(f"dequantized file still holds tensor types {sorted(types)}")


class GreedyRunner:
    """One loaded model; each prompt runs in a fresh context (no state carried between prompts)."""

    def __init__(self, path, n_ctx, n_threads):
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = 0
        self.model = llama_cpp.llama_model_load_from_file(path.encode(), mparams)
        if not self.model:
            sys.exit(f"cannot load {path}")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.n_ctx, self.n_threads = n_ctx, n_threads
        self.special = {"add_bos": bool(llama_cpp.llama_vocab_get_add_bos(self.vocab)),
                        "bos_id": llama_cpp.llama_vocab_bos(self.vocab),
                        "eos_id": llama_cpp.llama_vocab_eos(self.vocab)}

    def tokenize(self, text):
        data = text.encode("utf-8")
        buf = (llama_cpp.llama_token * (len(data) + 8))()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, len(buf), True, True)
        if n < 0:
            sys.exit(f"tokenize failed for {text!r}")
        return list(buf[:n])

    def argmax_last(self, ctx):
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), (self.n_vocab,))
        return int(np.argmax(logits))  # the first index among equal maxima

    def greedy(self, prompt_ids, num_tokens):
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = self.n_ctx
        cparams.n_batch = self.n_ctx
        cparams.n_ubatch = self.n_ctx
        cparams.n_seq_max = 1
        cparams.n_threads = self.n_threads
        cparams.n_threads_batch = self.n_threads
        ctx = llama_cpp.llama_init_from_model(self.model, cparams)
        if not ctx:
            sys.exit("cannot create a llama context")
        try:
            return self._decode_loop(ctx, prompt_ids, num_tokens)
        finally:
            llama_cpp.llama_free(ctx)

    def _decode_loop(self, ctx, prompt_ids, num_tokens):
        assert len(prompt_ids) + num_tokens <= self.n_ctx, "context too small"
        tokens = (llama_cpp.llama_token * len(prompt_ids))(*prompt_ids)
        out = []
        batch = llama_cpp.llama_batch_get_one(tokens, len(prompt_ids))
        for _ in range(num_tokens):
            rc = llama_cpp.llama_decode(ctx, batch)
            if rc != 0:
                sys.exit(f"llama_decode failed with code {rc}")
            out.append(self.argmax_last(ctx))
            tokens = (llama_cpp.llama_token * 1)(out[-1])
            batch = llama_cpp.llama_batch_get_one(tokens, 1)
        return out

    def close(self):
        llama_cpp.llama_model_free(self.model)


def run_all(path, num_tokens, n_ctx, n_threads):
    runner = GreedyRunner(path, n_ctx, n_threads)
    try:
        results = []
        for name, prompt in PROMPTS:
            ids = runner.tokenize(prompt)
            results.append((ids, runner.greedy(ids, num_tokens)))
            print(f"  {name}: {len(ids)} prompt tokens", file=sys.stderr)
        return runner.special, results
    finally:
        runner.close()


def common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the quantized GGUF")
    parser.add_argument("--out", default="tests/data/reference/smollm2_f32_greedy.json")
    parser.add_argument("--num-tokens", type=int, default=32)
    parser.add_argument("--n-ctx", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    llama_cpp.llama_backend_init()
    quiet = llama_cpp.llama_log_callback(lambda *_: None)  # kept alive while llama.cpp runs
    llama_cpp.llama_log_set(quiet, ctypes.c_void_p(0))
    with tempfile.TemporaryDirectory() as tmp:
        f32_path = os.path.join(tmp, "model-f32.gguf")
        print("dequantizing to F32 ...", file=sys.stderr)
        dequantize_to_f32(args.model, f32_path)
        print("greedy on F32 ...", file=sys.stderr)
        f32 = run_all(f32_path, args.num_tokens, args.n_ctx, args.threads)
    print("greedy on the original file ...", file=sys.stderr)
    quant = run_all(args.model, args.num_tokens, args.n_ctx, args.threads)

    (special, f32), (_, quant) = f32, quant
    records, agree, total = [], 0, 0
    for (name, prompt), (ids, greedy), (qids, qgreedy) in zip(PROMPTS, f32, quant):
        assert ids == qids, f"tokenization differs between files for {name}"
        records.append({"name": name, "prompt": prompt, "prompt_ids": ids, "greedy_ids": greedy,
                        "greedy_ids_q4_1": qgreedy})
        agree += common_prefix(greedy, qgreedy)
        total += len(greedy)
    doc = {"model_sha256": sha256_of(args.model), "model_file": os.path.basename(args.model),
           "llama_cpp_python_version": llama_cpp.__version__, "num_tokens": args.num_tokens,
           "tokenizer": special,  # this GGUF sets add_bos_token false: no BOS is prepended
           "prompts": records}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"Q4_1 agrees with F32 on {agree}/{total} tokens (before first divergence); "
          f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
