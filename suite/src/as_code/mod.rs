//! Loyalty programs as code: files in the API's own shape (YAML or JSON),
//! `boomerang get` to write the live state as such a file, `plan` to show
//! what applying a folder of them would change, and `apply` to change it
//! (docs/as-code.md).
//!
//! A file is one document:
//!
//! ```yaml
//! apiVersion: boomerang.dev/v1
//! kind: Program    # or ReferralProgram (one per tenant: no id), or Campaign
//! id: summer
//! spec:            # boomerang.accrual.v1.Program in proto3 JSON names
//!   name: Summer
//!   earnRules:
//!     - asset: EUR
//!       basis: EARN_BASIS_PERCENT
//!       rate: 7.5    # read as written: the decimal 7.5
//! ```
use std::{fmt, path::Path};

use boomerang_proto::campaign::v1::CampaignStatus;
use prost_reflect::DescriptorPool;

pub mod apply;
pub mod batches;
pub mod cli;
pub mod client;
pub mod kind;
pub mod lifecycle;
pub mod plan;
pub mod render;
pub mod schema;
pub mod show;
pub mod spec;
pub mod yaml;

pub use kind::{Kind, Spec};
use render::Tree;
use spec::{Lines, Problem};

/// The version of the file format.
pub const API_VERSION: &str = "boomerang.dev/v1";

/// A file read and checked on this side: a spec to plan.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file, as named on the command line's folder.
    pub file: String,
    /// Its id (empty for a kind with one per tenant).
    pub id: String,
    /// The spec, with its id set.
    pub spec: Spec,
    /// Where each field was written.
    pub lines: Lines,
    /// A campaign's coupon batches, as written.
    pub batches: Vec<batches::Batch>,
}

impl Document {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    /// "program summer", "the referral program".
    pub fn named(&self) -> String {
        self.kind().named(&self.id)
    }

    /// A server's refusal of `field` (e.g. `program.earn_rules[0].rate`) as
    /// `file:line: spec.earnRules[0].rate: message`.
    pub fn at(&self, violation_field: &str, message: &str) -> FileProblem {
        let (root, id_field) = self.kind().violation_root();
        let field = spec::file_field(violation_field, root, id_field);
        FileProblem {
            file: self.file.clone(),
            problem: Problem {
                line: spec::line_of(&self.lines, &field),
                field,
                message: message.to_owned(),
            },
        }
    }

    /// A problem with the file as a whole (at its id, or its kind without one).
    pub fn whole(&self, message: &str) -> FileProblem {
        self.problem(if self.kind().has_id() { "id" } else { "kind" }, message)
    }

    /// A problem at a field of the file (`status`, `spec.name`).
    pub fn problem(&self, field: &str, message: &str) -> FileProblem {
        FileProblem {
            file: self.file.clone(),
            problem: Problem {
                line: spec::line_of(&self.lines, field),
                field: field.into(),
                message: message.to_owned(),
            },
        }
    }
}

/// A problem in a named file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileProblem {
    pub file: String,
    pub problem: Problem,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Problem {
            line,
            field,
            message,
        } = &self.problem;
        if field.is_empty() {
            write!(f, "{}:{line}: {message}", self.file)
        } else {
            write!(f, "{}:{line}: {field}: {message}", self.file)
        }
    }
}

/// Reads every `*.yaml`, `*.yml` and `*.json` under `dir` (sorted, nested
/// folders included): the documents read, and every problem found (a file
/// with one is not among the documents).
pub fn load_dir(
    pool: &DescriptorPool,
    dir: &Path,
) -> anyhow::Result<(Vec<Document>, Vec<FileProblem>)> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    if files.is_empty() {
        anyhow::bail!("no .yaml, .yml or .json files under {}", dir.display());
    }
    files.sort();
    let mut documents = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let source = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        match read(pool, &name, &source)? {
            Ok(doc) => documents.push(doc),
            Err(found) => problems.extend(found),
        }
    }
    problems.extend(codes_given_twice(&documents));
    for (i, doc) in documents.iter().enumerate() {
        if let Some(first) = documents[..i]
            .iter()
            .find(|d| (d.kind(), &d.id) == (doc.kind(), &doc.id))
        {
            problems.push(doc.whole(&format!("{} is also in {}", doc.named(), first.file)));
        }
    }
    Ok((documents, problems))
}

/// Codes given in two batches (in one file or two): a code is one in its
/// tenant, so the second batch's create would be refused.
fn codes_given_twice(documents: &[Document]) -> Vec<FileProblem> {
    use boomerang_proto::campaign::v1::create_coupon_batch_request::Codes;
    let mut first: std::collections::BTreeMap<String, (String, usize)> = Default::default();
    let mut problems = Vec::new();
    for doc in documents {
        for (i, batch) in doc.batches.iter().enumerate() {
            let Some(Codes::Given(given)) = &batch.codes else {
                continue;
            };
            for (j, code) in given.codes.iter().enumerate() {
                let code = code.code.trim().to_ascii_uppercase();
                let at = format!("{}[{i}]", batches::FIELD);
                match first.get(&code) {
                    // Twice in one batch is the service's to refuse.
                    Some((file, k)) if *file == doc.file && *k == i => {}
                    Some((file, k)) => problems.push(doc.problem(
                        &format!("{at}.given.codes[{j}].code"),
                        &format!("{code} is also given in {file} {}[{k}]", batches::FIELD),
                    )),
                    None => {
                        first.insert(code, (doc.file.clone(), i));
                    }
                }
            }
        }
    }
    problems
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        // Hidden entries (.git, .github) are not program files; links are not followed.
        if entry.file_name().to_string_lossy().starts_with('.') || entry.file_type()?.is_symlink() {
            continue;
        }
        if path.is_dir() {
            collect(&path, files)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads one file's text.
pub fn read(
    pool: &DescriptorPool,
    file: &str,
    source: &str,
) -> anyhow::Result<Result<Document, Vec<FileProblem>>> {
    let mut lines = Lines::new();
    let mut problems = Vec::new();
    let spec = read_spec(pool, source, &mut lines, &mut problems)?;
    Ok(match spec {
        Some((id, spec, batches)) if problems.is_empty() => Ok(Document {
            file: file.to_owned(),
            id,
            spec,
            lines,
            batches,
        }),
        _ => Err(problems
            .into_iter()
            .map(|problem| FileProblem {
                file: file.to_owned(),
                problem,
            })
            .collect()),
    })
}

fn read_spec(
    pool: &DescriptorPool,
    source: &str,
    lines: &mut Lines,
    problems: &mut Vec<Problem>,
) -> anyhow::Result<Option<(String, Spec, Vec<batches::Batch>)>> {
    let mut problem = |line: usize, field: &str, message: String| {
        problems.push(Problem {
            line,
            field: field.to_owned(),
            message,
        });
    };
    let root = match yaml::parse(source) {
        Ok(root) => root,
        Err(e) => {
            problem(e.line, "", e.message);
            return Ok(None);
        }
    };
    let yaml::Value::Map(entries) = &root.value else {
        problem(
            root.line,
            "",
            format!(
                "must be a mapping of apiVersion, kind, id and spec, not {}",
                root.kind()
            ),
        );
        return Ok(None);
    };
    let (mut kind, mut id, mut spec, mut status, mut coupons) = (None, None, None, None, None);
    for (key, value) in entries {
        let name = key.text().unwrap_or_default();
        lines.insert(name.to_owned(), key.line);
        let text = value.text().unwrap_or_default();
        match name {
            "apiVersion" if text != API_VERSION => {
                problem(key.line, name, format!("must be {API_VERSION}"));
            }
            "apiVersion" => {}
            "kind" => match Kind::parse(text) {
                Some(k) => kind = Some(k),
                None => {
                    let kinds: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
                    problem(
                        key.line,
                        name,
                        format!("must be one of: {}", kinds.join(", ")),
                    );
                }
            },
            "id" if text.is_empty() || value.is_null() => {
                problem(key.line, name, "must be an id".into())
            }
            "id" => match boomerang_common::id::check(text) {
                Ok(()) => id = Some((text.to_owned(), key.line)),
                Err(e) => problem(key.line, name, e.to_string()),
            },
            "spec" => spec = Some(value),
            batches::FIELD => coupons = Some((value, key.line)),
            "status" => match CampaignStatus::from_str_name(text) {
                Some(s) if s != CampaignStatus::Unspecified => status = Some((s, key.line)),
                _ => problem(
                    key.line,
                    name,
                    "must be one of CAMPAIGN_STATUS_DRAFT, CAMPAIGN_STATUS_SCHEDULED, \
                     CAMPAIGN_STATUS_ACTIVE, CAMPAIGN_STATUS_PAUSED, CAMPAIGN_STATUS_ENDED, \
                     CAMPAIGN_STATUS_ARCHIVED"
                        .into(),
                ),
            },
            _ => problem(
                key.line,
                name,
                "unknown field (a file has apiVersion, kind, id, spec and, for a campaign, status and couponBatches)"
                    .into(),
            ),
        }
    }
    for required in ["apiVersion", "kind", "spec"] {
        if !lines.contains_key(required) {
            problem(root.line, required, "missing".into());
        }
    }
    let Some(kind) = kind else {
        return Ok(None);
    };
    let id = match id {
        _ if kind.has_id() && !lines.contains_key("id") => {
            problem(root.line, "id", "missing".into());
            None
        }
        Some((_, line)) if !kind.has_id() => {
            problem(
                line,
                "id",
                format!("not in a {} file: there is one per tenant", kind.name()),
            );
            None
        }
        Some((id, _)) => Some(id),
        None => Some(String::new()),
    };
    if let Some((_, line)) = status.filter(|_| !kind.has_status()) {
        problem(
            line,
            "status",
            format!(
                "not in a {} file: only a campaign has a lifecycle",
                kind.name()
            ),
        );
        return Ok(None);
    }
    if let Some((_, line)) = coupons.filter(|_| !kind.has_batches()) {
        problem(
            line,
            batches::FIELD,
            format!(
                "not in a {} file: only a campaign has coupon codes",
                kind.name()
            ),
        );
        return Ok(None);
    }
    let (Some(id), Some(spec)) = (id, spec) else {
        return Ok(None);
    };
    let coupons = match coupons {
        Some((node, _)) => batches::read(pool, node, &id, lines, problems)?,
        None => Some(Vec::new()),
    };
    let desc = spec::message(pool, kind.message())?;
    let mut found = Vec::new();
    let json = spec::read(&desc, spec, "spec", lines, &mut found);
    for (field, why) in kind.not_in_files() {
        let field = format!("spec.{field}");
        if let Some(line) = lines.get(&field) {
            found.push(Problem {
                line: *line,
                message: format!("not in a file: {why}"),
                field,
            });
        }
    }
    let failed = !found.is_empty();
    problems.extend(found);
    let (Some(json), Some(coupons)) = (json.filter(|_| !failed), coupons) else {
        return Ok(None);
    };
    match Spec::decode(pool, kind, &id, &json) {
        Ok(Spec::Campaign(mut campaign)) => {
            campaign.status = status.map_or(0, |(s, _)| s as i32);
            Ok(Some((id, Spec::Campaign(campaign), coupons)))
        }
        Ok(spec) => Ok(Some((id, spec, coupons))),
        Err(message) => {
            problems.push(Problem {
                line: spec::line_of(lines, "spec"),
                field: "spec".into(),
                message,
            });
            Ok(None)
        }
    }
}

/// The file format's text for a program: `Yaml` or `Json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

/// The whole file's text for `spec` and a campaign's `coupons`, as read live.
pub fn write(
    pool: &DescriptorPool,
    spec: &Spec,
    coupons: &[batches::Batch],
    format: Format,
) -> anyhow::Result<String> {
    let kind = spec.kind();
    let mut fields = vec![
        ("apiVersion".to_owned(), Tree::Text(API_VERSION.into())),
        ("kind".to_owned(), Tree::Text(kind.name().into())),
    ];
    if kind.has_id() {
        fields.push(("id".to_owned(), Tree::Text(spec.id().into())));
    }
    if let Some(status) = spec.status() {
        fields.push(("status".to_owned(), Tree::Text(status.as_str_name().into())));
    }
    fields.push(("spec".to_owned(), spec.tree(pool)?));
    if !coupons.is_empty() {
        fields.push((batches::FIELD.to_owned(), batches::tree(pool, coupons)?));
    }
    let tree = Tree::Map(fields);
    Ok(match format {
        Format::Yaml => {
            let mut named = kind.named(spec.id());
            if let Some(first) = named.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            format!(
                "# {named}, version {}, as `boomerang get` read it. `boomerang plan -f`\n# shows what applying an edit would change.\n{}",
                spec.version(),
                tree.yaml()
            )
        }
        Format::Json => tree.json(),
    })
}
