#!/usr/bin/env python3
"""Summarise py-spy's raw (collapsed) stacks: where the engine's GIL time goes, by function.

  python scripts/bench_e2e.py --messages 60000 --py-spy /tmp/engine.raw
  python scripts/profile_summary.py /tmp/engine.raw [--top 40] [--match smsc/,protocols/]
"""

from __future__ import annotations

import argparse
import collections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default="", help="comma-separated substrings: only such frames in the inclusive list")
    args = parser.parse_args()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    with open(args.raw) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            n = int(count)
            total += n
            frames = stack.split(";")
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    wanted = [m for m in args.match.split(",") if m]
    print(f"{total} samples")
    print("--- own time")
    for frame, n in own.most_common(args.top):
        print(f"{n / total * 100:5.1f}%  {frame}")
    print("--- inclusive time")
    shown = 0
    for frame, n in inclusive.most_common():
        if wanted and not any(w in frame for w in wanted):
            continue
        print(f"{n / total * 100:5.1f}%  {frame}")
        shown += 1
        if shown >= args.top:
            break


if __name__ == "__main__":
    main()
