//! Credits, settlement, reversals and expiry.
use boomerang_common::{
    db::Conn, error::AppError, jobs, money::Amount, tenant::TenantId, time::micros,
};

use super::{Ledger, Posted, credit_ref};
use crate::{
    domain::{
        AccountRef, Layer, LedgerError, Posting,
        command::{Credit, ReleaseHeld, Reverse, ReverseTarget, Source},
        lot::Take,
        reversal::{self, ClawbackPolicy},
    },
    repo::{self, credits, events},
};

/// Job queues of this module.
pub const SETTLE: &str = "wallet.settle";
/// Lot expiry.
pub const EXPIRE: &str = "wallet.expire";
/// Expiry warning.
pub const WARN: &str = "wallet.expiry_warning";

/// A posted credit.
#[derive(Clone, Debug)]
pub struct Credited {
    /// Credit (and lot) id.
    pub credit_id: i64,
    /// The transaction.
    pub transaction: Posted,
    /// Pending or available.
    pub layer: Layer,
    /// Release time when pending.
    pub release_at: Option<i64>,
    /// Whether it expires (its lot is listed).
    pub expires: bool,
}

/// What a reversal took back.
#[derive(Clone, Debug)]
pub struct Reversed {
    /// The reversing transaction, when anything was taken.
    pub transaction: Option<Posted>,
    /// The asset.
    pub asset: String,
    /// From pending.
    pub from_pending: i64,
    /// From available.
    pub from_available: i64,
    /// Not taken under the policy.
    pub not_reversed: i64,
}

impl Ledger {
    /// Credits a customer: one ledger transaction read top-down (long for that).
    #[tracing::instrument(name = "boomerang.wallet.ledger.credit", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn credit(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        cmd: Credit,
    ) -> Result<Credited, AppError> {
        let mut j = self.journal(tenant);
        let now = j.now();
        if cmd.expires_at.is_some_and(|t| t <= now) {
            return Err(AppError::invalid("expires_at", "must be in the future"));
        }
        let asset = cmd.amount.asset().code().to_owned();
        let amount = cmd.amount.minor();
        j.lock(conn, vec![(cmd.customer.clone(), asset.clone())])
            .await?;
        // Held credits stay pending with no release time until ReleaseCredit.
        let scheduled = cmd.release_at.filter(|t| *t > now && !cmd.hold_release);
        let pending = cmd.hold_release || scheduled.is_some();
        let layer = if pending {
            Layer::Pending
        } else {
            Layer::Available
        };
        let postings = vec![
            Posting::new(AccountRef::customer(&cmd.customer), layer, &asset, amount),
            Posting::new(cmd.funded_by.clone(), Layer::Available, &asset, -amount),
        ];
        let posted = j
            .post(
                conn,
                "credit",
                &cmd.source,
                &cmd.description,
                postings,
                false,
            )
            .await?;
        let account = j.customer(&cmd.customer, &asset)?;
        let funding_id = j.system(conn, &cmd.funded_by, &asset).await?;
        let labels =
            serde_json::to_string(&cmd.labels).map_err(|e| AppError::Internal(e.into()))?;
        let credit_id = credits::insert(
            conn,
            tenant.as_str(),
            credits::NewCredit {
                account_id: account.id,
                funding_id,
                transaction_id: posted.id,
                amount,
                pending,
                release_at: scheduled,
                expires_at: cmd.expires_at,
                source: &cmd.source,
                labels,
                tax: cmd.tax,
            },
            now,
        )
        .await?;
        let key = credit_ref(credit_id);
        if let Some(release_at) = scheduled {
            jobs::schedule(
                conn,
                tenant,
                SETTLE,
                &key,
                release_at,
                self.clock().now(),
                b"",
            )
            .await?;
        } else if !pending {
            let arriving = [Take {
                id: credit_id,
                amount,
            }];
            self.repay_debt(conn, &arriving, account.before.available, posted.id)
                .await?;
        }
        if let Some(expires_at) = cmd.expires_at {
            self.schedule_expiry(conn, tenant.as_str(), credit_id, expires_at, now)
                .await?;
        }
        let event = events::NewEvent {
            kind: "credited",
            customer: cmd.customer.clone(),
            asset: asset.clone(),
            amount,
            reference: key,
            source_kind: cmd.source.kind.clone(),
            source_ref: cmd.source.reference.clone(),
        };
        events::append(conn, self.db(), tenant.as_str(), &event, now).await?;
        j.save(conn).await?;
        Ok(Credited {
            credit_id,
            transaction: posted,
            layer,
            release_at: scheduled,
            expires: cmd.expires_at.is_some(),
        })
    }

    /// Schedules the release of a customer's held credits with a source
    /// reference (rewards of a purchase approved after review). Returns the
    /// credits scheduled and when; a credit already scheduled or settled is
    /// FAILED_PRECONDITION, none at all NOT_FOUND.
    #[tracing::instrument(name = "boomerang.wallet.ledger.release_held", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn release_held(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        cmd: ReleaseHeld,
    ) -> Result<(Vec<i64>, i64), AppError> {
        let now = self.clock().now();
        let at = cmd.release_at.map_or(now, |t| t.max(now));
        let assets =
            credits::assets_by_source(conn, tenant.as_str(), &cmd.customer, &cmd.source_ref)
                .await?;
        if assets.is_empty() {
            return Err(AppError::NotFound(format!(
                "no credit of customer {} has source reference {}",
                cmd.customer, cmd.source_ref
            )));
        }
        let mut j = self.journal(tenant);
        j.lock(
            conn,
            assets
                .iter()
                .map(|a| (cmd.customer.clone(), a.clone()))
                .collect(),
        )
        .await?;
        let mut released = Vec::new();
        for asset in &assets {
            let account = j.customer(&cmd.customer, asset)?;
            for c in credits::by_source(conn, account.id, &cmd.source_ref).await? {
                if c.status == "pending" && c.release_at.is_none() {
                    credits::schedule_release(conn, c.id, at).await?;
                    jobs::schedule(
                        conn,
                        tenant,
                        SETTLE,
                        &credit_ref(c.id),
                        at,
                        self.clock().now(),
                        b"",
                    )
                    .await?;
                    released.push(c.id);
                }
            }
        }
        if released.is_empty() {
            return Err(AppError::Precondition(format!(
                "no held credit of customer {} has source reference {}: already released",
                cmd.customer, cmd.source_ref
            )));
        }
        Ok((released, at))
    }

    /// Schedules a lot's expiry and the warning before it.
    pub(super) async fn schedule_expiry(
        &self,
        conn: &mut Conn,
        tenant: &str,
        credit_id: i64,
        expires_at: i64,
        now: i64,
    ) -> Result<(), AppError> {
        let tenant = TenantId::parse(tenant).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
        let key = credit_ref(credit_id);
        let warning = micros(std::time::Duration::from_secs(
            u64::from(self.config().expiry_warning_days) * 86_400,
        ));
        jobs::schedule(
            conn,
            &tenant,
            EXPIRE,
            &key,
            expires_at,
            self.clock().now(),
            b"",
        )
        .await?;
        jobs::schedule(
            conn,
            &tenant,
            WARN,
            &key,
            (expires_at - warning).max(now),
            self.clock().now(),
            b"",
        )
        .await?;
        Ok(())
    }

    /// Releases a pending credit to available (the settle job); idempotent.
    #[tracing::instrument(name = "boomerang.wallet.ledger.settle", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn settle(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        credit_id: i64,
    ) -> Result<(), AppError> {
        let Some(credit) = credits::get(conn, tenant.as_str(), credit_id).await? else {
            return Ok(());
        };
        let owner = repo::account(conn, tenant.as_str(), credit.account_id).await?;
        let mut j = self.journal(tenant);
        let customer = owner.account.id.clone();
        j.lock(conn, vec![(customer.clone(), owner.asset.clone())])
            .await?;
        let pending = match credits::get(conn, tenant.as_str(), credit_id).await? {
            Some(c) if c.status == "pending" => c.pending,
            _ => return Ok(()), // already settled by another replica
        };
        let released = credits::release(conn, credit_id).await?;
        if pending > 0 {
            let source = Source {
                kind: "settlement".into(),
                reference: credit.source_ref.clone(),
                rule_version: credit.rule_version.clone(),
                ..Source::default()
            };
            let me = AccountRef::customer(&customer);
            let postings = vec![
                Posting::new(me.clone(), Layer::Pending, &owner.asset, -pending),
                Posting::new(me, Layer::Available, &owner.asset, pending),
            ];
            let tx = j
                .post(conn, "settle", &source, "reward available", postings, false)
                .await?;
            let before = j.customer(&customer, &owner.asset)?.before.available;
            let arriving = [Take {
                id: credit_id,
                amount: released,
            }];
            self.repay_debt(conn, &arriving, before, tx.id).await?;
            let event = events::NewEvent {
                kind: "reward_available",
                customer: customer.clone(),
                asset: owner.asset.clone(),
                amount: pending,
                reference: credit_ref(credit_id),
                source_kind: credit.source_kind,
                source_ref: credit.source_ref,
            };
            events::append(conn, self.db(), tenant.as_str(), &event, j.now()).await?;
        }
        // Released after its expiry (timers ran late): its expiry job found it
        // still pending and did nothing, so it expires now.
        if credit.expires_at.is_some_and(|at| at <= j.now()) {
            self.expire_lot(conn, &mut j, &customer, &owner.asset, credit_id)
                .await?;
        }
        j.save(conn).await
    }

    /// Takes back credits: pending first, then available as the policy allows.
    ///
    /// Long because it is one ledger transaction read top-down (lock, what is
    /// left of the credit, the policy's split, postings, lots, debt, event).
    #[tracing::instrument(name = "boomerang.wallet.ledger.reverse", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn reverse(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        cmd: Reverse,
    ) -> Result<Reversed, AppError> {
        let asset = self.reversal_asset(conn, tenant, &cmd).await?;
        let mut j = self.journal(tenant);
        j.lock(conn, vec![(cmd.customer.clone(), asset.clone())])
            .await?;
        let account = j.customer(&cmd.customer, &asset)?;
        let candidates = match &cmd.target {
            ReverseTarget::Credit(id) => credits::get(conn, tenant.as_str(), *id)
                .await?
                .filter(|c| c.account_id == account.id)
                .into_iter()
                .collect(),
            ReverseTarget::Source(reference) => {
                credits::by_source(conn, account.id, reference).await?
            }
        };
        if candidates.is_empty() {
            return Err(AppError::NotFound(format!(
                "no {asset} credit of customer {} matches",
                cmd.customer
            )));
        }
        // Only rewards come back: a gift was paid by another customer and is theirs no more.
        let mut targets = Vec::with_capacity(candidates.len());
        for c in candidates {
            let funding = repo::account(conn, tenant.as_str(), c.funding_id).await?;
            if !funding.account.is_customer() {
                targets.push((c, funding.account));
            }
        }
        if targets.is_empty() {
            return Err(AppError::Precondition(
                "a gift is not reversible; post a correcting transaction instead".into(),
            ));
        }
        // What expired went to breakage: it is no longer the customer's to give back.
        let left: i64 = targets
            .iter()
            .map(|(c, _)| c.amount - c.reversed - c.expired)
            .sum();
        let asked = cmd.amount.as_ref().map_or(left, Amount::minor);
        if asked > left {
            return Err(LedgerError::ReverseTooLarge { asset, asked, left }.into());
        }
        let pending: i64 = targets.iter().map(|(c, _)| c.pending).sum();
        let plan = reversal::plan(asked, pending, account.after.available, cmd.policy);

        // Spread the plan over the credits: pending parts first, then released parts.
        let mut postings = Vec::new();
        let me = AccountRef::customer(&cmd.customer);
        let (mut pending_left, mut available_left) = (plan.from_pending, plan.from_available);
        let mut shares = Vec::new();
        for (c, funding) in &targets {
            let p = pending_left.min(c.pending);
            pending_left -= p;
            let released_unreversed = c.amount - c.reversed - c.pending - c.expired;
            let a = available_left.min(released_unreversed.max(0));
            available_left -= a;
            if p + a == 0 {
                continue;
            }
            postings.push(Posting::new(me.clone(), Layer::Pending, &asset, -p));
            postings.push(Posting::new(me.clone(), Layer::Available, &asset, -a));
            postings.push(Posting::new(
                funding.clone(),
                Layer::Available,
                &asset,
                p + a,
            ));
            shares.push((c.id, p, a));
        }
        let transaction = if shares.is_empty() {
            None
        } else {
            let allow_negative = cmd.policy == ClawbackPolicy::AllowNegative;
            let description = "reward reversed";
            let posted = j
                .post(
                    conn,
                    "reverse",
                    &cmd.source,
                    description,
                    postings,
                    allow_negative,
                )
                .await?;
            for (id, p, a) in &shares {
                credits::reverse(conn, *id, *p, *a).await?;
                if *a > 0 {
                    // Released money leaves from the credit's own lot first, then the soonest-expiring.
                    let own = credits::get(conn, tenant.as_str(), *id)
                        .await?
                        .map_or(0, |c| c.remaining);
                    let first = own.min(*a);
                    credits::consume(
                        conn,
                        &[Take {
                            id: *id,
                            amount: first,
                        }],
                        Some(posted.id),
                    )
                    .await?;
                    self.spend_lots(conn, account.id, a - first, Some(posted.id))
                        .await?;
                }
            }
            let event = events::NewEvent {
                kind: "reversed",
                customer: cmd.customer.clone(),
                asset: asset.clone(),
                amount: plan.from_pending + plan.from_available,
                reference: super::transaction_ref(posted.id),
                source_kind: cmd.source.kind.clone(),
                source_ref: cmd.source.reference.clone(),
            };
            events::append(conn, self.db(), tenant.as_str(), &event, j.now()).await?;
            Some(posted)
        };
        j.save(conn).await?;
        Ok(Reversed {
            transaction,
            asset,
            from_pending: plan.from_pending,
            from_available: plan.from_available,
            not_reversed: plan.not_reversed,
        })
    }

    /// The asset a reversal is in: the amount's, the credit's, or the one
    /// asset the source reference's credits share.
    async fn reversal_asset(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        cmd: &Reverse,
    ) -> Result<String, AppError> {
        if let Some(amount) = &cmd.amount {
            return Ok(amount.asset().code().to_owned());
        }
        let mut assets: Vec<String> = match &cmd.target {
            ReverseTarget::Credit(id) => {
                let credit = credits::get(conn, tenant.as_str(), *id)
                    .await?
                    .ok_or_else(|| AppError::NotFound(format!("no credit {}", credit_ref(*id))))?;
                vec![
                    repo::account(conn, tenant.as_str(), credit.account_id)
                        .await?
                        .asset,
                ]
            }
            ReverseTarget::Source(reference) => {
                credits::assets_by_source(conn, tenant.as_str(), &cmd.customer, reference).await?
            }
        };
        assets.dedup();
        match assets.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(AppError::NotFound(format!(
                "no credit of customer {} matches",
                cmd.customer
            ))),
            _ => Err(AppError::invalid(
                "amount",
                "credits in several assets match this source_reference; give an amount with its asset",
            )),
        }
    }

    /// Expires a lot's remainder (the expiry job); idempotent.
    #[tracing::instrument(name = "boomerang.wallet.ledger.expire", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn expire(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        credit_id: i64,
    ) -> Result<(), AppError> {
        let Some(credit) = credits::get(conn, tenant.as_str(), credit_id).await? else {
            return Ok(());
        };
        let owner = repo::account(conn, tenant.as_str(), credit.account_id).await?;
        let mut j = self.journal(tenant);
        j.lock(conn, vec![(owner.account.id.clone(), owner.asset.clone())])
            .await?;
        self.expire_lot(conn, &mut j, &owner.account.id, &owner.asset, credit_id)
            .await?;
        j.save(conn).await
    }

    /// Warns that a lot expires soon (the warning job), if anything is left.
    #[tracing::instrument(name = "boomerang.wallet.ledger.warn_expiry", skip_all, fields(tenant = %tenant), err(level = "info"))]
    pub async fn warn_expiry(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        credit_id: i64,
    ) -> Result<(), AppError> {
        let Some(credit) = credits::get(conn, tenant.as_str(), credit_id).await? else {
            return Ok(());
        };
        let left = credit.remaining + credit.pending;
        if left == 0 || credit.status == "expired" {
            return Ok(());
        }
        let owner = repo::account(conn, tenant.as_str(), credit.account_id).await?;
        if events::exists(
            conn,
            tenant.as_str(),
            "expiring_soon",
            &credit_ref(credit_id),
        )
        .await?
        {
            return Ok(()); // a retry after the warning committed
        }
        let event = events::NewEvent {
            kind: "expiring_soon",
            customer: owner.account.id,
            asset: owner.asset,
            amount: left,
            reference: credit_ref(credit_id),
            source_kind: credit.source_kind,
            source_ref: credit.source_ref,
        };
        events::append(conn, self.db(), tenant.as_str(), &event, self.clock().now()).await
    }
}
