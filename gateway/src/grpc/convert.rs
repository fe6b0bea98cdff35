//! Conversions between `boomerang.admin.v1` messages and the gateway's domain.
use boomerang_common::{error::Violations, time::to_timestamp};
use boomerang_proto::{admin::v1 as pb, common::v1::PageRequest};

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

/// Page size (default 50, at most 500) and the token to continue after.
pub fn page(p: Option<&PageRequest>) -> (i64, String) {
    let size = p.map_or(0, |p| p.page_size);
    (
        i64::from(if size == 0 { 50 } else { size.min(500) }),
        p.map(|p| p.page_token.clone()).unwrap_or_default(),
    )
}

/// Trims a page fetched with one extra row; the next token, or empty at the end.
pub fn next<T>(rows: &mut Vec<T>, size: i64, token: impl Fn(&T) -> String) -> String {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if rows.len() > size {
        rows.truncate(size);
        rows.last().map(token).unwrap_or_default()
    } else {
        String::new()
    }
}
