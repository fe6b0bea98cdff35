//! gRPC handlers of CampaignService's event streams: a tenant's events
//! (`WatchEvents`), and every tenant's for notify-svc (`FollowEvents`,
//! services only).
use boomerang_common::{
    error::Violations,
    events::{Cursor, Filter},
    stream::{self, BoxStream},
    tenant::tenant_of,
};
use boomerang_proto::campaign::v1 as pb;
use tonic::{Request, Response, Status};

use super::convert;
use crate::campaigns::Campaigns;

/// A tenant's events, filtered, from a cursor.
pub(super) fn watch(
    campaigns: &Campaigns,
    req: Request<pb::WatchEventsRequest>,
) -> Result<Response<BoxStream<pb::WatchEventsResponse>>, Status> {
    let tenant = tenant_of(&req)?;
    let req = req.into_inner();
    let cursor = Cursor::parse(&req.from_cursor)?;
    let mut v = Violations::new();
    if !req.campaign_id.is_empty() {
        convert::id(&mut v, "campaign_id", &req.campaign_id);
    }
    if !req.customer_id.is_empty() {
        boomerang_common::id::field(&mut v, "customer_id", &req.customer_id);
    }
    v.known_each::<pb::EventType>("types", &req.types, 8);
    v.check()?;
    let filter = Filter {
        types: req.types,
        scope: req.campaign_id,
        customer: req.customer_id,
    };
    Ok(Response::new(stream::of(
        campaigns.watch(tenant, cursor, filter),
        |e| e,
    )))
}

/// Every tenant's events from a cursor (the caller's tenant is no filter:
/// only services reach it).
pub(super) fn follow(
    campaigns: &Campaigns,
    req: Request<pb::FollowEventsRequest>,
) -> Result<Response<BoxStream<pb::FollowEventsResponse>>, Status> {
    tenant_of(&req)?;
    let cursor = Cursor::parse(&req.get_ref().from_cursor)?;
    let follow = |(tenant_id, event)| pb::FollowEventsResponse {
        tenant_id,
        event: Some(event),
    };
    Ok(Response::new(stream::of(campaigns.follow(cursor), follow)))
}
