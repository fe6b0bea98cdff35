//! Scopes: which services a caller may call, and how. API keys and tokens
//! hold them at the gateway; internal credentials carry them to services,
//! which check them again.
use std::{fmt, str::FromStr};

/// Access levels, each including the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Get*, List*, Preview*, Watch*, Follow*, Export*, Simulate* RPCs.
    Read,
    /// Every RPC of the service.
    Write,
    /// Everything, including AdminService.
    Admin,
}

/// A permission: `service:access`, where service is "wallet", "accrual",
/// "campaign", "referral", "notify", "admin" or "*".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// Short service name or "*".
    pub service: String,
    /// Level granted.
    pub access: Access,
}

const SERVICES: &[&str] = &[
    "wallet", "accrual", "campaign", "referral", "notify", "admin", "*",
];

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (service, access) = s
            .split_once(':')
            .ok_or_else(|| format!("scope {s:?} must look like service:access"))?;
        if !SERVICES.contains(&service) {
            return Err(format!(
                "unknown service {service:?} in scope; one of {SERVICES:?}"
            ));
        }
        let access = match access {
            "read" => Access::Read,
            "write" => Access::Write,
            "admin" => Access::Admin,
            other => {
                return Err(format!(
                    "unknown access {other:?}; one of read, write, admin"
                ));
            }
        };
        Ok(Self {
            service: service.to_owned(),
            access,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = match self.access {
            Access::Read => "read",
            Access::Write => "write",
            Access::Admin => "admin",
        };
        write!(f, "{}:{access}", self.service)
    }
}

/// Parses a stored comma-separated list.
pub fn parse_list(s: &str) -> Result<Vec<Scope>, String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}

/// Renders a list for storage.
pub fn render_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Methods that need the service's admin scope although they are no admin service.
const REVIEW_METHODS: [&str; 1] = ["ReviewPurchase"];

/// Methods only services call (through their outboxes): the gateway refuses
/// them to every key, services accept them only from a service credential.
/// Releasing held money is accrual's, after a reviewer decided (`ReviewPurchase`).
pub const SERVICE_ONLY: &[&str] = &[
    "/boomerang.referral.v1.ReferralService/OnPurchase",
    "/boomerang.referral.v1.ReferralService/OnReturn",
    "/boomerang.campaign.v1.CampaignService/ReserveBudget",
    "/boomerang.campaign.v1.CampaignService/ConfirmBudget",
    "/boomerang.campaign.v1.CampaignService/ReleaseBudget",
    "/boomerang.campaign.v1.CouponService/ReserveCoupon",
    "/boomerang.campaign.v1.CouponService/ConfirmCoupon",
    "/boomerang.campaign.v1.CouponService/ReleaseCoupon",
    "/boomerang.campaign.v1.CouponService/IssueVoucher",
    "/boomerang.campaign.v1.CouponService/VoidVoucher",
    "/boomerang.wallet.v1.WalletService/ReleaseCredit",
    "/boomerang.accrual.v1.AccrualService/FollowEvents",
    "/boomerang.campaign.v1.CampaignService/FollowEvents",
    "/boomerang.referral.v1.ReferralService/FollowEvents",
    "/boomerang.wallet.v1.WalletService/FollowEvents",
];

/// Whether `path` is for services only (see [`SERVICE_ONLY`]).
pub fn is_service_only(path: &str) -> bool {
    SERVICE_ONLY.contains(&path)
}

/// The short name of a Boomerang service ("boomerang.wallet.v1.WalletService"
/// -> "wallet"): scopes' service and credentials' audience.
pub fn short_name(service: &str) -> Option<&str> {
    service.strip_prefix("boomerang.")?.split('.').next()
}

/// What calling `path` (`/boomerang.wallet.v1.WalletService/Credit`) needs:
/// the short service name and the access level.
pub fn required(path: &str) -> Option<(&str, Access)> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    let short = short_name(service)?;
    // Deciding on fraud (a held purchase) and releasing held money are for
    // reviewers, not for the keys that record the purchases.
    // Where a tenant's events go (webhooks and their secrets) is its admins' call.
    let read = [
        "Get", "List", "Preview", "Watch", "Follow", "Export", "Simulate",
    ]
    .iter()
    .any(|p| method.starts_with(p));
    let access = if short == "admin" || REVIEW_METHODS.contains(&method) {
        Access::Admin
    } else if read {
        Access::Read
    } else if short == "notify" {
        Access::Admin
    } else {
        Access::Write
    };
    Some((short, access))
}

/// Whether `scopes` allow `access` on `service`. A scope covers its service
/// (or all with "*") at its level and below; `wallet:admin` is no platform key.
pub fn allows(scopes: &[Scope], service: &str, access: Access) -> bool {
    scopes
        .iter()
        .any(|s| (s.service == "*" || s.service == service) && s.access >= access)
}

/// Whether a key holding `holder` may hand out `wanted` (never more than it has).
pub fn covers(holder: &[Scope], wanted: &Scope) -> bool {
    holder
        .iter()
        .any(|s| (s.service == "*" || s.service == wanted.service) && s.access >= wanted.access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_by_method_name() {
        assert_eq!(
            required("/boomerang.wallet.v1.WalletService/GetBalance"),
            Some(("wallet", Access::Read))
        );
        assert_eq!(
            required("/boomerang.wallet.v1.WalletService/Credit"),
            Some(("wallet", Access::Write))
        );
        assert_eq!(
            required("/boomerang.notify.v1.WebhookService/CreateWebhook"),
            Some(("notify", Access::Admin))
        );
        assert_eq!(
            required("/boomerang.notify.v1.WebhookService/ListDeliveries"),
            Some(("notify", Access::Read))
        );
        assert_eq!(
            required("/boomerang.admin.v1.AdminService/ListTenants"),
            Some(("admin", Access::Admin))
        );
        assert_eq!(
            required("/boomerang.accrual.v1.AccrualService/ReviewPurchase"),
            Some(("accrual", Access::Admin))
        );
        // Exports are reads: a BI key with accrual:read takes them.
        assert_eq!(
            required("/boomerang.accrual.v1.AccrualService/ExportRows"),
            Some(("accrual", Access::Read))
        );
        assert_eq!(required("/grpc.health.v1.Health/Check"), None);
        assert!(is_service_only(
            "/boomerang.referral.v1.ReferralService/OnPurchase"
        ));
        assert!(!is_service_only(
            "/boomerang.referral.v1.ReferralService/AttributeReferral"
        ));
    }

    #[test]
    fn every_service_only_method_exists() -> Result<(), Box<dyn std::error::Error>> {
        use prost::Message as _;
        let set = prost_types::FileDescriptorSet::decode(boomerang_proto::FILE_DESCRIPTOR_SET)?;
        let methods: Vec<String> = set
            .file
            .iter()
            .flat_map(|f| {
                f.service.iter().flat_map(move |s| {
                    s.method
                        .iter()
                        .map(move |m| format!("/{}.{}/{}", f.package(), s.name(), m.name()))
                })
            })
            .collect();
        for path in SERVICE_ONLY {
            assert!(methods.iter().any(|m| m == path), "{path} is no RPC");
        }
        Ok(())
    }

    #[test]
    fn scopes_grant_by_service_and_level() -> Result<(), String> {
        let read_wallet = parse_list("wallet:read")?;
        assert!(allows(&read_wallet, "wallet", Access::Read));
        assert!(!allows(&read_wallet, "wallet", Access::Write));
        assert!(!allows(&read_wallet, "accrual", Access::Read));
        let all = parse_list("*:write")?;
        assert!(allows(&all, "campaign", Access::Write));
        assert!(!allows(&all, "admin", Access::Admin));
        assert!(allows(&parse_list("*:admin")?, "admin", Access::Admin));
        assert!(!allows(
            &parse_list("wallet:admin")?,
            "admin",
            Access::Admin
        ));
        assert!(!allows(
            &parse_list("wallet:admin")?,
            "accrual",
            Access::Read
        ));
        let tenant_admin = parse_list("wallet:admin,accrual:read")?;
        assert!(covers(&tenant_admin, &"wallet:write".parse()?));
        assert!(!covers(&tenant_admin, &"*:read".parse()?));
        assert_eq!(render_list(&all), "*:write");
        assert!(parse_list("wallet:root").is_err());
        assert!(parse_list("bank:read").is_err());
        Ok(())
    }
}
