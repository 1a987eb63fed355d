//! SQL-selected sources for Spindle streams, on DataFusion.
//!
//! Register Parquet, CSV and JSON-lines files or folders, and, if asked, the generated
//! tables of a domain, in one session; run a query; stream its result with every
//! stream feature. Results flow from DataFusion's record batch stream chunk by chunk.
//! The streamer gathers the whole result only when event-time order needs it: when the
//! result has a timestamp column and the plan does not already deliver it in that
//! order. End the query with `ORDER BY <event-time column>` and DataFusion sorts (with
//! spilling) and the streamer streams. Parquet files that record their sort order in
//! their row groups' `sorting_columns` (as `spindle generate` writes them) need no sort
//! at all: DataFusion reads that order from the files, so the `ORDER BY` costs nothing
//! and the whole run streams in memory independent of the file's size. With anomalies
//! the query runs twice (a survey, then the stream), so it must give the same rows in
//! the same order each time: order it on every row (`ORDER BY order_date, order_id`).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions};
use futures::StreamExt;
use spindle_gen::{Domain, Scale, Spindle};
use spindle_stream::TableSource;
use std::path::Path;
use std::sync::Arc;

/// What can go wrong with sources and queries.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A source that cannot be registered.
    #[error("--source {source_name}: {message}")]
    Source {
        /// The source as given.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// DataFusion rejected or failed the query.
    #[error("query failed: {0}")]
    Query(String),
    /// Generation failed.
    #[error(transparent)]
    Generate(#[from] spindle_gen::Error),
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::Query(e.to_string())
    }
}

/// The SQL layer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// File formats a source can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl Format {
    fn of_extension(ext: &str) -> Option<(Self, &'static str)> {
        match ext.to_ascii_lowercase().as_str() {
            "parquet" => Some((Format::Parquet, ".parquet")),
            "csv" => Some((Format::Csv, ".csv")),
            "jsonl" => Some((Format::JsonLines, ".jsonl")),
            "ndjson" => Some((Format::JsonLines, ".ndjson")),
            "json" => Some((Format::JsonLines, ".json")),
            _ => None,
        }
    }
}

/// A DataFusion session holding registered sources.
pub struct SqlSources {
    context: SessionContext,
    runtime: Arc<tokio::runtime::Runtime>,
    names: Vec<String>,
}

impl Default for SqlSources {
    fn default() -> Self {
        Self::new()
    }
}

impl SqlSources {
    /// An empty session.
    pub fn new() -> Self {
        Self {
            context: SessionContext::new(),
            runtime: Arc::new(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a tokio runtime builds"),
            ),
            names: Vec::new(),
        }
    }

    /// Registered table names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Registers `NAME=PATH` or `PATH` (the name is then the file stem). The format
    /// comes from the extension; a folder takes the format of the files in it.
    ///
    /// # Errors
    /// A missing or unreadable path, an unknown format, a file DataFusion cannot read.
    pub fn register(&mut self, spec: &str) -> Result<String> {
        let (name, path) = match spec.split_once('=') {
            Some((n, p)) => (Some(n.to_string()), p),
            None => (None, spec),
        };
        let path = Path::new(path);
        let bad = |message: String| Error::Source {
            source_name: spec.to_string(),
            message,
        };
        let meta = std::fs::metadata(path)
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        let extension = if meta.is_dir() {
            std::fs::read_dir(path)
                .map_err(|e| bad(format!("cannot list {}: {e}", path.display())))?
                .filter_map(|e| e.ok())
                .find_map(|e| {
                    let p = e.path();
                    let ext = p.extension()?.to_str()?.to_string();
                    Format::of_extension(&ext).map(|_| ext)
                })
                .ok_or_else(|| {
                    bad(format!(
                        "{} holds no .parquet, .csv, .jsonl, .ndjson or .json files",
                        path.display()
                    ))
                })?
        } else {
            path.extension()
                .and_then(|e| e.to_str())
                .map(str::to_string)
                .unwrap_or_default()
        };
        let (format, suffix) = Format::of_extension(&extension).ok_or_else(|| {
            bad(format!(
                "unknown format '.{extension}'; allowed: .parquet, .csv, .jsonl, .ndjson, .json"
            ))
        })?;
        let name = match name {
            Some(n) => n,
            None => path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
                .ok_or_else(|| bad("cannot name the table after the file; use NAME=PATH".into()))?,
        };
        let location = path
            .to_str()
            .ok_or_else(|| bad("the path is not UTF-8".into()))?
            .to_string();
        let context = &self.context;
        let registered = self.runtime.block_on(async {
            match format {
                Format::Parquet => {
                    context
                        .register_parquet(
                            &name,
                            &location,
                            ParquetReadOptions::default().file_extension(suffix),
                        )
                        .await
                }
                Format::Csv => {
                    context
                        .register_csv(
                            &name,
                            &location,
                            CsvReadOptions::new().file_extension(suffix),
                        )
                        .await
                }
                Format::JsonLines => {
                    context
                        .register_json(
                            &name,
                            &location,
                            JsonReadOptions::default().file_extension(suffix),
                        )
                        .await
                }
            }
        });
        registered.map_err(|e| bad(e.to_string()))?;
        self.names.push(name.clone());
        Ok(name)
    }

    /// Registers every table of `domain` at `scale`, generated in memory.
    ///
    /// # Errors
    /// Invalid counts.
    pub fn register_domain(&mut self, domain: &dyn Domain, scale: Scale, seed: u64) -> Result<()> {
        let generated = Spindle::generate(domain, scale, seed)?;
        for (name, batch) in generated.tables {
            let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
            self.context
                .register_table(name.as_str(), Arc::new(table))?;
            self.names.push(name);
        }
        Ok(())
    }

    fn plan(&self, sql: &str) -> Result<Arc<dyn ExecutionPlan>> {
        self.runtime.block_on(async {
            let frame = self.context.sql(sql).await?;
            Ok(frame.create_physical_plan().await?)
        })
    }

    /// The query's result as a stream source called `name`, batch by batch.
    ///
    /// # Errors
    /// SQL that does not parse, or names an unknown table or column.
    pub fn query(&self, name: &str, sql: &str) -> Result<TableSource> {
        let plan = self.plan(sql)?;
        let schema: SchemaRef = plan.schema();
        let ordered_by = leading_ascending_column(plan.as_ref());
        let runtime = self.runtime.clone();
        let context = self.context.clone();
        // Each read runs the plan again (a stream with anomalies reads twice).
        let rows = move || -> spindle_stream::Result<spindle_stream::Batches> {
            // Plans with several partitions spawn their inputs on the runtime as they
            // start.
            let stream = {
                let _inside = runtime.enter();
                datafusion::physical_plan::execute_stream(plan.clone(), context.task_ctx())
                    .map_err(|e| spindle_stream::Error::invalid("sql", e.to_string()))?
            };
            let runtime = runtime.clone();
            let mut stream = Some(stream);
            Ok(Box::new(std::iter::from_fn(move || {
                let s = stream.as_mut()?;
                let next = runtime.block_on(s.next());
                if next.is_none() {
                    stream = None;
                }
                next.map(|r| r.map_err(|e| spindle_stream::Error::invalid("sql", e.to_string())))
            })))
        };
        Ok(TableSource {
            name: name.to_string(),
            schema,
            rows: Arc::new(rows),
            columns: None,
            rows_at: None,
            ordered_by,
        })
    }

    /// The physical plan DataFusion would run for `sql`, indented, one operator a line
    /// (a `SortExec` in it means the result is sorted in memory, with spilling).
    ///
    /// # Errors
    /// As [`SqlSources::query`].
    pub fn explain(&self, sql: &str) -> Result<String> {
        let plan = self.plan(sql)?;
        Ok(datafusion::physical_plan::displayable(plan.as_ref())
            .indent(false)
            .to_string())
    }

    /// Runs `sql` and collects its result.
    ///
    /// # Errors
    /// As [`SqlSources::query`].
    pub fn collect(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let plan = self.plan(sql)?;
        Ok(self.runtime.block_on(datafusion::physical_plan::collect(
            plan,
            self.context.task_ctx(),
        ))?)
    }
}

/// The column the plan's output is sorted on first, ascending, if any.
fn leading_ascending_column(plan: &dyn ExecutionPlan) -> Option<String> {
    let ordering = plan.properties().output_ordering()?;
    let first = ordering.iter().next()?;
    if first.options.descending {
        return None;
    }
    first
        .expr
        .downcast_ref::<Column>()
        .map(|c| c.name().to_string())
}

/// `batches` as a text table.
///
/// # Errors
/// A type the printer cannot format.
pub fn pretty(batches: &[RecordBatch]) -> Result<String> {
    datafusion::arrow::util::pretty::pretty_format_batches(batches)
        .map(|t| t.to_string())
        .map_err(|e| Error::Query(e.to_string()))
}
