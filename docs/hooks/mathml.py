"""mkdocs hook: render every formula to MathML at build time, so the site's math shows with no
network (Chromium and Firefox display MathML natively; nothing is loaded from a CDN).

pymdownx.arithmatex (generic mode) wraps each formula as <span class="arithmatex">\\(...\\)</span>
or <div class="arithmatex">\\[...\\]</div>; this replaces the TeX inside the wrapper with
latex2mathml's output and keeps the TeX as the <math> element's alttext. A formula latex2mathml
cannot convert fails the build, naming the page, instead of showing raw TeX to readers.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

FORMULA = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*(?:\\\((?P<inline>.*?)\\\)|\\\[(?P<block>.*?)\\\])'
    r"\s*</(?P=tag)>", re.S)


def to_mathml(tex: str, display: str) -> str:
    mathml = convert(tex.strip(), display=display)
    return mathml.replace("<math ", f'<math alttext="{html.escape(tex.strip())}" ', 1)


def on_page_content(content: str, page, config, files) -> str:
    def render(match: re.Match) -> str:
        display = "inline" if match.group("inline") is not None else "block"
        tex = html.unescape(match.group("inline") if display == "inline" else match.group("block"))
        try:
            mathml = to_mathml(tex, display)
        except Exception as exc:  # latex2mathml raises several kinds; the page and TeX matter
            raise ValueError(f"{page.file.src_path}: cannot render {tex!r} as MathML: {exc}") \
                from exc
        return f'<{match.group("tag")} class="arithmatex">{mathml}</{match.group("tag")}>'

    _render_toc(page.toc, render)
    return FORMULA.sub(render, content)


INLINE_TEX = re.compile(r"\\\((?P<inline>.*?)\\\)", re.S)


def _render_toc(items, render) -> None:
    """Headings with math: their table-of-contents entries (HTML) get the same MathML."""
    for item in items:
        item.title = INLINE_TEX.sub(
            lambda m: render(FORMULA.match(f'<span class="arithmatex">{m.group(0)}</span>')),
            item.title)
        _render_toc(item.children, render)
