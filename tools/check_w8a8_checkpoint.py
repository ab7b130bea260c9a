#!/usr/bin/env python3
"""Checks that a W8A8 directory written by `troupe make-model --quantization w8a8` is accepted by
compressed-tensors itself: its quantization_config validates as a QuantizationConfig, and the
tensors have the dtypes and shapes that compressed-tensors' int-quantized format stores.

    tools/check_w8a8_checkpoint.py DIR

Exits 0 with "skipped" when the compressed-tensors (or safetensors) package is not importable:
CI does not depend on torch.
"""
import json
import sys
from pathlib import Path


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    directory = Path(sys.argv[1])
    try:
        from compressed_tensors.quantization import QuantizationConfig
        from safetensors import safe_open
    except ImportError as e:
        print(f"skipped: {e}")
        return 0
    config = json.loads((directory / "config.json").read_text())
    qc = QuantizationConfig.model_validate(config["quantization_config"])
    scheme = next(iter(qc.config_groups.values()))
    assert scheme.weights.num_bits == 8 and scheme.weights.strategy == "channel", scheme
    assert scheme.input_activations.dynamic and scheme.input_activations.strategy == "token"
    with safe_open(str(directory / "model.safetensors"), framework="pt") as f:
        for name in f.keys():
            if name.endswith("_proj.weight"):
                w = f.get_tensor(name)
                s = f.get_tensor(name.removesuffix("weight") + "weight_scale")
                assert str(w.dtype) == "torch.int8", name
                assert list(s.shape) == [w.shape[0], 1], name
    print(f"ok: {qc.format}, {len(qc.config_groups)} group(s), ignore {qc.ignore}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
