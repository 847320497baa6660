//! eBay Sell APIs connector: OAuth refresh tokens, Inventory, Fulfillment, Finances.
