//! A table's batches as the engine passes them between stages: what a table source
//! gives, and what the anomaly survey reads.

use crate::error::Result;
use arrow_array::RecordBatch;

/// A table's batches in table order.
pub type Batches = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;
