#!/usr/bin/env python3
"""Regenerate the README's configuration reference from the config model (`smsc config reference`)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from smsc.config import reference_markdown  # noqa: E402

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- config-reference:start -->\n", "<!-- config-reference:end -->"

text = README.read_text()
head, rest = text.split(START, 1)
_, tail = rest.split(END, 1)
README.write_text(head + START + reference_markdown().strip() + "\n" + END + tail)
print(f"updated {README}")
