#!/usr/bin/env python3
"""A tiny Llama checkpoint as transformers 5 saves it, and transformers' own logits for it.

transformers 5 writes rope_theta and the RoPE scaling inside "rope_parameters", "dtype" instead
of "torch_dtype", and the chat template as chat_template.jinja beside tokenizer_config.json.
This script saves such a directory with transformers' own save_pretrained calls:

  tests/data/hf_models/tf5_llama3_rope/
    config.json          LlamaConfig: rope_parameters {rope_type llama3, rope_theta 100000, ...},
                         dtype bfloat16, tied embeddings
    model.safetensors    LlamaForCausalLM.save_pretrained (bf16); the weights are drawn from a
                         seeded numpy stream (uniform, make-model's scales), not torch's init,
                         whose 0.02 std would give near-uniform logits
    tokenizer.json, tokenizer_config.json, chat_template.jinja
                         a byte-level BPE trained on a few sentences (tokenizers), saved by
                         PreTrainedTokenizerFast.save_pretrained with a Llama-3-style template

and the oracle, tests/data/hf_models/tf5_llama3_rope.reference.json: the checkpoint loaded back
with LlamaForCausalLM.from_pretrained(dtype=float64, eager attention) and run by transformers'
forward, in the format of reference_logprobs.json (tools/hf_reference_logits.py): per prompt the
top-5 log-probs at every 50th position and the last, and 8 greedy tokens. Every log-prob is also
recomputed by hf_reference_logits.py's independent numpy forward and must agree within 1e-4
(transformers rounds the RoPE angles to float32).
"chat" records a rendered chat prompt and its token ids (apply_chat_template).

usage:
  python3 -m venv /tmp/tf5 && /tmp/tf5/bin/pip install 'transformers>=5' numpy safetensors torch
  /tmp/tf5/bin/python tools/make_transformers5_checkpoint.py
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_reference_logits as numpy_reference  # noqa: E402

NAME = "tf5_llama3_rope"
SEED = 21
PROMPT_LENGTHS = [1, 9, 60, 200]
NUM_GREEDY, TOP_K, STRIDE = 8, 5, 50
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}"
    "<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Rotary position embeddings rotate each pair of dimensions by an angle.",
    "Hello, world! How are you today? I am fine, thank you.",
    "Llama 3 scales the low frequencies by a factor and keeps the high ones.",
]


def config():
    return LlamaConfig(
        vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
        rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=0, eos_token_id=1,
        rope_parameters={"rope_type": "llama3", "rope_theta": 100000.0, "factor": 8.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 32},
        architectures=["LlamaForCausalLM"], dtype="bfloat16")


def fill_weights(model):
    """Uniform weights as troupe make-model draws them: norms 1 + 0.2u, linears u / sqrt(in)."""
    rng = np.random.default_rng(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            u = rng.uniform(-1.0, 1.0, size=tuple(p.shape))
            if name.endswith("norm.weight"):
                value = 1.0 + 0.2 * u
            elif name.endswith("embed_tokens.weight"):
                value = u
            else:
                value = u / np.sqrt(p.shape[1])
            p.copy_(torch.from_numpy(value))


def save_tokenizer(out):
    specials = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=specials[0],
                                   eos_token=specials[1])
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    return fast


def log_probs(model, ids):
    with torch.no_grad():
        logits = model(torch.tensor([[int(i) for i in ids]])).logits[0].double()
    return torch.log_softmax(logits, dim=-1).numpy()


def reference_for(model, cfg, weights, ids):
    lp = log_probs(model, ids)
    independent = numpy_reference.forward(cfg, weights, ids)
    # transformers computes the RoPE angles in float32 (its rotary embedding disables autocast).
    assert np.abs(lp - independent).max() < 1e-4, np.abs(lp - independent).max()
    positions = sorted(set(range(0, len(ids), STRIDE)) | {len(ids) - 1})
    top = []
    for p in positions:
        order = np.argsort(-lp[p], kind="stable")[:TOP_K]
        top.append([[int(i), round(float(lp[p][i]), 6)] for i in order])
    seq, greedy, margins = list(ids), [], []
    for _ in range(NUM_GREEDY):
        last = log_probs(model, seq)[-1]
        order = np.argsort(-last, kind="stable")
        margins.append(float(last[order[0]] - last[order[1]]))
        greedy.append(int(order[0]))
        seq.append(int(order[0]))
    return {"ids": [int(i) for i in ids], "positions": positions, "top": top, "greedy": greedy,
            "min_greedy_margin": round(min(margins), 6)}


def main():
    data = os.path.join(HERE, "..", "tests", "data", "hf_models")
    out = os.path.join(data, NAME)
    shutil.rmtree(out, ignore_errors=True)
    model = LlamaForCausalLM(config())
    fill_weights(model)
    model.to(torch.bfloat16).save_pretrained(out)
    tokenizer = save_tokenizer(out)

    model = LlamaForCausalLM.from_pretrained(out, dtype=torch.float64, attn_implementation="eager")
    model.eval()
    with open(os.path.join(out, "config.json")) as f:
        cfg = json.load(f)
    weights = numpy_reference.read_safetensors(os.path.join(out, "model.safetensors"))
    rng = np.random.default_rng(SEED)
    prompts = []
    for n in PROMPT_LENGTHS:
        prompts.append(reference_for(model, cfg, weights,
                                     rng.integers(0, cfg["vocab_size"], size=n)))
        print(NAME, n, "min greedy margin", prompts[-1]["min_greedy_margin"])
    messages = [{"role": "user", "content": "Hello, how are you today?"}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    chat_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    prompts.append(reference_for(model, cfg, weights, chat_ids))
    result = {"generator": "tools/make_transformers5_checkpoint.py (transformers "
                           f"{transformers.__version__} LlamaForCausalLM, float64)",
              "models": [{"spec": {"name": NAME, "dir": "hf_models/" + NAME},
                          "chat": {"messages": messages, "text": text, "ids": chat_ids},
                          "prompts": prompts}]}
    with open(os.path.join(data, NAME + ".reference.json"), "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
