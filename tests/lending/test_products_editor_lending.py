"""Products saved in the admin console are what borrowers can apply for, from the next application on."""
import copy

import pytest

from core.configuration import service
from core.lending.applications import create_application
from core.lending.errors import LendingError


def apply(borrower, amount, product="consumer"):
    return create_application(borrower, product_code=product, amount=amount, months=6, method="equal_installment",
                              purpose="Home renovation", repayment_source="Salary", industry="Teaching",
                              monthly_income=1_500_000)


def test_an_application_for_a_newly_allowed_amount_is_accepted(world, people):
    tenant = world.tenant
    with pytest.raises(LendingError) as refused:
        apply(people.borrower, 6_000_000)
    assert refused.value.field == "amount"
    products = copy.deepcopy(tenant.config["products"])
    products[0]["max_amount"] = 8_000_000
    service.save_section(tenant, "products", {"products": products}, actor="user:1", note="bigger loans")
    loan = apply(people.borrower, 6_000_000)
    assert loan.status == "submitted" and loan.amount == 6_000_000 and loan.terms["max_amount"] == 8_000_000


def test_a_product_added_in_the_console_is_offered_and_a_removed_one_is_not(world, people):
    tenant = world.tenant
    car = dict(copy.deepcopy(tenant.config["products"][0]), code="car", name={"en": "Car loan"},
               min_amount=500_000, max_amount=15_000_000, terms_months=[6, 12])
    service.save_section(tenant, "products", {"products": [car, tenant.config["products"][1]]}, actor="user:1")
    with pytest.raises(LendingError) as refused:
        apply(people.borrower, 1_000_000, product="consumer")
    assert refused.value.field == "product_code"
    loan = apply(people.borrower, 1_000_000, product="car")
    assert loan.status == "submitted" and loan.product_code == "car"
