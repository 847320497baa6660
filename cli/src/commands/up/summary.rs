//! The local run's summary: events and latency per marketplace and flow, throttled responses, dead letters,
//! and the consistency check that says whether the integration did its job. Written as text at the end of a
//! run and, with `--summary <file>`, as JSON (schema: docs/local-mode.md).

use std::collections::BTreeMap;
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

/// What the consistency check found (`check.rs`); `problems == 0` means consistent. Each list names at most
/// `check::NAMED_AT_MOST` records; `problems` counts them all.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Consistency {
    /// SKUs whose channel quantity differs from the ERP's sellable quantity after the marketplace's policy.
    pub stock_mismatches: Vec<StockMismatch>,
    /// SKUs whose channel price differs from the ERP's (marketplaces with a price flow).
    pub price_mismatches: Vec<PriceMismatch>,
    /// Channel orders (not cancelled) not in the ERP.
    pub orders_missing: Vec<String>,
    /// Channel orders in the ERP more than once, with the sales-order numbers.
    pub orders_duplicated: Vec<String>,
    /// Orders cancelled on one side and standing on the other.
    pub cancellations_not_applied: Vec<String>,
    /// Shipments the ERP made that the channel has not confirmed.
    pub shipments_unconfirmed: Vec<String>,
    /// Returns and settlements the channel has that the ERP never received (`<marketplace>:<id>`).
    pub returns_missing: Vec<String>,
    pub settlements_missing: Vec<String>,
    /// Sync runs fired that did not finish, or failed (`<schedule>: <outcome> <why>`).
    pub sync_runs_incomplete: Vec<String>,
    /// Every problem found, named above or not.
    pub problems: u64,
    /// How much was compared, so that "nothing wrong" cannot mean "nothing checked".
    pub skus_checked: u64,
    pub prices_checked: u64,
    pub orders_checked: u64,
    /// Channel orders cancelled on the channel, compared with their sales orders.
    pub cancellations_checked: u64,
    pub shipments_checked: u64,
    /// Returns and settlements compared.
    pub documents_checked: u64,
    /// The write requests the ERP received, by what they did (`created`, `repeated`, `updated`, `cancelled`,
    /// `pending`, `refused`, ...): what the ERP was sent, beside what it holds.
    pub erp_requests: BTreeMap<String, u64>,
}

impl Consistency {
    pub fn is_consistent(&self) -> bool {
        self.problems == 0
    }

    /// Adds the findings and counts of another check (another ERP's marketplaces).
    pub fn merge(&mut self, other: Consistency) {
        for (list, more) in [
            (&mut self.orders_missing, other.orders_missing),
            (&mut self.orders_duplicated, other.orders_duplicated),
            (
                &mut self.cancellations_not_applied,
                other.cancellations_not_applied,
            ),
            (&mut self.shipments_unconfirmed, other.shipments_unconfirmed),
            (&mut self.returns_missing, other.returns_missing),
            (&mut self.settlements_missing, other.settlements_missing),
            (&mut self.sync_runs_incomplete, other.sync_runs_incomplete),
        ] {
            list.extend(more);
        }
        self.stock_mismatches.extend(other.stock_mismatches);
        self.price_mismatches.extend(other.price_mismatches);
        self.problems += other.problems;
        self.skus_checked += other.skus_checked;
        self.prices_checked += other.prices_checked;
        self.orders_checked += other.orders_checked;
        self.cancellations_checked += other.cancellations_checked;
        self.shipments_checked += other.shipments_checked;
        self.documents_checked += other.documents_checked;
        for (outcome, n) in other.erp_requests {
            *self.erp_requests.entry(outcome).or_default() += n;
        }
    }

    /// Counts a problem, and names it in `list` while the list is short enough.
    pub fn found<T>(&mut self, list: impl FnOnce(&mut Self) -> &mut Vec<T>, item: T) {
        self.problems += 1;
        let list = list(self);
        if list.len() < super::check::NAMED_AT_MOST {
            list.push(item);
        }
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceMismatch {
    pub marketplace: String,
    pub sku: String,
    /// The ERP's price (`None`: the ERP's amount is not a decimal).
    pub expected: Option<String>,
    /// The channel's (`None`: no price set).
    pub listed: Option<String>,
}

/// How a named record of one list reads.
type Phrase = fn(&str) -> String;

/// Each problem the check found as a person reads it, naming the record; empty when consistent.
pub fn problems(c: &Consistency) -> Vec<String> {
    let mut out = Vec::new();
    for m in &c.stock_mismatches {
        out.push(format!(
            "stock: {} {} lists {} but the ERP can sell {}",
            m.marketplace,
            m.sku,
            m.listed.map_or("nothing".to_string(), |l| l.to_string()),
            m.expected
        ));
    }
    for m in &c.price_mismatches {
        out.push(format!(
            "price: {} {} lists {} but the ERP's is {}",
            m.marketplace,
            m.sku,
            m.listed.as_deref().unwrap_or("no price"),
            m.expected.as_deref().unwrap_or("unreadable")
        ));
    }
    let lines: [(&Vec<String>, Phrase); 7] = [
        (&c.orders_missing, |o| {
            format!("order {o} was placed on the channel and is not in the ERP")
        }),
        (&c.orders_duplicated, |o| match o.split_once(' ') {
            Some((id, numbers)) => format!("order {id} is in the ERP more than once {numbers}"),
            None => format!("order {o} is in the ERP more than once"),
        }),
        (&c.cancellations_not_applied, |o| {
            format!("cancellation: {o}")
        }),
        (&c.shipments_unconfirmed, |s| {
            format!("shipment {s} is not confirmed on the channel")
        }),
        (&c.returns_missing, |r| {
            format!("return {r} is not in the ERP")
        }),
        (&c.settlements_missing, |s| {
            format!("settlement {s} is not in the ERP")
        }),
        (&c.sync_runs_incomplete, |s| format!("sync run of {s}")),
    ];
    for (list, line) in lines {
        out.extend(list.iter().map(|item| line(item)));
    }
    let named = out.len() as u64;
    if c.problems > named {
        out.push(format!("… and {} more", c.problems - named));
    }
    out
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
        "\nConsistency: {} SKUs, {} prices, {} orders ({} cancelled), {} shipments, {} returns and settlements checked",
        c.skus_checked,
        c.prices_checked,
        c.orders_checked,
        c.cancellations_checked,
        c.shipments_checked,
        c.documents_checked
    );
    if !c.erp_requests.is_empty() {
        let requests: Vec<String> = c
            .erp_requests
            .iter()
            .map(|(outcome, n)| format!("{n} {outcome}"))
            .collect();
        let _ = writeln!(out, "ERP requests: {}", requests.join(", "));
    }
    let problems = problems(c);
    if problems.is_empty() {
        let _ = writeln!(
            out,
            "  ✔ every marketplace's stock and price equal the ERP's (after its policy)\n  ✔ every marketplace order is in the ERP exactly once\n  ✔ every cancellation is applied on both sides\n  ✔ every shipment is confirmed\n  ✔ every return and settlement is in the ERP\n  ✔ every sync run fired has finished"
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
        summary.consistency.found(
            |c| &mut c.orders_duplicated,
            "amazon-us:113-1 (SO-1, SO-2)".into(),
        );
        assert!(!summary.consistency.is_consistent());
        assert!(
            render(&summary)
                .contains("✘ order amazon-us:113-1 is in the ERP more than once (SO-1, SO-2)"),
            "{}",
            render(&summary)
        );
        assert!(
            render(&Summary::default())
                .contains("✔ every marketplace order is in the ERP exactly once")
        );
    }

    #[test]
    fn problems_beyond_the_named_ones_are_counted() {
        let mut c = Consistency::default();
        for i in 0..super::super::check::NAMED_AT_MOST + 5 {
            c.found(|c| &mut c.orders_missing, format!("m:{i}"));
        }
        let problems = problems(&c);
        assert_eq!(problems.len(), super::super::check::NAMED_AT_MOST + 1);
        assert_eq!(problems.last().unwrap(), "… and 5 more");
    }
}
