//! gRPC handler of `ExportRows`: parse, one facade call, the chunks as a
//! server stream.
use boomerang_common::{
    error::Violations,
    stream::{self, BoxStream},
    tenant::tenant_of,
    time::instant,
};
use boomerang_proto::accrual::v1 as pb;
use tonic::{Request, Response, Status};

use super::convert;
use crate::{
    accrual::{Accrual, exports::What},
    domain::export::Format,
};

/// A period's rewards or tax report, as CSV or NDJSON chunks.
pub(super) fn export_rows(
    accrual: &Accrual,
    req: Request<pb::ExportRowsRequest>,
) -> Result<Response<BoxStream<pb::ExportRowsResponse>>, Status> {
    let tenant = tenant_of(&req)?;
    let req = req.into_inner();
    let mut v = Violations::new();
    let program_id = convert::id(&mut v, "program_id", &req.program_id);
    let what = match v.required::<pb::ExportKind>(
        "kind",
        req.kind,
        "EXPORT_KIND_REWARDS or EXPORT_KIND_TAX_REPORT",
    ) {
        Some(pb::ExportKind::TaxReport) => What::TaxReport,
        _ => What::Rewards,
    };
    let format = match v.required::<pb::ExportFormat>(
        "format",
        req.format,
        "EXPORT_FORMAT_CSV or EXPORT_FORMAT_NDJSON",
    ) {
        Some(pb::ExportFormat::Ndjson) => Format::Ndjson,
        _ => Format::Csv,
    };
    let from = instant(&mut v, "from", req.from.as_ref());
    let to = instant(&mut v, "to", req.to.as_ref());
    v.check()?;
    let chunks = accrual.export(tenant, program_id, what, format, (from, to));
    Ok(Response::new(stream::of(chunks, |data| {
        pb::ExportRowsResponse { data }
    })))
}
