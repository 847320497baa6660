//! A shutdown signal shared by every loop of the process: set once (on SIGTERM), seen by all.

use tokio::sync::watch;

/// Cloneable handle; `trigger` on any clone stops every loop that watches one.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: std::sync::Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Self {
            tx: std::sync::Arc::new(tx),
            rx,
        }
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown was triggered.
    pub async fn triggered(&self) {
        let mut rx = self.rx.clone();
        // An error means every sender is gone, which only happens at the end of the process.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}
