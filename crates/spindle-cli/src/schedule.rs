//! `spindle schedule`: a realtime run's schedule, second by second, without sending
//! anything: printed as CSV and, with `--plot`, drawn as an SVG chart.

use crate::args::stream_config;
use crate::args::{RunArgs, ScaleArgs, ScheduleArgs, StreamOnlyArgs};
use crate::config_file::{ConfigFile, Layered};
use anyhow::{Context, Result, bail};
use plotters::prelude::*;
use spindle_stream::{BurstWindow, StreamConfig};
use spindle_stream::{Pacer, PlannedSecond};
use std::io::Write;
use std::process::ExitCode;

/// Seconds shown without `--duration`.
const DEFAULT_SECONDS: f64 = 60.0;
/// Most seconds a schedule shows (a day).
const MAX_SECONDS: f64 = 86_400.0;

/// `spindle schedule ...`.
pub fn run(args: ScheduleArgs) -> Result<ExitCode> {
    // The file a `stream` run takes is welcome: its other keys are not about the rate.
    let file = ConfigFile::read(
        args.config.as_deref(),
        "schedule",
        &[StreamOnlyArgs::KEYS, ScaleArgs::KEYS, RunArgs::KEYS],
    )?;
    let run = ConfigFile::layer(file.as_ref(), args.run)?;
    let config = stream_config(file.as_ref(), &args.settings)?;
    let seed = run.seed.unwrap_or(42);
    let seconds = config.duration_seconds.unwrap_or(DEFAULT_SECONDS);
    if seconds > MAX_SECONDS {
        bail!(
            "invalid --duration {seconds}: a schedule shows at most {MAX_SECONDS} seconds (a day)"
        );
    }
    let config = crate::stream::common(run, config)?.config;
    let seconds = seconds.ceil() as u64;
    let pacer = || Pacer::new(&config, seed, None);
    let plan = pacer().plan(seconds, config.max_events);
    let bursts = burst_spans(&config, pacer);

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = (|| {
        writeln!(out, "second,target_eps,planned_events")?;
        for (s, p) in plan.iter().enumerate() {
            writeln!(out, "{s},{:.1},{}", p.target, p.planned)?;
        }
        out.flush()
    })();
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write the schedule to stdout")?,
    }
    let total: u64 = plan.iter().map(|p| p.planned).sum();
    eprintln!(
        "{} events planned over {seconds} s (mean {:.1} events/s, base rate {})",
        spindle_gen::thousands(total),
        total as f64 / seconds as f64,
        config.events_per_second
    );
    if let Some(path) = &args.plot {
        let svg = draw(&plan, &bursts, config.events_per_second, seed)?;
        // Written whole or not at all: a `.part` file renamed once complete.
        let part = path.with_extension("svg.part");
        std::fs::write(&part, svg)
            .and_then(|()| std::fs::rename(&part, path))
            .with_context(|| format!("cannot write --plot {}", path.display()))?;
        eprintln!("plot: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The bursts as spans of seconds: time windows as they are, event windows from the
/// due instant of their first event to that of their last (on a new `pacer()`'s
/// schedule, which is the run's).
fn burst_spans(config: &StreamConfig, pacer: impl Fn() -> Pacer) -> Vec<(f64, f64)> {
    config
        .burst_windows
        .iter()
        .map(|w| match *w {
            BurstWindow::Time {
                start_offset_seconds,
                duration_seconds,
                ..
            } => (
                start_offset_seconds,
                start_offset_seconds + duration_seconds,
            ),
            BurstWindow::Events {
                start_event,
                end_event,
                ..
            } => {
                let mut pacer = pacer();
                (pacer.due_at(start_event), pacer.due_at(end_event - 1))
            }
        })
        .collect()
}

/// The chart, as SVG text: target events/s as a line, planned events per second as a
/// step line, bursts shaded.
fn draw(plan: &[PlannedSecond], bursts: &[(f64, f64)], rate: f64, seed: u64) -> Result<String> {
    let mut svg = String::new();
    draw_into(&mut svg, plan, bursts, rate, seed).context("cannot draw --plot")?;
    Ok(svg)
}

fn draw_into(
    svg: &mut String,
    plan: &[PlannedSecond],
    bursts: &[(f64, f64)],
    rate: f64,
    seed: u64,
) -> Result<()> {
    let seconds = plan.len() as f64;
    let top = plan
        .iter()
        .map(|p| p.target.max(p.planned as f64))
        .fold(1.0, f64::max)
        * 1.1;
    let root = SVGBackend::with_string(svg, (1000, 480)).into_drawing_area();
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("{e}");
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let title = format!("Planned events/s: base rate {rate}/s, seed {seed}");
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..seconds, 0.0..top)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("seconds from the start")
        .y_desc("events per second")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| fail(&e))?;
    let shade = RGBColor(255, 140, 0).mix(0.18);
    for (i, &(from, to)) in bursts.iter().enumerate() {
        let series = chart
            .draw_series(std::iter::once(Rectangle::new(
                [(from.min(seconds), 0.0), (to.min(seconds), top)],
                shade.filled(),
            )))
            .map_err(|e| fail(&e))?;
        if i == 0 {
            series.label("burst").legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 18, y + 5)], shade.filled())
            });
        }
    }
    let planned = plan.iter().enumerate().flat_map(|(s, p)| {
        let y = p.planned as f64;
        [(s as f64, y), (s as f64 + 1.0, y)]
    });
    chart
        .draw_series(LineSeries::new(
            planned,
            RGBColor(90, 90, 90).stroke_width(1),
        ))
        .map_err(|e| fail(&e))?
        .label("planned (events due in the second)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(90, 90, 90)));
    let target = plan
        .iter()
        .enumerate()
        .map(|(s, p)| (s as f64 + 0.5, p.target));
    chart
        .draw_series(LineSeries::new(target, BLUE.stroke_width(2)))
        .map_err(|e| fail(&e))?
        .label("target rate")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}
