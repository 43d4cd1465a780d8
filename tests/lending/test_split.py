"""The repayment split: principal, interest and penalty divided among claims pro rata, cent-exact, deterministic."""
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from core.lending.repayment import split

claims_strategy = st.lists(st.integers(min_value=1, max_value=10_000_000), min_size=1, max_size=60).map(
    lambda shares: [(i + 1, 1000 + i, share) for i, share in enumerate(shares)])


@settings(max_examples=300, deadline=None)
@given(claims=claims_strategy, principal=st.integers(0, 10**9), interest=st.integers(0, 10**8),
       penalty=st.integers(0, 10**6), rate=st.sampled_from(["0", "0.01", "0.1", "0.15", "0.333333"]))
def test_parts_sum_exactly_and_each_is_within_a_cent_of_its_share(claims, principal, interest, penalty, rate):
    parts = split(principal, interest, penalty, rate, claims)
    total_share = sum(share for _, _, share in claims)
    assert sum(p.principal for p in parts) == principal
    assert sum(p.interest for p in parts) == interest
    assert sum(p.penalty for p in parts) == penalty
    total_fee = int((Decimal(interest) * Decimal(rate)).quantize(Decimal(1), rounding="ROUND_HALF_UP")) if interest else 0
    assert sum(p.fee for p in parts) == total_fee
    for part, (_, _, share) in zip(parts, claims):
        assert abs(part.principal * total_share - principal * share) < total_share
        assert abs(part.interest * total_share - interest * share) < total_share
        assert 0 <= part.fee <= part.interest and part.net >= 0


@given(claims=claims_strategy, principal=st.integers(0, 10**9), interest=st.integers(0, 10**8))
def test_the_split_does_not_depend_on_the_order_claims_come_in(claims, principal, interest):
    assert split(principal, interest, 0, "0.1", claims) == split(principal, interest, 0, "0.1", list(reversed(claims)))


def test_a_known_split_by_largest_remainder():
    parts = split(100, 10, 0, "0.1", [(1, 7, 1), (2, 8, 1), (3, 9, 1)])
    assert [p.principal for p in parts] == [34, 33, 33]
    assert [p.interest for p in parts] == [4, 3, 3]
    assert [p.fee for p in parts] == [1, 0, 0]
