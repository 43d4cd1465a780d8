"""Loan contracts: rendered from the tenant's template, as HTML and PDF, signed by the platform.

* The template is ``tenants/<slug>/legal/loan_contract.<locale>.html`` — a
  Jinja template the tenant writes (rendered in a sandbox) — falling back to
  ``themes/default/templates/lending/loan_contract.<locale>.html``. It sees
  ``loan``, ``borrower`` (masked), ``product``, ``tenant`` and ``investors``
  and the filters ``money``, ``percent`` and ``date``; the repayment schedule
  and the investors' list are appended as Schedules 1 and 2.
* The PDF is made by WeasyPrint (a CJK font such as WenQuanYi Micro Hei
  must be installed for Chinese text).
* Each file carries its signature at its end: ``%%LENDKIT-SIGNATURE <b64>``
  (PDF) or ``<!-- LENDKIT-SIGNATURE <b64> -->`` (HTML), a JSON object with
  the loan number, the SHA-256 of everything before it and an Ed25519
  signature of ``lendkit-contract:v1:<loan>:<sha256>`` by the platform key
  (``LENDKIT_CONTRACT_KEY``; see core/config.py). :func:`verify_file` (and
  ``lendkit contract verify FILE``) recomputes the digest and checks the
  signature: any changed byte makes it invalid.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from babel.dates import format_date
from babel.numbers import format_currency, format_percent
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import current_app
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from core.extensions import db
from core.lending.lifecycle import bound_tenant
from core.lending.models import Claim, Installment, LoanContract
from core.money import from_minor

log = logging.getLogger("lendkit.lending")

PDF_MARK = b"%%LENDKIT-SIGNATURE "
HTML_MARK = b"<!-- LENDKIT-SIGNATURE "
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "themes" / "default" / "templates" / "lending"

METHOD_NAMES = {
    "en": {"equal_installment": "equal monthly installments (principal and interest)",
           "equal_principal": "equal monthly principal with interest on the balance",
           "interest_first": "monthly interest, principal at maturity",
           "bullet": "principal and interest in one payment at maturity"},
    "zh_CN": {"equal_installment": "等额本息", "equal_principal": "等额本金", "interest_first": "先息后本",
              "bullet": "一次性还本付息"},
}
SCHEDULE_TITLES = {
    "en": ("Schedule 1 — Repayment schedule", "Schedule 2 — Investors", "No.", "Due date", "Principal", "Interest",
           "Management fee", "Investor", "Amount lent", "Signed electronically by the platform; verify with "
           "`lendkit contract verify`."),
    "zh_CN": ("附表一　还款计划", "附表二　出借人", "期数", "还款日", "本金", "利息", "管理费", "出借人", "出借金额",
              "本合同由平台电子签章，可用 `lendkit contract verify` 校验。"),
}

__all__ = ["platform_key", "key_id", "render_html", "render_pdf", "sign", "verify_bytes", "verify_file",
           "ensure_contracts", "Verdict"]


# --------------------------------------------------------------------- the platform key


def platform_key(material: str | None = None) -> Ed25519PrivateKey:
    """The Ed25519 key whose seed is SHA-256 of ``LENDKIT_CONTRACT_KEY``."""
    material = material if material is not None else current_app.config["LENDKIT_CONTRACT_KEY"]
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(material.encode("utf-8")).digest())


def _public_raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: Ed25519PublicKey | None = None) -> str:
    public = public or platform_key().public_key()
    return hashlib.sha256(_public_raw(public)).hexdigest()[:16]


def _message(loan_number: str, digest: str) -> bytes:
    return f"lendkit-contract:v1:{loan_number}:{digest}".encode()


# --------------------------------------------------------------------- rendering


def _filters(locale: str, currency: str):
    def money(amount):
        return format_currency(from_minor(int(amount), currency), currency, locale=locale)

    def percent(rate, digits: int = 2):
        return format_percent(Decimal(str(rate)), format="#,##0." + "0" * digits + "%", locale=locale)

    def date(value):
        return format_date(value, "long", locale=locale) if value else ""

    return {"money": money, "percent": percent, "date": date}


def _template_source(tenant, locale: str) -> tuple[Path, str]:
    name = f"loan_contract.{locale}.html"
    own = Path(current_app.config["LENDKIT_TENANTS_DIR"]) / tenant.slug / "legal"
    if (own / name).is_file():
        return own, name
    return DEFAULT_TEMPLATES, name


def contract_context(loan, locale: str) -> dict:
    from core.accounts.identity import mask_id_number

    tenant = bound_tenant()
    disclosure = loan.disclosure or {}
    claims = db.session.scalars(select(Claim).where(Claim.loan_id == loan.id, Claim.previous_id.is_(None))
                                .order_by(Claim.id)).all()
    installments = db.session.scalars(select(Installment).where(Installment.loan_id == loan.id)
                                      .order_by(Installment.number)).all()
    investors = [{"label": f"#{c.holder_id:06d}", "amount": c.share} for c in claims]
    return {
        "tenant": {"name": tenant.name, "slug": tenant.slug, "config": tenant.config},
        "loan": {"number": loan.number, "principal": loan.amount, "annual_rate": loan.annual_rate,
                 "months": loan.months, "method": loan.method,
                 "method_label": METHOD_NAMES.get(locale, METHOD_NAMES["en"])[loan.method],
                 "disbursed_on": loan.disbursed_on, "purpose": loan.purpose, "currency": loan.currency,
                 "service_fee": loan.service_fee, "reserve_contribution": loan.reserve_contribution},
        "borrower": {"masked_name": disclosure.get("name", ""), "masked_id": disclosure.get("identity", ""),
                     "type": loan.borrower_type},
        "product": loan.terms,
        "investors": investors,
        "installments": [{"number": i.number, "due_date": i.due_date, "principal": i.principal,
                          "interest": i.interest, "management_fee": i.management_fee} for i in installments],
        "mask_id_number": mask_id_number,
    }


def render_html(loan, locale: str) -> str:
    """The contract as a complete HTML document (unsigned)."""
    tenant = bound_tenant()
    folder, name = _template_source(tenant, locale)
    env = SandboxedEnvironment(loader=FileSystemLoader(str(folder)), autoescape=select_autoescape(["html"]),
                               undefined=StrictUndefined)
    env.filters.update(_filters(locale, loan.currency))
    context = contract_context(loan, locale)
    body = env.get_template(name).render(**context)
    appendix = env.from_string(_APPENDIX).render(titles=SCHEDULE_TITLES.get(locale, SCHEDULE_TITLES["en"]), **context)
    lang = locale.replace("_", "-")
    return (f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{loan.number}</title>'
            f"<style>{_CSS}</style></head><body>\n{body}\n{appendix}\n</body></html>")


_CSS = (
    "@page { size: A4; margin: 20mm 18mm; } "
    "body { font-family: 'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Noto Sans SC', 'DejaVu Sans', sans-serif; "
    "font-size: 10.5pt; line-height: 1.55; color: #111; } "
    "h1 { font-size: 16pt; text-align: center; } h2 { font-size: 12pt; margin-top: 14pt; } "
    "table { width: 100%; border-collapse: collapse; font-size: 9pt; } "
    "th, td { border: 1px solid #999; padding: 3pt 5pt; text-align: right; } th:first-child, td:first-child { text-align: left; } "
    ".note { color: #555; font-size: 8.5pt; margin-top: 18pt; }"
)

_APPENDIX = """
<section class="schedule"><h2>{{ titles[0] }}</h2>
<table><thead><tr><th>{{ titles[2] }}</th><th>{{ titles[3] }}</th><th>{{ titles[4] }}</th><th>{{ titles[5] }}</th><th>{{ titles[6] }}</th></tr></thead>
<tbody>{% for row in installments %}<tr><td>{{ row.number }}</td><td>{{ row.due_date|date }}</td><td>{{ row.principal|money }}</td><td>{{ row.interest|money }}</td><td>{{ row.management_fee|money }}</td></tr>{% endfor %}</tbody></table></section>
<section class="investors"><h2>{{ titles[1] }}</h2>
<table><thead><tr><th>{{ titles[7] }}</th><th>{{ titles[8] }}</th></tr></thead>
<tbody>{% for row in investors %}<tr><td>{{ row.label }}</td><td>{{ row.amount|money }}</td></tr>{% endfor %}</tbody></table></section>
<p class="note">{{ titles[9] }}</p>
"""


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


# --------------------------------------------------------------------- signing and verifying


def _trailer(loan_number: str, body: bytes, key: Ed25519PrivateKey) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    payload = {"v": 1, "loan": loan_number, "sha256": digest, "key": key_id(key.public_key()),
               "sig": base64.b64encode(key.sign(_message(loan_number, digest))).decode()}
    return base64.b64encode(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())


def sign(body: bytes, loan_number: str, *, kind: str, key: Ed25519PrivateKey | None = None) -> bytes:
    """``body`` with its signature trailer appended (``kind`` is ``pdf`` or ``html``)."""
    key = key or platform_key()
    trailer = _trailer(loan_number, body, key)
    if kind == "pdf":
        return body + b"\n" + PDF_MARK + trailer + b"\n"
    return body + b"\n" + HTML_MARK + trailer + b" -->\n"


@dataclass(frozen=True)
class Verdict:
    valid: bool
    line: str
    loan: str | None = None
    sha256: str | None = None


def verify_bytes(data: bytes, public: Ed25519PublicKey | None = None) -> Verdict:
    """Check a signed contract file: the digest of its body and the platform's signature of it."""
    public = public or platform_key().public_key()
    for mark in (PDF_MARK, HTML_MARK):
        at = data.rfind(b"\n" + mark)
        if at >= 0:
            break
    else:
        return Verdict(False, "invalid: no lendkit signature found in the file")
    body, rest = data[:at], data[at + 1 + len(mark):]
    encoded = rest.split(b" -->", 1)[0].strip()
    try:
        payload = json.loads(base64.b64decode(encoded, validate=True))
        loan, claimed, signature = payload["loan"], payload["sha256"], base64.b64decode(payload["sig"])
    except (ValueError, KeyError, TypeError):
        return Verdict(False, "invalid: the signature block is damaged")
    digest = hashlib.sha256(body).hexdigest()
    if digest != claimed:
        return Verdict(False, f"invalid: contract {loan} was altered (sha256 {digest[:16]}… is not the signed "
                              f"{claimed[:16]}…)", loan, digest)
    if payload.get("key") != key_id(public):
        return Verdict(False, f"invalid: contract {loan} was signed by key {payload.get('key')}, not this "
                              f"platform's key {key_id(public)}", loan, digest)
    try:
        public.verify(signature, _message(loan, digest))
    except InvalidSignature:
        return Verdict(False, f"invalid: the signature of contract {loan} does not match", loan, digest)
    return Verdict(True, f"valid: contract {loan}, sha256 {digest}, signed by platform key {key_id(public)}",
                   loan, digest)


def verify_file(path) -> Verdict:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Verdict(False, f"invalid: cannot read {path}: {exc.strerror or exc}")
    return verify_bytes(data)


# --------------------------------------------------------------------- storing


def ensure_contracts(loan) -> list[LoanContract]:
    """Render, sign and store the loan's contract in every locale of the tenant (those missing). Commits."""
    tenant = bound_tenant()
    if loan.disbursed_on is None:
        return []
    have = set(db.session.scalars(select(LoanContract.locale).where(LoanContract.loan_id == loan.id)))
    made = []
    key = platform_key()
    for locale in tenant.locales:
        if locale in have:
            continue
        html = render_html(loan, locale)
        pdf_body = render_pdf(html)
        record = LoanContract(
            loan_id=loan.id, locale=locale,
            html=sign(html.encode("utf-8"), loan.number, kind="html", key=key).decode("utf-8"),
            pdf=sign(pdf_body, loan.number, kind="pdf", key=key),
            sha256=hashlib.sha256(pdf_body).hexdigest(), signature="", key_id=key_id(key.public_key()),
        )
        record.signature = json.loads(base64.b64decode(record.pdf.rsplit(PDF_MARK, 1)[1].strip()))["sig"]
        db.session.add(record)
        made.append(record)
    db.session.commit()
    return made


def contract_for(loan, locale: str | None = None) -> LoanContract | None:
    """The stored contract in ``locale`` (else the tenant's default locale, else any)."""
    rows = {c.locale: c for c in db.session.scalars(select(LoanContract).where(LoanContract.loan_id == loan.id))}
    tenant = bound_tenant()
    for wanted in (locale, tenant.default_locale):
        if wanted in rows:
            return rows[wanted]
    return next(iter(rows.values()), None)
