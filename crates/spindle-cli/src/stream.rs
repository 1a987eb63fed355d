//! `spindle stream`: flags and `--config` resolved into settings, checked in full before
//! any output is opened, then one streaming run.

use crate::args::{RunArgs, ScaleArgs, StreamArgs};
use crate::config_file::{self, RunFile};
use crate::generate::resolve_scale;
use crate::progress::Progress;
use anyhow::{Context, Result, bail};
use spindle_gen::Domain;
use spindle_sinks::{SinkAddress, SinkOpenOptions, StreamWriter};
use spindle_stream::{
    AnomalyRegistry, BurstWindow, EventTimeMode, FanOut, PacerOptions, PointAnomaly,
    SpindleStreamer, StopReason, StreamConfig, StreamResult, StreamingMultiWriter, TimePattern,
};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Parses `--clock-start`: `YYYY-MM-DDTHH:MM:SS` (UTC) or RFC 3339 with an offset.
pub fn parse_clock_start(text: &str) -> Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp());
        }
    }
    bail!(
        "invalid --clock-start '{text}': expected YYYY-MM-DDTHH:MM:SS (UTC) or RFC 3339, e.g. 2025-11-28T19:00:00"
    )
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
    open: SinkOpenOptions,
    quiet: bool,
}

/// Everything a domain run needs, checked.
struct Settings {
    domain: Box<dyn Domain>,
    scale: spindle_gen::Scale,
    seed: u64,
    tables: Vec<String>,
    all_tables: bool,
    common: Common,
}

/// Reads `--config` if given.
pub fn run_file(args: &RunArgs) -> Result<RunFile> {
    Ok(match &args.config {
        Some(path) => config_file::load_run(path)?,
        None => RunFile::default(),
    })
}

/// Scale flags, each falling back on `--config`.
pub fn scale_args(args: &RunArgs, file: &RunFile) -> ScaleArgs {
    ScaleArgs {
        scale: args.scale.scale.clone().or(file.scale.clone()),
        orders: args.scale.orders.or(file.orders),
        customers: args.scale.customers.or(file.customers),
        products: args.scale.products.or(file.products),
    }
}

/// `--seed`, else the config's, else 42.
pub fn seed(args: &RunArgs, file: &RunFile) -> u64 {
    args.seed.or(file.seed).unwrap_or(42)
}

fn resolve(args: StreamArgs) -> Result<Settings> {
    let file = run_file(&args.run)?;
    if file.source.is_some() || file.sql.is_some() {
        bail!("`source` and `sql` in --config are settings of `spindle replay`, not `stream`");
    }
    let domain = spindle_gen::domain_by_name(
        args.domain
            .as_deref()
            .or(file.domain.as_deref())
            .unwrap_or("retail"),
    )?;
    let scale = resolve_scale(&scale_args(&args.run, &file), "small")?;
    let all_tables = args.all_tables || file.all_tables.unwrap_or(false);
    let table = args.run.table.clone().or(file.table.clone());
    let tables: Vec<String> = match (&table, all_tables) {
        (Some(_), true) => bail!("pass either --table or --all-tables, not both"),
        (Some(t), false) => vec![domain.table(t)?.name.to_string()],
        (None, true) => domain.table_names().iter().map(|s| s.to_string()).collect(),
        (None, false) => bail!(
            "pass --table TABLE or --all-tables; tables of {}: {}",
            domain.name(),
            domain.table_names().join(", ")
        ),
    };

    let mut common = common(&args.run, &file)?;
    if let Some(fraction) = args.anomaly_fraction.or(file.anomaly_fraction) {
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
        common
            .anomalies
            .add(PointAnomaly::new(&format!("extreme_{measure}"), measure).fraction(fraction));
    }
    let timestamp_column = common.timestamp_column.clone();
    for t in &tables {
        let spec = domain.table(t)?;
        let column = if all_tables {
            timestamp_column
                .as_deref()
                .filter(|c| spec.schema.index_of(c).is_ok())
        } else {
            timestamp_column.as_deref()
        };
        spindle_stream::streamer::event_time_column(t, &spec.schema, column)?;
        common.anomalies.check(t, &spec.schema)?;
    }
    Ok(Settings {
        domain,
        scale,
        seed: seed(&args.run, &file),
        tables,
        all_tables,
        common,
    })
}

/// Resolves and checks the settings shared by `stream` and `replay`.
pub fn common(args: &RunArgs, file: &RunFile) -> Result<Common> {
    let mut bursts: Vec<BurstWindow> = file
        .burst_windows
        .iter()
        .flatten()
        .map(|b| b.window())
        .collect();
    for spec in &args.burst {
        bursts.push(
            spec.parse()
                .with_context(|| format!("invalid --burst '{spec}'"))?,
        );
    }
    let time_pattern: Option<TimePattern> = match (&args.time_pattern, &file.time_pattern) {
        (Some(name), _) => Some(TimePattern::preset(name)?),
        (None, Some(spec)) => Some(spec.pattern()?),
        (None, None) => None,
    };
    let defaults = StreamConfig::default();
    let config = StreamConfig {
        events_per_second: args
            .rate
            .or(file.events_per_second)
            .unwrap_or(defaults.events_per_second),
        duration_seconds: args.duration.or(file.duration_seconds),
        max_events: args.max_events.or(file.max_events),
        out_of_order_fraction: args
            .out_of_order
            .or(file.out_of_order_fraction)
            .unwrap_or(0.0),
        out_of_order_max_delay_slots: args
            .max_delay_slots
            .or(file.out_of_order_max_delay_slots)
            .unwrap_or(defaults.out_of_order_max_delay_slots),
        burst_windows: bursts,
        time_pattern,
        label_anomalies: !args.no_labels && file.label_anomalies.unwrap_or(true),
        batch_size: args
            .batch_size
            .or(file.batch_size)
            .unwrap_or(defaults.batch_size),
        realtime: args.realtime || file.realtime.unwrap_or(false),
    };
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("{e} (flag --{})", flag_of(&e)))?;

    let event_time = match args.event_time.as_deref().or(file.event_time.as_deref()) {
        None | Some("table") => EventTimeMode::Table,
        Some("live") => EventTimeMode::Live,
        Some(other) => bail!("invalid --event-time '{other}'; allowed: table, live"),
    };
    let pacer = PacerOptions {
        clock_start: args
            .clock_start
            .as_deref()
            .or(file.clock_start.as_deref())
            .map(parse_clock_start)
            .transpose()?,
        speedup: args.speedup.or(file.speedup).unwrap_or(1.0),
        event_time,
        record_lateness: args.report_lateness,
    };
    pacer.validate()?;

    let mut anomalies = AnomalyRegistry::default();
    for spec in file.anomaly.iter().flatten() {
        anomalies.add(spec.anomaly()?);
    }
    if let Some(path) = &args.anomalies {
        for a in config_file::load_anomalies(path)? {
            anomalies.add(a);
        }
    }
    let sinks: Vec<String> = if args.sink.is_empty() {
        file.sink.clone().unwrap_or_default()
    } else {
        args.sink.clone()
    };
    let output = args.output.clone().or(file.output.clone());
    let sinks: Vec<SinkAddress> = if sinks.is_empty() {
        vec![match &output {
            Some(path) => SinkAddress::File(path.clone()),
            None => SinkAddress::Console,
        }]
    } else {
        sinks
            .iter()
            .map(|s| {
                SinkAddress::parse(s, output.as_deref())
                    .with_context(|| format!("invalid --sink '{s}'"))
            })
            .collect::<Result<_>>()?
    };

    Ok(Common {
        timestamp_column: args
            .timestamp_column
            .clone()
            .or(file.timestamp_column.clone()),
        config,
        pacer,
        anomalies,
        sinks,
        open: SinkOpenOptions {
            append: args.append || file.append.unwrap_or(false),
            indent: args.indent.or(file.indent),
        },
        quiet: args.quiet,
    })
}

/// The CLI flag of a config field named in an error.
fn flag_of(e: &spindle_stream::Error) -> &'static str {
    match e {
        spindle_stream::Error::Invalid { field, .. } => match *field {
            "events_per_second" => "rate",
            "duration_seconds" => "duration",
            "out_of_order_fraction" => "out-of-order",
            "out_of_order_max_delay_slots" => "max-delay-slots",
            "burst_windows" => "burst",
            "max_events" => "max-events",
            "batch_size" => "batch-size",
            "time_pattern" => "time-pattern",
            _ => "config",
        },
        _ => "config",
    }
}

/// `spindle stream ...`.
pub fn run(args: StreamArgs) -> Result<ExitCode> {
    let s = resolve(args)?;
    let plan = s.domain.plan(s.scale, s.seed)?;
    let total = match (s.all_tables, s.common.config.max_events) {
        (false, Some(max)) => Some(max.min(plan.row_count(&s.tables[0]))),
        (false, None) => Some(plan.row_count(&s.tables[0])),
        (true, _) => None,
    };
    let (tables, all_tables) = (s.tables, s.all_tables);
    drive(
        s.common,
        total,
        |sink| SpindleStreamer::from_plan(plan, sink),
        move |streamer, timestamp_column| {
            if all_tables {
                streamer.stream_all(timestamp_column)
            } else {
                streamer
                    .stream(&tables[0], timestamp_column)
                    .map(|r| vec![r])
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
        .with_progress(move |sent| progress_in.lock().expect("progress lock").set(sent));
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
        if let Some(l) = r.lateness {
            eprintln!(
                "lateness: {} sends, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                l.sends, l.p50_ms, l.p99_ms, l.max_ms
            );
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
