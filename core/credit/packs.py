"""The core's compliance rule packs, registered as a built-in plugin (``core.plugins.DEFAULT_PLUGINS``).

``cn-2016``
    China's *Interim Measures for the Administration of the Business
    Activities of Online Lending Information Intermediaries*
    (《网络借贷信息中介机构业务活动管理暂行办法》, CBRC, MIIT, MPS and CAC
    Order 2016 No. 1, 24 August 2016):

    * Article 17 — borrowing balance caps: a natural person at most
      CNY 200,000 on one platform and CNY 1,000,000 across all platforms; a
      legal person or other organisation at most CNY 1,000,000 on one platform
      and CNY 5,000,000 across all platforms.
    * Article 10 item (3) (and Article 3: no credit enhancement) — an
      intermediary may not guarantee lenders' principal or interest, directly
      or indirectly, so a risk reserve paying investors (垫付,
      ``risk.reserve_pays_investors``) cannot be switched on.
    * The caps are in CNY, so a cn-2016 tenant keeps its books in CNY.
    * A loan product may not lend more than the one-platform cap of its
      borrower type (a person product above CNY 200,000 could never be
      granted in full).

``none``
    No regulatory caps or configuration rules (markets without such rules;
    the tenant's own grade limits still apply).
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.credit.compliance import ALL_PLATFORMS, PLATFORM, Cap, CompliancePack
from core.money import from_minor

YUAN = 100


class Cn2016(CompliancePack):
    name = "cn-2016"
    title = "China 2016 interim measures for online lending intermediaries"

    CAPS = {
        "person": (
            Cap("cn-2016 §17", PLATFORM, 200_000 * YUAN),
            Cap("cn-2016 §17", ALL_PLATFORMS, 1_000_000 * YUAN),
        ),
        "enterprise": (
            Cap("cn-2016 §17", PLATFORM, 1_000_000 * YUAN),
            Cap("cn-2016 §17", ALL_PLATFORMS, 5_000_000 * YUAN),
        ),
    }

    def caps(self, borrower_type):
        return self.CAPS[borrower_type]

    def check_config(self, config):
        problems = {}
        if config.get("currency") != "CNY":
            problems["currency"] = _(
                "%(rule)s: the borrowing caps are set in CNY, so a cn-2016 tenant must use "
                "currency CNY, not %(currency)s", rule="cn-2016 §17", currency=config.get("currency")
            )
        if (config.get("risk") or {}).get("reserve_pays_investors"):
            problems["risk.reserve_pays_investors"] = _(
                "%(rule)s: an online lending intermediary may not guarantee lenders' principal or "
                "interest, directly or indirectly; a risk reserve paying investors (垫付) is such a "
                "guarantee, so this must stay false", rule="cn-2016 §10(3)"
            )
        for index, product in enumerate(config.get("products") or []):
            kind, amount = product.get("borrower_type"), product.get("max_amount")
            if kind not in self.CAPS or isinstance(amount, bool) or not isinstance(amount, int):
                continue
            cap = next(c for c in self.CAPS[kind] if c.scope == PLATFORM)
            if amount > cap.limit:
                figures = dict(rule=cap.rule, cap=f"{from_minor(cap.limit, cap.currency):,}",
                               amount=f"{from_minor(amount, cap.currency):,}")
                message = (_l("%(rule)s: a person may owe at most CNY %(cap)s on one platform; "
                              "this product lends up to CNY %(amount)s", **figures) if kind == "person" else
                           _l("%(rule)s: an enterprise may owe at most CNY %(cap)s on one platform; "
                              "this product lends up to CNY %(amount)s", **figures))
                problems[f"products.{index}.max_amount"] = str(message)
        return problems


class NoRules(CompliancePack):
    name = "none"
    title = "No regulatory caps"


@hookimpl
def register_compliance_packs():
    return {Cn2016.name: Cn2016(), NoRules.name: NoRules()}
