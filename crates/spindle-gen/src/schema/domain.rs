//! A schema as a [`Domain`]: its tables' specs and Arrow schemas, planned at a scale
//! and seed into a [`SchemaPlan`] whose chunks the engine computes.

use super::dataset::DatasetBase;
use super::error::SchemaErrors;
use super::eval::Engine;
use super::layout::{self, Layout};
use super::{model, parse, strategy};
use crate::domain::{Domain, DomainPlan, TableSpec};
use crate::error::{Error, Result};
use crate::scale::Scale;
use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema as ArrowSchema};
use model::{Generator, Schema};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A data model read from a `.spindle.json` schema, usable wherever Retail is.
///
/// Names are kept for the life of the program (the [`Domain`] trait hands out
/// `&'static str`): loading a schema costs its names' bytes once.
#[derive(Clone)]
pub struct SchemaDomain {
    inner: Arc<Inner>,
}

struct Inner {
    schema: Arc<Schema>,
    layout: Arc<Layout>,
    specs: Vec<TableSpec>,
    name: &'static str,
    description: &'static str,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SchemaDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaDomain")
            .field("name", &self.inner.name)
            .field("path", &self.inner.path)
            .finish()
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// Whether `name` reads as a schema file rather than a built-in domain's name.
pub fn is_schema_path(name: &str) -> bool {
    name.ends_with(".json") || name.contains(['/', '\\'])
}

impl SchemaDomain {
    /// Reads and checks the schema file at `path` (datasets are looked up beside it).
    ///
    /// # Errors
    /// [`Error::Schema`]: the file cannot be read, or every problem found in it, one
    /// a line, each naming its path.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Schema(format!("cannot read schema {}: {e}", path.display())))?;
        let dir = path.parent().map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        });
        Self::build(&text, DatasetBase::Dir(dir), None, Some(path.to_path_buf()))
            .map_err(|e| Error::Schema(format!("{}:\n{e}", path.display())))
    }

    /// Reads and checks a schema from its text; datasets are looked up in `base_dir`.
    ///
    /// # Errors
    /// [`Error::Schema`] listing every problem found, one a line.
    pub fn from_json(text: &str, base_dir: Option<&Path>) -> Result<Self> {
        Self::build(text, DatasetBase::Dir(base_dir), None, None)
            .map_err(|e| Error::Schema(e.to_string()))
    }

    fn build(
        text: &str,
        datasets: DatasetBase,
        name: Option<&'static str>,
        path: Option<PathBuf>,
    ) -> std::result::Result<Self, SchemaErrors> {
        let schema = parse::parse_str(text, datasets)?;
        let layout = layout::layout(&schema)?;
        let name = name.unwrap_or_else(|| {
            leak(if schema.domain.is_empty() {
                &schema.name
            } else {
                &schema.domain
            })
        });
        let description = leak(if schema.description.is_empty() {
            &schema.name
        } else {
            &schema.description
        });
        let names: Vec<&'static str> = schema.tables.iter().map(|t| leak(&t.name)).collect();
        let specs = schema
            .tables
            .iter()
            .enumerate()
            .map(|(t, table)| {
                let fields: Vec<Field> = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(ci, c)| {
                        Field::new(&c.name, c.ty.data_type(), may_be_null(&schema, t, ci, 0))
                    })
                    .collect();
                TableSpec {
                    name: names[t],
                    description: leak(&table.description),
                    driver: names[layout.driver[t]],
                    schema: Arc::new(ArrowSchema::new(fields)),
                    ordered_by: layout.ordered_by[t].map(|c| leak(&table.columns[c].name)),
                    main_measure: layout.main_measure[t].map(|c| leak(&table.columns[c].name)),
                    lifecycle: None,
                    driver_key: layout.nest[t]
                        .filter(|n| n.parent == layout.driver[t])
                        .and_then(|n| match table.columns[n.fk].generator {
                            Generator::ForeignKey {
                                table: p, column, ..
                            } => Some((
                                leak(&table.columns[n.fk].name),
                                leak(&schema.tables[p].columns[column].name),
                            )),
                            _ => None,
                        }),
                }
            })
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                schema: Arc::new(schema),
                layout: Arc::new(layout),
                specs,
                name,
                description,
                path,
            }),
        })
    }

    /// A built-in domain compiled into the binary.
    pub(super) fn embedded(
        name: &'static str,
        text: &'static str,
        datasets: &'static [(&'static str, &'static str)],
        lifecycles: &'static [(&'static str, &'static str)],
    ) -> Self {
        let mut domain = Self::build(
            text,
            DatasetBase::Embedded(name, datasets),
            Some(name),
            None,
        )
        .unwrap_or_else(|e| panic!("the built-in {name} schema is checked by the tests: {e}"));
        let inner = Arc::get_mut(&mut domain.inner).expect("a domain just built is not shared");
        for (table, lifecycle) in lifecycles {
            let spec = inner.specs.iter_mut().find(|s| s.name == *table);
            spec.unwrap_or_else(|| panic!("{name} has no table {table} for its lifecycle"))
                .lifecycle = Some(lifecycle);
        }
        domain
    }

    /// The parsed schema.
    pub fn schema(&self) -> &Schema {
        &self.inner.schema
    }

    /// The scale-independent plan: nesting, column order, rules.
    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// The names of the scales the schema defines.
    pub fn scale_names(&self) -> Vec<&str> {
        self.inner
            .schema
            .scales
            .iter()
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Rows of every table at the scale called `scale`, in file order.
    ///
    /// # Errors
    /// A scale the schema does not define, or a count above the limit.
    pub fn counts(&self, scale: &str) -> Result<Vec<u64>> {
        layout::counts(&self.inner.schema, scale).map_err(Error::Schema)
    }

    /// What `spindle validate` prints: tables, relationships, the generation order and
    /// how each table is made, and anything accepted but unused.
    pub fn report(&self) -> String {
        let s = &self.inner.schema;
        let l = &self.inner.layout;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "schema {} (domain {}): {} tables, {} relationships, {} rules",
            s.name,
            self.inner.name,
            s.tables.len(),
            s.relationships.len(),
            s.rules.len()
        );
        let _ = writeln!(out, "tables:");
        for table in &s.tables {
            let pk: Vec<&str> = table
                .primary_key
                .iter()
                .map(|&c| table.columns[c].name.as_str())
                .collect();
            let _ = writeln!(
                out,
                "  {:<24} {:>3} columns  primary key ({})",
                table.name,
                table.columns.len(),
                pk.join(", ")
            );
        }
        let _ = writeln!(out, "relationships:");
        for r in &s.relationships {
            let _ = writeln!(
                out,
                "  {:<32} {} -> {} ({})",
                r.name, r.parent, r.child, r.kind
            );
        }
        let _ = writeln!(out, "generation order:");
        for (i, &t) in l.table_order.iter().enumerate() {
            let how = match l.nest[t] {
                Some(n) => format!(
                    "nested under {} by {} ({} per parent, made alongside it)",
                    s.tables[n.parent].name, s.tables[t].columns[n.fk].name, n.ratio
                ),
                None => "made on its own".to_string(),
            };
            let order = match l.ordered_by[t] {
                Some(c) => format!("; in {} order", s.tables[t].columns[c].name),
                None => String::new(),
            };
            let _ = writeln!(out, "  {:>2}. {:<24} {how}{order}", i + 1, s.tables[t].name);
        }
        if !s.rules.is_empty() {
            let _ = writeln!(out, "rules (enforced on every row):");
            for r in &s.rules {
                let _ = writeln!(
                    out,
                    "  {:<36} {}: {}",
                    r.name, s.tables[r.table].name, r.text
                );
            }
        }
        for w in &s.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        out
    }
}

/// Whether column `c` of table `t` may hold nulls: declared nullable, no strategy, a
/// hierarchy's roots, or a value read from a column that may.
fn may_be_null(s: &Schema, t: usize, c: usize, depth: usize) -> bool {
    use model::{Branch, Generator as G, Source};
    let table = &s.tables[t];
    let col = &table.columns[c];
    if col.nullable || depth > 64 {
        return true;
    }
    let remote = |rt: usize, rc: usize| may_be_null(s, rt, rc, depth + 1);
    let local = |lc: usize| may_be_null(s, t, lc, depth + 1);
    match &col.generator {
        G::Null | G::SelfReferencing { .. } => true,
        G::ForeignKey {
            table: rt,
            column: rc,
            ..
        } => !(*rt == t && *rc == c) && remote(*rt, *rc),
        G::Lookup {
            via,
            table: rt,
            column: rc,
        }
        | G::Derived {
            source:
                Source::Parent {
                    via,
                    table: rt,
                    column: rc,
                },
            ..
        } => local(*via) || remote(*rt, *rc),
        G::Conditional {
            then, otherwise, ..
        } => [then, otherwise].iter().any(|b| match b {
            Branch::Fixed(v) => v.is_null(),
            Branch::Lookup {
                table: rt,
                column: rc,
                ..
            } => !s.tables[*rt].columns[*rc].ty.is_numeric() && remote(*rt, *rc),
        }),
        G::Formula(_) | G::Correlated { .. } | G::Derived { .. } => {
            strategy::local_deps(table, c).into_iter().any(local)
        }
        G::ReferenceData { dataset, field, .. }
        | G::RecordSample { dataset, field, .. }
        | G::RecordField { dataset, field, .. } => {
            arrow_array::Array::null_count(dataset.fields[*field].1.as_ref()) > 0
        }
        _ => false,
    }
}

impl Domain for SchemaDomain {
    fn name(&self) -> &'static str {
        self.inner.name
    }

    fn description(&self) -> &'static str {
        self.inner.description
    }

    fn tables(&self) -> &[TableSpec] {
        &self.inner.specs
    }

    fn row_counts(&self, scale: &Scale) -> Vec<(&'static str, u64)> {
        match layout::counts(&self.inner.schema, scale.name()) {
            Ok(counts) => self
                .inner
                .specs
                .iter()
                .map(|s| s.name)
                .zip(counts)
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn plan(&self, scale: Scale, seed: u64) -> Result<Arc<dyn DomainPlan>> {
        if let Scale::Custom(_) = scale {
            return Err(Error::Schema(format!(
                "custom counts (--customers, --products, --orders) are Retail's; schema '{}' has the scales {}",
                self.inner.name,
                self.scale_names().join(", ")
            )));
        }
        let counts = self.counts(scale.name())?;
        let engine = Engine::new(
            self.inner.schema.clone(),
            self.inner.layout.clone(),
            counts,
            seed,
        )?;
        Ok(Arc::new(SchemaPlan {
            domain: self.clone(),
            scale,
            engine,
        }))
    }
}

/// A schema domain planned for one scale and seed.
pub struct SchemaPlan {
    domain: SchemaDomain,
    scale: Scale,
    engine: Engine,
}

impl SchemaPlan {
    fn index(&self, table: &str) -> Result<usize> {
        self.domain
            .inner
            .schema
            .table_index(table)
            .ok_or_else(|| Error::UnknownTable {
                name: table.to_string(),
                allowed: self.domain.table_names().join(", "),
            })
    }

    /// Checks that `units` are rows of the driving table `driver`.
    fn check_units(&self, driver: usize, units: &Range<u64>) -> Result<()> {
        if units.start > units.end || units.end > self.engine.counts[driver] {
            return Err(Error::Invalid {
                field: "units",
                message: format!(
                    "{units:?} is outside the {} rows of '{}'",
                    self.engine.counts[driver], self.domain.inner.schema.tables[driver].name
                ),
            });
        }
        Ok(())
    }
}

impl DomainPlan for SchemaPlan {
    fn domain(&self) -> &dyn Domain {
        &self.domain
    }

    fn scale(&self) -> Scale {
        self.scale
    }

    fn seed(&self) -> u64 {
        self.engine.seed()
    }

    fn units(&self, driver: &str) -> u64 {
        self.index(driver).map_or(0, |t| self.engine.counts[t])
    }

    fn row_count(&self, table: &str) -> u64 {
        self.index(table).map_or(0, |t| self.engine.counts[t])
    }

    fn generate(&self, tables: &[&str], units: Range<u64>) -> Result<Vec<RecordBatch>> {
        let idx = tables
            .iter()
            .map(|t| self.index(t))
            .collect::<Result<Vec<_>>>()?;
        let layout = &self.domain.inner.layout;
        let Some(&first) = idx.first() else {
            return Ok(Vec::new());
        };
        let driver = layout.driver[first];
        if idx.iter().any(|&t| layout.driver[t] != driver) {
            return Err(Error::MixedDrivers {
                tables: tables.join(", "),
            });
        }
        self.check_units(driver, &units)?;
        let schemas: Vec<_> = idx
            .iter()
            .map(|&t| self.domain.inner.specs[t].schema.clone())
            .collect();
        self.engine.batches(&idx, units, &schemas)
    }

    /// Each column is made with what it depends on alone.
    fn generate_columns(
        &self,
        table: &str,
        columns: &[&str],
        units: Range<u64>,
    ) -> Result<RecordBatch> {
        let t = self.index(table)?;
        let spec = &self.domain.inner.specs[t];
        let indices = crate::domain::column_indices(spec, columns)?;
        self.check_units(self.domain.inner.layout.driver[t], &units)?;
        self.engine.columns_of(t, &indices, units, &spec.schema)
    }
}
