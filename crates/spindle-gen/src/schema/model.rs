//! The typed form of a `.spindle.json` schema: every name resolved to an index, every
//! parameter checked, so that generation never meets a bad reference.

use super::dataset::Dataset;
use super::formula::Expr;
use arrow_schema::{DataType, TimeUnit};
use std::sync::Arc;

/// Most rows one table may have.
pub const MAX_ROWS: u64 = 100_000_000_000;

/// A parsed and checked schema.
#[derive(Clone, Debug)]
pub struct Schema {
    /// `model.name`.
    pub name: String,
    /// `model.description`.
    pub description: String,
    /// `model.domain`.
    pub domain: String,
    /// `model.seed`: the seed a run uses unless it is given one.
    pub seed: u64,
    /// Years of `model.date_range`, counted as the reference does (end year - start
    /// year + 1); 1 without a range. `per_year` counts multiply by it.
    pub years: u64,
    /// The tables, in the file's order.
    pub tables: Vec<Table>,
    /// `relationships`, as written (for `describe` and `validate`; the foreign-key
    /// generators are what generation follows).
    pub relationships: Vec<Relationship>,
    /// `business_rules`, each a conjunction of comparisons enforced on every row.
    pub rules: Vec<Rule>,
    /// `generation.scales`: rows of the anchor tables per scale name.
    pub scales: Scales,
    /// `generation.derived_counts`: how the other tables' rows follow.
    pub derived: Vec<(usize, DerivedCount)>,
    /// Things accepted but not used (keys of other tools), for `validate` to show.
    pub warnings: Vec<String>,
}

impl Schema {
    /// The index of the table called `name`.
    pub fn table_index(&self, name: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.name == name)
    }

    /// The table whose rows column `c` of table `t` holds keys of: a foreign key's
    /// table, or that of the key a lookup copies (`order_line.promotion_id`, a lookup
    /// of `order.promotion_id`, holds promotion keys).
    pub fn key_target(&self, t: usize, c: usize) -> Option<usize> {
        let mut at = (t, c);
        for _ in 0..=self.tables.iter().map(|t| t.columns.len()).sum::<usize>() {
            match &self.tables[at.0].columns[at.1].generator {
                Generator::ForeignKey { table, .. } => return Some(*table),
                Generator::Lookup { table, column, .. } => at = (*table, *column),
                _ => return None,
            }
        }
        None
    }
}

/// Rows of the anchor tables (by index) per scale name, in the file's order.
pub type Scales = Vec<(String, Vec<(usize, u64)>)>;

/// One table.
#[derive(Clone, Debug)]
pub struct Table {
    /// Table name.
    pub name: String,
    /// `description`.
    pub description: String,
    /// Columns in the file's order (the output order).
    pub columns: Vec<Column>,
    /// Indices of the primary key's columns.
    pub primary_key: Vec<usize>,
}

impl Table {
    /// The index of the column called `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// One column.
#[derive(Clone, Debug)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Declared type.
    pub ty: ColumnType,
    /// Whether nulls are allowed.
    pub nullable: bool,
    /// Share of rows left null (only when `nullable`).
    pub null_rate: f64,
    /// Text is cut to this many characters.
    pub max_length: Option<usize>,
    /// Digits after the point for `decimal` (values are rounded to it).
    pub scale: Option<i32>,
    /// How values are made.
    pub generator: Generator,
}

/// The column types of the format, and the Arrow type each becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// `integer`, `int`, `bigint`, `smallint`: Int64.
    Integer,
    /// `float`, `double`: Float64.
    Float,
    /// `decimal`, `numeric`: Float64 rounded to the column's scale (money as in Retail).
    Decimal,
    /// `string`, `text`, `varchar`: Utf8.
    String,
    /// `boolean`, `bool`: Boolean.
    Boolean,
    /// `date`: Date32.
    Date,
    /// `datetime`, `timestamp`: Timestamp(microsecond).
    Timestamp,
}

impl ColumnType {
    /// The names the format accepts, for messages.
    pub const ALLOWED: &'static str = "integer, bigint, int, smallint, float, double, decimal, numeric, string, text, varchar, boolean, bool, date, datetime, timestamp";

    /// Parses a type name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "integer" | "int" | "bigint" | "smallint" => Self::Integer,
            "float" | "double" => Self::Float,
            "decimal" | "numeric" => Self::Decimal,
            "string" | "text" | "varchar" => Self::String,
            "boolean" | "bool" => Self::Boolean,
            "date" => Self::Date,
            "datetime" | "timestamp" => Self::Timestamp,
            _ => return None,
        })
    }

    /// The Arrow type of the column.
    pub fn data_type(self) -> DataType {
        match self {
            Self::Integer => DataType::Int64,
            Self::Float | Self::Decimal => DataType::Float64,
            Self::String => DataType::Utf8,
            Self::Boolean => DataType::Boolean,
            Self::Date => DataType::Date32,
            Self::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }

    /// Whether values are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Integer | Self::Float | Self::Decimal)
    }
}

/// A relationship as the file states it.
#[derive(Clone, Debug)]
pub struct Relationship {
    /// `name`.
    pub name: String,
    /// Parent table.
    pub parent: String,
    /// Child table.
    pub child: String,
    /// `type` (one_to_many, ...).
    pub kind: String,
}

/// How a table's rows follow from others'.
#[derive(Clone, Debug)]
pub enum DerivedCount {
    /// A fixed number of rows.
    Fixed(u64),
    /// `ratio` rows per row of `parent` (the total is `floor(parent rows x ratio)`).
    PerParent {
        /// Index of the parent table.
        parent: usize,
        /// Mean rows per parent row.
        ratio: f64,
    },
    /// Rows per year of the model's date range.
    PerYear(u64),
}

/// A number drawn per row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    /// Uniform in `[min, max)`.
    Uniform {
        /// Low end.
        min: f64,
        /// High end.
        max: f64,
    },
    /// Normal.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Log-normal (`mean` and `sigma` of the underlying normal).
    LogNormal {
        /// Mean of the log.
        mean: f64,
        /// Standard deviation of the log.
        sigma: f64,
    },
    /// Pareto: `(Lomax(alpha) + 1) x min`.
    Pareto {
        /// Shape.
        alpha: f64,
        /// Scale.
        min: f64,
    },
    /// Zipf ranks `1..=max` with exponent `alpha`.
    Zipf {
        /// Exponent.
        alpha: f64,
        /// Largest rank.
        max: u64,
    },
    /// Trials up to the first success, success probability `p`.
    Geometric {
        /// Success probability.
        p: f64,
    },
    /// Poisson with mean `lambda`.
    Poisson {
        /// Mean.
        lambda: f64,
    },
    /// 1 with probability `p`, else 0.
    Bernoulli {
        /// Probability of 1.
        p: f64,
    },
}

/// How a temporal column spreads its values over its range.
#[derive(Clone, Debug)]
pub enum TemporalPattern {
    /// Every instant of the range equally likely.
    Uniform,
    /// Weekdays only (Monday to Friday), uniform among them.
    TradingDays,
    /// Days weighted by month and day of week, then a time of day.
    Seasonal {
        /// Weight of each month, January first.
        month: [f64; 12],
        /// Weight of each weekday, Monday first.
        weekday: [f64; 7],
        /// Hours of the day: peaks and spread of a bimodal profile, or uniform.
        hours: HourProfile,
    },
}

/// The time of day of a seasonal temporal column.
#[derive(Clone, Debug)]
pub enum HourProfile {
    /// Any instant of the day.
    Uniform,
    /// Whole hours drawn around peaks (a mixture of normals), minutes and seconds
    /// uniform.
    Peaks {
        /// Peak hours.
        peaks: Vec<f64>,
        /// Standard deviation in hours.
        sd: f64,
    },
}

/// A foreign key's choice of parent row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FkPick {
    /// Every parent equally likely.
    Uniform,
    /// Parent rank `k` (1-based) with weight `k^-alpha`.
    Zipf(f64),
    /// The reference's Pareto mapping: a Lomax(alpha) draw, capped at its 99.5th
    /// percentile, scaled onto the parents (early parents get the most children).
    Pareto(f64),
}

/// A faker provider (word lists shipped with the crate; see `words`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// A first name.
    FirstName,
    /// A last name.
    LastName,
    /// First and last name.
    Name,
    /// `first.last123@domain`, from the row's `first_name` and `last_name` when the
    /// table has them.
    Email,
    /// `first.last@company.com`.
    CompanyEmail,
    /// `(AAA) EEE-SSSS`.
    PhoneNumber,
    /// `AAA-GG-SSSS`.
    Ssn,
    /// A company name.
    Company,
    /// `123 Street Sfx`.
    StreetAddress,
    /// A sentence.
    Sentence,
    /// A large US city.
    City,
    /// A state's two-letter code.
    StateAbbr,
    /// `https://domain/path`.
    Uri,
    /// Twelve random lowercase letters and digits (`pystr`, `word`).
    RandomText,
}

impl Provider {
    /// The provider names accepted, for messages.
    pub const ALLOWED: &'static str = "first_name, last_name, name, email, company_email, phone_number, ssn, company, street_address, sentence, city, state_abbr, uri, pystr, word";

    /// Parses a provider name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "first_name" => Self::FirstName,
            "last_name" => Self::LastName,
            "name" => Self::Name,
            "email" => Self::Email,
            "company_email" => Self::CompanyEmail,
            "phone_number" => Self::PhoneNumber,
            "ssn" => Self::Ssn,
            "company" => Self::Company,
            "street_address" => Self::StreetAddress,
            "sentence" => Self::Sentence,
            "city" => Self::City,
            "state_abbr" => Self::StateAbbr,
            "uri" => Self::Uri,
            "pystr" | "word" => Self::RandomText,
            _ => return None,
        })
    }
}

/// One piece of a `pattern` format.
#[derive(Clone, Debug, PartialEq)]
pub enum PatternPart {
    /// Text as written.
    Literal(String),
    /// `{seq:N}`: the row's 1-based number, zero-padded to N digits.
    Seq(usize),
    /// `{random:N}`: N characters from A-Z and 0-9 (4 when N is not given).
    Random(usize),
    /// `{column:N}`: another column's value in the row, zero-padded to N.
    Column(usize, usize),
}

/// Where a derived value starts from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Source {
    /// A column of the same row.
    Local(usize),
    /// A parent's column, reached through the foreign key column `via`.
    Parent {
        /// The foreign key column in this table.
        via: usize,
        /// The parent table.
        table: usize,
        /// The parent's column.
        column: usize,
    },
}

/// The arithmetic of a `correlated` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrelatedRule {
    /// `source x uniform(lo, hi)`.
    Multiply,
    /// `source + uniform(lo, hi)`.
    Add,
    /// `max(0, source - uniform(lo, hi))`.
    Subtract,
}

/// An aggregate over a row's children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// Sum (0 without children).
    Sum,
    /// Number of children with a value.
    Count,
    /// Mean (0 without children).
    Avg,
    /// Least (0 without children).
    Min,
    /// Greatest (0 without children).
    Max,
}

/// The test of a `conditional` column.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// `col IS NULL` (`negate`: `IS NOT NULL`).
    IsNull {
        /// The column tested.
        column: usize,
        /// `IS NOT NULL`.
        negate: bool,
    },
    /// `col == value` (`negate`: `!=`), compared as numbers when both are.
    Equals {
        /// The column tested.
        column: usize,
        /// The value, as written.
        value: String,
        /// `!=`.
        negate: bool,
    },
}

/// One branch of a `conditional` column.
#[derive(Clone, Debug, PartialEq)]
pub enum Branch {
    /// The same value on every row.
    Fixed(serde_json::Value),
    /// A parent's column through a foreign key (0 where the key is null, as the
    /// reference does).
    Lookup {
        /// The foreign key column.
        via: usize,
        /// The parent table.
        table: usize,
        /// The parent's column.
        column: usize,
    },
}

/// How a column's values are made.
#[derive(Clone, Debug)]
pub enum Generator {
    /// No strategy: every value null.
    Null,
    /// `start + row x step`.
    Sequence {
        /// First value.
        start: i64,
        /// Step between rows.
        step: i64,
    },
    /// A random (version 4) UUID as text.
    Uuid,
    /// One of `labels`, weighted (`weighted_enum`, `lifecycle`).
    Enum {
        /// The values as written.
        labels: Vec<String>,
        /// Their weights.
        weights: Vec<f64>,
    },
    /// A number from a distribution, clamped and rounded.
    Distribution {
        /// The distribution.
        dist: Dist,
        /// Values below are raised to it.
        min: Option<f64>,
        /// Values above are lowered to it.
        max: Option<f64>,
        /// Digits kept after the point.
        round: Option<i32>,
    },
    /// An instant in `[start, end)` (microseconds since the epoch).
    Temporal {
        /// How values spread.
        pattern: TemporalPattern,
        /// First instant.
        start: i64,
        /// End of the range, exclusive (midnight after the end date).
        end: i64,
    },
    /// A parent's primary key.
    ForeignKey {
        /// Parent table.
        table: usize,
        /// Parent column referred to.
        column: usize,
        /// How parents are chosen.
        pick: FkPick,
        /// No parent gets more rows than this.
        max_per_parent: Option<u64>,
        /// Choose among the rows of the parent table that belong to the same row of
        /// this column's table (e.g. an order's shipping address among its customer's
        /// addresses).
        constrained_by: Option<usize>,
    },
    /// A faker provider.
    Faker(Provider),
    /// A formatted text.
    Pattern(Vec<PatternPart>),
    /// A value from a dataset, uniform or weighted.
    ReferenceData {
        /// The dataset.
        dataset: Arc<Dataset>,
        /// The field taken (`None`: the values themselves, or their `name`).
        field: usize,
        /// Weights per record, when weighted.
        weights: Option<Vec<f64>>,
    },
    /// One record of a dataset per row (this column holds one field; `record_field`
    /// columns read the others from the same record).
    RecordSample {
        /// The dataset.
        dataset: Arc<Dataset>,
        /// The field shown in this column.
        field: usize,
        /// Each record at most once (while there are enough).
        unique: bool,
        /// Weights per record, when weighted.
        weights: Option<Vec<f64>>,
    },
    /// Another field of the record a `record_sample` column of the row chose.
    RecordField {
        /// The dataset.
        dataset: Arc<Dataset>,
        /// The `record_sample` column of the same dataset.
        anchor: usize,
        /// The field shown.
        field: usize,
    },
    /// Arithmetic on another column of the row with a random factor or offset.
    Correlated {
        /// The source column.
        source: usize,
        /// Multiply, add or subtract.
        rule: CorrelatedRule,
        /// Low end of the factor or offset.
        lo: f64,
        /// High end.
        hi: f64,
    },
    /// A copy of another value, or that value plus a number of days.
    Derived {
        /// Where the value comes from.
        source: Source,
        /// Days added (`None`: a copy).
        days: Option<DaysDist>,
    },
    /// A parent's column through a foreign key of this table.
    Lookup {
        /// The foreign key column.
        via: usize,
        /// The parent table.
        table: usize,
        /// The parent's column.
        column: usize,
    },
    /// Arithmetic over the row's columns.
    Formula(Expr),
    /// An aggregate over the row's children in a table nested under this one.
    Computed {
        /// The aggregate.
        rule: Aggregate,
        /// The child table.
        child_table: usize,
        /// The child column aggregated.
        child_column: usize,
    },
    /// One of two branches, by a condition on the row.
    Conditional {
        /// The test.
        condition: Condition,
        /// Value where it holds.
        then: Branch,
        /// Value where it does not.
        otherwise: Branch,
    },
    /// `default` on the first row of each parent, its negation on the others.
    FirstPerParent {
        /// The foreign key column to the parent.
        parent_column: usize,
        /// The first row's value.
        default: bool,
    },
    /// A parent in the same table: rows split into levels, each row's parent drawn
    /// from the level above; roots are null.
    SelfReferencing {
        /// The primary key column referred to.
        pk_column: usize,
        /// Number of levels.
        levels: u64,
        /// Rows of the first level (at most `rows / levels`).
        root_count: Option<u64>,
    },
    /// The level (1 for roots) a `self_referencing` column gave the row.
    SelfRefLevel {
        /// The `self_referencing` column.
        anchor: usize,
    },
}

/// The days a `derived` column adds: a distribution rounded to whole days.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DaysDist {
    /// Shape of the draw.
    pub dist: DaysShape,
    /// Least days.
    pub min: f64,
    /// Most days.
    pub max: f64,
}

/// The shape of a [`DaysDist`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DaysShape {
    /// Uniform in `[min, max]`.
    Uniform,
    /// Log-normal, clamped to `[min, max]`.
    LogNormal {
        /// Mean of the log.
        mean: f64,
        /// Standard deviation of the log.
        sigma: f64,
    },
    /// Normal, clamped to `[min, max]`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
}

/// A comparison operator of a business rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl CmpOp {
    /// Parses `<`, `<=`, `>`, `>=`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            _ => return None,
        })
    }

    /// The same comparison with its sides swapped (`a < b` is `b > a`).
    pub fn mirrored(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
        }
    }

    /// How it is written.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// One side of a rule's comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Operand {
    /// A column of the rule's table.
    Column(usize),
    /// A parent's column, through the foreign key column `via` of the rule's table.
    Parent {
        /// The foreign key column.
        via: usize,
        /// The parent table.
        table: usize,
        /// The parent's column.
        column: usize,
    },
    /// A number.
    Number(f64),
}

/// One comparison of a rule: `table.column op bound`, enforced on `table.column`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// The column adjusted where the comparison fails.
    pub column: usize,
    /// The operator, with `column` on the left.
    pub op: CmpOp,
    /// The other side.
    pub bound: Operand,
}

/// A business rule: comparisons that hold on every row of `table`.
#[derive(Clone, Debug)]
pub struct Rule {
    /// `name`.
    pub name: String,
    /// The rule as written.
    pub text: String,
    /// The table checked.
    pub table: usize,
    /// The comparisons, as the file states them (left side first).
    pub comparisons: Vec<(Operand, CmpOp, Operand)>,
}
