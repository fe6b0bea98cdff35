//! Requests parsed into the facade's terms, rows rendered into messages.
use boomerang_common::{error::Violations, time::to_timestamp};
use boomerang_proto::notify::v1 as pb;

use crate::{
    domain::{envelope::Kind, target::Target},
    notify::webhooks::{Spec, State},
    repo::{AttemptRow, DeliveryRow, WebhookRow},
};

/// The longest description.
const MAX_DESCRIPTION: usize = 256;
/// Most dead letters one replay names.
pub const MAX_REPLAY: usize = 500;

/// A webhook's URL, types and description, checked.
pub fn spec(
    v: &mut Violations,
    url: &str,
    types: &[String],
    description: &str,
    allow_private: bool,
) -> Spec {
    // Kept as it will be called (normalised).
    let url = match Target::parse(url, allow_private) {
        Ok(t) => t.url().to_owned(),
        Err(e) => {
            v.add("url", e);
            url.to_owned()
        }
    };
    let mut names: Vec<String> = Vec::new();
    if types.len() > Kind::ALL.len() {
        v.add("types", format!("at most {} types", Kind::ALL.len()));
    }
    for t in types.iter().take(Kind::ALL.len()) {
        let short = t
            .strip_prefix("boomerang.")
            .and_then(|n| n.strip_suffix(".v1"));
        match Kind::parse(short.unwrap_or(t)) {
            Some(k) if !names.iter().any(|n| n == k.name()) => names.push(k.name().to_owned()),
            Some(_) => {}
            None => v.add(
                "types",
                format!(
                    "unknown event type {:?}",
                    t.chars().take(64).collect::<String>()
                ),
            ),
        }
    }
    if description.chars().count() > MAX_DESCRIPTION {
        v.add(
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        );
    }
    Spec {
        url,
        types: names,
        description: description.to_owned(),
    }
}

/// A webhook id, checked for shape.
pub fn webhook_id(v: &mut Violations, raw: &str) -> String {
    let ok = raw.len() <= 64
        && raw
            .strip_prefix("wh_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit()));
    if !ok {
        v.add("webhook_id", "a webhook id, wh_...");
    }
    raw.to_owned()
}

/// A delivery id ("dl_<n>").
pub fn delivery_id(raw: &str) -> Option<i64> {
    raw.strip_prefix("dl_")?.parse().ok().filter(|n| *n > 0)
}

fn state(s: &str) -> pb::WebhookState {
    match s {
        "active" => pb::WebhookState::Active,
        "paused" => pb::WebhookState::Paused,
        "deleted" => pb::WebhookState::Deleted,
        _ => pb::WebhookState::Unspecified,
    }
}

/// What a delivery state filter asks for, as stored ("" = any).
pub fn delivery_state(s: pb::DeliveryState) -> &'static str {
    match s {
        pb::DeliveryState::Unspecified => "",
        pb::DeliveryState::Pending => "pending",
        pb::DeliveryState::Delivered => "delivered",
        pb::DeliveryState::DeadLetter => "dead",
    }
}

/// A webhook's state as stored.
pub fn stored(s: State) -> pb::WebhookState {
    state(s.as_str())
}

/// A webhook, its secret never.
pub fn to_webhook(w: &WebhookRow) -> pb::Webhook {
    pb::Webhook {
        webhook_id: w.id.clone(),
        url: w.url.clone(),
        types: w.types.clone(),
        description: w.description.clone(),
        state: state(&w.state) as i32,
        created_at: Some(to_timestamp(w.created_at)),
        updated_at: Some(to_timestamp(w.updated_at)),
    }
}

fn when(micros: i64) -> Option<prost_types::Timestamp> {
    (micros > 0).then(|| to_timestamp(micros))
}

/// A delivery with its latest attempts.
pub fn to_delivery(d: &DeliveryRow, attempts: &[AttemptRow]) -> pb::Delivery {
    let state = match d.state.as_str() {
        "pending" => pb::DeliveryState::Pending,
        "delivered" => pb::DeliveryState::Delivered,
        "dead" => pb::DeliveryState::DeadLetter,
        _ => pb::DeliveryState::Unspecified,
    };
    pb::Delivery {
        delivery_id: format!("dl_{}", d.id),
        webhook_id: d.webhook_id.clone(),
        event_id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        subject: d.subject.clone(),
        state: state as i32,
        attempts: u32::try_from(d.attempts).unwrap_or(u32::MAX),
        created_at: when(d.created_at),
        next_attempt_at: if state == pb::DeliveryState::Pending {
            when(d.next_at)
        } else {
            None
        },
        delivered_at: when(d.delivered_at),
        recent_attempts: attempts
            .iter()
            .map(|a| pb::Attempt {
                at: when(a.at),
                status_code: u32::try_from(a.status_code).unwrap_or_default(),
                latency_ms: u32::try_from(a.latency_ms).unwrap_or(u32::MAX),
                error: a.error.clone(),
            })
            .collect(),
    }
}
