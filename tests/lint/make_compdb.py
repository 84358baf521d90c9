#!/usr/bin/env python3
"""Turns `make -nB V=1` output into a compile_commands.json: every compiler
command's .c sources whose output is in the dry-run build tree but not
in a sanitizer or other variant's subtree (those compile the same files with
other macros; the default variant is the one linted). Reads stdin, writes
the JSON to stdout. No compiler runs."""
import argparse
import json
import shlex
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--directory", required=True, help="the directory make ran in")
    ap.add_argument("--build", required=True, help="the BUILD directory of the dry run")
    args = ap.parse_args()
    entries, seen = [], set()
    others = ["asan", "tsan", "minimal", "prefetch", "debug"]
    for line in sys.stdin.read().replace("\\\n", " ").splitlines():
        if " -o " not in line:
            continue
        try:
            argv = shlex.split(line)
        except ValueError:
            continue
        if "-o" not in argv or argv[0].split("/")[-1] not in ("cc", "gcc", "clang", "c99", "c11"):
            continue
        out = argv[argv.index("-o") + 1]
        if not out.startswith(args.build + "/") or any(out.startswith(f"{args.build}/{v}/") for v in others):
            continue
        sources = [a for a in argv if a.endswith(".c")]
        # A program compiled and linked from several sources in one command
        # gives one entry per source, the others left out of its arguments.
        for src in sources:
            if src in seen:
                continue
            seen.add(src)
            entries.append({"directory": args.directory, "file": src,
                            "arguments": [a for a in argv if a == src or a not in sources]})
    if not entries:
        sys.exit("make_compdb: no compile commands found in make's dry run")
    json.dump(entries, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
