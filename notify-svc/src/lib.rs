//! notify-svc: events out. It follows the durable event logs of accrual,
//! wallet and campaign-svc, maps each event to one public CloudEvents 1.0
//! envelope and delivers it to the tenant's signed webhooks and to NATS
//! JetStream.
//!
//! This first slice is the pure [`domain`]: the envelope, the Standard
//! Webhooks signature, the guard on webhook targets and the retry schedule.
//! The service around it (followers, deliveries, `WebhookService`) comes next.
pub mod domain;
