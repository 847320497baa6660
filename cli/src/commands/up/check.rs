//! The consistency check of a local run: every marketplace lists what the ERP can sell (after the
//! marketplace's inventory policy), every marketplace order is in the ERP exactly once, every shipment the ERP
//! made is confirmed on the channel.

use std::collections::BTreeMap;

use adapter_runtime::canonical::{InventoryPosition, LocationStock};
use adapter_runtime::process::listed_quantity;
use chrono::Utc;
use crds::v1alpha1::InventoryFlow;
use demo_erp::{SalesOrder, ShipmentRow, StockRow};

use super::platform::ChannelView;
use super::summary::{Consistency, StockMismatch};

/// The position the ERP would publish for each SKU, from its stock rows.
pub fn positions(stock: &[StockRow]) -> BTreeMap<String, InventoryPosition> {
    let mut out: BTreeMap<String, InventoryPosition> = BTreeMap::new();
    for row in stock {
        let available = (row.on_hand - row.reserved).max(0);
        let entry = out
            .entry(row.sku.clone())
            .or_insert_with(|| InventoryPosition {
                correlation_id: format!("check:{}", row.sku)
                    .as_str()
                    .try_into()
                    .unwrap_or_else(|_| unreachable!("a short printable id")),
                sku: row
                    .sku
                    .as_str()
                    .try_into()
                    .unwrap_or_else(|_| unreachable!("the demo ERP's SKUs are valid")),
                available: 0,
                locations: Vec::new(),
                as_of: Utc::now(),
            });
        entry.available += available;
        entry.locations.push(LocationStock {
            location: row.location.clone(),
            available,
        });
    }
    out
}

/// Adds one marketplace's findings to `into`.
pub fn check_marketplace(
    marketplace: &str,
    policy: Option<&InventoryFlow>,
    channel: &ChannelView,
    stock: &[StockRow],
    orders: &[SalesOrder],
    shipments: &[ShipmentRow],
    into: &mut Consistency,
) {
    if let Some(policy) = policy {
        for (sku, position) in positions(stock) {
            let expected = listed_quantity(&position, policy);
            let listed = channel.listings.get(&sku).copied().flatten();
            into.skus_checked += 1;
            if listed != Some(expected) {
                into.stock_mismatches.push(StockMismatch {
                    marketplace: marketplace.to_string(),
                    sku,
                    expected,
                    listed,
                });
            }
        }
    }
    for (order_id, _) in channel.orders.iter().filter(|(_, cancelled)| !cancelled) {
        into.orders_checked += 1;
        let in_erp = orders
            .iter()
            .filter(|s| s.marketplace == marketplace && s.channel_order_id == *order_id)
            .count();
        let id = format!("{marketplace}:{order_id}");
        match in_erp {
            0 => into.orders_missing.push(id),
            1 => {}
            _ => into.orders_duplicated.push(id),
        }
    }
    for shipment in shipments.iter().filter(|s| s.marketplace == marketplace) {
        into.shipments_checked += 1;
        // Channels that name no package in a shipment confirmation are matched by tracking number.
        let confirmed = channel.shipments.iter().any(|(order, package)| {
            *order == shipment.order_id
                && (*package == shipment.shipment_id || *package == shipment.tracking_number)
        });
        if !confirmed {
            into.shipments_unconfirmed.push(format!(
                "{marketplace}:{} {}",
                shipment.order_id, shipment.shipment_id
            ));
        }
    }
}
