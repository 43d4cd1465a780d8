"""Contracts: rendered from the tenant's template as HTML and PDF, signed by the platform key,
verified by `lendkit contract verify`, any change detected, downloadable by the parties only."""
import pytest
from sqlalchemy import select

from core.extensions import db
from core.lending.contracts import verify_bytes
from core.lending.lifecycle import get_loan
from core.lending.models import LoanContract
from lending_support import TX_PASSWORD


@pytest.fixture
def disbursed(world, people):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=400_000)
    world.fund(loan, people.investors[:2])
    return get_loan(loan.id)


def test_each_locale_gets_a_signed_pdf_and_html(disbursed):
    contracts = {c.locale: c for c in db.session.scalars(select(LoanContract).where(LoanContract.loan_id == disbursed.id))}
    assert set(contracts) == {"en", "zh_CN"}
    assert contracts["en"].pdf.startswith(b"%PDF") and verify_bytes(contracts["en"].pdf).valid
    assert "借款协议" in contracts["zh_CN"].html and disbursed.number in contracts["zh_CN"].html
    assert verify_bytes(contracts["zh_CN"].html.encode()).valid
    assert "附表一" in contracts["zh_CN"].html  # the schedule is appended


def test_verify_says_valid_and_any_changed_byte_is_detected(disbursed, lendkit, tmp_path):
    contract = db.session.scalars(select(LoanContract).where(LoanContract.loan_id == disbursed.id)).first()
    good = tmp_path / "contract.pdf"
    good.write_bytes(contract.pdf)
    result = lendkit("contract", "verify", str(good))
    assert result.exit_code == 0 and result.output.startswith("valid: contract " + disbursed.number)
    assert len(result.output.strip().splitlines()) == 1
    tampered = bytearray(contract.pdf)
    tampered[len(tampered) // 2] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(tampered))
    result = lendkit("contract", "verify", str(bad))
    assert result.exit_code == 1 and result.output.startswith("invalid:") and len(result.output.strip().splitlines()) == 1
    html = tmp_path / "contract.html"
    html.write_text(contract.html.replace(disbursed.number, "LN99999999", 1), encoding="utf-8")
    assert lendkit("contract", "verify", str(html)).exit_code == 1
    none = tmp_path / "plain.pdf"
    none.write_bytes(b"%PDF-1.7 nothing")
    assert lendkit("contract", "verify", str(none)).output.startswith("invalid: no lendkit signature")


def test_a_contract_signed_by_another_key_is_invalid(disbursed):
    from core.lending.contracts import platform_key, sign

    forged = sign(b"%PDF-1.7 forged", disbursed.number, kind="pdf", key=platform_key("someone-elses-key-material-0123456789"))
    verdict = verify_bytes(forged)
    assert not verdict.valid and "signed by key" in verdict.line


def test_only_the_borrower_and_the_loans_investors_may_download_it(world, people, disbursed, client_a):
    outsider = world.user("investor", funds=100_000)
    url = f"/api/v1/loans/{disbursed.id}/contract?format=pdf"
    assert client_a.get(url).status_code == 401
    for user, status in [(people.borrower, 200), (people.investors[0], 200), (outsider, 403),
                         (people.investors[3], 403), (people.reviewer, 403)]:
        response = client_a.get(url, headers=world.token(user))
        assert response.status_code == status, (user.id, response.get_json())
        if status == 200:
            assert response.data.startswith(b"%PDF") and verify_bytes(response.data).valid
    html = client_a.get(f"/api/v1/loans/{disbursed.id}/contract?format=html&locale=zh_CN", headers=world.token(people.borrower))
    assert html.status_code == 200 and "借款协议".encode() in html.data


def test_the_production_config_refuses_the_development_contract_key():
    from core.config import DEV_CONTRACT_KEY, ConfigError, load_config

    base = {"LENDKIT_SECRET_KEY": "s" * 40, "LENDKIT_DATA_KEY": "d" * 40}
    with pytest.raises(ConfigError, match="LENDKIT_CONTRACT_KEY"):
        load_config({"LENDKIT_ENV": "production"}, environ=base)
    with pytest.raises(ConfigError, match="LENDKIT_CONTRACT_KEY"):
        load_config({"LENDKIT_ENV": "production"}, environ={**base, "LENDKIT_CONTRACT_KEY": DEV_CONTRACT_KEY})
    assert load_config({"LENDKIT_ENV": "production"}, environ={**base, "LENDKIT_CONTRACT_KEY": "k" * 40})
    assert load_config({}, environ={})["LENDKIT_CONTRACT_KEY"] == DEV_CONTRACT_KEY
    _ = TX_PASSWORD
