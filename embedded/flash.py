#!/usr/bin/env python3
"""Attributes the `.text` of a linked firmware to the crates whose code it is.

    python3 embedded/flash.py ELF SEGLOSS_SRC [--goal BYTES] [--top N]

Every instruction (and literal-pool word) of `.text`, listed by
`arm-none-eabi-objdump -d`, is looked up with `arm-none-eabi-addr2line -i`,
which gives its whole inline chain from the debug info (the firmware's
release profile has `debug = true`). An address with a frame in SEGLOSS_SRC
(segloss's `src/`) is segloss's code, whatever was inlined into it (`core`'s
iterators, `libm`'s `exp`); any other address belongs to the crate of its
outermost frame (the function that is not inlined): `libm` (called only by
segloss in these firmwares),
`compiler_builtins` (the soft-float `f64` helpers the single-precision FPU
needs, `memcpy`), `core` (mostly float formatting) or the firmware itself.

With `--goal`, exits 1 when segloss's share plus libm's exceeds BYTES (the
flash goal, docs/targets.md "Flash"). Needs only Python 3 and
`binutils-arm-none-eabi`.
"""

import argparse
import collections
import re
import subprocess
import sys


def instructions(elf):
    """(address, size in bytes) of every item of `.text`."""
    out = subprocess.run(
        ["arm-none-eabi-objdump", "-d", "--section=.text", elf],
        capture_output=True, text=True, check=True,
    ).stdout
    items = []
    for line in out.splitlines():
        m = re.match(r"^\s*([0-9a-f]+):\t((?:[0-9a-f]{2,8} )+)", line)
        if m:
            size = sum(len(h) // 2 for h in m.group(2).split())
            items.append((int(m.group(1), 16), size))
    return items


def chains(elf, addrs):
    """The inline chain (function, file) of each address, innermost first."""
    query = "".join(f"{a:#x}\n" for a in addrs)
    out = subprocess.run(
        ["arm-none-eabi-addr2line", "-a", "-i", "-f", "-e", elf],
        input=query, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    result, cur = [], None
    i = 0
    while i < len(out):
        if re.fullmatch(r"0x[0-9a-f]+", out[i]):
            cur = []
            result.append(cur)
            i += 1
        else:
            cur.append((out[i], out[i + 1] if i + 1 < len(out) else "??"))
            i += 2
    return result


def owner(chain, src):
    if any(f.startswith(src) for _, f in chain):
        return "segloss"
    f = chain[-1][1] if chain else "??"  # the outermost: the function that exists
    if "compiler_builtins" in f or "compiler-builtins" in f:
        return "compiler_builtins"
    if "/libm-" in f or "/libm/" in f:
        return "libm"
    if "/library/core/" in f or "/library/alloc/" in f:
        return "core"
    if "/embedded/" in f:
        return "firmware"
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("elf")
    ap.add_argument("src", help="segloss's src/ directory, as the debug info names it")
    ap.add_argument("--goal", type=int, help="fail if segloss + libm exceed this many bytes")
    ap.add_argument("--top", type=int, default=0, help="also list segloss's N largest functions")
    a = ap.parse_args()
    src = a.src.rstrip("/") + "/"

    items = instructions(a.elf)
    looked_up = chains(a.elf, [x for x, _ in items])
    if not items or len(looked_up) != len(items):
        sys.exit(f"flash.py: {len(items)} items of .text but {len(looked_up)} lookups")
    by_owner = collections.Counter()
    by_fn = collections.Counter()
    for (_, size), chain in zip(items, looked_up):
        o = owner(chain, src)
        by_owner[o] += size
        if o == "segloss" and chain:
            by_fn[chain[-1][0]] += size  # the outermost (not inlined) function
    total = sum(by_owner.values())
    print(f".text {total} B by crate:")
    for o, n in by_owner.most_common():
        print(f"  {n:6d} B  {o}")
    if a.top:
        print(f"segloss's {a.top} largest functions (inlined code counted in its caller):")
        for f, n in by_fn.most_common(a.top):
            print(f"  {n:6d} B  {f}")
    if by_owner["segloss"] == 0:
        # A wrong SEGLOSS_SRC (or remapped paths) must not pass the goal.
        sys.exit(f"flash.py: no code of {src} found in the debug info")
    share = by_owner["segloss"] + by_owner["libm"]
    line = f"segloss + libm: {share} B ({share / 1024:.1f} KiB)"
    if a.goal is None:
        print(line)
    else:
        met = share <= a.goal
        print(f"{line}; goal {a.goal} B: {'met' if met else 'NOT met'}")
        if not met:
            sys.exit(1)


if __name__ == "__main__":
    main()
