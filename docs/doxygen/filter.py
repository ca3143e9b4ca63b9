#!/usr/bin/env python3
"""Doxygen INPUT_FILTER of tandem's reference (docs/doxygen/Doxyfile); scripts/docs runs it.

Usage: filter.py FILE -- prints FILE as Doxygen should read it. Line numbers never change.

Headers (*.hpp): each public header opens with a block of `//` comments, the module's
specification (guarantees, what goes beyond Python, differences). Doxygen reads only `///`
and `/** */` comments, so the opening block becomes the file's documentation, a
`/*! \\verbatim ... */` block (its bullets and indentation stay as written). SPDX and
copyright lines before it stay plain comments.
The classes its first line names ("tandem::Queue, LifoQueue — ...") get the same text on
their pages (a \\copydoc of the file put before the class's definition, on the same line).

Markdown (*.md): the guides are written for GitHub, whose heading anchors (#crash-safety) and
links between files (futures.md#timeouts) Doxygen 1.9.4 does not know. Every heading of level
2 and below gets an explicit Doxygen label, <page>-<GitHub slug>, unique across the pages;
links to "#slug", "file.md#slug" and "file.md" are rewritten to those labels and page names,
and a link to a bare name ("LICENSE") is written "./LICENSE", which Doxygen takes as a link.
Outside tables nothing else changes; inside a table row a quote in a code span is written as
an entity (Doxygen 1.9.4 loses the table after `'` in a code span).
"""
import os
import re
import sys

ROOT = os.getcwd()  # scripts/docs runs Doxygen from the repository's root


def filter_header(path: str, text: str) -> str:
    lines = text.split("\n")
    start = 0
    while start < len(lines) and lines[start].startswith(("// SPDX-", "// Copyright")):
        start += 1
    end = start
    while end < len(lines) and lines[end].startswith("//") and not lines[end].startswith("///"):
        end += 1
    if end == start:
        return text
    title = lines[start][2:]
    if any("*/" in line or "/*" in line for line in lines[start:end]):
        return text  # cannot sit inside a /*! */ block
    # A C-style block: in \verbatim, Doxygen 1.9.4 would keep the "///" of every line.
    for i in range(start, end):
        body = lines[i][2:]
        if i == start:
            body = "/*! \\verbatim" + body
        if i == end - 1:
            body += " \\endverbatim \\file */"
        lines[i] = body
    # The classes the block is about ("// tandem::Queue, LifoQueue, PriorityQueue — ...") get
    # the same text on their own pages, copied from the file's.
    include = os.path.abspath(path).split(os.sep + "include" + os.sep, 1)[-1]
    for name in class_names(title):
        for i in range(end, len(lines)):
            line = lines[i]
            definition = not line.rstrip().endswith(";")
            if definition and re.match(r"(class|struct) " + name + r"\b", line):
                if i > 0 and re.fullmatch(r"template <.*>", lines[i - 1].strip()):
                    i -= 1
                lines[i] = "/** \\copydoc " + include + " */ " + lines[i]
                break
    return "\n".join(lines)


def class_names(title: str) -> list[str]:
    """The classes a header's first comment line names before its dash."""
    if " — " not in title:
        return []
    names = []
    for part in re.split(r",| and ", title.split(" — ", 1)[0]):
        part = re.sub(r"<.*", "", part.strip())
        if "detail" in part:
            continue
        name = part.split("::")[-1]
        if re.fullmatch(r"[A-Z]\w*", name):
            names.append(name)
    return names


def github_slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    s = title.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def page_key(path: str) -> str:
    """A short, unique prefix for a page's labels: docs/futures.md -> futures."""
    rel = os.path.relpath(os.path.abspath(path), ROOT)
    stem = os.path.splitext(rel)[0]
    if stem.startswith("docs" + os.sep):
        stem = stem[len("docs") + 1:]
    return re.sub(r"[^\w]", "_", stem).lower()


def page_name(path: str) -> str:
    """Doxygen's name of the page made from a Markdown file: docs/mpi.md -> md_docs_mpi."""
    rel = os.path.relpath(os.path.abspath(path), ROOT)
    if rel == "README.md":
        return "index"
    return "md_" + re.sub(r"[^\w]", "_", os.path.splitext(rel)[0])


LINK = re.compile(r"\]\(([^)\s]*?\.md)?(#[\w\-]+)?\)")
BARE = re.compile(r"\]\(([\w\-]+)\)")  # ](LICENSE): Doxygen 1.9.4 wants ](./LICENSE)


def filter_markdown(path: str, text: str) -> str:
    here = os.path.dirname(os.path.abspath(path))
    key = page_key(path)
    seen = {}
    out = []
    fence = None

    def link(m: re.Match) -> str:
        target, anchor = m.group(1), m.group(2)
        if not target and not anchor:
            return m.group(0)
        if target and re.match(r"^[a-z]+:", target):
            return m.group(0)  # an external address
        dest = os.path.normpath(os.path.join(here, target)) if target else os.path.abspath(path)
        if anchor:
            return "](#" + page_key(dest) + "-" + anchor[1:] + ")"
        return "](@ref " + page_name(dest) + ")"

    in_code = False  # inside a code span that began on an earlier line of the paragraph
    for line in text.split("\n"):
        stripped = line.lstrip()
        if not stripped:
            in_code = False
        if fence:
            if stripped.startswith(fence):
                fence = None
            out.append(line)
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            out.append(line)
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if m and len(m.group(1)) == 1:
            # The page title: Doxygen's navigation tree shows code spans in it as raw <tt>.
            title = m.group(2).replace("`", "").replace("<", "&lt;").replace(">", "&gt;")
            line = m.group(1) + " " + title
        elif m:
            slug = github_slug(m.group(2).replace("`", ""))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            if n:
                slug += "-" + str(n)
            line = line.rstrip() + " {#" + key + "-" + slug + "}"
        else:
            parts = line.split("`")
            first_text = 1 if in_code else 0
            for i in range(first_text, len(parts), 2):  # outside code spans only
                parts[i] = BARE.sub(r"](./\1)", LINK.sub(link, parts[i]))
            if stripped.startswith("|"):
                for i in range(1 - first_text, len(parts), 2):
                    parts[i] = parts[i].replace("'", "&apos;")
            line = "`".join(parts)
            if len(parts) % 2 == 0:  # an odd number of backticks: a span goes on
                in_code = not in_code
        out.append(line)
    return "\n".join(out)


def main() -> None:
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".md"):
        text = filter_markdown(path, text)
    elif path.endswith((".hpp", ".h")):
        text = filter_header(path, text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
