//! A plan as people read it: each file's action, its changes and, for a
//! program's new version or a campaign's change, the what-if.
use std::fmt;

use boomerang_proto::accrual::v1 as apb;

use super::{
    batches,
    plan::{Action, Step, WhatIf},
};

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
                    for batch in &step.batches {
                        writeln!(f, "    {}", batches::described(batch))?;
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
                    for batch in &step.batches {
                        writeln!(f, "    {}", batches::described(batch))?;
                    }
                    match &step.what_if {
                        Some(Ok(WhatIf::Program(sim))) => write!(f, "{}", ProgramWhatIf(sim))?,
                        Some(Ok(WhatIf::Campaign(sims))) if sims.is_empty() => writeln!(
                            f,
                            "    what-if: no purchase of the programs in these files received its offer"
                        )?,
                        Some(Ok(WhatIf::Campaign(sims))) => {
                            for sim in sims {
                                write!(f, "{}", CampaignWhatIf(sim))?;
                            }
                        }
                        Some(Err(why)) => writeln!(f, "    what-if: not available ({why})")?,
                        None => {}
                    }
                }
            }
            for batch in &step.unfiled {
                writeln!(
                    f,
                    "    = coupon batch {batch}: live, in no file (a batch is never removed)"
                )?;
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
struct ProgramWhatIf<'a>(&'a apb::SimulateProgramResponse);

impl fmt::Display for ProgramWhatIf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sim = self.0;
        writeln!(
            f,
            "    what-if over the {} recorded from {} to {}:",
            purchases(sim.purchases),
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
        totals(f, &sim.totals, &sim.cost_delta)?;
        if sim.by_tier.len() > 1 {
            writeln!(f, "      by tier: {}", slices(&sim.by_tier))?;
        }
        writeln!(f, "      by channel: {}", slices(&sim.by_channel))?;
        if !sim.by_category.is_empty() {
            writeln!(f, "      by category: {}", slices(&sim.by_category))?;
        }
        most_changed(f, &sim.top_customers)
    }
}

/// A campaign's what-if over one program's purchases, under its changes.
struct CampaignWhatIf<'a>(&'a apb::SimulateCampaignResponse);

impl fmt::Display for CampaignWhatIf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sim = self.0;
        writeln!(
            f,
            "    what-if over the {} of program {} it rewarded from {} to {}:",
            purchases(sim.purchases),
            sim.program_id,
            day(&sim.from),
            day(&sim.to)
        )?;
        totals(f, &sim.totals, &sim.cost_delta)?;
        if sim.by_variant.iter().any(|s| !s.key.is_empty()) {
            writeln!(f, "      by variant: {}", slices(&sim.by_variant))?;
        }
        writeln!(f, "      by channel: {}", slices(&sim.by_channel))?;
        for b in &sim.budgets {
            let short = amount(&b.short);
            let given_all = short.trim_start_matches(['0', '.']).is_empty();
            let lasts = match (b.runs_out_on.is_empty(), given_all) {
                (false, _) => format!("would run out on {} ({short} not given)", b.runs_out_on),
                // Short of a day's limit only.
                (true, false) => format!("would last ({short} not given on days at their limit)"),
                (true, true) => "would last".to_owned(),
            };
            let live = match &b.ran_out_at {
                Some(at) => format!("; the live one ran short on {}", day(&Some(*at))),
                None => String::new(),
            };
            writeln!(
                f,
                "      budget {} {}: {} spent, {lasts}{live}",
                amount(&b.total),
                b.asset,
                amount(&b.spent)
            )?;
        }
        most_changed(f, &sim.top_customers)?;
        for note in &sim.not_priced {
            writeln!(f, "      not priced: {note}")?;
        }
        Ok(())
    }
}

/// "1 purchase", "200 purchases".
fn purchases(n: u64) -> String {
    match n {
        1 => "1 purchase".to_owned(),
        n => format!("{n} purchases"),
    }
}

/// The day of an instant, "2026-12-07" (UTC).
fn day(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref()
        .map(|t| t.to_string().chars().take(10).collect::<String>())
        .unwrap_or_default()
}

/// Each asset granted and as it would be, and the cost.
fn totals(
    f: &mut fmt::Formatter<'_>,
    totals: &[apb::AssetDelta],
    cost: &Option<boomerang_proto::common::v1::Money>,
) -> fmt::Result {
    for t in totals {
        writeln!(
            f,
            "      {}: granted {}, would be {} ({})",
            t.asset,
            amount(&t.granted),
            amount(&t.simulated),
            signed(&t.delta)
        )?;
    }
    let currency = cost.as_ref().map_or("", |m| m.asset.as_str());
    writeln!(f, "      cost: {} {currency}", signed(cost))
}

/// Slices as "key +1.00, other -2.00".
fn slices(slices: &[apb::SimulationSlice]) -> String {
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
}

fn most_changed(f: &mut fmt::Formatter<'_>, top: &[apb::CustomerDelta]) -> fmt::Result {
    if top.is_empty() {
        return Ok(());
    }
    let top: Vec<_> = top
        .iter()
        .map(|c| format!("{} {}", c.customer_id, signed(&c.cost_delta)))
        .collect();
    writeln!(f, "      most changed: {}", top.join(", "))
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
