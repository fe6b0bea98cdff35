//! What a file may describe: its `kind`, the API message its `spec` is, and
//! the fields the service sets (never written in a file).
use boomerang_proto::{accrual::v1 as apb, campaign::v1 as cpb, referral::v1 as rpb};
use prost_reflect::DescriptorPool;
use serde_json::Value as Json;

use super::{render::Tree, spec};

/// A file's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Kind {
    /// A loyalty program (`boomerang.accrual.v1.Program`), one per id.
    Program,
    /// The tenant's referral program (`boomerang.referral.v1.ReferralProgram`):
    /// one per tenant, so its file has no id.
    ReferralProgram,
    /// A campaign (`boomerang.campaign.v1.CampaignSpec`), one per id, with
    /// the lifecycle state wanted in `status` (optional).
    Campaign,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Program, Kind::ReferralProgram, Kind::Campaign];

    /// As written in `kind:`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Program => "Program",
            Kind::ReferralProgram => "ReferralProgram",
            Kind::Campaign => "Campaign",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == text)
    }

    /// The message a file's spec is.
    pub fn message(self) -> &'static str {
        match self {
            Kind::Program => "boomerang.accrual.v1.Program",
            Kind::ReferralProgram => "boomerang.referral.v1.ReferralProgram",
            Kind::Campaign => "boomerang.campaign.v1.CampaignSpec",
        }
    }

    /// Whether a file names one with `id` (else there is one per tenant).
    pub fn has_id(self) -> bool {
        matches!(self, Kind::Program | Kind::Campaign)
    }

    /// Whether a file may name the lifecycle state wanted (`status`).
    pub fn has_status(self) -> bool {
        matches!(self, Kind::Campaign)
    }

    /// Whether a file may hold coupon batches (`couponBatches`).
    pub fn has_batches(self) -> bool {
        matches!(self, Kind::Campaign)
    }

    /// The spec's fields a file leaves to its `id` and to the service
    /// (proto3 JSON names), with why.
    pub fn not_in_files(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Program => &[
                ("programId", "set by the file's id"),
                ("version", "set by the service"),
                ("publishedAt", "set by the service"),
            ],
            Kind::ReferralProgram => &[
                ("version", "set by the service"),
                ("publishedAt", "set by the service"),
            ],
            Kind::Campaign => &[],
        }
    }

    /// The request's field the spec is, and the field the file's id is, as
    /// the service's field violations name them.
    pub fn violation_root(self) -> (&'static str, Option<&'static str>) {
        match self {
            Kind::Program => ("program", Some("program.program_id")),
            Kind::ReferralProgram => ("program", None),
            Kind::Campaign => ("spec", Some("campaign_id")),
        }
    }

    /// One of this kind as people read it: "program summer", "the referral program".
    pub fn named(self, id: &str) -> String {
        match self {
            Kind::Program => format!("program {id}"),
            Kind::ReferralProgram => "the referral program".into(),
            Kind::Campaign => format!("campaign {id}"),
        }
    }
}

/// A spec of some kind, as the API's message.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Program(Box<apb::Program>),
    ReferralProgram(rpb::ReferralProgram),
    /// A campaign: its id, spec and (in a file) the status wanted, or
    /// unspecified.
    Campaign(Box<cpb::Campaign>),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Program(_) => Kind::Program,
            Spec::ReferralProgram(_) => Kind::ReferralProgram,
            Spec::Campaign(_) => Kind::Campaign,
        }
    }

    /// Its id (empty for one per tenant).
    pub fn id(&self) -> &str {
        match self {
            Spec::Program(p) => &p.program_id,
            Spec::ReferralProgram(_) => "",
            Spec::Campaign(c) => &c.campaign_id,
        }
    }

    /// The version the service gave it (0 in a file).
    pub fn version(&self) -> u32 {
        match self {
            Spec::Program(p) => p.version,
            Spec::ReferralProgram(p) => p.version,
            Spec::Campaign(c) => c.version,
        }
    }

    /// Without what the service sets: what a publish sends.
    pub fn content(&self) -> Spec {
        match self {
            Spec::Program(p) => Spec::Program(Box::new(apb::Program {
                version: 0,
                published_at: None,
                ..(**p).clone()
            })),
            Spec::ReferralProgram(p) => Spec::ReferralProgram(rpb::ReferralProgram {
                version: 0,
                published_at: None,
                ..p.clone()
            }),
            Spec::Campaign(c) => Spec::Campaign(Box::new(cpb::Campaign {
                campaign_id: c.campaign_id.clone(),
                status: c.status,
                spec: c.spec.clone(),
                ..Default::default()
            })),
        }
    }

    /// A campaign's status (live, or wanted in a file), else None.
    pub fn status(&self) -> Option<cpb::CampaignStatus> {
        match self {
            Spec::Campaign(c) => Some(c.status()),
            _ => None,
        }
    }

    /// A file's `spec` read by [`spec::read`], with `id` set.
    pub fn decode(
        pool: &DescriptorPool,
        kind: Kind,
        id: &str,
        json: &Json,
    ) -> Result<Spec, String> {
        let desc = spec::message(pool, kind.message()).map_err(|e| e.to_string())?;
        Ok(match kind {
            Kind::Program => Spec::Program(Box::new(apb::Program {
                program_id: id.to_owned(),
                ..spec::decode(&desc, json)?
            })),
            Kind::ReferralProgram => Spec::ReferralProgram(spec::decode(&desc, json)?),
            Kind::Campaign => Spec::Campaign(Box::new(cpb::Campaign {
                campaign_id: id.to_owned(),
                spec: Some(spec::decode(&desc, json)?),
                ..Default::default()
            })),
        })
    }

    /// The spec as a file holds it (no id, no service fields), fields in
    /// the proto's order: what `get` writes and what plan compares.
    pub fn tree(&self, pool: &DescriptorPool) -> anyhow::Result<Tree> {
        let desc = spec::message(pool, self.kind().message())?;
        let json = match self.content() {
            Spec::Program(p) => spec::encode(
                &desc,
                &apb::Program {
                    program_id: String::new(),
                    ..*p
                },
            )?,
            Spec::ReferralProgram(p) => spec::encode(&desc, &p)?,
            Spec::Campaign(c) => spec::encode(&desc, &c.spec.unwrap_or_default())?,
        };
        Ok(Tree::ordered(&json, Some(&desc)))
    }
}
