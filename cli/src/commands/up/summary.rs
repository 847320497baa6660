//! The local run's summary: events and latency per marketplace and flow, throttled responses, dead letters,
//! and the consistency check that says whether the integration did its job. Written as text at the end of a
//! run and, with `--summary <file>`, as JSON (schema: docs/local-mode.md).

use std::fmt::Write as _;

use serde::Serialize;

/// Everything a run reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub scenario: String,
    pub duration_seconds: u64,
    pub marketplaces: Vec<MarketplaceSummary>,
    /// Each `SyncSchedule` of a marketplace that ran: runs fired and the last run's outcome and counts.
    pub schedules: Vec<super::schedules::ScheduleSummary>,
    pub consistency: Consistency,
    /// The consistency check found nothing wrong.
    pub passed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketplaceSummary {
    pub name: String,
    pub channel: String,
    pub flows: Vec<FlowSummary>,
    /// Calls the channel answered with its throttling response.
    pub throttled: u64,
    pub dead_letters: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowSummary {
    pub flow: String,
    pub events: u64,
    /// From the change in the ERP (or the order on the channel) to its arrival on the other side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<u64>,
}

/// What the consistency check found; empty lists mean consistent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Consistency {
    /// SKUs whose channel quantity differs from the ERP's sellable quantity after the marketplace's policy.
    pub stock_mismatches: Vec<StockMismatch>,
    /// Channel orders not in the ERP.
    pub orders_missing: Vec<String>,
    /// Channel orders in the ERP more than once.
    pub orders_duplicated: Vec<String>,
    /// Shipments the ERP made that the channel has not confirmed.
    pub shipments_unconfirmed: Vec<String>,
    /// Sync runs fired that did not finish, or failed (`<schedule>: <outcome> <why>`).
    pub sync_runs_incomplete: Vec<String>,
    /// How much was compared, so that "nothing wrong" cannot mean "nothing checked".
    pub skus_checked: u64,
    pub orders_checked: u64,
    pub shipments_checked: u64,
}

impl Consistency {
    pub fn is_consistent(&self) -> bool {
        self.stock_mismatches.is_empty()
            && self.orders_missing.is_empty()
            && self.orders_duplicated.is_empty()
            && self.shipments_unconfirmed.is_empty()
            && self.sync_runs_incomplete.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockMismatch {
    pub marketplace: String,
    pub sku: String,
    /// What the channel should list: the ERP's sellable quantity after safety stock and share.
    pub expected: i64,
    /// What the channel lists (`None`: the SKU never arrived).
    pub listed: Option<i64>,
}

/// The `p`-th percentile (0–100) by nearest rank; `None` for no samples.
pub fn percentile(samples: &mut [u64], p: u32) -> Option<u64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let n = samples.len();
    // Nearest rank: ceil(p/100 * n), at least 1.
    let rank = (usize::try_from(p).unwrap_or(100) * n).div_ceil(100).max(1);
    samples.get(rank.min(n) - 1).copied()
}

/// The summary as a person reads it at the end of a run.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nTradewind local run — scenario {}, {} s",
        summary.scenario, summary.duration_seconds
    );
    let mut table = crate::table::Table::new([
        "MARKETPLACE",
        "FLOW",
        "EVENTS",
        "P50",
        "P99",
        "THROTTLED",
        "DEAD LETTERS",
    ]);
    let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
    for m in &summary.marketplaces {
        for (i, f) in m.flows.iter().enumerate() {
            let first = i == 0;
            table.row([
                if first { m.name.clone() } else { String::new() },
                f.flow.clone(),
                f.events.to_string(),
                ms(f.p50_ms),
                ms(f.p99_ms),
                if first {
                    m.throttled.to_string()
                } else {
                    String::new()
                },
                if first {
                    m.dead_letters.to_string()
                } else {
                    String::new()
                },
            ]);
        }
    }
    out.push_str(&table.render(120));
    if !summary.schedules.is_empty() {
        let mut table = crate::table::Table::new([
            "SYNC SCHEDULE",
            "MARKETPLACE",
            "FLOW",
            "FIRED",
            "LAST RUN",
            "RECORDS",
            "DEAD LETTERS",
        ]);
        for s in &summary.schedules {
            let run = s.last_run.as_ref();
            table.row([
                s.name.clone(),
                s.marketplace.clone(),
                format!("{} ({})", s.flow, s.mode),
                s.fired.to_string(),
                run.map_or("-".to_string(), |r| format!("{:?}", r.outcome)),
                run.map_or("-".to_string(), |r| r.succeeded.to_string()),
                run.map_or("-".to_string(), |r| r.dead_lettered.to_string()),
            ]);
        }
        out.push('\n');
        out.push_str(&table.render(120));
    }
    let c = &summary.consistency;
    let _ = writeln!(
        out,
        "\nConsistency: {} SKUs, {} orders, {} shipments checked",
        c.skus_checked, c.orders_checked, c.shipments_checked
    );
    let mut problems = Vec::new();
    for m in &c.stock_mismatches {
        problems.push(format!(
            "stock: {} {} lists {} but the ERP says {}",
            m.marketplace,
            m.sku,
            m.listed.map_or("nothing".to_string(), |l| l.to_string()),
            m.expected
        ));
    }
    problems.extend(
        c.orders_missing
            .iter()
            .map(|o| format!("order {o} is not in the ERP")),
    );
    problems.extend(
        c.orders_duplicated
            .iter()
            .map(|o| format!("order {o} is in the ERP more than once")),
    );
    problems.extend(
        c.shipments_unconfirmed
            .iter()
            .map(|s| format!("shipment {s} is not confirmed on the channel")),
    );
    problems.extend(
        c.sync_runs_incomplete
            .iter()
            .map(|s| format!("sync run of {s}")),
    );
    if problems.is_empty() {
        let _ = writeln!(
            out,
            "  ✔ every marketplace's stock equals the ERP's sellable quantity\n  ✔ every marketplace order is in the ERP exactly once\n  ✔ every shipment is confirmed\n  ✔ every sync run fired has finished"
        );
    } else {
        for p in &problems {
            let _ = writeln!(out, "  ✘ {p}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut samples: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut samples, 50), Some(50));
        assert_eq!(percentile(&mut samples, 99), Some(99));
        assert_eq!(percentile(&mut samples, 100), Some(100));
        assert_eq!(percentile(&mut [7], 99), Some(7));
        assert_eq!(percentile(&mut [], 50), None);
    }

    #[test]
    fn a_problem_makes_the_run_inconsistent_and_is_named() {
        let mut summary = Summary::default();
        summary
            .consistency
            .orders_duplicated
            .push("amazon-us:113-1".into());
        assert!(!summary.consistency.is_consistent());
        assert!(render(&summary).contains("order amazon-us:113-1 is in the ERP more than once"));
        summary.consistency.orders_duplicated.clear();
        assert!(summary.consistency.is_consistent());
    }
}
