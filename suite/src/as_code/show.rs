//! A plan as people read it: each file's action, its changes and, for a
//! program's new version, the what-if.
use std::fmt;

use boomerang_proto::accrual::v1 as apb;

use super::plan::{Action, Step};

/// The plan as people read it.
pub struct Shown<'a>(pub &'a [Step]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mut create, mut update, mut same) = (0, 0, 0);
        for step in self.0 {
            let (file, named, v) = (&step.doc.file, step.doc.named(), step.version);
            match &step.action {
                Action::Unchanged => {
                    same += 1;
                    writeln!(f, "{file}: {named}: no changes (version {v})")?;
                }
                Action::Create => {
                    create += 1;
                    writeln!(f, "{file}: {named}: created (version 1)")?;
                    if let Some(status) = step.doc.spec.status().filter(|_| !step.moves.is_empty())
                    {
                        writeln!(f, "    status: {}", status.as_str_name())?;
                    }
                }
                Action::Update(changes) => {
                    update += 1;
                    match step.spec.version() {
                        next if step.publish && next > v => {
                            writeln!(f, "{file}: {named}: version {v} → {next}")?
                        }
                        // A draft campaign is edited in place; a lifecycle
                        // call keeps the version.
                        _ => writeln!(f, "{file}: {named}: version {v} changed")?,
                    }
                    for change in changes {
                        writeln!(f, "    {change}")?;
                    }
                    match &step.what_if {
                        Some(Ok(sim)) => write!(f, "{}", WhatIf(sim))?,
                        Some(Err(why)) => writeln!(f, "    what-if: not available ({why})")?,
                        None => {}
                    }
                }
            }
        }
        if create + update == 0 {
            write!(f, "No changes: the live state matches the files ({same}).")
        } else {
            write!(
                f,
                "Plan: {create} to create, {update} to change, {same} unchanged."
            )
        }
    }
}

/// A what-if as the plan shows it, under the program's changes.
struct WhatIf<'a>(&'a apb::SimulateProgramResponse);

impl fmt::Display for WhatIf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sim = self.0;
        let day = |t: &Option<prost_types::Timestamp>| {
            t.as_ref()
                .map(|t| t.to_string().chars().take(10).collect::<String>())
                .unwrap_or_default()
        };
        writeln!(
            f,
            "    what-if over the {} recorded from {} to {}:",
            match sim.purchases {
                1 => "1 purchase".to_owned(),
                n => format!("{n} purchases"),
            },
            day(&sim.from),
            day(&sim.to)
        )?;
        if sim.purchases_by_other_versions > 0 {
            writeln!(
                f,
                "      ({} of them priced by an earlier version: their delta includes its changes)",
                sim.purchases_by_other_versions
            )?;
        }
        for t in &sim.totals {
            writeln!(
                f,
                "      {}: granted {}, would be {} ({})",
                t.asset,
                amount(&t.granted),
                amount(&t.simulated),
                signed(&t.delta)
            )?;
        }
        let slices = |slices: &[apb::SimulationSlice]| {
            slices
                .iter()
                .map(|s| {
                    format!(
                        "{} {}",
                        if s.key.is_empty() { "(none)" } else { &s.key },
                        signed(&s.cost_delta)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let currency = sim.cost_delta.as_ref().map_or("", |m| m.asset.as_str());
        writeln!(f, "      cost: {} {currency}", signed(&sim.cost_delta))?;
        if sim.by_tier.len() > 1 {
            writeln!(f, "      by tier: {}", slices(&sim.by_tier))?;
        }
        writeln!(f, "      by channel: {}", slices(&sim.by_channel))?;
        if !sim.by_category.is_empty() {
            writeln!(f, "      by category: {}", slices(&sim.by_category))?;
        }
        if !sim.top_customers.is_empty() {
            let top: Vec<_> = sim
                .top_customers
                .iter()
                .map(|c| format!("{} {}", c.customer_id, signed(&c.cost_delta)))
                .collect();
            writeln!(f, "      most changed: {}", top.join(", "))?;
        }
        Ok(())
    }
}

fn amount(m: &Option<boomerang_proto::common::v1::Money>) -> &str {
    m.as_ref().map_or("0", |m| m.amount.as_str())
}

/// A delta with its sign: "+2.50", "-1.00", "0".
fn signed(m: &Option<boomerang_proto::common::v1::Money>) -> String {
    let a = amount(m);
    if a.starts_with('-') || a.trim_start_matches(['0', '.']).is_empty() {
        a.to_owned()
    } else {
        format!("+{a}")
    }
}
