//! `spindle stream`: flags and `--config` resolved into settings, checked in full before
//! any output is opened, then one streaming run ([`StreamJob`]).

use crate::args::{RunArgs, ScaleArgs, StreamArgs, StreamOnlyArgs};
use crate::args::{flag_of, named_stream_error, set_by, stream_config};
use crate::config_file::{self, ConfigFile, Layered};
use crate::generate::resolve_scale;
use crate::progress::Progress;
use anyhow::{Context, Result, bail};
use spindle_gen::Domain;
use spindle_sinks::{SinkAddress, SinkOpenOptions};
use spindle_stream::{
    Anomaly, AnomalyRegistry, Outputs, PointAnomaly, Rows, Selection, StopReason, StreamConfig,
    StreamJob,
};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// The settings every streaming run has, whatever its source.
pub struct Common {
    /// `--timestamp-column`.
    pub timestamp_column: Option<String>,
    /// The stream settings, checked.
    pub config: StreamConfig,
    /// Anomalies from `--config` and `--anomalies` (checked against a table later).
    pub anomalies: AnomalyRegistry,
    /// Where events go.
    pub sinks: Vec<SinkAddress>,
    /// Where dropped events go (`--ground-truth`).
    pub ground_truth: Option<std::path::PathBuf>,
    open: SinkOpenOptions,
    quiet: bool,
}

/// `stream`'s settings: flags over `--config`.
struct Layers {
    stream: StreamOnlyArgs,
    scale: ScaleArgs,
    run: RunArgs,
    config: StreamConfig,
}

fn layers(args: StreamArgs) -> Result<Layers> {
    let file = ConfigFile::read(
        args.config.as_deref(),
        "stream",
        &[StreamOnlyArgs::KEYS, ScaleArgs::KEYS, RunArgs::KEYS],
    )?;
    Ok(Layers {
        stream: ConfigFile::layer(file.as_ref(), args.stream)?,
        scale: ConfigFile::layer(file.as_ref(), args.scale)?,
        run: ConfigFile::layer(file.as_ref(), args.run)?,
        config: stream_config(file.as_ref(), &args.settings)?,
    })
}

/// The tables `--table`, `--tables` or `--all-tables` name, in generation order.
fn selected_tables(
    domain: &dyn Domain,
    table: Option<&String>,
    tables: Option<&Vec<String>>,
    all_tables: bool,
) -> Result<Vec<String>> {
    Ok(match (table, tables, all_tables) {
        (Some(_), Some(_), _) | (Some(_), _, true) | (_, Some(_), true) => {
            bail!("pass one of --table, --tables and --all-tables")
        }
        (Some(t), None, false) => vec![domain.table(t)?.name.to_string()],
        (None, Some(list), false) => {
            let mut named = Vec::new();
            for t in list {
                let name = domain.table(t)?.name;
                if named.contains(&name) {
                    bail!("--tables names {name} twice");
                }
                named.push(name);
            }
            // In generation order, as --all-tables streams them.
            domain
                .table_names()
                .into_iter()
                .filter(|t| named.contains(t))
                .map(str::to_string)
                .collect()
        }
        (None, None, true) => domain.table_names().iter().map(|s| s.to_string()).collect(),
        (None, None, false) => bail!(
            "pass --table TABLE, --tables T1,T2 or --all-tables; tables of {}: {}",
            domain.name(),
            domain.table_names().join(", ")
        ),
    })
}

/// The point anomaly `--anomaly-fraction` asks for: on `table`'s main measure.
fn main_measure_anomaly(domain: &dyn Domain, table: &str, fraction: f64) -> Result<Anomaly> {
    let spec = domain.table(table)?;
    let Some(measure) = spec.main_measure else {
        let with: Vec<String> = domain
            .tables()
            .iter()
            .filter_map(|t| t.main_measure.map(|m| format!("{} ({m})", t.name)))
            .collect();
        bail!(
            "table {table} has no main measure for --anomaly-fraction; tables with one: {}",
            with.join(", ")
        );
    };
    let anomaly =
        Anomaly::from(PointAnomaly::new(&format!("extreme_{measure}"), measure).fraction(fraction));
    anomaly
        .validate()
        .map_err(|e| set_by(&e, "anomaly_fraction"))?;
    Ok(anomaly)
}

/// `stream`'s job, checked, with the settings that open its outputs and the number of
/// events this part sends (for progress).
fn resolve(args: StreamArgs) -> Result<(StreamJob, Common, u64)> {
    let Layers {
        stream,
        scale,
        run,
        config,
    } = layers(args)?;
    let domain = spindle_gen::domain_by_name(stream.domain.as_deref().unwrap_or("retail"))?;
    let scale = resolve_scale(&scale, "small")?;
    let all_tables = stream.all_tables.unwrap_or(false);
    let interleave = stream.interleave.unwrap_or(false);
    let tables = selected_tables(
        domain.as_ref(),
        run.table.as_ref(),
        stream.tables.as_ref(),
        all_tables,
    )?;
    if interleave && run.table.is_some() {
        bail!("--interleave merges several tables: pass --tables T1,T2 or --all-tables");
    }
    let several = all_tables || stream.tables.is_some();
    if several && config.cdc {
        bail!("--cdc streams the changes of one --table");
    }
    let seed = run.seed.unwrap_or(42);
    let mut common = common(run, config)?;
    if let Some(fraction) = stream.anomaly_fraction {
        let [table] = tables.as_slice() else {
            bail!("--anomaly-fraction needs one --table (each table has its own main measure)");
        };
        common
            .anomalies
            .add(main_measure_anomaly(domain.as_ref(), table, fraction)?);
    }
    let plan = domain.plan(scale, seed)?;
    let rows: u64 = tables.iter().map(|t| plan.row_count(t)).sum();
    let selection = match (several, interleave) {
        (_, true) => Selection::Interleaved(tables),
        (true, false) => Selection::Tables(tables),
        (false, false) => Selection::Table(tables.into_iter().next().expect("one table")),
    };
    let job = common.job(Rows::Plan(plan), selection)?;
    let part = job.config.partition()?;
    let total = job.config.max_events.map_or(rows, |m| m.min(rows));
    // This part's share: every count-th event from the index-th.
    let share = (total + part.count - 1 - part.index) / part.count;
    Ok((job, common, share))
}

impl Common {
    /// The job streaming `selection` of `rows` with these settings and anomalies (which
    /// move to the job), checked in full before any output is opened.
    pub fn job(&mut self, rows: Rows, selection: Selection) -> Result<StreamJob> {
        let mut job = StreamJob::new(rows, selection, self.config.clone());
        job.anomalies = std::mem::take(&mut self.anomalies);
        job.timestamp_column = self.timestamp_column.clone();
        job.check().map_err(named_stream_error)?;
        Ok(job)
    }
}

/// Checks the settings shared by `stream`, `replay` and `schedule` (flags already over
/// the file; `config` from both).
pub fn common(run: RunArgs, config: StreamConfig) -> Result<Common> {
    config.validate().map_err(named_stream_error)?;
    if run.ground_truth.is_some() && config.drop_fraction == 0.0 {
        bail!(
            "--ground-truth lists the events --drop-fraction drops: set {} above 0",
            flag_of("drop_fraction")
        );
    }
    let mut anomalies = AnomalyRegistry::default();
    for spec in run.anomaly.iter().flatten() {
        anomalies.add(spec.anomaly()?);
    }
    if let Some(path) = &run.anomalies {
        for a in config_file::load_anomalies(path)? {
            anomalies.add(a);
        }
    }
    let output = run.output;
    let sinks: Vec<SinkAddress> = match run.sink.filter(|s| !s.is_empty()) {
        None => vec![match &output {
            Some(path) => SinkAddress::File(path.clone()),
            None => SinkAddress::Console,
        }],
        Some(sinks) => sinks
            .iter()
            .map(|s| {
                SinkAddress::parse(s, output.as_deref())
                    .with_context(|| format!("invalid --sink '{s}'"))
            })
            .collect::<Result<_>>()?,
    };
    Ok(Common {
        timestamp_column: run.timestamp_column,
        config,
        anomalies,
        sinks,
        ground_truth: run.ground_truth,
        open: SinkOpenOptions {
            append: run.append.unwrap_or(false),
            indent: run.indent,
            several_tables: false,
        },
        quiet: run.quiet.unwrap_or(false),
    })
}

/// `spindle stream ...`.
pub fn run(args: StreamArgs) -> Result<ExitCode> {
    let (job, common, share) = resolve(args)?;
    drive(&common, job, Some(share))
}

/// Opens the outputs of `common`, runs `job` with progress on stderr and Ctrl-C as its
/// stop, and reports: the shared tail of `stream` and `replay`.
pub fn drive(common: &Common, job: StreamJob, total: Option<u64>) -> Result<ExitCode> {
    let sinks = common
        .sinks
        .iter()
        .map(|address| {
            let options = SinkOpenOptions {
                several_tables: job.sends_several_tables(),
                ..common.open
            };
            let sink = address
                .open(options)
                .with_context(|| format!("cannot open --sink {address}"))?;
            Ok((address.to_string(), sink))
        })
        .collect::<Result<Vec<_>>>()?;
    let ground_truth = common
        .ground_truth
        .as_ref()
        .map(|path| {
            SinkAddress::File(path.clone())
                .open(SinkOpenOptions::default())
                .with_context(|| format!("cannot open --ground-truth {}", path.display()))
        })
        .transpose()?;
    let progress = Arc::new(Mutex::new(Progress::new(total, "events", common.quiet)));
    if common.config.realtime {
        let target = common.config.events_per_second;
        progress
            .lock()
            .expect("progress lock")
            .message(format!("target {target} eps"));
    }
    let progress_in = progress.clone();
    let stop = job.stop_flag();
    ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    let outcome = job.run(
        Outputs {
            sinks,
            fan_out: None,
            ground_truth,
        },
        Some(Box::new(move |sent| {
            progress_in.lock().expect("progress lock").set(sent)
        })),
    );
    progress.lock().expect("progress lock").finish();
    let outcome = outcome?;
    for r in &outcome.results {
        eprintln!("{r}");
        if let Some(l) = &r.lateness {
            eprintln!(
                "lateness: {} sends, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                l.sends, l.p50_ms, l.p99_ms, l.max_ms
            );
            eprintln!("second  planned  achieved");
            for s in &l.per_second {
                eprintln!("{:>6}  {:>7}  {:>8}", s.second, s.planned, s.achieved);
            }
        }
    }
    if let Some(m) = &outcome.fan_out {
        eprintln!("{}", m.summary());
        if !m.success() {
            return Ok(ExitCode::from(2));
        }
    }
    let interrupted = outcome
        .results
        .iter()
        .any(|r| r.stop_reason == StopReason::Interrupted);
    Ok(if interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
