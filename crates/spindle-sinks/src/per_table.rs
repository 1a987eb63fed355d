//! [`PerTableSink`]: one file per table, for streams of several tables into formats
//! that hold one schema per file (Parquet), or to keep tables apart.

use crate::StreamWriter;
use crate::error::{Error, Result};
use crate::event::TABLE_PLACEHOLDER;
use crate::event::table_of;
use arrow_array::RecordBatch;
use std::path::{Path, PathBuf};

/// Opens the sink of one table's file.
pub type OpenSink = Box<dyn Fn(&Path) -> Result<Box<dyn StreamWriter>> + Send>;

/// Sends each batch to its table's own sink, at the path given with `{table}` replaced
/// by the batch's `_spindle_table` (a batch holds one table's events, as streams send
/// them); each sink is opened at its table's first batch.
pub struct PerTableSink {
    template: PathBuf,
    describe: String,
    open: OpenSink,
    /// The sinks opened, by table, in the order of their first events.
    sinks: Vec<(String, Box<dyn StreamWriter>)>,
}

impl PerTableSink {
    /// Routes batches to sinks `open`ed at `template` (which holds `{table}`);
    /// `describe` is the sink's address.
    ///
    /// # Errors
    /// A template without `{table}`.
    pub fn new(template: impl Into<PathBuf>, describe: String, open: OpenSink) -> Result<Self> {
        let template = template.into();
        if !template.to_string_lossy().contains(TABLE_PLACEHOLDER) {
            return Err(Error::Invalid {
                field: "sink",
                message: format!(
                    "{describe}: a sink per table needs {TABLE_PLACEHOLDER} in its path"
                ),
            });
        }
        Ok(Self {
            template,
            describe,
            open,
            sinks: Vec::new(),
        })
    }

    /// Whether `path` names a file per table.
    pub fn is_template(path: &Path) -> bool {
        path.to_string_lossy().contains(TABLE_PLACEHOLDER)
    }

    fn sink_of(&mut self, batch: &RecordBatch) -> Result<&mut Box<dyn StreamWriter>> {
        let table = table_of(batch).ok_or_else(|| Error::Invalid {
            field: "sink",
            message: format!(
                "{}: a batch without `_spindle_table` cannot go to a file per table",
                self.describe
            ),
        })?;
        if table.is_empty() || table.contains(['/', '\\']) || table == "." || table == ".." {
            return Err(Error::Invalid {
                field: "sink",
                message: format!("{}: table name '{table}' cannot name a file", self.describe),
            });
        }
        let at = match self.sinks.iter().position(|(t, _)| *t == table) {
            Some(at) => at,
            None => {
                let path = self
                    .template
                    .to_string_lossy()
                    .replace(TABLE_PLACEHOLDER, &table);
                let sink = (self.open)(Path::new(&path))?;
                self.sinks.push((table, sink));
                self.sinks.len() - 1
            }
        };
        Ok(&mut self.sinks[at].1)
    }
}

impl StreamWriter for PerTableSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.sink_of(batch)?.send_batch(batch)
    }

    /// Each table's events of the call go to its sink as one batch (an interleaved
    /// stream alternates tables every few events; each file needs only its own order).
    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        let mut tables: Vec<(Option<String>, Vec<RecordBatch>)> = Vec::new();
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            let table = table_of(batch);
            match tables.iter_mut().find(|(t, _)| *t == table) {
                Some((_, list)) => list.push(batch.clone()),
                None => tables.push((table, vec![batch.clone()])),
            }
        }
        for (_, list) in tables {
            let batch = match list.as_slice() {
                [one] => one.clone(),
                _ => arrow_select::concat::concat_batches(&list[0].schema(), &list)?,
            };
            self.send_batch(&batch)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.sinks.iter_mut().try_for_each(|(_, s)| s.flush())
    }

    /// Closes every table's sink (each is complete only once closed), and reports the
    /// first failure.
    fn close(&mut self) -> Result<()> {
        let mut first = Ok(());
        for (_, sink) in &mut self.sinks {
            let closed = sink.close();
            if first.is_ok() {
                first = closed;
            }
        }
        first
    }

    fn delivered(&self) -> u64 {
        self.sinks.iter().map(|(_, s)| s.delivered()).sum()
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
