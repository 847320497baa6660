//! What happens during a local run: stock changes in the ERP, orders from the marketplaces' buyers, and for
//! `chaos`, marketplace faults and a killed adapter.

use std::time::Duration;

use rand::Rng;

/// A scenario (`--scenario`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// A stock change every second, an order per marketplace every three seconds.
    #[default]
    Steady,
    /// Ten orders a second per marketplace for the first half of the run: orders wait in JetStream, the ERP
    /// is never overrun.
    FlashSale,
    /// Steady, plus 429s, 5xx and a timeout from the marketplaces, and an adapter killed mid-run.
    Chaos,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::FlashSale => "flash-sale",
            Scenario::Chaos => "chaos",
        }
    }

    /// How often a buyer places an order at `elapsed` into a run of `total`.
    pub fn order_every(self, elapsed: Duration, total: Duration) -> Duration {
        match self {
            Scenario::FlashSale if elapsed < total / 2 => Duration::from_millis(100),
            _ => Duration::from_secs(3),
        }
    }

    pub fn stock_every(self) -> Duration {
        match self {
            Scenario::FlashSale => Duration::from_secs(2),
            _ => Duration::from_secs(1),
        }
    }
}

/// The demo catalogue: SKUs with a price, stocked in two warehouses.
pub const SKUS: [&str; 10] = [
    "TW-1001", "TW-1002", "TW-1003", "TW-1004", "TW-1005", "TW-1006", "TW-1007", "TW-1008",
    "TW-1009", "TW-1010",
];

pub fn price_of(sku: &str) -> String {
    let n: u32 = sku.trim_start_matches("TW-").parse().unwrap_or(1000);
    format!("{}.{:02}", 5 + n % 20, (n * 7) % 100)
}

/// A random SKU and a new quantity on hand for it at DAL.
pub fn stock_change(rng: &mut impl Rng) -> (&'static str, i64) {
    (
        SKUS[rng.random_range(0..SKUS.len())],
        rng.random_range(5..=60),
    )
}

/// How often a price changes in the ERP, whatever the scenario.
pub const PRICE_EVERY: Duration = Duration::from_secs(5);

/// One order in this many is cancelled by its buyer as soon as it is placed (on channels whose sandbox has
/// buyer cancellations: Amazon, Walmart).
pub const CANCEL_ONE_IN: u64 = 5;

/// A random SKU and a new price for it: its list price give or take up to a dollar, in cents.
pub fn price_change(rng: &mut impl Rng) -> (&'static str, String) {
    let sku = SKUS[rng.random_range(0..SKUS.len())];
    let list: rust_decimal::Decimal = price_of(sku).parse().unwrap_or_default();
    let cents = rust_decimal::Decimal::new(rng.random_range(-100..=100), 2);
    (
        sku,
        (list + cents).max(rust_decimal::Decimal::ONE).to_string(),
    )
}

/// A random SKU and quantity for a buyer.
pub fn order(rng: &mut impl Rng) -> (&'static str, i64) {
    (
        SKUS[rng.random_range(0..SKUS.len())],
        rng.random_range(1..=2),
    )
}
