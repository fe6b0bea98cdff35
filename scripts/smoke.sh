#!/usr/bin/env bash
# Starts the release `boomerang up --demo` on a fresh data dir and checks,
# with grpcurl through the gateway, that reflection lists every service and
# health answers SERVING for each. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(scripts/install-tools.sh)"
grpcurl="$bin/grpcurl"
port="${SMOKE_PORT:-50051}"
metrics_port="${SMOKE_METRICS_PORT:-19464}"
data="$(mktemp -d)"
log="$data/up.log"

target/release/boomerang up --demo --data-dir "$data" --gateway-port "$port" \
  --wallet-port 0 --accrual-port 0 --campaign-port 0 --referral-port 0 --notify-port 0 \
  --metrics-listen "127.0.0.1:$metrics_port" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT

started=$(date +%s%N)
until "$grpcurl" -plaintext "localhost:$port" list >/dev/null 2>&1; do
  if ! kill -0 $pid 2>/dev/null; then cat "$log"; echo "smoke: boomerang exited" >&2; exit 1; fi
  if [ $(( ($(date +%s%N) - started) / 1000000 )) -gt 5000 ]; then
    cat "$log"; echo "smoke: not serving within 5 s" >&2; exit 1
  fi
  sleep 0.1
done
echo "smoke: serving after $(( ($(date +%s%N) - started) / 1000000 )) ms"

listed="$("$grpcurl" -plaintext "localhost:$port" list)"
for svc in boomerang.wallet.v1.WalletService boomerang.accrual.v1.AccrualService \
           boomerang.accrual.v1.CheckoutService boomerang.accrual.v1.SimulationService \
           boomerang.campaign.v1.CampaignService boomerang.campaign.v1.CouponService \
           boomerang.referral.v1.ReferralService boomerang.notify.v1.WebhookService \
           boomerang.admin.v1.AdminService boomerang.admin.v1.JobService grpc.health.v1.Health; do
  grep -qx "$svc" <<<"$listed" || { echo "smoke: $svc not listed:"; echo "$listed"; exit 1; } >&2
done
for svc in boomerang.wallet.v1.WalletService boomerang.accrual.v1.AccrualService \
           boomerang.campaign.v1.CampaignService boomerang.referral.v1.ReferralService \
           boomerang.notify.v1.WebhookService; do
  status="$("$grpcurl" -plaintext -d "{\"service\":\"$svc\"}" "localhost:$port" grpc.health.v1.Health/Check)"
  grep -q '"SERVING"' <<<"$status" || { echo "smoke: $svc health: $status" >&2; exit 1; }
done
key="$(grep -o 'bmr_[0-9a-f]*_[0-9a-f]*' "$log" | head -n1)"
[ -n "$key" ] || { cat "$log"; echo "smoke: no demo key printed" >&2; exit 1; }
"$grpcurl" -plaintext "localhost:$port" describe boomerang.wallet.v1.WalletService >/dev/null

# The README's wallet example: a credit through the gateway with the demo key.
wallet=boomerang.wallet.v1.WalletService
auth="authorization: Bearer $key"
"$grpcurl" -plaintext -H "$auth" -d '{"idempotency_key":"smoke-1","customer_id":"alice",
  "amount":{"amount":"50.00","asset":"EUR"}}' "localhost:$port" "$wallet/Credit" >/dev/null
balance="$("$grpcurl" -plaintext -H "$auth" -d '{"customer_id":"alice"}' "localhost:$port" "$wallet/GetBalance")"
grep -q '"50.00"' <<<"$balance" || { echo "smoke: unexpected balance: $balance" >&2; exit 1; }
# A refusal's details decode by name through reflection (google.rpc.BadRequest).
refused="$("$grpcurl" -plaintext -v -H "$auth" -d '{"customer_id":""}' "localhost:$port" "$wallet/GetBalance" 2>&1 || true)"
{ grep -q 'InvalidArgument' <<<"$refused" && grep -q 'google.rpc.BadRequest' <<<"$refused" \
    && grep -q '"field":"customer_id"' <<<"$refused" && ! grep -q 'not recognized' <<<"$refused"; } \
  || { echo "smoke: error details not decoded: $refused" >&2; exit 1; }

# The demo program: enrol, buy 120.00 EUR, earn 10% over 100 EUR and 120 PTS.
accrual=boomerang.accrual.v1.AccrualService
"$grpcurl" -plaintext -H "$auth" -d '{"idempotency_key":"smoke-e","program_id":"demo","customer_id":"bob"}' \
  "localhost:$port" "$accrual/EnrollMember" >/dev/null
bought="$("$grpcurl" -plaintext -H "$auth" -d '{"idempotency_key":"smoke-o","purchase":{"program_id":"demo",
  "order_id":"o-1","customer_id":"bob","currency":"EUR","channel":"CHANNEL_ONLINE","occurred_at":"2026-01-10T10:00:00Z",
  "lines":[{"line_id":"1","sku":"shoe","category":"shoes","unit_price":{"amount":"120.00","asset":"EUR"},"quantity":1}]}}' \
  "localhost:$port" "$accrual/RecordPurchase")"
grep -q '"12.00"' <<<"$bought" && grep -q '"120"' <<<"$bought" \
  || { echo "smoke: unexpected rewards: $bought" >&2; exit 1; }
# Prometheus metrics of the calls just made: counters and latency buckets;
# the job lag once the purchase's outbox credit has run (within 5 s).
series=('boomerang_grpc_requests_total{method="/boomerang.accrual.v1.AccrualService/RecordPurchase",code="Ok",layer="gateway"}'
        'boomerang_grpc_requests_total{method="/boomerang.accrual.v1.AccrualService/RecordPurchase",code="Ok",layer="service"}'
        'boomerang_grpc_request_duration_seconds_bucket{' 'boomerang_ledger_postings_total{asset="EUR"}'
        '# HELP boomerang_grpc_requests_total ' '# HELP boomerang_job_lag_seconds ' 'process_resident_memory_bytes ')
for attempt in $(seq 1 50); do
  metrics="$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://127.0.0.1:$metrics_port/metrics")"
  missing=""
  for s in "${series[@]}"; do grep -qF "$s" <<<"$metrics" || missing="$s"; done
  [ -z "$missing" ] && break
  [ "$attempt" -lt 50 ] || { echo "smoke: no $missing in /metrics" >&2; exit 1; }
  sleep 0.1
done
echo "smoke: ok (reflection lists every service, each SERVING, demo key issued, wallet credit and a demo purchase through the gateway, metrics served)"

# The generated Python and TypeScript clients against the same suite (docs/sdks.md).
scripts/sdk.sh "localhost:$port" "$key"
echo "smoke: the generated Python and TypeScript clients enrol, buy and read the balance"
