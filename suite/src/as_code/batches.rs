//! A campaign file's coupon batches (`couponBatches:`), each a
//! `CreateCouponBatchRequest` without its key and campaign. Plan checks each
//! with campaign-svc (`validate_only`) and compares it with the live batch
//! of its id: a batch never changes, so one that differs is refused; apply
//! creates the new ones after the campaign's publish. `get` writes the live
//! ones (not the campaign's vouchers, which are the service's own).
use boomerang_proto::campaign::v1::{self as cpb, create_coupon_batch_request::Codes};
use campaign_svc::campaigns::coupons::VOUCHERS;
use prost_reflect::DescriptorPool;
use tonic::{Code, Status};

use super::{
    Document, FileProblem,
    client::Platform,
    plan::{invalid, upstream},
    render::Tree,
    spec::{self, Lines, Problem},
    yaml::{Node, Value},
};

/// The file's key.
pub const FIELD: &str = "couponBatches";
/// The message each batch is.
pub const MESSAGE: &str = "boomerang.campaign.v1.CreateCouponBatchRequest";
/// The request's fields a file leaves to its id and to plan and apply.
pub const NOT_IN_FILES: &[(&str, &str)] = &[
    ("idempotencyKey", "set by apply from the content"),
    ("campaignId", "set by the file's id"),
    ("validateOnly", "set by plan"),
];

/// A batch as a file and plan hold it: its campaign set to the file's id.
pub type Batch = cpb::CreateCouponBatchRequest;

/// Reads a file's `couponBatches` list (for `campaign`), noting lines and
/// problems; None when something in it is wrong.
pub fn read(
    pool: &DescriptorPool,
    node: &Node,
    campaign: &str,
    lines: &mut Lines,
    problems: &mut Vec<Problem>,
) -> anyhow::Result<Option<Vec<Batch>>> {
    let desc = spec::message(pool, MESSAGE)?;
    let Value::Seq(items) = &node.value else {
        problems.push(Problem {
            line: node.line,
            field: FIELD.into(),
            message: format!("must be a list of coupon batches, not {}", node.kind()),
        });
        return Ok(None);
    };
    let mut batches = Vec::with_capacity(items.len());
    let before = problems.len();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{FIELD}[{i}]");
        lines.insert(at.clone(), item.line);
        let json = spec::read(&desc, item, &at, lines, problems);
        for (field, why) in NOT_IN_FILES {
            let field = format!("{at}.{field}");
            if let Some(line) = lines.get(&field) {
                problems.push(Problem {
                    line: *line,
                    message: format!("not in a file: {why}"),
                    field,
                });
            }
        }
        let Some(json) = json else { continue };
        match spec::decode::<Batch>(&desc, &json) {
            Ok(batch) => {
                let id_at = format!("{at}.batchId");
                if let Some(first) = batches
                    .iter()
                    .position(|b: &Batch| b.batch_id == batch.batch_id)
                {
                    problems.push(Problem {
                        line: spec::line_of(lines, &id_at),
                        field: id_at,
                        message: format!("also {FIELD}[{first}]: a batch id is one batch"),
                    });
                }
                batches.push(Batch {
                    campaign_id: campaign.to_owned(),
                    ..batch
                });
            }
            Err(message) => problems.push(Problem {
                line: item.line,
                field: at,
                message,
            }),
        }
    }
    Ok((problems.len() == before).then_some(batches))
}

/// The batches as a file writes them (no campaign, in the proto's order).
pub fn tree(pool: &DescriptorPool, batches: &[Batch]) -> anyhow::Result<Tree> {
    let desc = spec::message(pool, MESSAGE)?;
    let items = batches
        .iter()
        .map(|b| {
            let json = spec::encode(
                &desc,
                &Batch {
                    campaign_id: String::new(),
                    ..b.clone()
                },
            )?;
            Ok(Tree::ordered(&json, Some(&desc)))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Tree::List(items))
}

/// Campaign `campaign`'s live batches as a file writes them, the vouchers'
/// (the service's own) left out; the given codes of those `listed` names,
/// by code (byte order, whatever the database's collation).
pub async fn live(
    client: &mut Platform,
    campaign: &str,
    listed: impl Fn(&str) -> bool,
) -> Result<Vec<Batch>, Status> {
    let mut out = Vec::new();
    for b in client.batches(campaign).await? {
        if b.batch_id == VOUCHERS {
            continue;
        }
        let codes = if b.pattern.is_empty() {
            let mut codes = if listed(&b.batch_id) {
                client.codes(campaign, &b.batch_id).await?
            } else {
                Vec::new()
            };
            codes.sort_by(|a, b| a.code.cmp(&b.code));
            Codes::Given(cpb::GivenCodes { codes })
        } else {
            Codes::Pattern(cpb::CodePattern {
                pattern: b.pattern,
                count: u32::try_from(b.requested).unwrap_or(u32::MAX),
            })
        };
        out.push(Batch {
            campaign_id: campaign.to_owned(),
            batch_id: b.batch_id,
            rules: b.rules,
            codes: Some(codes),
            ..Default::default()
        });
    }
    Ok(out)
}

/// A campaign file's batches against the live ones.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    /// Every batch of the file, as the service would store it.
    pub all: Vec<Batch>,
    /// Those to create.
    pub create: Vec<Batch>,
    /// Live batches in no file (a batch is never removed).
    pub unfiled: Vec<String>,
}

/// Checks `doc`'s batches with the service (against its live campaign, when
/// `live`) and compares them with the live ones: the plan, or every problem.
pub async fn plan(
    client: &mut Platform,
    doc: &Document,
    live: bool,
) -> anyhow::Result<Result<Planned, Vec<FileProblem>>> {
    let in_file = |id: &str| doc.batches.iter().any(|b| b.batch_id == id);
    let live_batches = if live {
        self::live(client, &doc.id, in_file)
            .await
            .map_err(upstream)?
    } else {
        Vec::new()
    };
    let mut planned = Planned::default();
    let mut problems = Vec::new();
    for (i, batch) in doc.batches.iter().enumerate() {
        let was = live_batches.iter().find(|b| b.batch_id == batch.batch_id);
        let check = match was {
            // Compared with its live self: the rules as the service would
            // store them (its codes, live already, are compared as written).
            Some(_) => Batch {
                campaign_id: String::new(),
                codes: Some(Codes::Pattern(cpb::CodePattern {
                    pattern: "####".into(),
                    count: 1,
                })),
                ..batch.clone()
            },
            // New: as its create would be (what needs no campaign, for a
            // campaign not created yet).
            None if live => batch.clone(),
            None => Batch {
                campaign_id: String::new(),
                ..batch.clone()
            },
        };
        let stored = match client.check_batch(&check).await {
            Ok(stored) => stored,
            Err(status) => {
                problems.extend(refused(doc, i, &status)?);
                continue;
            }
        };
        let batch = normalised(batch, stored.rules);
        match was {
            Some(was) if *was != batch => problems.push(doc.problem(
                &format!("{FIELD}[{i}]"),
                &format!(
                    "batch {} is live with other rules or codes: a batch never changes, so give the change a new batchId",
                    batch.batch_id
                ),
            )),
            Some(_) => {}
            None => planned.create.push(batch.clone()),
        }
        planned.all.push(batch);
    }
    planned.unfiled = live_batches
        .into_iter()
        .filter(|b| !in_file(&b.batch_id))
        .map(|b| b.batch_id)
        .collect();
    Ok(if problems.is_empty() {
        Ok(planned)
    } else {
        Err(problems)
    })
}

/// `batch` with the rules as the service stores them and its codes as
/// codes are (upper-case, a batch's given codes by code).
fn normalised(batch: &Batch, rules: Option<cpb::CouponRules>) -> Batch {
    let codes = batch.codes.clone().map(|codes| match codes {
        Codes::Pattern(p) => Codes::Pattern(cpb::CodePattern {
            pattern: p.pattern.trim().to_ascii_uppercase(),
            ..p
        }),
        Codes::Given(g) => {
            let mut codes: Vec<cpb::GivenCode> = g
                .codes
                .into_iter()
                .map(|c| cpb::GivenCode {
                    code: c.code.trim().to_ascii_uppercase(),
                    ..c
                })
                .collect();
            codes.sort_by(|a, b| a.code.cmp(&b.code));
            Codes::Given(cpb::GivenCodes { codes })
        }
    });
    Batch {
        idempotency_key: String::new(),
        validate_only: false,
        rules,
        codes,
        ..batch.clone()
    }
}

/// One line of a plan for a batch to create.
pub fn described(batch: &Batch) -> String {
    let codes = match &batch.codes {
        Some(Codes::Pattern(p)) => format!("{} codes from {}", p.count, p.pattern),
        Some(Codes::Given(g)) if g.codes.len() == 1 => "1 code given".to_owned(),
        Some(Codes::Given(g)) => format!("{} codes given", g.codes.len()),
        None => "no codes".to_owned(),
    };
    format!("+ coupon batch {}: {codes}", batch.batch_id)
}

/// The service's refusal of batch `i` of `doc`, at its fields.
fn refused(doc: &Document, i: usize, status: &Status) -> anyhow::Result<Vec<FileProblem>> {
    let at = format!("{FIELD}[{i}]");
    match status.code() {
        Code::InvalidArgument => Ok(invalid(status, |field, why| {
            let field = match field {
                "" => at.clone(),
                field => format!("{at}.{}", spec::camel_path(field)),
            };
            doc.problem(&field, why)
        })),
        Code::AlreadyExists | Code::FailedPrecondition | Code::NotFound => {
            Ok(vec![doc.problem(&at, status.message())])
        }
        _ => Err(upstream(status.clone())),
    }
}
