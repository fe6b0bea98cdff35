// The TypeScript client generated from proto/ (protoc-gen-es, Connect over
// gRPC), against a running suite: enrol a member, record a purchase, read the
// balance. Exits non-zero on any difference from what the demo program earns.
//
//     npx tsx smoke.ts HOST:PORT API_KEY
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import { AccrualService } from "./gen/boomerang/accrual/v1/accrual_pb.js";
import { Channel } from "./gen/boomerang/common/v1/common_pb.js";
import { WalletService } from "./gen/boomerang/wallet/v1/wallet_pb.js";

const [target, key] = process.argv.slice(2);
if (!target || !key) {
  throw new Error("usage: smoke.ts HOST:PORT API_KEY");
}

const bearer: Interceptor = (next) => async (req) => {
  req.header.set("authorization", `Bearer ${key}`);
  return next(req);
};
const transport = createGrpcTransport({ baseUrl: `http://${target}`, interceptors: [bearer] });
const accrual = createClient(AccrualService, transport);
const wallet = createClient(WalletService, transport);

function check(ok: boolean, what: string): void {
  if (!ok) {
    throw new Error(what);
  }
}

await accrual.enrollMember({ idempotencyKey: "ts-e", programId: "demo", customerId: "ts-ann" });
const bought = await accrual.recordPurchase({
  idempotencyKey: "ts-o",
  purchase: {
    programId: "demo",
    orderId: "ts-o-1",
    customerId: "ts-ann",
    currency: "EUR",
    channel: Channel.ONLINE,
    lines: [
      { lineId: "1", sku: "shoe", category: "shoes", unitPrice: { amount: "120.00", asset: "EUR" }, quantity: 1 },
    ],
  },
});
const earned = bought.rewards.map((r) => `${r.amount?.amount} ${r.amount?.asset}`).sort();
// The demo program: 10% over 100.00 EUR, 1 PTS per EUR.
check(JSON.stringify(earned) === JSON.stringify(["12.00 EUR", "120 PTS"]), `earned ${earned}`);

// The wallet credit is delivered by the outbox: wait for it (10 s at most).
let pending = "";
for (let i = 0; i < 100 && pending !== "12.00"; i++) {
  const balance = await wallet.getBalance({ customerId: "ts-ann", asset: "EUR" });
  pending = balance.balances[0]?.pending?.amount ?? "";
  if (pending !== "12.00") {
    await new Promise((r) => setTimeout(r, 100));
  }
}
check(pending === "12.00", `pending ${pending}`);

try {
  await accrual.recordPurchase({ idempotencyKey: "ts-bad", purchase: {} });
  throw new Error("an empty purchase was accepted");
} catch (e) {
  check(ConnectError.from(e).code === Code.InvalidArgument, `refusal ${e}`);
}
console.log("typescript sdk: enrolled, bought 120.00 EUR, earned 12.00 EUR + 120 PTS (pending)");
