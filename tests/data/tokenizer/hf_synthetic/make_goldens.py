#!/usr/bin/env python3
"""Writes small synthetic tokenizer.json files that exercise the parts of the Hugging Face
`tokenizers` pipeline the shared goldens do not (NFD/NFKC/NFKD, Lowercase, Strip, Whitespace,
WhitespaceSplit, Digits, Punctuation, Split behaviours and invert, Metaspace schemes and split,
ByteLevel add_prefix_space/use_regex, unk/fuse_unk, continuing_subword_prefix, added-token
flags, TemplateProcessing with a suffix, decoders Metaspace/Strip/none), each with golden.jsonl
from the library itself (run with tokenizers==0.22.2: `python3 make_goldens.py CORPUS.jsonl`).
"""
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers import processors, trainers

EXTRA = [
    "Hello <x> world", "Hello<x>world", "a  <ls>  b", "a  <rs>  b", "word<sw>word", "x <sw> y",
    "<sw>", "  <ls><rs>  ", "NUMBERS 1234567 and ½ ² ٣", "Ⅻ ﬁ ﬀ Å Å", "ǅungla İstanbul ΣΑΣ",
    "Mr. O'Neil's \"quote\" -- end...", "tabs\tand\u00a0nbsp\u3000ideographic", "",
    " leading and trailing ", "<bos> literal specials <eos>", "ab@@cd@@ef", "!!!???...",
    "emoji 😀👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "caf\u00e9 cafe\u0301", "<norm> <NORM> <Norm>",
]

def configs():
    # name -> (model, normalizer, pre_tokenizer, decoder, post_processor, trainer kwargs)
    bos_eos = processors.TemplateProcessing(single="<bos> $A <eos>", pair="<bos> $A <eos> $B:1",
                                            special_tokens=[("<bos>", 1), ("<eos>", 2)])
    yield ("nfd_lower_whitespace",
           models.BPE(unk_token="<unk>", fuse_unk=True),
           normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.Strip()]),
           pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                    pre_tokenizers.Digits(individual_digits=True)]),
           None, bos_eos, {})
    yield ("nfkc_punct_wssplit_prefix",
           models.BPE(unk_token="<unk>", fuse_unk=False, continuing_subword_prefix="##"),
           normalizers.NFKC(),
           pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                    pre_tokenizers.Punctuation(behavior="contiguous"),
                                    pre_tokenizers.Digits(individual_digits=False)]),
           None, None,
           {"continuing_subword_prefix": "##"})
    yield ("nfkd_split_behaviors",
           models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=False),
           normalizers.Sequence([normalizers.NFKD(), normalizers.Replace("@@", "-")]),
           pre_tokenizers.Sequence([
               pre_tokenizers.Split(" ", behavior="merged_with_next"),
               pre_tokenizers.Split(pattern=Regex(r"\p{P}+"),
                                    behavior="merged_with_previous"),
               pre_tokenizers.Split(pattern=Regex(r"\d"),
                                    behavior="contiguous"),
               pre_tokenizers.Split(pattern=Regex(r"[^\s]+"),
                                    behavior="removed", invert=True)]),
           decoders.Sequence([decoders.Strip(" ", 0, 1)]), None, {})
    yield ("metaspace_always_split",
           models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True),
           None,
           pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
           decoders.Sequence([decoders.Metaspace(replacement="▁", prepend_scheme="always"),
                              decoders.ByteFallback(), decoders.Fuse()]),
           bos_eos, {})
    yield ("metaspace_never_nosplit",
           models.BPE(unk_token="<unk>", byte_fallback=True),
           normalizers.Strip(left=False, right=True),
           pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=False),
           decoders.Sequence([decoders.Metaspace(replacement="▁", prepend_scheme="never"),
                              decoders.ByteFallback(), decoders.Fuse(),
                              decoders.Strip(" ", 2, 0)]),
           processors.TemplateProcessing(single="$A <eos>", special_tokens=[("<eos>", 2)]), {})
    yield ("byte_level_prefix_regex",
           models.BPE(),
           normalizers.Sequence([normalizers.Prepend("^"),
                                 normalizers.Replace(Regex(r"[0-9]+"),
                                                     "#")]),
           pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True),
           decoders.ByteLevel(),
           processors.Sequence([processors.ByteLevel(trim_offsets=True), bos_eos]),
           {"initial_alphabet": pre_tokenizers.ByteLevel.alphabet()})

def edit(path, name):
    """Byte tokens into the model vocabulary (byte_fallback models), and the "a b" string form of
    the merges for the first configuration (the others keep the [a, b] pair form)."""
    j = json.load(open(path, encoding="utf-8"))
    model = j["model"]
    if model.get("byte_fallback"):
        # Contiguous ids after the model's (the library renumbers added tokens past the model
        # vocabulary on load, so they move up by 256).
        first = len(model["vocab"])
        for b in range(256):
            model["vocab"][f"<0x{b:02X}>"] = first + b
        for t in j["added_tokens"]:
            if t["id"] >= first:
                t["id"] += 256
    if name == "nfd_lower_whitespace":
        model["merges"] = [f"{a} {b}" for a, b in model["merges"]]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)


def main():
    corpus = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
    texts = corpus + EXTRA
    out_dir = os.path.dirname(os.path.abspath(__file__))
    for name, model, norm, pre, dec, post, extra in configs():
        tok = Tokenizer(model)
        if norm: tok.normalizer = norm
        if pre: tok.pre_tokenizer = pre
        specials = ["<unk>", "<bos>", "<eos>"]
        trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                      show_progress=False, **extra)
        tok.train_from_iterator(texts * 3, trainer)
        tok.add_tokens([AddedToken("<x>"), AddedToken("<ls>", lstrip=True),
                        AddedToken("<rs>", rstrip=True), AddedToken("<sw>", single_word=True),
                        AddedToken("<norm>", normalized=True)])
        if post: tok.post_processor = post
        if dec: tok.decoder = dec
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "tokenizer.json")
        tok.save(path)
        edit(path, name)
        tok = Tokenizer.from_file(path)
        with open(os.path.join(d, "golden.jsonl"), "w", encoding="utf-8") as f:
            for i, text in enumerate(texts):
                with_special = tok.encode(text, add_special_tokens=True).ids
                ids = tok.encode(text, add_special_tokens=False).ids
                f.write(json.dumps({"id": f"{name}-{i:03d}", "text": text,
                                    "ids_with_special": with_special, "ids": ids,
                                    "decoded": tok.decode(ids, skip_special_tokens=False),
                                    "decoded_skip_special":
                                        tok.decode(with_special, skip_special_tokens=True)},
                                   ensure_ascii=True) + "\n")

if __name__ == "__main__":
    main()
