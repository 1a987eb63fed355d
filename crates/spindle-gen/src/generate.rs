//! The library's entry point: whole tables of a domain generated at a scale and seed,
//! with the reference's summary line.

use crate::chunks::{ChunkStream, DEFAULT_CHUNK_UNITS, Partition, driver_groups};
use crate::domain::{Domain, DomainPlan};
use crate::error::Result;
use crate::report::thousands;
use crate::scale::Scale;
use arrow_array::RecordBatch;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The result of generating whole tables in memory.
#[derive(Clone, Debug)]
pub struct GenerationResult {
    /// Tables in generation order, each as one batch.
    pub tables: Vec<(String, RecordBatch)>,
    /// Wall time taken.
    pub elapsed: Duration,
}

impl GenerationResult {
    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&RecordBatch> {
        self.tables.iter().find(|(n, _)| n == name).map(|(_, b)| b)
    }

    /// Rows over all tables.
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|(_, b)| b.num_rows() as u64).sum()
    }
}

/// The reference's summary line: `GenerationResult(9 tables, 21,750 total rows, 0.1s)`.
pub fn summary_line(tables: usize, rows: u64, elapsed: Duration) -> String {
    format!(
        "GenerationResult({tables} tables, {} total rows, {:.1}s)",
        thousands(rows),
        elapsed.as_secs_f64()
    )
}

impl fmt::Display for GenerationResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&summary_line(
            self.tables.len(),
            self.total_rows(),
            self.elapsed,
        ))
    }
}

/// Entry point of the library API.
pub struct Spindle;

impl Spindle {
    /// Generates every table of `domain` at `scale` in memory.
    ///
    /// # Errors
    /// Invalid counts.
    pub fn generate(domain: &dyn Domain, scale: Scale, seed: u64) -> Result<GenerationResult> {
        Self::generate_part(domain, scale, seed, Partition::WHOLE)
    }

    /// Generates one part of a partitioned run in memory.
    ///
    /// # Errors
    /// Invalid counts.
    pub fn generate_part(
        domain: &dyn Domain,
        scale: Scale,
        seed: u64,
        part: Partition,
    ) -> Result<GenerationResult> {
        Self::generate_tables(domain, scale, seed, part, &domain.table_names())
    }

    /// Generates only `names` (in the domain's generation order, whatever their order
    /// here) of one part of a run in memory: the same rows as in a run of every table.
    ///
    /// # Errors
    /// An unknown table, or invalid counts.
    pub fn generate_tables(
        domain: &dyn Domain,
        scale: Scale,
        seed: u64,
        part: Partition,
        names: &[&str],
    ) -> Result<GenerationResult> {
        let started = Instant::now();
        for name in names {
            domain.table(name)?;
        }
        let names: Vec<&'static str> = domain
            .table_names()
            .into_iter()
            .filter(|t| names.contains(t))
            .collect();
        let plan = domain.plan(scale, seed)?;
        let mut collected: Vec<Vec<RecordBatch>> = vec![Vec::new(); names.len()];
        for (driver, group) in driver_groups(domain, &names)? {
            let units = part.units(plan.units(driver));
            for chunk in ChunkStream::new(plan.clone(), group.clone(), units, DEFAULT_CHUNK_UNITS) {
                for (table, batch) in group.iter().zip(chunk?) {
                    let at = names.iter().position(|n| n == table).expect("known table");
                    collected[at].push(batch);
                }
            }
        }
        let tables = names
            .iter()
            .zip(collected)
            .map(|(name, batches)| {
                let schema = domain.table(name)?.schema.clone();
                let batch = arrow_select::concat::concat_batches(&schema, &batches)?;
                Ok((name.to_string(), batch))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(GenerationResult {
            tables,
            elapsed: started.elapsed(),
        })
    }

    /// Iterates `table` chunk by chunk without holding it whole.
    ///
    /// # Errors
    /// Unknown table or invalid counts.
    pub fn iter_table(
        plan: Arc<dyn DomainPlan>,
        table: &str,
        part: Partition,
        chunk_units: u64,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + use<>> {
        let spec = plan.domain().table(table)?;
        let name = spec.name;
        let units = part.units(plan.units(spec.driver));
        Ok(ChunkStream::new(plan, vec![name], units, chunk_units)
            .map(|chunk| chunk.map(|mut batches| batches.remove(0))))
    }

    /// Iterates the columns `columns` of `table` (in the order given) chunk by chunk,
    /// as [`Spindle::iter_table`] gives them, made without the rest of the rows where
    /// the plan can (see [`DomainPlan::generate_columns`]).
    ///
    /// # Errors
    /// Unknown table or column, or invalid counts.
    pub fn iter_table_columns(
        plan: Arc<dyn DomainPlan>,
        table: &str,
        columns: &[String],
        part: Partition,
        chunk_units: u64,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + use<>> {
        let spec = plan.domain().table(table)?;
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        crate::domain::column_indices(spec, &names)?;
        let name = spec.name;
        let units = part.units(plan.units(spec.driver));
        Ok(
            ChunkStream::columns(plan, name, columns.into(), units, chunk_units)
                .map(|chunk| chunk.map(|mut batches| batches.remove(0))),
        )
    }

    /// Iterates every table as `(table, batch)` pairs, chunk by chunk. Tables with the
    /// same driver (`order`, `order_line`, `return`) come interleaved, chunk by chunk.
    ///
    /// # Errors
    /// Invalid counts.
    pub fn iter_all(
        plan: Arc<dyn DomainPlan>,
        part: Partition,
        chunk_units: u64,
    ) -> Result<impl Iterator<Item = Result<(&'static str, RecordBatch)>> + use<>> {
        let names = plan.domain().table_names();
        let groups = driver_groups(plan.domain(), &names)?;
        Ok(groups.into_iter().flat_map(move |(driver, group)| {
            let units = part.units(plan.units(driver));
            ChunkStream::new(plan.clone(), group.clone(), units, chunk_units).flat_map(
                move |chunk| -> Vec<Result<(&'static str, RecordBatch)>> {
                    match chunk {
                        Ok(batches) => group.iter().copied().zip(batches).map(Ok).collect(),
                        Err(e) => vec![Err(e)],
                    }
                },
            )
        }))
    }
}
