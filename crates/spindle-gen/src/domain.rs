//! What a domain is: a set of related tables and a way to plan their generation.

use crate::error::{Error, Result};
use crate::scale::Scale;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use std::ops::Range;
use std::sync::Arc;

/// Static description of one generated table.
#[derive(Clone, Debug)]
pub struct TableSpec {
    /// Table name.
    pub name: &'static str,
    /// One line on what a row is.
    pub description: &'static str,
    /// The table whose rows drive this one's generation, in units of work.
    ///
    /// A table driven by another (`order_line` by `order`) is generated for a range of
    /// the driver's rows; tables with the same driver can be generated together.
    pub driver: &'static str,
    /// Arrow schema of the table.
    pub schema: SchemaRef,
    /// A timestamp column the rows are generated in ascending order of, if any. Such a
    /// table can be streamed in event-time order without a sort.
    pub ordered_by: Option<&'static str>,
    /// The column that anomaly injection targets by default (the table's main measure).
    pub main_measure: Option<&'static str>,
    /// For a table generated alongside its driver and nested directly under it: its
    /// column naming each row's driver row, and the driver's key column it names
    /// (`order_line.order_id` names `order.order_id`). A chunk of such a table holds
    /// the children of exactly the driver rows of the same chunk, so the two join
    /// chunk by chunk (an interleaved stream gives each line its order's event time).
    pub driver_key: Option<(&'static str, &'static str)>,
    /// The states the table's rows move through in a change stream, in the text form
    /// `COLUMN:FINAL=STATE/HOURS/SPREAD>...;...` (spindle-stream's `Lifecycle`), where
    /// the domain declares one: a workflow table (orders, claims, shipments...).
    pub lifecycle: Option<&'static str>,
}

/// A family of related tables (Retail, ...).
pub trait Domain: Send + Sync {
    /// The domain's name (`retail`).
    fn name(&self) -> &'static str;
    /// One line on what it models.
    fn description(&self) -> &'static str;
    /// The tables, in generation order.
    fn tables(&self) -> &[TableSpec];
    /// Exact row counts of every table at `scale`, in generation order.
    fn row_counts(&self, scale: &Scale) -> Vec<(&'static str, u64)>;
    /// Prepares generation at `scale` with `seed`.
    ///
    /// # Errors
    /// Invalid counts.
    fn plan(&self, scale: Scale, seed: u64) -> Result<Arc<dyn DomainPlan>>;

    /// The table called `name`.
    ///
    /// # Errors
    /// [`Error::UnknownTable`] listing the domain's tables.
    fn table(&self, name: &str) -> Result<&TableSpec> {
        self.tables()
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::UnknownTable {
                name: name.to_string(),
                allowed: self.table_names().join(", "),
            })
    }

    /// Table names in generation order.
    fn table_names(&self) -> Vec<&'static str> {
        self.tables().iter().map(|t| t.name).collect()
    }
}

/// A domain prepared for one (scale, seed): produces any chunk of any table on demand.
pub trait DomainPlan: Send + Sync {
    /// The domain planned.
    fn domain(&self) -> &dyn Domain;
    /// The scale planned.
    fn scale(&self) -> Scale;
    /// The seed planned.
    fn seed(&self) -> u64;
    /// How many units (rows of the driving table) `driver` has.
    fn units(&self, driver: &str) -> u64;
    /// Exact rows of `table`.
    fn row_count(&self, table: &str) -> u64;
    /// Does, once, the work every chunk of `tables` depends on (Retail: each order's
    /// date and customer under the orders-per-customer cap), so that it is done before
    /// chunks are made in parallel rather than by the first of them. [`ChunkStream`]
    /// calls it in its consumer's thread before starting any chunk, so that tables of
    /// other drivers are made meanwhile; chunks do the work on first use otherwise.
    /// The default does nothing.
    ///
    /// [`ChunkStream`]: crate::chunks::ChunkStream
    fn prepare(&self, tables: &[&str]) {
        let _ = tables;
    }
    /// Generates `tables` (all with the same driver) for the driver rows `units`,
    /// returning one batch per table in the order asked.
    ///
    /// # Errors
    /// Unknown tables, tables with different drivers, or a range past the end.
    fn generate(&self, tables: &[&str], units: Range<u64>) -> Result<Vec<RecordBatch>>;

    /// The columns `columns` of `table`, in the order asked, for the driver rows
    /// `units`: the values [`DomainPlan::generate`] gives them. A pass that reads a few
    /// columns of a table (the survey before anomaly injection, for a column's mean)
    /// asks for just those; plans that can make them without the rest of the row
    /// override this, which by default generates whole rows and keeps the columns.
    ///
    /// # Errors
    /// As [`DomainPlan::generate`]; [`Error::Invalid`] naming a column the table lacks.
    fn generate_columns(
        &self,
        table: &str,
        columns: &[&str],
        units: Range<u64>,
    ) -> Result<RecordBatch> {
        generated_columns(self, table, columns, units)
    }

    /// Whether [`DomainPlan::generate_rows`] makes `table`'s rows at any positions at
    /// about the cost of making them in order, and what a chunk's rows are sent after
    /// (its event times) is cheap to make alone. The default: no table's.
    fn generates_rows(&self, table: &str) -> bool {
        let _ = table;
        false
    }

    /// The rows of `table` at positions `rows` (in any order, repeats allowed), in that
    /// order: the values [`DomainPlan::generate`] gives them. A stream that puts
    /// anomalous events back at other times makes each chunk in the order it is sent
    /// this way, instead of moving rows made in table order.
    ///
    /// # Errors
    /// [`Error::Invalid`] where [`DomainPlan::generates_rows`] says no, or for a
    /// position past the table's end.
    fn generate_rows(&self, table: &str, rows: &[u64]) -> Result<RecordBatch> {
        let _ = rows;
        Err(not_made_by_row(self, table))
    }
}

/// The error of [`DomainPlan::generate_rows`] for a table it does not make by row.
pub(crate) fn not_made_by_row<P: DomainPlan + ?Sized>(plan: &P, table: &str) -> Error {
    Error::Invalid {
        field: "rows",
        message: format!(
            "{} does not make table {table} at scattered rows",
            plan.domain().name()
        ),
    }
}

/// [`DomainPlan::generate_columns`] by generating whole rows.
pub(crate) fn generated_columns<P: DomainPlan + ?Sized>(
    plan: &P,
    table: &str,
    columns: &[&str],
    units: Range<u64>,
) -> Result<RecordBatch> {
    let spec = plan.domain().table(table)?;
    let indices = column_indices(spec, columns)?;
    let batch = plan.generate(&[spec.name], units)?.remove(0);
    Ok(batch.project(&indices)?)
}

/// The positions of `columns` in `spec`'s schema.
///
/// # Errors
/// [`Error::Invalid`] naming a column the table lacks and listing its columns.
pub(crate) fn column_indices(spec: &TableSpec, columns: &[&str]) -> Result<Vec<usize>> {
    columns
        .iter()
        .map(|name| {
            spec.schema.index_of(name).map_err(|_| Error::Invalid {
                field: "columns",
                message: format!(
                    "table {} has no column '{name}'; its columns: {}",
                    spec.name,
                    spec.schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        })
        .collect()
}
