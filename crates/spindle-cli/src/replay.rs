//! `spindle replay` and `spindle sql`: DataFusion queries over files and generated
//! tables, streamed with every stream setting or printed.

use crate::args::stream_config;
use crate::args::{QueryArgs, ReplayArgs, RunArgs, ScaleArgs, SqlArgs};
use crate::config_file::{ConfigFile, Layered};
use crate::generate::resolve_scale;
use crate::stream::{common, drive};
use anyhow::{Context, Result, bail};
use spindle_sql::SqlSources;
use spindle_stream::{Rows, Selection};
use std::process::ExitCode;

/// The registered sources, the query to run, and whether the query was given.
struct Query {
    sources: SqlSources,
    sql: String,
    given: bool,
}

/// Registers the sources and picks the query.
fn prepare(query: &QueryArgs, scale: &ScaleArgs, seed: u64) -> Result<Query> {
    let mut sources = SqlSources::new();
    for spec in query.source.iter().flatten() {
        sources.register(spec)?;
    }
    if let Some(name) = query.domain.as_deref() {
        let domain = spindle_gen::domain_by_name(name)?;
        sources.register_domain(domain.as_ref(), resolve_scale(scale, "small")?, seed)?;
    }
    if sources.names().is_empty() {
        bail!("nothing to query: pass --source NAME=PATH (repeatable) and/or --domain retail");
    }
    let given = match (&query.sql, &query.sql_file) {
        (Some(sql), _) => Some(sql.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --sql-file {}", path.display()))?,
        ),
        (None, None) => None,
    };
    let sql = match (&given, sources.names()) {
        (Some(sql), _) => sql.clone(),
        (None, [one]) => format!("SELECT * FROM \"{one}\""),
        (None, many) => bail!(
            "several tables are registered; pass --sql to choose from them: {}",
            many.join(", ")
        ),
    };
    Ok(Query {
        sources,
        sql,
        given: given.is_some(),
    })
}

/// `spindle replay ...`.
pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let file = ConfigFile::read(
        args.config.as_deref(),
        "replay",
        &[QueryArgs::KEYS, ScaleArgs::KEYS, RunArgs::KEYS],
    )?;
    let query = ConfigFile::layer(file.as_ref(), args.query)?;
    let scale = ConfigFile::layer(file.as_ref(), args.scale)?;
    let run = ConfigFile::layer(file.as_ref(), args.run)?;
    let config = stream_config(file.as_ref(), &args.settings)?;
    let seed = run.seed.unwrap_or(42);
    let table = run.table.clone();
    let mut shared = common(run, config)?;
    let query = prepare(&query, &scale, seed)?;
    let name = match (table, query.given) {
        (Some(name), _) => name,
        (None, false) => query.sources.names()[0].clone(),
        (None, true) => "query".to_string(),
    };
    let source = query.sources.query(&name, &query.sql)?;
    // Everything is checked against the result's schema before any output is opened.
    if shared
        .sinks
        .iter()
        .any(spindle_sinks::SinkAddress::writes_json)
    {
        spindle_sinks::JsonEncoder::check_schema(&source.schema)?;
    }
    // A query's result is not a domain's: its draws keep the streamer's own seed, 42.
    let job = shared.job(Rows::Tables(Vec::new(), 42), Selection::Source(source))?;
    drive(&shared, job, None)
}

/// `spindle sql ...`.
pub fn sql(args: SqlArgs) -> Result<ExitCode> {
    let query = prepare(&args.query, &args.scale, args.seed)?;
    if args.explain {
        print!("{}", query.sources.explain(&query.sql)?);
        return Ok(ExitCode::SUCCESS);
    }
    let batches = query.sources.collect(&query.sql)?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut shown = Vec::new();
    let mut left = args.limit;
    for b in &batches {
        if left == 0 {
            break;
        }
        let take = left.min(b.num_rows());
        shown.push(b.slice(0, take));
        left -= take;
    }
    println!("{}", spindle_sql::pretty(&shown)?);
    let note = if rows > args.limit {
        format!(", first {} shown", args.limit)
    } else {
        String::new()
    };
    println!("{rows} row(s){note}");
    Ok(ExitCode::SUCCESS)
}
