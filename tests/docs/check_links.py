#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks every internal link of the generated reference (scripts/docs --check runs it).

Usage: check_links.py [HTML_DIR]   (default build/docs/html)

Every .html file under HTML_DIR is parsed; each relative href/src must name a file that
exists, and a "#fragment" on an .html target must be an id (or <a name>) in that file. The
navigation tree and the search index are JavaScript (navtreedata.js, *.js, search/*.js):
the "page.html#anchor" strings in them are checked the same way, so the sidebar and the
search box lead somewhere too. External addresses (http:, https:, mailto:, ...) are not
fetched. Prints each broken link as "file: target (reason)" and a closing count line; exits 1
when any is broken, 2 when there is nothing to check.
"""
import os
import re
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("href", "src"):
                self.links.append(value)
            elif name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)


def parse(path: str) -> Page:
    page = Page()
    with open(path, encoding="utf-8", errors="replace") as f:
        page.feed(f.read())
    return page


JS_LINK = re.compile(r"""["']([^"'\s]+?\.html(?:#[^"'\s]*)?)["']""")


def main() -> int:
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/docs/html")
    if not os.path.isfile(os.path.join(root, "index.html")):
        print(f"check_links: no index.html in {root} (run scripts/docs first)", file=sys.stderr)
        return 2
    pages: dict[str, Page] = {}
    sources: list[tuple[str, list[str]]] = []
    for d, _, files in os.walk(root):
        for name in sorted(files):
            path = os.path.join(d, name)
            if name.endswith(".html"):
                pages[path] = parse(path)
                sources.append((path, pages[path].links))
            elif name.endswith(".js"):
                with open(path, encoding="utf-8", errors="replace") as f:
                    sources.append((path, JS_LINK.findall(f.read())))

    def ids_of(path: str) -> set[str]:
        if path not in pages:
            pages[path] = parse(path)
        return pages[path].ids

    checked = 0
    broken: list[str] = []
    for src, links in sources:
        base = os.path.dirname(src)
        for link in links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("javascript:", "data:")):
                continue
            checked += 1
            target = src
            if parts.path:
                target = os.path.normpath(os.path.join(base, unquote(parts.path)))
            where = os.path.relpath(src, root)
            if not os.path.isfile(target):
                broken.append(f"{where}: {link} (no such file)")
                continue
            frag = unquote(parts.fragment)
            if frag and target.endswith(".html") and frag not in ids_of(target):
                broken.append(f"{where}: {link} (no anchor #{frag})")
    for b in broken:
        print(b)
    print(f"check_links: {len(pages)} pages, {checked} internal links, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
