//! Amazon Selling Partner API connector: LWA, Listings Items, Feeds, Orders, Reports.
