"""What the compare_*.py scripts share for their reports: the machine's
description and the replacement of one section of docs/benchmarks.md (the
other sections are kept)."""
import os
import platform
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS_MD = os.path.join(REPO, "docs", "benchmarks.md")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def write_section(title, body, path=BENCHMARKS_MD):
    """Replaces the section headed `title` ("## ...") with title + body, or
    appends it when the file has no such section yet."""
    section = f"{title}\n\n{body.strip()}\n"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    pattern = re.compile("^" + re.escape(title) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")
    print(f"wrote the section '{title}' of {path}", file=sys.stderr)
