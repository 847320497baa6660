//! The headers every Walmart call carries.

pub const WM_SEC_ACCESS_TOKEN: &str = "WM_SEC.ACCESS_TOKEN";
pub const WM_QOS_CORRELATION_ID: &str = "WM_QOS.CORRELATION_ID";
pub const WM_SVC_NAME: &str = "WM_SVC.NAME";
/// Walmart asks for a service name and does not check it; this one says who calls.
pub const SERVICE_NAME: &str = "Walmart Marketplace";
