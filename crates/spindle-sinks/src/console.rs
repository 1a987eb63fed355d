//! Events printed as JSON to stdout or any writer.

use crate::StreamWriter;
use crate::error::{Error, Result};
use crate::json::{JsonEncoder, JsonLayout};
use arrow_array::RecordBatch;
use std::io::{BufWriter, Write};

/// Prints events as JSON, compact (one per line) or indented, with an optional prefix.
pub struct ConsoleSink {
    out: BufWriter<Box<dyn Write + Send>>,
    name: String,
    encoder: JsonEncoder,
    delivered: u64,
}

impl ConsoleSink {
    /// Compact JSON lines on stdout.
    pub fn stdout() -> Self {
        Self::new(Box::new(std::io::stdout()), "stdout")
    }

    /// Compact JSON lines on `writer`, called `name` in messages.
    pub fn new(writer: Box<dyn Write + Send>, name: &str) -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 16, writer),
            name: name.to_string(),
            encoder: JsonEncoder::lines(),
            delivered: 0,
        }
    }

    /// Pretty-prints each event with `indent` spaces (`None`: compact).
    pub fn indent(self, indent: Option<usize>) -> Self {
        self.layout(|l| l.indent = indent)
    }

    /// Writes `prefix` before every event.
    pub fn prefix(self, prefix: &str) -> Self {
        self.layout(|l| l.prefix = prefix.to_string())
    }

    fn layout(mut self, change: impl FnOnce(&mut JsonLayout)) -> Self {
        let mut layout = self.encoder.layout().clone();
        change(&mut layout);
        self.encoder = JsonEncoder::new(layout);
        self
    }
}

impl StreamWriter for ConsoleSink {
    fn send_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let bytes = self.encoder.encode_batch(batch)?;
        self.out
            .write_all(&bytes)
            .map_err(|e| Error::io(&self.name, e))?;
        self.delivered += batch.num_rows() as u64;
        Ok(())
    }

    fn send_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        for part in self.encoder.encode_batches(batches)? {
            self.out
                .write_all(&part)
                .map_err(|e| Error::io(&self.name, e))?;
        }
        self.delivered += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.name, e))
    }

    fn close(&mut self) -> Result<()> {
        self.flush()
    }

    fn delivered(&self) -> u64 {
        self.delivered
    }

    fn describe(&self) -> String {
        format!("console:{}", self.name)
    }

    fn writes_envelopes(&self) -> bool {
        true
    }
}
