#!/usr/bin/env python3
"""Parses a Prometheus text exposition with the reference Python client's parser
(prometheus_client.parser.text_string_to_metric_families) and prints what it understood as JSON:

    {"families": [{"name", "type", "documentation",
                   "samples": [{"name", "labels": {...}, "value"}]}]}

Family names are the parser's: a counter family drops "_total" (vllm:prompt_tokens_total is
family vllm:prompt_tokens with sample vllm:prompt_tokens_total). Non-finite values print as
strings ("+Inf", "-Inf", "NaN").

Usage: prometheus_parse.py FILE      exit 0; 3 when prometheus_client is not installed; 1 when
                                     the text does not parse (the parser's message on stderr).
"""
import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("prometheus_client is not installed (tools/setup.sh --packages)", file=sys.stderr)
    sys.exit(3)


def number(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return v


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    try:
        families = [
            {
                "name": fam.name,
                "type": fam.type,
                "documentation": fam.documentation,
                "samples": [
                    {"name": s.name, "labels": dict(s.labels), "value": number(s.value)}
                    for s in fam.samples
                ],
            }
            for fam in text_string_to_metric_families(text)
        ]
    except Exception as e:  # the parser raises ValueError and others on malformed input
        print(f"does not parse: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    json.dump({"families": families}, sys.stdout)


if __name__ == "__main__":
    main()
