#!/usr/bin/env python3
"""Trains the small SentencePiece tokenizer.model of tests/data/tokenizer/sentencepiece and writes
goldens from transformers' slow (sentencepiece-backed) LlamaTokenizer.

Usage: tools/sentencepiece_reference.py [CORPUS.jsonl]
  CORPUS: ../shared/testdata/tokenizers/corpus.jsonl (texts to tokenize; also training text).
Writes tests/data/tokenizer/sentencepiece/<variant>/{tokenizer.model, tokenizer_config.json,
special_tokens_map.json, golden.jsonl} for three variants:
  legacy          legacy true, add_bos_token true, only <unk> <s> </s> as added tokens
  nonlegacy       legacy false, add_bos_token + add_eos_token, added tokens <|im_start|> and
                  <|im_end|> (special) and <tool> (not special, lstrip)
  nonlegacy_noprefix  legacy false, add_prefix_space false, add_bos_token false
Golden lines: {"id", "text", "ids_with_special", "ids", "decoded", "decoded_skip_special"}, with
encode(text) / encode(text, add_special_tokens=False) and decode(ids_with_special[,
skip_special_tokens=True]). Run once; outputs are committed. Needs `pip install sentencepiece
"transformers<5"` (4.57.x; reference only: troupe itself does not use Python).

The model is a BPE model trained the way Llama's was: byte_fallback, split_digits, identity
normalization, add_dummy_prefix, no whitespace removal, unk/bos/eos = 0/1/2.
"""
import io
import json
import os
import shutil
import sys

import sentencepiece as spm
import transformers
from transformers import LlamaTokenizer

OUT = "tests/data/tokenizer/sentencepiece"
VOCAB_SIZE = 600
EXTRA_TEXTS = [
    "<s>Hello</s>", "Hello <s> world</s>", "<s> <s>  </s>", "▁already▁marked", "<unk>",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "text<|im_end|>more", "a <tool> b", "x<tool>y", "  <tool>  ", "<|im_start|><|im_end|>",
    "Ünïcödé façade — naïve café 東京 😀 ", "\t\ttabs\nand\r\nnewlines ", "1234567890 3.14159",
    "   leading and trailing spaces   ", "ＦＵＬＬ ｗｉｄｔｈ", "e\u0301 vs \u00e9", "\u200bzero width",
]
TRAINING_TEXT = [
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.",
    "def main(argv):\n    for i in range(10):\n        print(i, argv[i])\n    return 0\n",
    "In the beginning the universe was created. This has made a lot of people very angry.",
    "Les élèves du lycée ont mangé des crêpes. Die Straße ist schön. ¿Dónde está?",
    "東京は日本の首都です。 北京是中国的首都。 서울은 한국의 수도입니다.",
    "Numbers: 1, 2, 3, 42, 1000, 3.14, 2026-11-28, $19.99, 50%.",
]


def train_model(corpus_texts, path):
    model = io.BytesIO()
    sentences = TRAINING_TEXT * 20 + [t for t in corpus_texts if t.strip()] * 3
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, model_type="bpe",
        vocab_size=VOCAB_SIZE, byte_fallback=True, split_digits=True,
        normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
        character_coverage=0.9995, hard_vocab_limit=False, unk_id=0, bos_id=1, eos_id=2,
        pad_id=-1, num_threads=2, minloglevel=2)
    with open(path, "wb") as f:
        f.write(model.getvalue())


def added(content, special=True, lstrip=False):
    return {"content": content, "lstrip": lstrip, "normalized": False, "rstrip": False,
            "single_word": False, "special": special}


def variant_configs(vocab_size):
    base = {"0": added("<unk>"), "1": added("<s>"), "2": added("</s>")}
    chat = dict(base)
    chat[str(vocab_size)] = added("<|im_start|>")
    chat[str(vocab_size + 1)] = added("<|im_end|>")
    chat[str(vocab_size + 2)] = added("<tool>", special=False, lstrip=True)
    common = {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>",
              "unk_token": "<unk>", "pad_token": None, "clean_up_tokenization_spaces": False,
              "model_max_length": 4096}
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    chat_specials = dict(specials, additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    return {
        "legacy": (dict(common, legacy=True, add_bos_token=True, add_eos_token=False,
                        added_tokens_decoder=base), specials),
        "nonlegacy": (dict(common, legacy=False, add_bos_token=True, add_eos_token=True,
                           added_tokens_decoder=chat,
                           additional_special_tokens=["<|im_start|>", "<|im_end|>"]),
                      chat_specials),
        "nonlegacy_noprefix": (dict(common, legacy=False, add_prefix_space=False,
                                    add_bos_token=False, add_eos_token=False,
                                    added_tokens_decoder=chat,
                                    additional_special_tokens=["<|im_start|>", "<|im_end|>"]),
                               chat_specials),
    }


def main():
    corpus_path = sys.argv[1] if len(sys.argv) > 1 else "../shared/testdata/tokenizers/corpus.jsonl"
    rows = [json.loads(line) for line in open(corpus_path, encoding="utf-8")]
    rows += [{"id": f"extra-{i:03d}", "text": t} for i, t in enumerate(EXTRA_TEXTS)]
    model_path = os.path.join(OUT, "tokenizer.model")
    os.makedirs(OUT, exist_ok=True)
    train_model([r["text"] for r in rows], model_path)
    vocab_size = spm.SentencePieceProcessor(model_file=model_path).get_piece_size()
    for name, (config, specials) in variant_configs(vocab_size).items():
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        shutil.copy(model_path, os.path.join(d, "tokenizer.model"))
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(config, f, indent=1, ensure_ascii=False)
        with open(os.path.join(d, "special_tokens_map.json"), "w") as f:
            json.dump(specials, f, indent=1)
        tok = LlamaTokenizer.from_pretrained(d)
        assert tok.legacy == config["legacy"]
        with open(os.path.join(d, "golden.jsonl"), "w", encoding="utf-8") as f:
            for r in rows:
                ids_special = tok.encode(r["text"])
                f.write(json.dumps({
                    "id": r["id"], "text": r["text"], "ids_with_special": ids_special,
                    "ids": tok.encode(r["text"], add_special_tokens=False),
                    "decoded": tok.decode(ids_special),
                    "decoded_skip_special": tok.decode(ids_special, skip_special_tokens=True),
                }, ensure_ascii=False) + "\n")
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump({"oracle": f"transformers {transformers.__version__} LlamaTokenizer (slow), "
                                 f"sentencepiece {spm.__version__}",
                       "generator": "tools/sentencepiece_reference.py"}, f, indent=1)
    os.remove(model_path)


if __name__ == "__main__":
    main()
