//! One generated table (or one part of it) written as a Delta table: its rows in a
//! Parquet file of Spindle's writer inside the table's folder, committed to the
//! table's log when the sink closes.

use crate::error::{Error, Result};
use crate::location::TablesLocation;
use arrow_schema::SchemaRef;
use deltalake_core::DeltaTable;
use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake_core::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake_core::kernel::{Action, Add, StructType, Transaction};
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use futures::TryStreamExt;
use parquet::file::metadata::ParquetMetaDataReader;
use spindle_sinks::{ParquetOptions, ParquetSink, StreamWriter};
use std::path::PathBuf;
use url::Url;

/// Which part of which run a sink writes: the run's identity (the same for every part of
/// one run, different for another seed, scale or split) and the part's number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunPart {
    /// The run's identity (letters, digits and dashes).
    pub run: String,
    /// The part, from 0.
    pub part: u64,
    /// How many parts the run is split into.
    pub parts: u64,
}

impl RunPart {
    /// The application transaction id of this part's commit to `table`.
    fn app_id(&self, table: &str) -> String {
        format!(
            "spindle-{}-{table}-part-{}-of-{}",
            self.run, self.part, self.parts
        )
    }

    /// The name of a new data file of this part: unique, so that a file committed
    /// earlier is never overwritten (time travel reads it as it was).
    fn file_name(&self) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!(
            "part-{:05}-of-{:05}-{}-{nanos:x}{:x}.parquet",
            self.part,
            self.parts,
            self.run,
            std::process::id()
        )
    }
}

/// Writes one table's rows as a data file of a Delta table and commits it when closed.
/// The commit creates the table if it does not exist yet (with the rows' schema). A
/// run in one part replaces the rows of a table that exists when told to (else it is an
/// error, raised before any row is written); each part of a run split in parts appends
/// its file, once: a part whose commit is already in the table (a part run again)
/// commits nothing and removes its file.
pub struct DeltaTableSink {
    table: Url,
    replace: bool,
    runtime: tokio::runtime::Runtime,
    name: String,
    part: RunPart,
    folder: PathBuf,
    file_name: String,
    schema: SchemaRef,
    parquet: ParquetSink,
    closed: bool,
    /// The commit is made (or was there): the data file is the table's to keep.
    committed: bool,
}

impl DeltaTableSink {
    /// A sink of table `name` (rows of `schema`) in `location`, written as `part` of its
    /// run with the Parquet `options`; `replace` replaces the rows of a table that
    /// exists (a run in one part only). The data file is written as `NAME.part` first.
    ///
    /// # Errors
    /// The table exists and a run in one part was not told to replace it, `replace` for
    /// a part of a run in several, the table's log cannot be read or its folder made.
    pub fn new(
        location: &TablesLocation,
        name: &str,
        schema: SchemaRef,
        part: RunPart,
        replace: bool,
        options: ParquetOptions,
    ) -> Result<Self> {
        let table = location.table(name);
        if replace && part.parts > 1 {
            return Err(Error::Invalid {
                field: "--force",
                message: format!(
                    "replacing the rows of {table} is a run's in one part: the {} parts of a \
                     run each append theirs; write them to a new location",
                    part.parts
                ),
            });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Delta {
                table: table.to_string(),
                message: e.to_string(),
            })?;
        let folder = location.table_path(name);
        std::fs::create_dir_all(&folder).map_err(|e| spindle_sinks::Error::io(&folder, e))?;
        if part.parts == 1 && !replace && runtime.block_on(exists(&table))? {
            return Err(Error::Invalid {
                field: "--output",
                message: format!(
                    "a Delta table exists at {table}; pass --force to replace its rows (a new \
                     version: the old ones stay readable by time travel)"
                ),
            });
        }
        let file_name = part.file_name();
        let mut parquet = ParquetSink::new(folder.join(format!("{file_name}.part")), options)?;
        parquet.open(schema.clone())?;
        Ok(Self {
            table,
            replace,
            runtime,
            name: name.to_string(),
            part,
            folder,
            file_name,
            schema,
            parquet,
            closed: false,
            committed: false,
        })
    }

    /// The error of `table`'s log or store.
    fn failed(&self, e: impl std::fmt::Display) -> Error {
        Error::Delta {
            table: self.table.to_string(),
            message: e.to_string(),
        }
    }

    /// Finishes the data file and commits it.
    fn finish(&mut self) -> Result<()> {
        self.parquet.close()?;
        let staged = self.folder.join(format!("{}.part", self.file_name));
        let file = std::fs::File::open(&staged).map_err(|e| self.failed(e))?;
        let size = file.metadata().map_err(|e| self.failed(e))?.len();
        let footer = ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .map_err(|e| self.failed(e))?;
        let stats = crate::stats::delta_stats(&footer, &self.schema).map_err(|e| self.failed(e))?;
        std::fs::rename(&staged, self.folder.join(&self.file_name)).map_err(|e| self.failed(e))?;
        let add = Add {
            path: self.file_name.clone(),
            size: i64::try_from(size).unwrap_or(i64::MAX),
            modification_time: chrono::Utc::now().timestamp_millis(),
            data_change: true,
            stats: Some(stats),
            ..Default::default()
        };
        let added = self.runtime.block_on(self.commit(add))?;
        self.committed = true;
        if !added {
            // This part's file is in the table already: drop the new copy.
            let file = self.folder.join(&self.file_name);
            std::fs::remove_file(&file).map_err(|e| self.failed(e))?;
        }
        Ok(())
    }

    /// Commits `add`: creating the table with it, replacing the table's files by it, or
    /// appending it once per part. `false` if this part's commit was there already.
    async fn commit(&self, add: Add) -> Result<bool> {
        let app_id = self.part.app_id(&self.name);
        let properties =
            CommitProperties::default().with_application_transaction(Transaction::new(&app_id, 0));
        let mut table = DeltaTable::try_from_url(self.table.clone())
            .await
            .map_err(|e| self.failed(e))?;
        if table.version().is_none() {
            let columns: StructType = self
                .schema
                .as_ref()
                .try_into_kernel()
                .map_err(|e| self.failed(e))?;
            let created = table
                .create()
                .with_table_name(&self.name)
                .with_columns(columns.fields().cloned())
                .with_actions([Action::Add(add.clone())])
                .with_commit_properties(properties.clone())
                .await;
            if let Err(e) = created {
                // Another part created the table first (seen by the create, or by the
                // commit of its first version): append to it.
                let raced = DeltaTable::try_from_url(self.table.clone())
                    .await
                    .map_err(|e| self.failed(e))?;
                if raced.version().is_none() {
                    return Err(self.failed(e));
                }
                table = raced;
            } else {
                return Ok(true);
            }
        }
        let state = table.snapshot().map_err(|e| self.failed(e))?;
        let log_store = table.log_store();
        let mut actions = vec![Action::Add(add)];
        let mode = if self.replace {
            let files: Vec<_> = table
                .get_active_add_actions_by_partitions(&[])
                .try_collect()
                .await
                .map_err(|e| self.failed(e))?;
            actions.extend(files.iter().map(|f| Action::Remove(f.remove_action(true))));
            SaveMode::Overwrite
        } else {
            let done = state
                .transaction_version(log_store.as_ref(), &app_id)
                .await
                .map_err(|e| self.failed(e))?;
            if done.is_some() {
                return Ok(false);
            }
            SaveMode::Append
        };
        CommitBuilder::from(properties)
            .with_actions(actions)
            .build(
                Some(state),
                log_store,
                DeltaOperation::Write {
                    mode,
                    partition_by: None,
                    predicate: None,
                },
            )
            .await
            .map_err(|e| self.failed(e))?;
        Ok(true)
    }
}

/// Whether a Delta table exists at `table`.
async fn exists(table: &Url) -> Result<bool> {
    let loaded = DeltaTable::try_from_url(table.clone())
        .await
        .map_err(|e| Error::Delta {
            table: table.to_string(),
            message: e.to_string(),
        })?;
    Ok(loaded.version().is_some())
}

impl Drop for DeltaTableSink {
    /// A sink dropped before its commit (the run failed) removes its data file, which
    /// no reader would list, and the table's folder if that leaves it empty: nothing
    /// of the run stays behind.
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(self.folder.join(format!("{}.part", self.file_name)));
            let _ = std::fs::remove_file(self.folder.join(&self.file_name));
            let _ = std::fs::remove_dir(&self.folder);
        }
    }
}

impl StreamWriter for DeltaTableSink {
    fn send_batch(&mut self, batch: &arrow_array::RecordBatch) -> spindle_sinks::Result<()> {
        self.parquet.send_batch(batch)
    }

    fn send_batches(&mut self, batches: &[arrow_array::RecordBatch]) -> spindle_sinks::Result<()> {
        self.parquet.send_batches(batches)
    }

    fn close(&mut self) -> spindle_sinks::Result<()> {
        if std::mem::replace(&mut self.closed, true) {
            return Ok(());
        }
        Ok(self.finish()?)
    }

    fn delivered(&self) -> u64 {
        self.parquet.delivered()
    }

    fn describe(&self) -> String {
        format!("delta:{}", self.table)
    }
}
