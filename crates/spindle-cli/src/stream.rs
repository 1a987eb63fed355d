//! `spindle stream`: flags and `--config` resolved into settings, checked in full before
//! any output is opened, then one streaming run.

use crate::args::{RunArgs, ScaleArgs, StreamArgs, StreamOnlyArgs};
use crate::config_file::{self, ConfigFile, Layered, flag_of};
use crate::generate::resolve_scale;
use crate::progress::Progress;
use anyhow::{Context, Result, bail};
use spindle_gen::Domain;
use spindle_sinks::{SinkAddress, SinkOpenOptions, StreamWriter};
use spindle_stream::{
    Anomaly, AnomalyRegistry, EventTimeMode, FanOut, PacerOptions, PointAnomaly, SpindleStreamer,
    StopReason, StreamConfig, StreamResult, StreamingMultiWriter,
};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Parses an instant given to `flag` (`--clock-start`, `--start-at`):
/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` (UTC) or RFC 3339 with an offset.
fn parse_instant(text: &str, flag: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_utc());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    bail!(
        "invalid {flag} '{text}': expected YYYY-MM-DDTHH:MM:SS[.ffffff] (UTC) or RFC 3339, e.g. 2025-11-28T19:00:00"
    )
}

/// `error`, about the setting `field` of `T`, naming the flag and `--config` key that
/// set it.
fn set_by<T: clap::Args>(error: &dyn std::fmt::Display, field: &str) -> anyhow::Error {
    anyhow::anyhow!("{error} (set by {})", flag_of::<T>(field))
}

/// A stream setting's error naming its flag and key (other errors as they are).
fn named_stream_error(error: spindle_stream::Error) -> anyhow::Error {
    match &error {
        spindle_stream::Error::Invalid { field, .. } => set_by::<RunArgs>(&error, field),
        _ => error.into(),
    }
}

/// The settings every streaming run has, whatever its source.
pub struct Common {
    /// `--timestamp-column`.
    pub timestamp_column: Option<String>,
    /// The stream settings, checked.
    pub config: StreamConfig,
    /// Realtime options, checked.
    pub pacer: PacerOptions,
    /// Anomalies from `--config` and `--anomalies` (checked against a table later).
    pub anomalies: AnomalyRegistry,
    /// Where events go.
    pub sinks: Vec<SinkAddress>,
    /// The share of the run this process sends (`--part`/`--parts`).
    pub part: spindle_gen::Partition,
    /// Where dropped events go (`--ground-truth`).
    pub ground_truth: Option<std::path::PathBuf>,
    open: SinkOpenOptions,
    quiet: bool,
}

/// Everything a domain run needs, checked.
struct Settings {
    domain: Box<dyn Domain>,
    scale: spindle_gen::Scale,
    seed: u64,
    tables: Vec<String>,
    /// More than `--table`: `--tables` or `--all-tables`.
    several: bool,
    /// Merged into one stream (`--interleave`).
    interleave: bool,
    common: Common,
}

/// `stream`'s settings: flags over `--config`.
struct Layers {
    stream: StreamOnlyArgs,
    scale: ScaleArgs,
    run: RunArgs,
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
    })
}

fn resolve(args: StreamArgs) -> Result<Settings> {
    let Layers { stream, scale, run } = layers(args)?;
    let domain = spindle_gen::domain_by_name(stream.domain.as_deref().unwrap_or("retail"))?;
    let scale = resolve_scale(&scale, "small")?;
    let all_tables = stream.all_tables.unwrap_or(false);
    let interleave = stream.interleave.unwrap_or(false);
    let tables: Vec<String> = match (&run.table, &stream.tables, all_tables) {
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
    };
    if interleave && run.table.is_some() {
        bail!("--interleave merges several tables: pass --tables T1,T2 or --all-tables");
    }
    let several = all_tables || stream.tables.is_some();
    let cdc_settings = stream.cdc_delete_fraction.is_some()
        || stream.cdc_tombstones.is_some()
        || stream.cdc_lifecycle.is_some();
    let lifecycle = stream
        .cdc_lifecycle
        .as_deref()
        .map(str::parse::<spindle_stream::Lifecycle>)
        .transpose()
        .map_err(|e| set_by::<StreamOnlyArgs>(&e, "cdc_lifecycle"))?;
    let cdc = match stream.cdc.unwrap_or(false) {
        false if cdc_settings => bail!(
            "--cdc-lifecycle, --cdc-delete-fraction and --cdc-tombstones are settings of --cdc"
        ),
        false => None,
        true if several => bail!("--cdc streams the changes of one --table"),
        true => Some(spindle_stream::CdcConfig {
            lifecycle: lifecycle
                .or_else(|| spindle_stream::Lifecycle::built_in(domain.name(), &tables[0])),
            delete_fraction: stream.cdc_delete_fraction.unwrap_or(0.0),
            tombstones: stream.cdc_tombstones.unwrap_or(false),
            ..Default::default()
        }),
    };
    let seed = run.seed.unwrap_or(42);
    let mut common = common(run)?;
    if let Some(cdc) = &cdc {
        cdc.validate()
            .map_err(|e| set_by::<StreamOnlyArgs>(&e, "cdc_delete_fraction"))?;
    }
    common.config.cdc = cdc;
    if let Some(fraction) = stream.anomaly_fraction {
        let [table] = tables.as_slice() else {
            bail!("--anomaly-fraction needs one --table (each table has its own main measure)");
        };
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
        let anomaly = Anomaly::from(
            PointAnomaly::new(&format!("extreme_{measure}"), measure).fraction(fraction),
        );
        anomaly
            .validate()
            .map_err(|e| set_by::<StreamOnlyArgs>(&e, "anomaly_fraction"))?;
        common.anomalies.add(anomaly);
    }
    let timestamp_column = common.timestamp_column.clone();
    for t in &tables {
        let spec = domain.table(t)?;
        let column = if several {
            timestamp_column
                .as_deref()
                .filter(|c| spec.schema.index_of(c).is_ok())
        } else {
            timestamp_column.as_deref()
        };
        let event_time = spindle_stream::streamer::event_time_column(t, &spec.schema, column)?;
        let time_type = event_time
            .map(|c| {
                spec.schema
                    .field_with_name(&c)
                    .map(|f| f.data_type().clone())
            })
            .transpose()?;
        // Several tables: those without event time go without (as in the library); an
        // interleaved stream's event time is a timestamp for every table, and its
        // anomalies go to the tables that have their columns (the library checks).
        if interleave {
            continue;
        }
        if !(several && time_type.is_none()) {
            spindle_stream::delivery::check_event_time(&common.config, time_type.as_ref())
                .map_err(|e| anyhow::anyhow!("table {t}: {}", named_stream_error(e)))?;
        }
        common.anomalies.check(t, &spec.schema)?;
    }
    Ok(Settings {
        domain,
        scale,
        seed,
        tables,
        several,
        interleave,
        common,
    })
}

/// Checks the settings shared by `stream` and `replay` (flags already over the file).
pub fn common(run: RunArgs) -> Result<Common> {
    let defaults = StreamConfig::default();
    let config = StreamConfig {
        events_per_second: run.events_per_second.unwrap_or(defaults.events_per_second),
        duration_seconds: run.duration_seconds,
        max_events: run.max_events,
        out_of_order_fraction: run
            .out_of_order_fraction
            .unwrap_or(defaults.out_of_order_fraction),
        out_of_order_max_delay_slots: run
            .out_of_order_max_delay_slots
            .unwrap_or(defaults.out_of_order_max_delay_slots),
        burst_windows: run
            .burst_windows
            .into_iter()
            .flatten()
            .map(|b| b.0)
            .collect(),
        time_pattern: run.time_pattern.map(|p| p.0),
        rate_shapes: run.rate_shapes.into_iter().flatten().map(|s| s.0).collect(),
        label_anomalies: run.label_anomalies.unwrap_or(defaults.label_anomalies),
        batch_size: run.batch_size.unwrap_or(defaults.batch_size),
        realtime: run.realtime.unwrap_or(defaults.realtime),
        max_lateness_seconds: run.max_lateness_seconds,
        lateness_distribution: run
            .lateness_distribution
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(named_stream_error)?
            .unwrap_or_default(),
        duplicate_fraction: run
            .duplicate_fraction
            .unwrap_or(defaults.duplicate_fraction),
        duplicate_max_delay_slots: run
            .duplicate_max_delay_slots
            .unwrap_or(defaults.duplicate_max_delay_slots),
        drop_fraction: run.drop_fraction.unwrap_or(defaults.drop_fraction),
        watermark: run.watermark.map(|w| w.0),
        cdc: None,
    };
    config.validate().map_err(named_stream_error)?;
    if run.ground_truth.is_some() && config.drop_fraction == 0.0 {
        bail!(
            "--ground-truth lists the events --drop-fraction drops: set {} above 0",
            flag_of::<RunArgs>("drop_fraction")
        );
    }

    let event_time = match run.event_time.as_deref() {
        None | Some("table") => EventTimeMode::Table,
        Some("live") => EventTimeMode::Live,
        Some(other) => bail!("invalid --event-time '{other}'; allowed: table, live"),
    };
    let part = spindle_gen::Partition::new(run.part.unwrap_or(0), run.parts.unwrap_or(1)).map_err(
        |e| match &e {
            spindle_gen::Error::Invalid { field, .. } => set_by::<RunArgs>(&e, field),
            _ => e.into(),
        },
    )?;
    let start_at = run
        .start_at
        .as_deref()
        .map(|t| parse_instant(t, "--start-at").map(|t| t.timestamp_micros()))
        .transpose()?;
    let pacer = PacerOptions {
        clock_start: run
            .clock_start
            .as_deref()
            .map(|t| parse_instant(t, "--clock-start").map(|t| t.timestamp()))
            .transpose()?,
        start_at,
        speedup: run.speedup.unwrap_or(1.0),
        event_time,
        record_lateness: run.report_lateness.unwrap_or(false),
    };
    pacer.validate(&config, part).map_err(named_stream_error)?;

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
        pacer,
        anomalies,
        sinks,
        part,
        ground_truth: run.ground_truth,
        open: SinkOpenOptions {
            append: run.append.unwrap_or(false),
            indent: run.indent,
        },
        quiet: run.quiet.unwrap_or(false),
    })
}

/// `spindle stream ...`.
pub fn run(args: StreamArgs) -> Result<ExitCode> {
    let s = resolve(args)?;
    let plan = s.domain.plan(s.scale, s.seed)?;
    let part = s.common.part;
    let total = match (s.several, s.common.config.max_events) {
        (false, Some(max)) => Some(max.min(plan.row_count(&s.tables[0]))),
        (false, None) => Some(plan.row_count(&s.tables[0])),
        (true, max) => {
            let rows: u64 = s.tables.iter().map(|t| plan.row_count(t)).sum();
            Some(max.map_or(rows, |m| m.min(rows)))
        }
    }
    // This part's share: every count-th event from the index-th.
    .map(|n| (n + part.count - 1 - part.index) / part.count);
    let (tables, several, interleave) = (s.tables, s.several, s.interleave);
    drive(
        s.common,
        total,
        |sink| SpindleStreamer::from_plan(plan, sink),
        move |streamer, timestamp_column| {
            let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
            match (several, interleave) {
                (_, true) => streamer
                    .stream_interleaved(&tables, timestamp_column)
                    .map(|r| vec![r]),
                (true, false) => streamer.stream_tables(&tables, timestamp_column),
                (false, false) => streamer
                    .stream(tables[0], timestamp_column)
                    .map(|r| vec![r]),
            }
        },
    )
}

/// Opens the sinks, runs `work` on a streamer made by `make`, and reports: the shared
/// tail of `stream` and `replay`.
pub fn drive(
    common: Common,
    total: Option<u64>,
    make: impl FnOnce(Box<dyn StreamWriter>) -> SpindleStreamer,
    work: impl FnOnce(&mut SpindleStreamer, Option<&str>) -> spindle_stream::Result<Vec<StreamResult>>,
) -> Result<ExitCode> {
    let opened = common
        .sinks
        .iter()
        .map(|address| {
            let sink = address
                .open(common.open)
                .with_context(|| format!("cannot open --sink {address}"))?;
            Ok((address.to_string(), sink))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut report = None;
    let sink: Box<dyn StreamWriter> = if opened.len() > 1 {
        let mut writer = StreamingMultiWriter::new();
        writer.batch_size = common.config.batch_size;
        for (name, sink) in opened {
            writer.add_sink(&name, sink);
        }
        let fan = FanOut::new(writer);
        report = Some(fan.report());
        Box::new(fan)
    } else {
        opened.into_iter().next().expect("one sink").1
    };
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
    let mut streamer = make(sink)
        .with_config(common.config.clone())
        .with_anomalies(common.anomalies)
        .with_pacer_options(common.pacer)
        .with_part(common.part)
        .with_progress(move |sent| progress_in.lock().expect("progress lock").set(sent));
    if let Some(sink) = ground_truth {
        streamer = streamer.with_ground_truth(sink);
    }
    let stop = streamer.stop_flag();
    ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;

    let results = work(&mut streamer, common.timestamp_column.as_deref());
    progress.lock().expect("progress lock").finish();
    let close = streamer.close();
    let results = results?;
    match close {
        Ok(()) | Err(spindle_stream::Error::Sink(spindle_sinks::Error::Closed(_))) => {}
        Err(e) => return Err(e.into()),
    }
    for r in &results {
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
    let multi = report.and_then(|r| r.lock().expect("report lock").clone());
    if let Some(m) = &multi {
        eprintln!("{}", m.summary());
    }
    if multi.is_some_and(|m| !m.success()) {
        return Ok(ExitCode::from(2));
    }
    let interrupted = results
        .iter()
        .any(|r| r.stop_reason == StopReason::Interrupted);
    Ok(if interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
