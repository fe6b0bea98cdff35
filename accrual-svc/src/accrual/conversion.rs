//! Points into money: whole blocks at the program's rate, in one balanced
//! wallet transaction keyed by the caller's idempotency key.
use boomerang_common::{error::AppError, money::Amount, tenant::TenantId};
use tracing::instrument;

use super::{Accrual, outbound::key, program_ref, upstream::Conversion};
use crate::repo;

/// A conversion done.
#[derive(Clone, Debug)]
pub struct Converted {
    /// Points spent (whole blocks).
    pub points: i64,
    /// Money credited.
    pub value: Amount,
    /// The wallet transaction.
    pub transaction_id: String,
}

impl Accrual {
    /// Converts points into money in whole blocks, in one wallet transaction.
    #[instrument(name = "boomerang.accrual.conversion.convert", skip_all,
                 fields(tenant = %tenant, program = %program_id, customer = %customer), err(level = "info"))]
    pub async fn convert(
        &self,
        tenant: &TenantId,
        program_id: &str,
        customer: &str,
        points: i64,
        idempotency_key: &str,
    ) -> Result<Converted, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        let t = tenant.as_str();
        let (version, program, _) = repo::program(&mut conn, t, program_id, None).await?;
        repo::get_member(&mut conn, self.db(), t, program_id, customer, false).await?;
        drop(conn);
        let conversion = program.conversion.ok_or_else(|| {
            AppError::Precondition(format!("program {program_id} has no points conversion"))
        })?;
        let blocks = points / conversion.points.max(1);
        if blocks == 0 {
            return Err(AppError::Precondition(format!(
                "convert at least {} PTS (one block)",
                conversion.points
            )));
        }
        let spent = blocks * conversion.points;
        let value = blocks
            .checked_mul(conversion.value.minor())
            .ok_or_else(|| AppError::invalid("points", "too many points to convert at once"))
            .and_then(|minor| {
                Amount::from_minor(minor, conversion.value.asset())
                    .map_err(|e| AppError::invalid("points", e.to_string()))
            })?;
        let ask = Conversion {
            key: key(tenant, &[program_id, customer, "convert", idempotency_key]),
            program_id: program_id.into(),
            customer: customer.into(),
            points: spent,
            value: value.clone(),
            reference: idempotency_key.into(),
            rule_version: program_ref(program_id, version),
            inputs: format!(
                "{points} PTS asked, {blocks} blocks of {}",
                conversion.points
            ),
        };
        let transaction_id = self.upstream().convert(tenant, ask).await?;
        Ok(Converted {
            points: spent,
            value,
            transaction_id,
        })
    }
}

impl Accrual {
    /// Tells watchers of a conversion, once per idempotency key (in the
    /// caller's transaction).
    pub async fn converted(
        &self,
        conn: &mut boomerang_common::db::Conn,
        tenant: &TenantId,
        program_id: &str,
        customer: &str,
        done: &Converted,
    ) -> Result<(), AppError> {
        let event = boomerang_proto::accrual::v1::WatchEventsResponse {
            r#type: boomerang_proto::accrual::v1::EventType::PointsConverted as i32,
            program_id: program_id.into(),
            customer_id: customer.into(),
            reference: done.transaction_id.clone(),
            amount: Some(done.value.to_wire()),
            message: format!("{} PTS converted", done.points),
            ..Default::default()
        };
        self.emit(conn, tenant, event).await
    }
}
