//! Mirakl seller API connector: API key, per-operator host, STO01, OF24, OR11, OR21, OR23, OR24.
