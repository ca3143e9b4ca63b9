#!/usr/bin/env python3
"""Repairs two Doxygen 1.9.4 bugs in the generated HTML (scripts/docs runs it after Doxygen).

Usage: fix_html.py HTML_DIR

1. The navigation tree lists a header's free functions, aliases and variables under the file
   with links to "<file>.html#<anchor>", but their documentation, and the anchor, is on the
   namespace's page (Doxygen issue 6291, unfixed in 1.9.4). Each such link in the tree's
   JavaScript is pointed at the page that does hold the anchor, when exactly one does.
2. A class whose only nested types are private gets a "Classes" link in its page's summary
   line to a section that Doxygen then leaves out; that link is removed.
tests/docs/check_links.py then checks every link of the result. Prints what it changed.
"""
import os
import re
import sys
from collections import defaultdict

ID = re.compile(r'\bid="([^"]+)"')
JS_LINK = re.compile(r'"([\w.\-]+\.html)#([\w\-]+)"')
NESTED = '<a href="#nested-classes">Classes</a> &#124;\n'


def main() -> int:
    root = sys.argv[1]
    ids: dict[str, set[str]] = {}
    holders: dict[str, list[str]] = defaultdict(list)  # anchor -> pages that define it
    for name in os.listdir(root):
        if name.endswith(".html"):
            with open(os.path.join(root, name), encoding="utf-8") as f:
                text = f.read()
            ids[name] = set(ID.findall(text))
            if not name.endswith("_source.html"):
                for a in ids[name]:
                    holders[a].append(name)
            if NESTED in text and 'id="nested-classes"' not in text:
                with open(os.path.join(root, name), "w", encoding="utf-8") as f:
                    f.write(text.replace(NESTED, ""))
                print(f"fix_html: {name}: removed the summary link to absent nested classes")
    repointed = 0

    def repoint(m: re.Match) -> str:
        nonlocal repointed
        page, anchor = m.group(1), m.group(2)
        if page not in ids or anchor in ids[page] or len(holders.get(anchor, ())) != 1:
            return m.group(0)
        repointed += 1
        return f'"{holders[anchor][0]}#{anchor}"'

    for name in sorted(os.listdir(root)):
        if name.endswith(".js"):
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            fixed = JS_LINK.sub(repoint, text)
            if fixed != text:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(fixed)
    print(f"fix_html: {repointed} navigation-tree links pointed at the page holding their anchor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
