"""``/legal/terms`` and ``/legal/privacy``: the tenant's own documents, else a clear default.

A tenant ships ``tenants/<slug>/legal/terms.<locale>.html`` (used as is) or
``terms.<locale>.md`` (headings ``#``, lists ``-`` and paragraphs), and the
same for ``privacy``; the current locale is tried first, then the tenant's
default locale.
"""
from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, abort, current_app, g, render_template
from markupsafe import Markup, escape

from core.accounts.access import public
from core.i18n import current_locale

legal = Blueprint("legal", __name__, url_prefix="/legal")

DOCUMENTS = ("terms", "privacy")
_BULLET = re.compile(r"^[-*]\s+")


def _inline(text: str) -> Markup:
    html = escape(text)
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", str(html))
    return Markup(html)


def simple_markdown(text: str) -> Markup:
    """Headings, bullet lists and paragraphs; everything else is escaped text."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        heading = re.match(r"^(#{1,3})\s+(.*)$", lines[0])
        if heading and len(lines) == 1:
            level = len(heading.group(1)) + 1
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif all(re.match(r"^[-*]\s+", line) for line in lines):
            items = "".join(f"<li>{_inline(_BULLET.sub('', line))}</li>" for line in lines)
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return Markup("\n".join(out))


def tenant_document(tenant, name: str, locale: str) -> Markup | None:
    folder = Path(current_app.config["LENDKIT_TENANTS_DIR"]) / tenant.slug / "legal"
    for code in dict.fromkeys((locale, tenant.default_locale)):
        html = folder / f"{name}.{code}.html"
        if html.is_file():
            return Markup(html.read_text(encoding="utf-8"))
        md = folder / f"{name}.{code}.md"
        if md.is_file():
            return simple_markdown(md.read_text(encoding="utf-8"))
    return None


@legal.route("/<any(terms, privacy):name>")
@public
def document(name):
    if name not in DOCUMENTS:
        abort(404)
    body = tenant_document(g.tenant, name, current_locale())
    return render_template("accounts/legal.html", name=name, body=body)
