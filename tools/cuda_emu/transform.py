#!/usr/bin/env python3
"""Rewrites a CUDA source (.cu / .cuh) into C++ that g++ compiles against cuda_emu's headers.

    kernel<<<grid, block, shared, stream>>>(args)
        -> ::emu::launch("kernel", key, [=](auto&&... a) { kernel(a...); }, grid, block, shared,
                         stream)(args)
    extern __shared__ T name[];      -> T* const name = static_cast<T*>(::emu::dynamic_shared());
    __shared__ T name[N];            -> T (&name)[N] = ::emu::static_shared<T[N]>([] {});
    asm volatile("cp.async...")      -> ::emu::ptx_cp_async(...) (and commit_group, wait_group,
                                        wait_all); any other inline PTX is an error
    expf(x)                          -> ::emu::dev_expf(x) (CUDA's expf is not the host's)

A .cu file also gets `#include <cuda_runtime.h>` first, as nvcc adds it. Comments and string
literals are never rewritten, and line numbers are kept (#line), so compiler and sanitizer
messages point at the original file.

usage: transform.py INPUT OUTPUT [DISPLAY_NAME]
"""
import re
import sys


class TransformError(Exception):
    pass


def mask_comments_and_strings(src):
    """The source with comments and string/char literals blanked (same length, newlines kept)."""
    out = list(src)
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith('//', i):
            j = src.find('\n', i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = ' '
            i = j
        elif src.startswith('/*', i):
            j = src.find('*/', i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if src[k] != '\n':
                    out[k] = ' '
            i = j
        elif c in '"\'':
            if c == '\'' and i > 0 and (src[i - 1].isalnum() or src[i - 1] == '_'):
                i += 1  # a digit separator (1'000), not a character literal
                continue
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == '\\' else 1
            for k in range(i + 1, min(j, n)):
                if src[k] != '\n':
                    out[k] = ' '
            i = j + 1
        else:
            i += 1
    return ''.join(out)


def line_of(src, pos):
    return src.count('\n', 0, pos) + 1


def match_forward(masked, pos, open_c, close_c):
    """Index just past the bracket matching the one at pos."""
    depth = 0
    for i in range(pos, len(masked)):
        if masked[i] == open_c:
            depth += 1
        elif masked[i] == close_c:
            depth -= 1
            if depth == 0:
                return i + 1
    raise TransformError('unbalanced %s at offset %d' % (open_c, pos))


def split_top_level(text, masked, sep):
    """Splits text at `sep` characters outside brackets (masked: the same text, blanked)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(masked):
        if c in '([{':
            depth += 1
        elif c in ')]}':
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


# -- kernel launches --

def kernel_templates(masked):
    """Names of __global__ function templates (their launches may deduce the arguments)."""
    names = set()
    for m in re.finditer(r'__global__', masked):
        before = masked[max(0, masked.rfind(';', 0, m.start()), masked.rfind('}', 0, m.start())):
                        m.start()]
        after = re.match(r'[^;{(]*?\b(\w+)\s*\(', masked[m.end():])
        if after and re.search(r'\btemplate\b', before):
            names.add(after.group(1))
    return names


def launch_callee_start(masked, pos):
    """Start of the kernel expression that ends just before `<<<` at pos."""
    i = pos
    while i > 0 and masked[i - 1].isspace():
        i -= 1
    if masked[i - 1] == '>':  # explicit template arguments
        depth = 0
        while i > 0:
            i -= 1
            if masked[i] == '>':
                depth += 1
            elif masked[i] == '<':
                depth -= 1
                if depth == 0:
                    break
        while i > 0 and masked[i - 1].isspace():
            i -= 1
    while i > 0 and (masked[i - 1].isalnum() or masked[i - 1] in '_:'):
        i -= 1
    return i


def rewrite_launches(src, masked, edits, templates):
    for m in re.finditer(r'<<<', masked):
        start = launch_callee_start(masked, m.start())
        callee = ' '.join(src[start:m.start()].split())
        if not callee:
            raise TransformError('line %d: a launch without a kernel name' % line_of(src, m.start()))
        end = masked.find('>>>', m.end())
        if end < 0:
            raise TransformError('line %d: <<< without >>>' % line_of(src, m.start()))
        config = src[m.end():end]
        paren = end + 3
        while masked[paren].isspace():
            paren += 1
        if masked[paren] != '(':
            raise TransformError('line %d: >>> not followed by (' % line_of(src, m.start()))
        base = re.sub(r'<.*', '', callee).split('::')[-1]
        key = 'nullptr' if base in templates and '<' not in callee else \
            '::emu::key_of(%s)' % callee
        replacement = '::emu::launch("%s", %s, [=](auto&&... emu_a_) { %s(emu_a_...); }, %s)' % (
            callee, key, callee, config)
        edits.append((start, paren, replacement))


# -- shared memory --

def rewrite_shared(src, masked, edits):
    taken = set()
    for m in re.finditer(
            r'\bextern\s+__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s+)?([\w:<>\s]+?)\s*\b(\w+)\s*'
            r'\[\s*\]\s*;', masked):
        edits.append((m.start(), m.end(), '%s* const %s = static_cast<%s*>(::emu::dynamic_shared());'
                      % (m.group(1).strip(), m.group(2), m.group(1).strip())))
        taken.add(m.start(0) + masked[m.start():m.end()].index('__shared__'))
    for m in re.finditer(
            r'\b__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s+)?([\w:<>\s]+?)\s*\b(\w+)\s*'
            r'((?:\[[^\]]*\]\s*)*);', masked):
        if m.start() in taken:
            continue
        type_, name, dims = m.group(1).strip(), m.group(2), src[m.start(3):m.end(3)].strip()
        if dims:
            decl = '%s (&%s)%s = ::emu::static_shared<%s%s>([] {});' % (type_, name, dims, type_, dims)
        else:
            decl = '%s& %s = ::emu::static_shared<%s>([] {});' % (type_, name, type_)
        edits.append((m.start(), m.end(), decl))
    for m in re.finditer(r'\b__shared__\b', masked):
        if not any(s <= m.start() < e for s, e, _ in edits):
            raise TransformError('line %d: a __shared__ declaration the transform does not know'
                                 % line_of(src, m.start()))


# -- inline PTX --

def ptx_operand(token, operands, line):
    token = token.strip()
    m = re.fullmatch(r'%(\d+)', token)
    if m:
        index = int(m.group(1))
        if index >= len(operands):
            raise TransformError('line %d: PTX operand %%%d does not exist' % (line, index))
        return '(%s)' % operands[index]
    if re.fullmatch(r'\d+', token):
        return token
    raise TransformError('line %d: PTX operand %r is not emulated' % (line, token))


def translate_ptx(instruction, operands, line):
    ins = ' '.join(instruction.split())
    m = re.fullmatch(r'cp\.async\.(ca|cg)\.shared\.global(?:\.L2::\w+)? \[(%\d+)\], \[(%\d+)\], '
                     r'([^,]+)(?:, ([^,]+))?', ins)
    if m:
        size = ptx_operand(m.group(4), operands, line)
        src_size = ptx_operand(m.group(5), operands, line) if m.group(5) else size
        return ('::emu::ptx_cp_async(static_cast<uint64_t>(%s), static_cast<uint64_t>(%s), %s, '
                'static_cast<int>(%s), %s)' % (ptx_operand(m.group(2), operands, line),
                                               ptx_operand(m.group(3), operands, line), size,
                                               src_size, 'true' if m.group(1) == 'cg' else 'false'))
    if ins == 'cp.async.commit_group':
        return '::emu::ptx_cp_async_commit()'
    m = re.fullmatch(r'cp\.async\.wait_group (\S+)', ins)
    if m:
        return '::emu::ptx_cp_async_wait(%s)' % ptx_operand(m.group(1), operands, line)
    if ins == 'cp.async.wait_all':
        return '::emu::ptx_cp_async_commit(), ::emu::ptx_cp_async_wait(0)'
    raise TransformError('line %d: inline PTX %r is not emulated' % (line, ins))


def rewrite_asm(src, masked, edits):
    for m in re.finditer(r'\b(?:asm|__asm__)\s*(?:volatile\s*|__volatile__\s*)?\(', masked):
        line = line_of(src, m.start())
        open_paren = m.end() - 1
        close = match_forward(masked, open_paren, '(', ')')
        end = close
        while masked[end].isspace():
            end += 1
        if masked[end] != ';':
            raise TransformError('line %d: an asm statement not followed by ;' % line)
        inner, inner_masked = src[open_paren + 1:close - 1], masked[open_paren + 1:close - 1]
        sections = split_top_level(inner, inner_masked, ':')
        template = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', sections[0]))
        template = template.replace('\\n', ' ').replace('\\t', ' ')
        operands = []
        for section in sections[1:3]:
            masked_section = mask_comments_and_strings(section)
            for op in split_top_level(section, masked_section, ','):
                if not op.strip():
                    continue
                om = re.fullmatch(r'\s*"[^"]*"\s*\((.*)\)\s*', op, re.S)
                if not om:
                    raise TransformError('line %d: asm operand %r' % (line, op.strip()))
                operands.append(om.group(1).strip())
        calls = [translate_ptx(i, operands, line) for i in template.split(';') if i.strip()]
        text = '(%s);' % ', '.join(calls) if calls else ';'
        edits.append((m.start(), end + 1, text))


def rewrite_expf(masked, edits):
    for m in re.finditer(r'(?<![\w.:>])expf\s*\(', masked):
        edits.append((m.start(), m.end(), '::emu::dev_expf('))


def transform(src, display_name, is_cu):
    masked = mask_comments_and_strings(src)
    m = re.search(r'\b__CUDA_ARCH__\b', masked)
    if m:
        raise TransformError('line %d: __CUDA_ARCH__ (the emulator compiles one pass, neither host '
                             'nor device)' % line_of(src, m.start()))
    edits = []
    rewrite_asm(src, masked, edits)
    rewrite_shared(src, masked, edits)
    rewrite_launches(src, masked, edits, kernel_templates(masked))
    rewrite_expf(masked, edits)
    edits.sort()
    for (s1, e1, _), (s2, _, _) in zip(edits, edits[1:]):
        if s2 < e1:
            raise TransformError('line %d: overlapping rewrites' % line_of(src, s2))
    out, at = [], 0
    for start, end, text in edits:
        out.append(src[at:start])
        out.append(text + '\n' * (src.count('\n', start, end) - text.count('\n')))
        at = end
    out.append(src[at:])
    header = '#include <cuda_runtime.h>\n' if is_cu else ''
    return header + '#line 1 "%s"\n' % display_name + ''.join(out)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    path, out_path = sys.argv[1], sys.argv[2]
    display = sys.argv[3] if len(sys.argv) == 4 else path
    src = open(path).read()
    try:
        result = transform(src, display, path.endswith('.cu'))
    except TransformError as e:
        sys.exit('%s: %s' % (display, e))
    with open(out_path, 'w') as f:
        f.write(result)


if __name__ == '__main__':
    main()
