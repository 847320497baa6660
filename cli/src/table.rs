//! Tables that read well in a terminal and stay plain (no borders, no colour) when the output is not one, so
//! that `grep` and `awk` work on them.

use std::io::IsTerminal;

use comfy_table::presets::{NOTHING, UTF8_HORIZONTAL_ONLY};
use comfy_table::{ContentArrangement, Table as Inner};

pub struct Table {
    inner: Inner,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        let mut inner = Inner::new();
        let terminal = std::io::stdout().is_terminal();
        inner
            .load_preset(if terminal {
                UTF8_HORIZONTAL_ONLY
            } else {
                NOTHING
            })
            .set_content_arrangement(if terminal {
                ContentArrangement::Dynamic
            } else {
                ContentArrangement::Disabled
            })
            .set_header(header);
        Self { inner }
    }

    pub fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.inner.add_row(cells);
    }

    /// The table, at most `width` columns wide on a terminal (long cells wrap), as it is otherwise.
    pub fn render(mut self, width: u16) -> String {
        if std::io::stdout().is_terminal() {
            let width = self.inner.width().unwrap_or(width);
            self.inner.set_width(width);
        }
        let mut out = self.inner.to_string();
        out.push('\n');
        out
    }
}
