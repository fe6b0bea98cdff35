//! gRPC handler of `ExportStatements`: parse, one facade call, the chunks as
//! a server stream.
use boomerang_common::{
    error::Violations,
    export::Format,
    stream::{self, BoxStream},
    tenant::tenant_of,
};
use boomerang_proto::wallet::v1 as pb;
use tonic::{Request, Response, Status};

use super::convert;
use crate::ledger::{Ledger, StatementFilter};

/// One customer's or every customer's statement lines, as CSV or NDJSON chunks.
pub(super) fn export_statements(
    ledger: &Ledger,
    req: Request<pb::ExportStatementsRequest>,
) -> Result<Response<BoxStream<pb::ExportStatementsResponse>>, Status> {
    let tenant = tenant_of(&req)?;
    let req = req.into_inner();
    let mut v = Violations::new();
    let customer = if req.customer_id.is_empty() {
        String::new()
    } else {
        convert::id(&mut v, "customer_id", &req.customer_id)
    };
    if !req.asset.is_empty() {
        convert::asset(&mut v, "asset", &req.asset);
    }
    let format = match v.required::<pb::ExportFormat>(
        "format",
        req.format,
        "EXPORT_FORMAT_CSV or EXPORT_FORMAT_NDJSON",
    ) {
        Some(pb::ExportFormat::Ndjson) => Format::Ndjson,
        _ => Format::Csv,
    };
    let filter = StatementFilter {
        customer,
        asset: req.asset,
        from: convert::instant(&mut v, "from", req.from.as_ref()),
        to: convert::instant(&mut v, "to", req.to.as_ref()),
    };
    v.check()?;
    let chunks = ledger.export_statements(tenant, filter, format);
    Ok(Response::new(stream::of(chunks, |data| {
        pb::ExportStatementsResponse { data }
    })))
}
