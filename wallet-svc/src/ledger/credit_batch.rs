//! Many credits in one database transaction (group commit), with the effect
//! of as many single [`Ledger::credit`]s: the same rows, balances, lots,
//! timers, events and stored answers, in a handful of multi-row statements.
//!
//! Order of work, so concurrent batches and single operations never deadlock
//! and a bad credit never fails its neighbours: ids reserved, customer
//! accounts locked in key order, each credit planned alone (a refusal is its
//! own), the idempotency keys claimed with their answers (a key used before
//! leaves the batch and is replayed after commit), balances run forward in
//! arrival order, then one statement per table.
use std::collections::{HashMap, HashSet};

use boomerang_common::{
    db::Conn,
    error::AppError,
    idempotency::{self, Answered, IdempotencyKey},
    jobs::NewJob,
    tenant::TenantId,
    time::micros,
};
use prost::Message;

use super::{
    Credited, Ledger, Posted,
    credit::{EXPIRE, SETTLE, WARN},
    credit_ref,
};
use crate::{
    domain::{AccountRef, Balances, Layer, LedgerError, Posting, command::Credit, posting},
    repo::batch::{
        self, BalanceRow, ConsumptionRow, CreditRow, CreditRows, CustomerKey, EventRow, PostingRow,
        TransactionRow,
    },
};

/// One queued credit.
#[derive(Debug)]
pub struct Item {
    /// The caller's idempotency key.
    pub key: IdempotencyKey,
    /// `idempotency::request_hash` of the request.
    pub hash: Vec<u8>,
    /// What to credit.
    pub cmd: Credit,
    /// The request's trace context, for the timers it schedules.
    pub traceparent: Option<String>,
}

impl Item {
    fn tenant(&self) -> &TenantId {
        self.key.tenant()
    }

    fn account(&self) -> CustomerKey {
        (
            self.tenant().as_str().to_owned(),
            self.cmd.customer.clone(),
            self.cmd.amount.asset().code().to_owned(),
        )
    }
}

/// What became of one credit of a batch.
#[derive(Debug)]
pub enum Outcome<R> {
    /// Written; its answer.
    Credited(R),
    /// Refused alone.
    Refused(AppError),
    /// Its key was used before: answered from what the key stored, after commit.
    Replay,
}

/// One credit, planned.
struct Plan<'a> {
    item: &'a Item,
    at: usize,
    account: CustomerKey,
    account_id: i64,
    funding_id: i64,
    credited: Credited,
    amount: i64,
}

/// A credit's effect on its account, in arrival order.
#[derive(Clone, Copy)]
struct Effect {
    balance_after: i64,
    /// Paid back from the new lot to a negative available balance.
    repaid: i64,
}

impl Ledger {
    /// Writes `items` in the caller's transaction; one outcome per item, in order.
    #[tracing::instrument(name = "boomerang.wallet.ledger.credit_batch", skip_all, fields(size = items.len()), err(level = "info"))]
    pub(super) async fn credit_batch<R>(
        &self,
        conn: &mut Conn,
        items: &[Item],
    ) -> Result<Vec<Outcome<R>>, AppError>
    where
        R: Message + Default + From<Credited>,
    {
        let now = self.clock().now();
        let backend = self.db().backend();
        let mut outcomes: Vec<Option<Outcome<R>>> = items.iter().map(|_| None).collect();
        let mut seen = HashSet::new();
        let mut live = Vec::with_capacity(items.len());
        for (at, item) in items.iter().enumerate() {
            if item.cmd.expires_at.is_some_and(|t| t <= now) {
                let refused = AppError::invalid("expires_at", "must be in the future");
                outcomes[at] = Some(Outcome::Refused(refused));
            } else if !seen.insert((item.tenant().as_str(), item.key.key())) {
                outcomes[at] = Some(Outcome::Replay); // the same key twice: the first one counts
            } else {
                live.push(at);
            }
        }
        if live.is_empty() {
            return Ok(finish(outcomes));
        }
        let ids = self.inner.ids.take(conn, backend, live.len()).await?;
        let keys: Vec<CustomerKey> = live.iter().map(|&at| items[at].account()).collect();
        let accounts = batch::lock_customers(conn, backend, &keys, now).await?;
        let mut plans = Vec::with_capacity(live.len());
        for ((&at, account), (tx_id, credit_id)) in live.iter().zip(keys).zip(ids) {
            let item = &items[at];
            let (account_id, _) = *accounts.get(&account).ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("customer account not locked"))
            })?;
            let funding_id = self
                .inner
                .system_accounts
                .id(
                    conn,
                    item.tenant().as_str(),
                    &item.cmd.funded_by,
                    &account.2,
                    now,
                )
                .await?;
            match plan(
                item,
                at,
                account,
                account_id,
                funding_id,
                (tx_id, credit_id),
                now,
            ) {
                Ok(p) => plans.push(p),
                Err(e) => outcomes[at] = Some(Outcome::Refused(e.into())),
            }
        }
        // A credit that would overflow its balance is refused alone, before any key is claimed.
        let (effects, _) = run_forward(&plans, &accounts);
        let mut kept = Vec::with_capacity(plans.len());
        for (p, effect) in plans.into_iter().zip(effects) {
            match effect {
                Ok(_) => kept.push(p),
                Err(e) => outcomes[p.at] = Some(Outcome::Refused(e.into())),
            }
        }
        let answers: Vec<R> = kept.iter().map(|p| R::from(p.credited.clone())).collect();
        let answered: Vec<Answered<'_>> = kept
            .iter()
            .zip(&answers)
            .map(|(p, r)| Answered {
                key: &p.item.key,
                hash: &p.item.hash,
                response: r.encode_to_vec(),
            })
            .collect();
        let claimed = idempotency::claim_answered(conn, backend, &answered, now).await?;
        let mut written = Vec::with_capacity(kept.len());
        for ((p, answer), claimed) in kept.into_iter().zip(answers).zip(claimed) {
            if claimed {
                outcomes[p.at] = Some(Outcome::Credited(answer));
                written.push(p);
            } else {
                outcomes[p.at] = Some(Outcome::Replay);
            }
        }
        if written.is_empty() {
            return Ok(finish(outcomes));
        }
        // Fewer credits than planned can only lower balances: none fails now.
        let (effects, balances) = run_forward(&written, &accounts);
        let effects = effects.into_iter().collect::<Result<Vec<_>, _>>()?;
        let mut rows = rows(&written, &effects);
        rows.balances = balances
            .into_iter()
            .filter_map(|(key, b)| {
                let (id, before) = accounts.get(key)?;
                (b != *before).then_some(BalanceRow {
                    id: *id,
                    av: b.available,
                    pe: b.pending,
                    he: b.held,
                })
            })
            .collect();
        rows.balances.sort_by_key(|b| b.id);
        rows.jobs = self.timers(&written, now);
        batch::write_credits(conn, backend, &rows, now).await?;
        for p in &written {
            let asset = p.account.2.clone();
            metrics::counter!("boomerang_ledger_postings_total", "asset" => asset).increment(2);
        }
        Ok(finish(outcomes))
    }

    /// The settlement, expiry and warning timers of written credits.
    fn timers<'a>(&self, written: &[Plan<'a>], now: i64) -> Vec<NewJob<'a>> {
        let warning = micros(std::time::Duration::from_secs(
            u64::from(self.config().expiry_warning_days) * 86_400,
        ));
        let mut jobs = Vec::new();
        for p in written {
            let job = |queue, run_at| NewJob {
                tenant: p.item.tenant().as_str(),
                queue,
                dedupe_key: credit_ref(p.credited.credit_id),
                run_at,
                traceparent: p.item.traceparent.clone(),
                payload: String::new(),
            };
            if let Some(release_at) = p.credited.release_at {
                jobs.push(job(SETTLE, release_at));
            }
            if let Some(expires_at) = p.item.cmd.expires_at {
                jobs.push(job(EXPIRE, expires_at));
                jobs.push(job(WARN, (expires_at - warning).max(now)));
            }
        }
        jobs
    }
}

fn finish<R>(outcomes: Vec<Option<Outcome<R>>>) -> Vec<Outcome<R>> {
    outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Outcome::Refused(AppError::Internal(anyhow::anyhow!(
                    "credit left unanswered"
                )))
            })
        })
        .collect()
}

/// One credit's transaction, as [`Ledger::credit`] posts it.
fn plan(
    item: &Item,
    at: usize,
    account: CustomerKey,
    account_id: i64,
    funding_id: i64,
    (tx_id, credit_id): (i64, i64),
    now: i64,
) -> Result<Plan<'_>, LedgerError> {
    let cmd = &item.cmd;
    let asset = account.2.as_str();
    let amount = cmd.amount.minor();
    // Held credits stay pending with no release time until ReleaseCredit.
    let scheduled = cmd.release_at.filter(|t| *t > now && !cmd.hold_release);
    let layer = if cmd.hold_release || scheduled.is_some() {
        Layer::Pending
    } else {
        Layer::Available
    };
    let postings = posting::balanced(vec![
        Posting::new(AccountRef::customer(&cmd.customer), layer, asset, amount),
        Posting::new(cmd.funded_by.clone(), Layer::Available, asset, -amount),
    ])?;
    let credited = Credited {
        credit_id,
        transaction: Posted {
            id: tx_id,
            posted_at: now,
            postings,
            source: cmd.source.clone(),
            description: cmd.description.clone(),
        },
        layer,
        release_at: scheduled,
        expires: cmd.expires_at.is_some(),
    };
    Ok(Plan {
        item,
        at,
        account,
        account_id,
        funding_id,
        credited,
        amount,
    })
}

/// Each credit's effect on its account's balances, in arrival order (a
/// refused one has none), and the balances after all of them.
fn run_forward<'p>(
    plans: &'p [Plan<'_>],
    accounts: &HashMap<CustomerKey, (i64, Balances)>,
) -> (
    Vec<Result<Effect, LedgerError>>,
    HashMap<&'p CustomerKey, Balances>,
) {
    let mut running: HashMap<&CustomerKey, Balances> = HashMap::new();
    let effects = plans
        .iter()
        .map(|p| {
            let mut balances = *running
                .entry(&p.account)
                .or_insert_with(|| accounts.get(&p.account).map(|a| a.1).unwrap_or_default());
            let debt = -balances.available;
            let balance_after = balances.apply(p.credited.layer, p.amount)?;
            running.insert(&p.account, balances);
            let repaid = if p.credited.layer == Layer::Available && debt > 0 {
                debt.min(p.amount)
            } else {
                0
            };
            Ok(Effect {
                balance_after,
                repaid,
            })
        })
        .collect();
    (effects, running)
}

/// The rows a batch writes, but for balances.
fn rows<'a>(written: &[Plan<'a>], effects: &[Effect]) -> CreditRows<'a> {
    let mut rows = CreditRows::default();
    for (p, e) in written.iter().zip(effects) {
        let cmd = &p.item.cmd;
        let tenant = p.item.tenant().as_str();
        let (tx, credit_id) = (p.credited.transaction.id, p.credited.credit_id);
        let source = &cmd.source;
        let asset = cmd.amount.asset().code();
        rows.transactions.push(TransactionRow {
            id: tx,
            t: tenant,
            sk: &source.kind,
            sr: &source.reference,
            rv: &source.rule_version,
            i: &source.inputs,
            d: &cmd.description,
        });
        for leg in &p.credited.transaction.postings {
            let customer = leg.account.is_customer();
            rows.postings.push(PostingRow {
                t: tenant,
                tx,
                a: if customer { p.account_id } else { p.funding_id },
                l: leg.layer.as_str(),
                s: asset,
                m: leg.amount,
                b: customer.then_some(e.balance_after),
            });
        }
        let pending = p.credited.layer == Layer::Pending;
        rows.credits.push(CreditRow {
            id: credit_id,
            t: tenant,
            a: p.account_id,
            f: p.funding_id,
            tx,
            m: p.amount,
            p: if pending { p.amount } else { 0 },
            r: if pending { 0 } else { p.amount - e.repaid },
            st: if pending { "pending" } else { "available" },
            ra: p.credited.release_at,
            ea: cmd.expires_at,
            sk: &source.kind,
            sr: &source.reference,
            rv: &source.rule_version,
            lb: serde_json::to_string(&cmd.labels).unwrap_or_else(|_| "{}".into()),
            tt: cmd.tax.as_str(),
        });
        if e.repaid > 0 {
            rows.consumptions.push(ConsumptionRow {
                tx,
                c: credit_id,
                m: e.repaid,
            });
        }
        rows.events.push(EventRow {
            t: tenant,
            k: "credited",
            c: &cmd.customer,
            s: asset,
            m: p.amount,
            r: credit_ref(credit_id),
            sk: &source.kind,
            sr: &source.reference,
        });
    }
    rows
}
