//! Walmart Marketplace API connector: client credentials, items, inventory, prices, feeds, orders, returns, reports.
