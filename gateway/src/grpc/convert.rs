//! Conversions between `boomerang.admin.v1` messages and the gateway's domain.
use boomerang_common::{error::Violations, time::to_timestamp};
use boomerang_proto::admin::v1 as pb;

use crate::{
    domain::scope::{Access, Scope},
    repo::{KeyRecord, TenantRow},
};

/// Validated scopes (at least one).
pub fn scopes(v: &mut Violations, scopes: &[pb::Scope]) -> Vec<Scope> {
    if scopes.is_empty() || scopes.len() > 16 {
        v.add("scopes", "1 to 16 scopes");
    }
    scopes
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let access = match pb::Access::try_from(s.access) {
                Ok(pb::Access::Read) => "read",
                Ok(pb::Access::Write) => "write",
                Ok(pb::Access::Admin) => "admin",
                _ => {
                    v.add(format!("scopes[{i}].access"), "READ, WRITE or ADMIN");
                    return None;
                }
            };
            v.field(
                &format!("scopes[{i}].service"),
                format!("{}:{access}", s.service).parse::<Scope>(),
            )
        })
        .collect()
}

/// A key on the wire (never its secret).
pub fn to_key(k: &KeyRecord) -> pb::ApiKey {
    pb::ApiKey {
        key_id: k.key_id.clone(),
        tenant_id: k.tenant.to_string(),
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        scopes: k
            .scopes
            .iter()
            .map(|s| pb::Scope {
                service: s.service.clone(),
                access: (match s.access {
                    Access::Read => pb::Access::Read,
                    Access::Write => pb::Access::Write,
                    Access::Admin => pb::Access::Admin,
                }) as i32,
            })
            .collect(),
        created_at: Some(to_timestamp(k.created_at)),
        expires_at: k.expires_at.map(to_timestamp),
        revoked_at: k.revoked_at.map(to_timestamp),
    }
}

/// A tenant on the wire.
pub fn to_tenant(t: &TenantRow) -> pb::Tenant {
    pb::Tenant {
        tenant_id: t.tenant.to_string(),
        name: t.name.clone(),
        timezone: t.timezone.clone(),
        created_at: Some(to_timestamp(t.created_at)),
    }
}

pub use boomerang_common::paging::{next, page};
