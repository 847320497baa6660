//! Sandbox of the Mirakl seller API with its per-operation call frequencies.
