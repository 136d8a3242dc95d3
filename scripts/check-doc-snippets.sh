#!/usr/bin/env bash
# check-doc-snippets.sh - a code block a page says is taken from a file must
# be a verbatim piece of that file, so the page cannot drift from code that
# is built and tested.
#
#   scripts/check-doc-snippets.sh DOC.md...
#
# A block is checked when the line before its opening fence is
#   <!-- snippet: path/from/the/repository/root -->
# Exits 1 naming each block (page and line) that is not in its file, or
# whose file is missing; 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
    echo "usage: $0 DOC.md..." >&2
    exit 2
fi
exec /usr/bin/python3 - "$@" <<'PY'
import re, sys
bad = 0
for doc in sys.argv[1:]:
    lines = open(doc, encoding="utf-8").read().split("\n")
    i = 0
    found = 0
    while i < len(lines):
        m = re.match(r"<!-- snippet: (\S+) -->$", lines[i].strip())
        if not m:
            i += 1
            continue
        path, at = m.group(1), i + 1
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            print(f"{doc}:{at}: snippet marker for {path} is not followed by a code block")
            bad += 1
            i += 1
            continue
        j = i + 2
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        block = "\n".join(lines[i + 2:j])
        found += 1
        try:
            text = open(path, encoding="utf-8").read()
        except OSError as e:
            print(f"{doc}:{at}: {path}: {e.strerror}")
            bad += 1
        else:
            if block not in text:
                print(f"{doc}:{at}: this block is not in {path} any more:")
                print("    " + block.replace("\n", "\n    "))
                bad += 1
        i = j + 1
    print(f"{doc}: {found} snippet(s) checked")
sys.exit(1 if bad else 0)
PY
