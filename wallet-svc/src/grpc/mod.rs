//! gRPC handlers of `boomerang.wallet.v1.WalletService`. Each handler: tenant
//! from metadata, request validated into a command, the ledger operation run
//! once per idempotency key in one transaction, the result rendered.
pub mod convert;
mod exports;
mod render;

use boomerang_common::{
    db::Conn,
    error::AppError,
    idempotency::Mutations,
    money::wire,
    stream::{self, BoxStream},
    tenant::tenant_of,
    time::{micros, to_timestamp},
};
use boomerang_proto::wallet::v1::{self as pb, wallet_service_server::WalletService};
use futures::future::BoxFuture;
use tonic::{Request, Response, Status};

use crate::{
    domain::{
        command::{Capture, Credit, PostTransaction, ReleaseHeld, Reverse, Transfer},
        hold::HoldStatus,
    },
    ledger::{Ledger, Page, WatchFilter, group::Credits},
    repo::reads::{AGES, EntryFilter},
};

/// The `WalletService` implementation.
#[derive(Clone, Debug)]
pub struct WalletServiceHandler {
    ledger: Ledger,
    mutations: Mutations,
    credits: std::sync::Arc<Credits<pb::CreditResponse>>,
}

impl WalletServiceHandler {
    /// Handlers over `ledger`.
    pub fn new(ledger: Ledger) -> Self {
        Self {
            mutations: Mutations::new(ledger.db().clone(), ledger.clock().clone()).after_commit({
                let ledger = ledger.clone();
                move |_| ledger.committed()
            }),
            credits: std::sync::Arc::new(Credits::start(&ledger, &ledger.config().group_commit)),
            ledger,
        }
    }
}

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

fn page_size(page: Option<&boomerang_proto::common::v1::PageRequest>) -> i64 {
    let size = page.map_or(0, |p| p.page_size);
    i64::from(if size == 0 {
        DEFAULT_PAGE
    } else {
        size.min(MAX_PAGE)
    })
}

fn page_token(page: Option<&boomerang_proto::common::v1::PageRequest>) -> &str {
    page.map_or("", |p| p.page_token.as_str())
}

fn bad_token() -> AppError {
    AppError::invalid("page.page_token", "not a token from this list")
}

#[tonic::async_trait]
impl WalletService for WalletServiceHandler {
    async fn credit(
        &self,
        req: Request<pb::CreditRequest>,
    ) -> Result<Response<pb::CreditResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cmd = Credit::try_from(&req)?;
        let answer = self
            .credits
            .credit(&tenant, &req.idempotency_key, &req, cmd)
            .await?;
        Ok(Response::new(answer))
    }

    async fn reverse(
        &self,
        req: Request<pb::ReverseRequest>,
    ) -> Result<Response<pb::ReverseResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cmd = Reverse::try_from(&req)?;
        let (ledger, t) = (self.ledger.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "wallet.Reverse",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move { ledger.reverse(conn, &t, cmd).await.map(Into::into) })
                },
            )
            .await
    }

    async fn release_credit(
        &self,
        req: Request<pb::ReleaseCreditRequest>,
    ) -> Result<Response<pb::ReleaseCreditResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cmd = ReleaseHeld::try_from(&req)?;
        let (ledger, t) = (self.ledger.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "wallet.ReleaseCredit",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let (ids, at) = ledger.release_held(conn, &t, cmd).await?;
                        Ok(pb::ReleaseCreditResponse {
                            credit_ids: ids.into_iter().map(crate::ledger::credit_ref).collect(),
                            release_at: Some(to_timestamp(at)),
                        })
                    })
                },
            )
            .await
    }

    async fn authorize(
        &self,
        req: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cfg = self.ledger.config();
        let secs = |s: u64| micros(std::time::Duration::from_secs(s));
        let cmd = convert::authorize(&req, secs(cfg.default_hold_ttl_s), secs(cfg.max_hold_ttl_s))?;
        let (ledger, t) = (self.ledger.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "wallet.Authorize",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let hold = ledger.authorize(conn, &t, cmd).await?;
                        Ok(pb::AuthorizeResponse {
                            hold: Some((&hold).into()),
                        })
                    })
                },
            )
            .await
    }

    async fn capture(
        &self,
        req: Request<pb::CaptureRequest>,
    ) -> Result<Response<pb::CaptureResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cmd = Capture::try_from(&req)?;
        let (ledger, t) = (self.ledger.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "wallet.Capture",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        ledger
                            .capture(conn, &t, cmd.hold, cmd.amount)
                            .await
                            .map(Into::into)
                    })
                },
            )
            .await
    }

    async fn void(
        &self,
        req: Request<pb::VoidRequest>,
    ) -> Result<Response<pb::VoidResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let hold_id = convert::void(&req)?;
        let (ledger, t) = (self.ledger.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "wallet.Void",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let hold = ledger
                            .release(conn, &t, hold_id, HoldStatus::Voided)
                            .await?;
                        Ok(pb::VoidResponse {
                            hold: Some((&hold).into()),
                        })
                    })
                },
            )
            .await
    }

    async fn transfer(
        &self,
        req: Request<pb::TransferRequest>,
    ) -> Result<Response<pb::TransferResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cmd = Transfer::try_from(&req)?;
        let (ledger, t) = (self.ledger.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "wallet.Transfer",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move { ledger.transfer(conn, &t, cmd).await.map(Into::into) })
                },
            )
            .await
    }

    async fn post_transaction(
        &self,
        req: Request<pb::PostTransactionRequest>,
    ) -> Result<Response<pb::PostTransactionResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cmd = PostTransaction::try_from(&req)?;
        let (ledger, t) = (self.ledger.clone(), tenant.clone());
        self.mutations
            .run(
                &tenant,
                "wallet.PostTransaction",
                &req.idempotency_key,
                &req,
                move |conn: &mut Conn| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let posted = ledger.post_transaction(conn, &t, cmd).await?;
                        Ok(pb::PostTransactionResponse {
                            transaction: Some((&posted).into()),
                        })
                    })
                },
            )
            .await
    }

    async fn get_funding_summary(
        &self,
        req: Request<pb::GetFundingSummaryRequest>,
    ) -> Result<Response<pb::GetFundingSummaryResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = boomerang_common::error::Violations::new();
        let funder = convert::funder(&mut v, "funded_by", req.funded_by.as_ref());
        let from = convert::instant(&mut v, "from", req.from.as_ref()).unwrap_or(i64::MIN);
        let to = convert::instant(&mut v, "to", req.to.as_ref()).unwrap_or(i64::MAX);
        v.check()?;
        let Some(funder) = funder else {
            return Err(AppError::invalid("funded_by", "required").into());
        };
        let rows = crate::repo::reads::funding_summary(
            self.ledger.db(),
            tenant.as_str(),
            (funder.kind.as_str(), &funder.id),
            (from, to),
            self.ledger.clock().now(),
        )
        .await?;
        let totals = rows
            .into_iter()
            .map(|f| {
                let [credited, reversed, pending, available, expired] = f.totals;
                let redeemed = credited - reversed - pending - available - expired;
                let m = |minor| Some(wire(minor, &f.asset));
                let aging = AGES
                    .iter()
                    .zip(f.aging)
                    .map(|((from_days, to_days), outstanding)| pb::LiabilityAge {
                        from_days: *from_days,
                        to_days: *to_days,
                        outstanding: m(outstanding),
                    })
                    .collect();
                pb::FundingTotals {
                    credited: m(credited),
                    reversed: m(reversed),
                    pending: m(pending),
                    available: m(available),
                    redeemed: m(redeemed),
                    expired: m(expired),
                    aging,
                    asset: f.asset.clone(),
                }
            })
            .collect();
        Ok(Response::new(pb::GetFundingSummaryResponse { totals }))
    }

    async fn get_balance(
        &self,
        req: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::GetBalanceResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = boomerang_common::error::Violations::new();
        let customer = convert::id(&mut v, "customer_id", &req.customer_id);
        if !req.asset.is_empty() {
            convert::asset(&mut v, "asset", &req.asset);
        }
        let as_of = convert::instant(&mut v, "as_of", req.as_of.as_ref());
        v.check()?;
        let asset = Some(req.asset.as_str()).filter(|a| !a.is_empty());
        let balances = self
            .ledger
            .balances(&tenant, &customer, asset, as_of)
            .await?;
        Ok(Response::new(pb::GetBalanceResponse {
            customer_id: customer,
            balances: balances
                .into_iter()
                .map(|(asset, b)| pb::Balance {
                    available: Some(wire(b.available, &asset)),
                    pending: Some(wire(b.pending, &asset)),
                    held: Some(wire(b.held, &asset)),
                    asset,
                })
                .collect(),
        }))
    }

    async fn list_entries(
        &self,
        req: Request<pb::ListEntriesRequest>,
    ) -> Result<Response<pb::ListEntriesResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = boomerang_common::error::Violations::new();
        let customer = convert::id(&mut v, "customer_id", &req.customer_id);
        if !req.asset.is_empty() {
            convert::asset(&mut v, "asset", &req.asset);
        }
        let from = convert::instant(&mut v, "from", req.from.as_ref());
        let to = convert::instant(&mut v, "to", req.to.as_ref());
        let layer = match v.known("layer", req.layer) {
            Some(pb::Layer::Pending) => "pending",
            Some(pb::Layer::Available) => "available",
            Some(pb::Layer::Held) => "held",
            _ => "",
        };
        v.check()?;
        let token = page_token(req.page.as_ref());
        let after = if token.is_empty() {
            None
        } else {
            Some(token.parse::<i64>().map_err(|_| bad_token())?)
        };
        let filter = EntryFilter {
            asset: &req.asset,
            layer,
            from,
            to,
            before_id: None,
        };
        let page = Page {
            size: page_size(req.page.as_ref()),
            after,
        };
        let (rows, next) = self
            .ledger
            .entries(&tenant, &customer, filter, page)
            .await?;
        Ok(Response::new(pb::ListEntriesResponse {
            entries: rows.iter().map(render::to_entry).collect(),
            next_page_token: next.map(|n| n.to_string()).unwrap_or_default(),
        }))
    }

    async fn list_expiring_lots(
        &self,
        req: Request<pb::ListExpiringLotsRequest>,
    ) -> Result<Response<pb::ListExpiringLotsResponse>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let mut v = boomerang_common::error::Violations::new();
        let customer = convert::id(&mut v, "customer_id", &req.customer_id);
        if !req.asset.is_empty() {
            convert::asset(&mut v, "asset", &req.asset);
        }
        let within = req.within.as_ref().map_or(30 * 86_400 * 1_000_000, |d| {
            d.seconds
                .saturating_mul(1_000_000)
                .saturating_add(i64::from(d.nanos / 1_000))
        });
        if within <= 0 {
            v.add("within", "must be positive");
        }
        v.check()?;
        let token = page_token(req.page.as_ref());
        let after = if token.is_empty() {
            None
        } else {
            let parsed = token
                .split_once('.')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
            Some(parsed.ok_or_else(bad_token)?)
        };
        let until = self.ledger.clock().now().saturating_add(within);
        let page = Page {
            size: page_size(req.page.as_ref()),
            after,
        };
        let (rows, next) = self
            .ledger
            .expiring_lots(&tenant, &customer, &req.asset, until, page)
            .await?;
        Ok(Response::new(pb::ListExpiringLotsResponse {
            lots: rows.iter().map(render::to_lot).collect(),
            next_page_token: next.map(|(a, b)| format!("{a}.{b}")).unwrap_or_default(),
        }))
    }

    type ExportStatementsStream = BoxStream<pb::ExportStatementsResponse>;

    async fn export_statements(
        &self,
        req: Request<pb::ExportStatementsRequest>,
    ) -> Result<Response<Self::ExportStatementsStream>, Status> {
        exports::export_statements(&self.ledger, req)
    }

    type WatchEventsStream = BoxStream<pb::WatchEventsResponse>;

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let tenant = tenant_of(&req)?;
        let req = req.into_inner();
        let cursor = convert::cursor(&req.from_cursor)?;
        let mut v = boomerang_common::error::Violations::new();
        let customer = (!req.customer_id.is_empty())
            .then(|| convert::id(&mut v, "customer_id", &req.customer_id));
        v.known_each::<pb::EventType>("types", &req.types, 16);
        v.check()?;
        let filter = WatchFilter {
            kinds: render::event_kinds(&req.types),
            customer,
        };
        let events = self.ledger.watch(tenant, cursor, filter);
        Ok(Response::new(stream::of(events, |e| render::to_event(&e))))
    }

    type FollowEventsStream = BoxStream<pb::FollowEventsResponse>;

    async fn follow_events(
        &self,
        req: Request<pb::FollowEventsRequest>,
    ) -> Result<Response<Self::FollowEventsStream>, Status> {
        // Every tenant's events: only services reach it, the caller's
        // tenant is no filter.
        tenant_of(&req)?;
        let cursor = boomerang_common::events::Cursor::parse(&req.get_ref().from_cursor)?;
        let follow = |e: crate::repo::events::Event| pb::FollowEventsResponse {
            tenant_id: e.tenant.clone(),
            event: Some(render::to_event(&e)),
        };
        Ok(Response::new(stream::of(
            self.ledger.follow(cursor),
            follow,
        )))
    }
}
