//! `twctl up` as the README's main command runs it on the quickstart: NATS, the demo ERP on PostgreSQL (which
//! honours the idempotency key and nothing else), its bridge, the Amazon and Walmart sandboxes and their
//! adapters, driven for a while — stock and prices changing, buyers ordering and some cancelling — then
//! drained; the summary's consistency check must pass — also when the marketplace misbehaves and the adapter
//! is killed mid-run: our own shipment confirmations give the channels' orders new revisions, and none of them
//! may become a second sales order. And on examples/local-all, one marketplace per channel with a sandbox.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn up(scenario: &str, duration: &str) -> Value {
    up_in("examples/quickstart", scenario, duration)
}

fn up_in(folder: &str, scenario: &str, duration: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_twctl"))
        .args([
            "up",
            folder,
            "--scenario",
            scenario,
            "--duration",
            duration,
            "--summary",
        ])
        .arg(&summary)
        .current_dir(workspace())
        .env_remove("TRADEWIND_NATS_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "twctl up failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("every marketplace order is in the ERP exactly once"),
        "{stdout}"
    );
    serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap()
}

/// Every list of problems is empty and none was counted.
fn assert_nothing_found(c: &Value) {
    assert_eq!(c["problems"], 0, "{c}");
    for list in [
        "stockMismatches",
        "priceMismatches",
        "ordersMissing",
        "ordersDuplicated",
        "cancellationsNotApplied",
        "shipmentsUnconfirmed",
        "returnsMissing",
        "settlementsMissing",
        "syncRunsIncomplete",
    ] {
        assert_eq!(c[list].as_array().unwrap().len(), 0, "{list}: {c}");
    }
}

fn check_consistent(summary: &Value) {
    assert_eq!(summary["passed"], true, "{summary:#}");
    let c = &summary["consistency"];
    assert_eq!(
        c["skusChecked"], 20,
        "every SKU of the demo catalogue, on Amazon and on Walmart: {c}"
    );
    assert!(
        c["ordersChecked"].as_u64().unwrap() >= 3,
        "orders were placed and checked: {c}"
    );
    assert!(
        c["shipmentsChecked"].as_u64().unwrap() >= 1,
        "shipments were made and checked: {c}"
    );
    assert_nothing_found(c);
    assert_eq!(
        c["pricesChecked"], 10,
        "every SKU's price on Amazon (Walmart has no price flow): {c}"
    );
    assert!(
        c["cancellationsChecked"].as_u64().unwrap() >= 1,
        "buyers cancelled orders: {c}"
    );
    // The quickstart's nightly full inventory sync was requested during the run: the adapter resent the
    // newest stock of every SKU of the demo catalogue and reported it.
    let nightly = summary["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "amazon-us-inventory-nightly")
        .unwrap_or_else(|| panic!("the nightly schedule is in the summary: {summary:#}"));
    assert!(nightly["fired"].as_u64().unwrap() >= 1, "{nightly}");
    assert_eq!(nightly["lastRun"]["outcome"], "Succeeded", "{nightly}");
    assert_eq!(nightly["lastRun"]["succeeded"], 10, "{nightly}");
}

#[test]
fn the_quickstart_runs_and_ends_consistent() {
    // Longer than the 40 s in which polling every 2 s spends Amazon's searchOrders burst of 20: the orders
    // placed after it must arrive too.
    let summary = up("steady", "45s");
    check_consistent(&summary);
    let amazon = &summary["marketplaces"][0];
    assert_eq!(amazon["name"], "amazon-us");
    assert!(
        amazon["flows"][0]["events"].as_u64().unwrap() >= 10,
        "{amazon}"
    );
    // The adapter paces itself at Amazon's published rate, the sandbox enforces the same rate: on a loaded
    // machine a request may still land a few milliseconds early. Throttles stay rare and cost nothing.
    let throttled = amazon["throttled"].as_u64().unwrap();
    let events = amazon["flows"][0]["events"].as_u64().unwrap();
    assert!(
        throttled * 10 <= events,
        "the adapter keeps within Amazon's limits: {amazon}"
    );
    assert_eq!(amazon["deadLetters"], 0, "{amazon}");
}

#[test]
fn chaos_loses_and_duplicates_nothing() {
    let summary = up("chaos", "15s");
    check_consistent(&summary);
    assert!(
        summary["marketplaces"][0]["throttled"].as_u64().unwrap() >= 1,
        "the injected 429s were met: {summary:#}"
    );
}

/// One marketplace per channel with a sandbox (Amazon, Walmart, Shopify, eBay, Mirakl and a B2B REST portal),
/// none with an explicit endpoint: each channel's sandbox is started, its buyers order, the ERP ships, and the
/// check compares every channel's listings, orders and shipments with the ERP.
#[test]
fn every_channel_runs_on_its_sandbox_and_ends_consistent() {
    let summary = up_in("examples/local-all", "steady", "30s");
    assert_eq!(summary["passed"], true, "{summary:#}");
    let c = &summary["consistency"];
    assert_eq!(
        c["skusChecked"], 60,
        "every SKU of the demo catalogue on each of the six marketplaces: {c}"
    );
    assert_eq!(
        c["pricesChecked"], 50,
        "every SKU's price on the five marketplaces with a price flow: {c}"
    );
    assert_nothing_found(c);
    let marketplaces = summary["marketplaces"].as_array().unwrap();
    for (name, channel) in [
        ("amazon-us", "amazon"),
        ("walmart-us", "walmart"),
        ("shopify-us", "shopify"),
        ("ebay-us", "ebay"),
        ("mirakl-us", "mirakl"),
        ("b2b-portal", "rest"),
    ] {
        let m = marketplaces
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} ran on its sandbox: {summary:#}"));
        assert_eq!(m["channel"], channel, "{m}");
        let events = |flow: usize| m["flows"][flow]["events"].as_u64().unwrap();
        // The check passed, so each order placed is one sales order and each shipment of the ERP is confirmed:
        // these counts are what was compared on this channel.
        assert!(events(0) >= 1, "{name}: stock updates were accepted: {m}");
        assert!(events(1) >= 3, "{name}: buyers ordered: {m}");
        assert!(events(2) >= 1, "{name}: shipments were confirmed: {m}");
    }
    assert!(
        c["ordersChecked"].as_u64().unwrap() >= 18 && c["shipmentsChecked"].as_u64().unwrap() >= 6,
        "{c}"
    );
}
