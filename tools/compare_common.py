"""What tools/compare_anthropic_messages.py and tools/compare_responses.py share: sending a
request and keeping the raw answer, SSE parsing, id shapes, comparing two servers' answers (status,
content type, Allow header, body as masked JSON or a stream as its events, with WARNINGs for key
order and pydantic validation texts), --capture and the command line with its main loop.

A case is whatever the script's cases() maps a name to; the script's run(base, case) sends it and
returns its steps as [(method, path, body, headers, (status, content type, allow, raw body))].
The script's Rules say how a JSON body is masked before it compares.
"""
import argparse
import http.client
import json
import os
import re
import socket
import sys
import urllib.error
import urllib.request


def request(base, method, path, body, headers, timeout=300):
    """(status, content type, allow header, raw body); status 0 when no answer came. A body
    (a dict, or bytes sent as they are) goes as application/json unless headers say otherwise."""
    data = None
    h = {}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers)
    req = urllib.request.Request(base + path, data, h, method=method)
    try:
        r = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        r = e
    except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
        return 0, "", "", f"<no answer: {e}>".encode()
    with r:
        try:
            raw = r.read()
        except http.client.IncompleteRead as e:
            raw = e.partial + b"\n<incomplete read>"
        except (socket.timeout, ConnectionError) as e:
            raw = f"<read failed: {e}>".encode()
        return r.status if hasattr(r, "status") else r.code, \
            r.headers.get("content-type", ""), r.headers.get("allow", ""), raw


def parse_sse(text):
    """[(event name, data text)] per event block; other lines are kept as ("?line", line)."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            else:
                events.append(("?line", line))
        events.append((name, "\n".join(data)))
    return events


# A random part: 8 or more letters and digits at the end of the id.
ID_TAIL = re.compile(r"[0-9A-Za-z]{8,}$")


def id_shape(value, digits=False, length=False):
    """"resp_9f3a..." -> "resp_*hex" (the prefix and the kind of its tail: hex or alnum, or
    digits when digits is set), followed by the tail's length when length is set."""
    match = ID_TAIL.search(value)
    if not match:
        return f"<id {value}>"
    tail = match.group(0)
    kind = ("digits" if digits and tail.isdigit() else
            "hex" if re.fullmatch(r"[0-9a-f]+", tail) else "alnum")
    return f"{value[:match.start()]}*{kind}{len(tail) if length else ''}"


def key_orders(value, path="$"):
    """Each object's key order, by its path."""
    orders = {}
    if isinstance(value, list):
        for i, v in enumerate(value):
            orders.update(key_orders(v, f"{path}[{i}]"))
    elif isinstance(value, tuple):  # an object, as pairs
        orders[path] = [k for k, _ in value]
        for k, v in value:
            orders.update(key_orders(v, f"{path}.{k}"))
    return orders


def pairs(text):
    return json.loads(text, object_pairs_hook=tuple)


# FastAPI's request validation as vLLM words it ("1 validation error:\n  {...}") and pydantic's
# own ("1 validation error for ResponsesRequest\n...").
VALIDATION_TEXT = re.compile(r"^\d+ validation errors?(:| for \w+)\n")


def error_message(doc):
    """The error message of an OpenAI-shaped ({"error": {"message"}}) or Anthropic-shaped
    ({"type": "error", "error": {"type", "message"}}) body, or None."""
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        return doc["error"].get("message")
    return None


def without_message(doc):
    doc = json.loads(json.dumps(doc))
    doc["error"]["message"] = "<message>"
    return doc


class Rules:
    """A script's masking rules. whole_events: a stream event that differs shows as
    "event N (name):" with the whole masked data (and a key order warning the whole texts)
    rather than as "event N (name) body" cut to 3000 characters."""
    whole_events = False

    def mask(self, doc):
        """(doc with the values that may differ masked, extras for check)."""
        return doc, None

    def check(self, where, name, extras_a, extras_b, diffs, warnings):
        """Compares what mask set aside, once the masked docs are the same."""


def compare_json(where, name, ta, tb, sb, diffs, warnings, rules, whole=False):
    """Compares two JSON texts (ValueError when one is not JSON); sb: --b's HTTP status."""
    ja, jb = json.loads(ta), json.loads(tb)
    ma, mb = error_message(ja), error_message(jb)
    if (sb >= 400 and isinstance(ma, str) and isinstance(mb, str) and ma != mb
            and VALIDATION_TEXT.match(mb)):
        warnings.append(f"{name}: {where}validation text {ma!r} vs {mb!r}")
        ja, jb = without_message(ja), without_message(jb)
    (xa, extras_a), (xb, extras_b) = rules.mask(ja), rules.mask(jb)
    if xa != xb:
        if whole:
            diffs.append(f"{where.rstrip()}:\n    a: {json.dumps(xa)}\n    b: {json.dumps(xb)}")
        else:
            diffs.append(f"{where}body\n    a: {json.dumps(xa)[:3000]}\n"
                         f"    b: {json.dumps(xb)[:3000]}")
        return
    rules.check(where, name, extras_a, extras_b, diffs, warnings)
    limit = None if whole else 500
    if key_orders(pairs(ta)) != key_orders(pairs(tb)):
        warnings.append(f"{name}: {where}key order {ta[:limit]} vs {tb[:limit]}")


def compare_answer(where, name, a, b, warnings, rules):
    """Returns a list of difference lines (empty when the same)."""
    (sa, ca, aa, ba), (sb, cb, ab, bb) = a, b
    diffs = []
    if sa != sb:
        diffs.append(f"{where}status {sa} vs {sb}")
    if ca != cb:
        diffs.append(f"{where}content-type {ca!r} vs {cb!r}")
    if aa != ab:
        diffs.append(f"{where}allow {aa!r} vs {ab!r}")
    ta, tb = ba.decode("utf-8", "replace"), bb.decode("utf-8", "replace")
    if "text/event-stream" in cb and "text/event-stream" in ca:
        ea, eb = parse_sse(ta), parse_sse(tb)
        if [e for e, _ in ea] != [e for e, _ in eb]:
            diffs.append(f"{where}event names {[e for e, _ in ea]} vs {[e for e, _ in eb]}")
        for i, ((_, da), (nb, db)) in enumerate(zip(ea, eb)):
            try:
                json.loads(da), json.loads(db)
            except ValueError:
                if da != db:
                    diffs.append(f"{where}event {i} ({nb}) data {da!r} vs {db!r}")
                continue
            compare_json(f"{where}event {i} ({nb}) ", name, da, db, sb, diffs, warnings, rules,
                         rules.whole_events)
        return diffs
    try:
        compare_json(where, name, ta, tb, sb, diffs, warnings, rules)
    except ValueError:
        if ta != tb:
            diffs.append(f"{where}body {ta[:500]!r} vs {tb[:500]!r}")
    return diffs


def compare_case(name, ra, rb, warnings, rules):
    """Compares two runs of a case step by step; a sequence's lines are headed by the step."""
    diffs = []
    for i, (sa, sb) in enumerate(zip(ra, rb)):
        where = f"step {i} ({sb[0]} {sb[1]}): " if len(rb) > 1 else ""
        diffs += compare_answer(where, name, sa[4], sb[4], warnings, rules)
    return diffs


def capture(base, all_cases, directory, run, short_types):
    """Writes DIR/<case>.txt per case (see the scripts' docstrings) and prints a line per case;
    short_types: the printed content types without their parameters."""
    os.makedirs(directory, exist_ok=True)
    for name, case in all_cases.items():
        results = run(base, case)
        with open(os.path.join(directory, name + ".txt"), "wb") as f:
            for i, (method, path, body, headers, answer) in enumerate(results):
                status, content_type, allow, raw = answer
                if len(results) > 1:
                    f.write(f"{'' if i == 0 else chr(10)}=== step {i} ===\n".encode())
                sent = "" if body is None else (body.decode() if isinstance(body, bytes)
                                                else json.dumps(body))
                f.write(f"request: {method} {path} {json.dumps(headers) if headers else ''}\n"
                        f"request-body: {sent}\n"
                        f"status: {status}\ncontent-type: {content_type}\n"
                        f"{'allow: ' + allow + chr(10) if allow else ''}\n".encode())
                f.write(raw)
        print(f"{name}: " + ", ".join(
            f"{r[4][0]} {r[4][1].split(';')[0] if short_types else r[4][1]} {len(r[4][3])} bytes"
            for r in results))


def main(doc, cases, run, rules, model_default=None, listing=False, answers="answer",
         short_types=False):
    """The command line. cases(model) -> {name: case}; model_default None: --model is
    required; listing: there is --list (and --b is required only without it); answers: what the
    --capture help calls a case's answer; short_types: see capture."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--a", help="troupe's base URL")
    p.add_argument("--b", required=not listing, help="vLLM's base URL")
    if model_default is None:
        p.add_argument("--model", required=True)
    else:
        p.add_argument("--model", default=model_default)
    p.add_argument("--capture", metavar="DIR",
                   help=f"only query --b and write each case's raw {answers} to DIR/<case>.txt")
    p.add_argument("--only", action="append", help="run only this case (repeatable)")
    if listing:
        p.add_argument("--list", action="store_true", help="print the case names and exit")
    args = p.parse_args()
    all_cases = cases(args.model)
    if listing and args.list:
        print("\n".join(all_cases))
        return
    if args.only:
        unknown = [n for n in args.only if n not in all_cases]
        if unknown:
            p.error(f"unknown cases {unknown}; known: {', '.join(all_cases)}")
        all_cases = {n: all_cases[n] for n in args.only}
    if not args.b:
        p.error("--b is required")
    if args.capture:
        capture(args.b, all_cases, args.capture, run, short_types)
        return
    if not args.a:
        p.error("--a is required without --capture")
    differences, warnings = 0, []
    for name, case in all_cases.items():
        diffs = compare_case(name, run(args.a, case), run(args.b, case), warnings, rules)
        if diffs:
            differences += 1
            print(f"DIFF {name}\n  " + "\n  ".join(diffs))
        else:
            print(f"same {name}")
    for w in warnings:
        print(f"WARNING {w}")
    print(f"{differences} differences, {len(warnings)} warnings")
    sys.exit(1 if differences else 0)
