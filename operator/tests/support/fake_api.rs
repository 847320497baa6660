//! The in-memory Kubernetes API the operator's tests and benchmarks run against: the `kube-in-memory` crate,
//! as strict as the API server in schemas, server-side apply, metadata, garbage collection, selectors and
//! watches (see its crate documentation and `docs/operator.md`).

pub use kube_in_memory::FakeApi;
