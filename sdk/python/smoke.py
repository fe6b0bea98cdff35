"""The Python client generated from proto/ (grpcio-tools), against a running
suite: enrol a member, record a purchase, read the balance. Exits non-zero on
any difference from what the demo program earns.

    python3 smoke.py HOST:PORT API_KEY
"""
import sys
import time

import grpc

from boomerang.accrual.v1 import accrual_pb2, accrual_pb2_grpc
from boomerang.common.v1 import common_pb2
from boomerang.wallet.v1 import wallet_pb2, wallet_pb2_grpc


def main(target: str, key: str) -> None:
    auth = (("authorization", f"Bearer {key}"),)
    with grpc.insecure_channel(target) as channel:
        accrual = accrual_pb2_grpc.AccrualServiceStub(channel)
        wallet = wallet_pb2_grpc.WalletServiceStub(channel)
        accrual.EnrollMember(
            accrual_pb2.EnrollMemberRequest(
                idempotency_key="py-e", program_id="demo", customer_id="py-ann"
            ),
            metadata=auth,
        )
        line = accrual_pb2.PurchaseLine(
            line_id="1",
            sku="shoe",
            category="shoes",
            unit_price=common_pb2.Money(amount="120.00", asset="EUR"),
            quantity=1,
        )
        bought = accrual.RecordPurchase(
            accrual_pb2.RecordPurchaseRequest(
                idempotency_key="py-o",
                purchase=accrual_pb2.Purchase(
                    program_id="demo",
                    order_id="py-o-1",
                    customer_id="py-ann",
                    currency="EUR",
                    channel=common_pb2.CHANNEL_ONLINE,
                    lines=[line],
                ),
            ),
            metadata=auth,
        )
        earned = sorted((r.amount.amount, r.amount.asset) for r in bought.rewards)
        # The demo program: 10% over 100.00 EUR, 1 PTS per EUR.
        assert earned == [("12.00", "EUR"), ("120", "PTS")], earned
        # The wallet credit is delivered by the outbox: wait for it (10 s at most).
        for _ in range(100):
            balance = wallet.GetBalance(
                wallet_pb2.GetBalanceRequest(customer_id="py-ann", asset="EUR"),
                metadata=auth,
            )
            eur = balance.balances[0]
            if eur.pending.amount == "12.00":
                break
            time.sleep(0.1)
        assert (eur.available.amount, eur.pending.amount) == ("0.00", "12.00"), balance
        try:
            accrual.RecordPurchase(
                accrual_pb2.RecordPurchaseRequest(
                    idempotency_key="py-bad", purchase=accrual_pb2.Purchase()
                ),
                metadata=auth,
            )
            raise AssertionError("an empty purchase was accepted")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
    print("python sdk: enrolled, bought 120.00 EUR, earned 12.00 EUR + 120 PTS (pending)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
