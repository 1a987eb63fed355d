//! `spindle list`, `describe` and `generate`.

use crate::args::{DescribeArgs, Format, GenerateArgs, ScaleArgs, ValidateArgs};
use crate::progress::Progress;
use anyhow::{Context, Result, bail};
use arrow_array::RecordBatch;
use spindle_gen::{ChunkStream, Counts, DEFAULT_CHUNK_UNITS, Partition, Scale, thousands};
use spindle_sinks::{CsvSink, FileMode, FileSink, ParquetOptions, ParquetSink, StreamWriter};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

/// Resolves `--scale` and explicit counts; `default` when no scale is given.
pub fn resolve_scale(args: &ScaleArgs, default: &str) -> Result<Scale> {
    let name = args.scale.as_deref().unwrap_or(default);
    let overrides = [args.customers, args.products, args.orders];
    let base = if name.eq_ignore_ascii_case("custom") {
        let (Some(customers), Some(products), Some(orders)) =
            (args.customers, args.products, args.orders)
        else {
            bail!("--scale custom needs all of --customers, --products and --orders");
        };
        Counts {
            customers,
            products,
            orders,
        }
    } else {
        let preset: Scale = name.parse()?;
        if overrides.iter().all(Option::is_none) {
            return Ok(preset);
        }
        preset.counts()
    };
    let counts = Counts {
        customers: args.customers.unwrap_or(base.customers),
        products: args.products.unwrap_or(base.products),
        orders: args.orders.unwrap_or(base.orders),
    };
    counts.validate().map_err(|e| match e {
        spindle_gen::Error::Invalid { field, message } => anyhow::anyhow!("--{field}: {message}"),
        other => other.into(),
    })?;
    Ok(Scale::Custom(counts))
}

/// `spindle list`.
pub fn list() -> Result<ExitCode> {
    let mut out = String::new();
    for domain in spindle_gen::domains() {
        writeln!(out, "domain {}: {}", domain.name(), domain.description())?;
        for t in domain.tables() {
            writeln!(out, "  table {:<18} {}", t.name, t.description)?;
        }
    }
    writeln!(
        out,
        "retail scales (schema domains: `spindle describe DOMAIN`):"
    )?;
    for scale in Scale::PRESETS {
        let c = scale.counts();
        writeln!(
            out,
            "  {:<12} {:>13} customers {:>9} products {:>16} orders",
            scale.name(),
            thousands(c.customers),
            thousands(c.products),
            thousands(c.orders)
        )?;
    }
    writeln!(
        out,
        "  {:<12} --customers N --products N --orders N",
        "custom"
    )?;
    print_out(&out)
}

/// `spindle describe DOMAIN`.
pub fn describe(args: &DescribeArgs) -> Result<ExitCode> {
    let mut out = String::new();
    let domain = spindle_gen::domain_by_name(&args.domain)?;
    writeln!(out, "domain {}: {}", domain.name(), domain.description())?;
    for t in domain.tables() {
        writeln!(out)?;
        writeln!(out, "table {} - {}", t.name, t.description)?;
        if let Some(col) = t.ordered_by {
            writeln!(
                out,
                "  generated in {col} order (streams in event-time order without a sort)"
            )?;
        }
        if let Some(m) = t.main_measure {
            writeln!(out, "  main measure (--anomaly-fraction target): {m}")?;
        }
        if t.driver != t.name {
            writeln!(out, "  generated alongside its driving table: {}", t.driver)?;
        }
        if let Some(l) = spindle_stream::Lifecycle::of(t) {
            writeln!(out, "  lifecycle (--cdc): {l}")?;
        }
        for f in t.schema.fields() {
            let null = if f.is_nullable() { "nullable" } else { "" };
            writeln!(
                out,
                "    {:<22} {:<28} {null}",
                f.name(),
                f.data_type().to_string()
            )?;
        }
    }
    writeln!(out)?;
    let names = domain.table_names();
    write!(out, "{:<12}", "rows")?;
    for n in &names {
        write!(out, " {:>16}", n)?;
    }
    writeln!(out)?;
    for scale in Scale::PRESETS {
        let counts = domain.row_counts(&scale);
        if counts.is_empty() {
            continue;
        }
        write!(out, "{:<12}", scale.name())?;
        for (_, rows) in counts {
            write!(out, " {:>16}", thousands(rows))?;
        }
        writeln!(out)?;
    }
    print_out(&out)
}

/// `spindle validate FILE`: the schema's outline, or every problem in it (exit 2).
pub fn validate(args: &ValidateArgs) -> Result<ExitCode> {
    let domain = spindle_gen::schema::SchemaDomain::from_file(&args.schema)?;
    print_out(&domain.report())
}

/// Writes `text` to stdout; a reader that went away (`spindle list | head`) is not an
/// error.
fn print_out(text: &str) -> Result<ExitCode> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => {
            other?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A writer of one table's file; Parquet records the column the table is generated in
/// ascending order of.
fn open_sink(
    args: &GenerateArgs,
    path: &Path,
    sorted_by: Option<&str>,
) -> Result<Box<dyn StreamWriter>> {
    Ok(match args.format {
        Format::Parquet => Box::new(ParquetSink::new(
            path,
            ParquetOptions {
                compression: args.compression,
                ..Default::default()
            }
            .sorted_by(sorted_by),
        )?),
        Format::Jsonl => Box::new(FileSink::new(path, FileMode::Overwrite)?),
        Format::Csv => Box::new(CsvSink::new(path)?),
        #[cfg(feature = "avro")]
        Format::Avro => Box::new(spindle_sinks::AvroSink::new(path)?),
        #[cfg(feature = "delta")]
        Format::Delta => unreachable!("Delta tables are opened by open_tables"),
    })
}

/// Each table's name and sink.
type TableSinks = Vec<(&'static str, Box<dyn StreamWriter>)>;

/// Files being written: `name.ext.part` until the run succeeds, then renamed.
#[derive(Default)]
struct Outputs {
    files: Vec<(PathBuf, PathBuf)>,
    done: bool,
}

impl Drop for Outputs {
    fn drop(&mut self) {
        if !self.done {
            for (part, _) in &self.files {
                let _ = std::fs::remove_file(part);
            }
        }
    }
}

/// Each table's file sink in `--output` (a folder, empty unless `--force`), writing
/// `NAME.EXT.part` until the run succeeds.
fn open_files(
    args: &GenerateArgs,
    domain: &dyn spindle_gen::Domain,
    names: &[&'static str],
) -> Result<(Outputs, TableSinks)> {
    let out = &args.output;
    if out.exists() {
        if !out.is_dir() {
            bail!("--output {} exists and is not a folder", out.display());
        }
        let non_empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot read --output {}", out.display()))?
            .next()
            .is_some();
        if non_empty && !args.force {
            bail!(
                "--output {} is not empty; pass --force to overwrite its files",
                out.display()
            );
        }
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create --output {}", out.display()))?;
    let mut outputs = Outputs::default();
    let mut sinks: TableSinks = Vec::new();
    for name in names {
        let file = out.join(format!("{name}.{}", args.format.extension()));
        let part_file = out.join(format!("{name}.{}.part", args.format.extension()));
        let sink = open_sink(args, &part_file, domain.table(name)?.ordered_by)
            .with_context(|| format!("cannot write into --output {}", out.display()))?;
        outputs.files.push((part_file, file));
        sinks.push((name, sink));
    }
    Ok((outputs, sinks))
}

/// Each table's Delta table sink in `--output`, committing the table's rows (or this
/// part's) when the table is done.
#[cfg(feature = "delta")]
fn open_tables(
    args: &GenerateArgs,
    domain: &dyn spindle_gen::Domain,
    names: &[&'static str],
) -> Result<TableSinks> {
    let location = spindle_lake::TablesLocation::parse(&args.output.to_string_lossy())?;
    let part = spindle_lake::RunPart {
        run: run_id(args),
        part: args.part,
        parts: args.parts,
    };
    let mut sinks: TableSinks = Vec::new();
    for name in names {
        let spec = domain.table(name)?;
        let options = ParquetOptions {
            compression: args.compression,
            ..Default::default()
        }
        .sorted_by(spec.ordered_by);
        let sink = spindle_lake::DeltaTableSink::new(
            &location,
            name,
            spec.schema.clone(),
            part.clone(),
            args.force,
            options,
        )?;
        sinks.push((name, Box::new(sink)));
    }
    Ok(sinks)
}

/// The identity of a run, the same for each of its parts: a digest of what makes its
/// rows (domain, scale, seed, tables) and of its split.
#[cfg(feature = "delta")]
fn run_id(args: &GenerateArgs) -> String {
    let mut digest = 0xcbf2_9ce4_8422_2325_u64;
    for field in [
        args.domain.as_str(),
        &format!("{:?}", args.scale),
        &args.seed.to_string(),
        &args.tables.join(","),
        &args.parts.to_string(),
    ] {
        for byte in field.bytes().chain([0]) {
            digest = (digest ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }
    format!("{digest:016x}")
}

/// `spindle generate DOMAIN ...`.
pub fn run(args: &GenerateArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let domain = spindle_gen::domain_by_name(&args.domain)?;
    let scale = resolve_scale(&args.scale, "small")?;
    let part = Partition::new(args.part, args.parts)?;
    let names: Vec<&'static str> = if args.tables.is_empty() {
        domain.table_names()
    } else {
        args.tables
            .iter()
            .map(|t| domain.table(t).map(|s| s.name))
            .collect::<spindle_gen::Result<_>>()?
    };

    let plan = domain.plan(scale, args.seed)?;
    let (mut outputs, mut sinks) = match args.format {
        #[cfg(feature = "delta")]
        Format::Delta => (
            Outputs::default(),
            open_tables(args, domain.as_ref(), &names)?,
        ),
        _ => open_files(args, domain.as_ref(), &names)?,
    };

    let total_units: u64 = spindle_gen::driver_groups(domain.as_ref(), &names)?
        .iter()
        .map(|(driver, _)| part.units(plan.units(driver)).count() as u64)
        .sum();
    let progress = Mutex::new(Progress::new(Some(total_units), "units", args.quiet));
    // Driver groups are independent: they run side by side, the big one first, so the
    // small tables are written while the large ones are still generating.
    let mut groups = spindle_gen::driver_groups(domain.as_ref(), &names)?;
    groups.sort_by_key(|(driver, _)| std::cmp::Reverse(plan.units(driver)));
    let rows_total = std::thread::scope(|scope| -> Result<u64> {
        let mut running = Vec::new();
        for (driver, group) in groups {
            let group_sinks: Vec<(&'static str, Box<dyn StreamWriter>)> = group
                .iter()
                .map(|t| {
                    let at = sinks
                        .iter()
                        .position(|(n, _)| n == t)
                        .expect("opened above");
                    sinks.remove(at)
                })
                .collect();
            let units = part.units(plan.units(driver));
            let chunks = ChunkStream::new(plan.clone(), group, units, DEFAULT_CHUNK_UNITS);
            let progress = &progress;
            running.push(scope.spawn(move || write_group(chunks, group_sinks, progress)));
        }
        let mut rows = 0;
        for group in running {
            rows += group.join().expect("a group's thread does not panic")?;
        }
        Ok(rows)
    })?;
    let progress = progress.into_inner().expect("progress lock");
    progress.finish();
    for (part_file, file) in &outputs.files {
        std::fs::rename(part_file, file).with_context(|| {
            format!(
                "cannot rename {} to {}",
                part_file.display(),
                file.display()
            )
        })?;
    }
    outputs.done = true;
    println!(
        "{}",
        spindle_gen::summary_line(names.len(), rows_total, started.elapsed())
    );
    Ok(ExitCode::SUCCESS)
}

/// Chunks of one table that may wait for its writer.
const QUEUED_CHUNKS: usize = 4;

/// Writes one driver group: generation (rayon) feeds one writer thread per table.
fn write_group(
    chunks: ChunkStream,
    sinks: Vec<(&'static str, Box<dyn StreamWriter>)>,
    progress: &Mutex<Progress>,
) -> Result<u64> {
    let ranges: Vec<u64> = chunks.remaining_ranges().map(|r| r.end - r.start).collect();
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut writers = Vec::new();
        for (name, mut sink) in sinks {
            let (tx, rx) = sync_channel::<RecordBatch>(QUEUED_CHUNKS);
            senders.push(tx);
            writers.push(scope.spawn(move || -> Result<u64> {
                // Whatever has queued up is written in one call: the sink encodes it
                // in fewer, larger parallel tasks.
                while let Ok(first) = rx.recv() {
                    let batches: Vec<RecordBatch> = std::iter::once(first)
                        .chain(rx.try_iter().take(QUEUED_CHUNKS - 1))
                        .collect();
                    sink.send_batches(&batches)
                        .with_context(|| format!("writing table {name}"))?;
                }
                sink.close()
                    .with_context(|| format!("closing table {name}"))?;
                Ok(sink.delivered())
            }));
        }
        let mut failed = None;
        for (chunk, units) in chunks.zip(ranges) {
            match chunk {
                Ok(batches) => {
                    if senders
                        .iter()
                        .zip(batches)
                        .any(|(tx, b)| tx.send(b).is_err())
                    {
                        break; // a writer stopped; its error is reported below
                    }
                    progress.lock().expect("progress lock").add(units);
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop(senders);
        let mut rows = 0;
        for w in writers {
            rows += w.join().expect("writer thread does not panic")?;
        }
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(rows),
        }
    })
}
