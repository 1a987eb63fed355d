//! The Retail domain: customers, products, stores, promotions, orders, order lines and
//! returns, as described in `shared/spec/retail-domain.md`.
//!
//! Every rule of the spec holds by construction:
//! - orders are generated in `order_date` order, and each order's customer is drawn only
//!   among customers whose `signup_date` is not later than the order;
//! - `order_total` is the sum of its lines, computed in whole cents;
//! - a return is dated 1 to 90 days after its order and refunds at most the order total;
//! - `cost` is 30% to 70% of `unit_price`, rounded down to the cent;
//! - every foreign key points at a row that exists (addresses belong to the order's
//!   customer, promotions are active on the order's date);
//! - no customer has more than 50 orders (more only at scales whose mean is above 10
//!   per customer: see [`cap`]).

mod cap;
mod tables;
mod words;

use crate::dist::{Alias, ExactPrefix, SortedUniforms, Weighted, permutation};
use crate::domain::{Domain, DomainPlan, TableSpec};
use crate::error::{Error, Result};
use crate::reference::{Category, categories};
use crate::rng::RandomStream;
use crate::scale::{Counts, Scale};
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{Datelike, NaiveDate};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// First instant of the modelled date range: 2022-01-01T00:00:00, in Unix seconds.
pub const RANGE_START: i64 = 1_640_995_200;
/// End (exclusive) of the modelled date range: 2026-01-01T00:00:00, in Unix seconds.
pub const RANGE_END: i64 = 1_767_225_600;
const DAY: i64 = 86_400;
const RANGE_DAYS: i64 = (RANGE_END - RANGE_START) / DAY;

/// Addresses per customer.
pub const ADDRESSES_PER_CUSTOMER: f64 = 1.5;
/// Order lines per order.
pub const LINES_PER_ORDER: f64 = 2.5;
/// Returns per order.
pub const RETURNS_PER_ORDER: f64 = 0.17;
/// Rows of `product_category`.
pub const CATEGORY_COUNT: u64 = 50;
/// Rows of `store`.
pub const STORE_COUNT: u64 = 150;
/// Rows of `promotion`: 50 per year of the date range.
pub const PROMOTION_COUNT: u64 = 50 * 4;

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

fn schema(fields: Vec<(&str, DataType, bool)>) -> Arc<Schema> {
    Arc::new(Schema::new(
        fields
            .into_iter()
            .map(|(n, t, null)| Field::new(n, t, null))
            .collect::<Vec<_>>(),
    ))
}

/// The Retail domain (9 tables, 3NF).
#[derive(Clone, Debug)]
pub struct RetailDomain {
    tables: Vec<TableSpec>,
}

impl Default for RetailDomain {
    fn default() -> Self {
        Self::new()
    }
}

/// An order's states in a change stream: `processing`, then `shipped` about a day
/// later, `completed` about three days after that, `returned` about five days later
/// still; a cancelled order is cancelled about four hours after it was placed (the
/// dwell times of the reference's order workflow).
const ORDER_LIFECYCLE: &str = "status:shipped=processing/24/6;completed=processing/24/6>shipped/72/24;\
         returned=processing/24/6>shipped/72/24>completed/120/36;cancelled=processing/4/1";

impl RetailDomain {
    /// The domain's name.
    pub const NAME: &'static str = "retail";

    /// The Retail domain with its nine tables.
    pub fn new() -> Self {
        use DataType::{Boolean, Float64, Int64, Utf8};
        let spec = |name, description, driver, ordered_by, main_measure, fields| TableSpec {
            name,
            description,
            driver,
            schema: schema(fields),
            ordered_by,
            main_measure,
            driver_key: match name {
                "address" => Some(("customer_id", "customer_id")),
                "order_line" | "return" => Some(("order_id", "order_id")),
                _ => None,
            },
            lifecycle: (name == "order").then_some(ORDER_LIFECYCLE),
        };
        let tables = vec![
            spec(
                "customer",
                "a registered shopper",
                "customer",
                Some("signup_date"),
                None,
                vec![
                    ("customer_id", Int64, false),
                    ("first_name", Utf8, false),
                    ("last_name", Utf8, false),
                    ("email", Utf8, true),
                    ("gender", Utf8, false),
                    ("loyalty_tier", Utf8, false),
                    ("signup_date", ts(), false),
                    ("is_active", Utf8, false),
                ],
            ),
            spec(
                "product_category",
                "a node of the 3-level category tree",
                "product_category",
                None,
                None,
                vec![
                    ("category_id", Int64, false),
                    ("category_name", Utf8, false),
                    ("parent_category_id", Int64, true),
                    ("level", Int64, false),
                ],
            ),
            spec(
                "promotion",
                "a time-limited discount campaign",
                "promotion",
                Some("start_date"),
                Some("discount_pct"),
                vec![
                    ("promotion_id", Int64, false),
                    ("promo_name", Utf8, false),
                    ("promo_type", Utf8, false),
                    ("discount_pct", Int64, false),
                    ("start_date", ts(), false),
                    ("end_date", ts(), false),
                ],
            ),
            spec(
                "store",
                "a physical, online or warehouse store",
                "store",
                None,
                None,
                vec![
                    ("store_id", Int64, false),
                    ("store_name", Utf8, false),
                    ("store_type", Utf8, false),
                    ("city", Utf8, false),
                    ("state", Utf8, false),
                ],
            ),
            spec(
                "address",
                "a billing or shipping address of a customer",
                "customer",
                None,
                None,
                vec![
                    ("address_id", Int64, false),
                    ("customer_id", Int64, false),
                    ("address_type", Utf8, false),
                    ("street", Utf8, false),
                    ("city", Utf8, false),
                    ("state", Utf8, false),
                    ("zip_code", Utf8, false),
                    ("lat", Float64, false),
                    ("lng", Float64, false),
                    ("is_primary", Boolean, false),
                ],
            ),
            spec(
                "product",
                "an item for sale",
                "product",
                None,
                Some("unit_price"),
                vec![
                    ("product_id", Int64, false),
                    ("category_id", Int64, false),
                    ("product_name", Utf8, false),
                    ("unit_price", Float64, false),
                    ("cost", Float64, false),
                    ("product_status", Utf8, false),
                ],
            ),
            spec(
                "order",
                "a customer's purchase",
                "order",
                Some("order_date"),
                Some("order_total"),
                vec![
                    ("order_id", Int64, false),
                    ("customer_id", Int64, false),
                    ("store_id", Int64, false),
                    ("shipping_address_id", Int64, false),
                    ("promotion_id", Int64, true),
                    ("order_date", ts(), false),
                    ("status", Utf8, false),
                    ("order_total", Float64, false),
                ],
            ),
            spec(
                "order_line",
                "one product line of an order",
                "order",
                None,
                Some("line_total"),
                vec![
                    ("order_line_id", Int64, false),
                    ("order_id", Int64, false),
                    ("product_id", Int64, false),
                    ("promotion_id", Int64, true),
                    ("quantity", Int64, false),
                    ("unit_price", Float64, false),
                    ("discount_percent", Int64, false),
                    ("line_total", Float64, false),
                ],
            ),
            spec(
                "return",
                "a return of (part of) an order",
                "order",
                None,
                Some("refund_amount"),
                vec![
                    ("return_id", Int64, false),
                    ("order_id", Int64, false),
                    ("return_date", ts(), false),
                    ("reason", Utf8, false),
                    ("refund_amount", Float64, false),
                ],
            ),
        ];
        Self { tables }
    }
}

/// Row counts of the derived tables for given driving counts.
fn derived_counts(c: &Counts) -> [(&'static str, u64); 9] {
    [
        ("customer", c.customers),
        ("product_category", CATEGORY_COUNT),
        ("promotion", PROMOTION_COUNT),
        ("store", STORE_COUNT),
        (
            "address",
            (c.customers as f64 * ADDRESSES_PER_CUSTOMER).floor() as u64,
        ),
        ("product", c.products),
        ("order", c.orders),
        (
            "order_line",
            (c.orders as f64 * LINES_PER_ORDER).floor() as u64,
        ),
        (
            "return",
            (c.orders as f64 * RETURNS_PER_ORDER).round() as u64,
        ),
    ]
}

impl Domain for RetailDomain {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn description(&self) -> &'static str {
        "US retail: customers, addresses, stores, products, promotions, orders, lines, returns"
    }

    fn tables(&self) -> &[TableSpec] {
        &self.tables
    }

    fn row_counts(&self, scale: &Scale) -> Vec<(&'static str, u64)> {
        derived_counts(&scale.counts()).to_vec()
    }

    fn plan(&self, scale: Scale, seed: u64) -> Result<Arc<dyn DomainPlan>> {
        Ok(Arc::new(RetailPlan::new(self.clone(), scale, seed)?))
    }
}

/// One promotion, as orders see it.
#[derive(Clone, Debug)]
struct Promotion {
    start: i64,
    end: i64,
    discount_pct: i64,
    type_index: usize,
}

const PROMO_TYPES: [(&str, f64); 5] = [
    ("percent_off", 0.40),
    ("bogo", 0.15),
    ("fixed_amount", 0.20),
    ("bundle", 0.10),
    ("free_shipping", 0.15),
];
const DISCOUNTS: [(i64, f64); 6] = [
    (5, 0.05),
    (10, 0.25),
    (15, 0.20),
    (20, 0.25),
    (25, 0.10),
    (50, 0.15),
];
const MONTH_WEIGHTS: [f64; 12] = [
    0.071, 0.068, 0.079, 0.079, 0.083, 0.083, 0.085, 0.088, 0.079, 0.083, 0.096, 0.106,
];
const WEEKDAY_WEIGHTS: [f64; 7] = [0.155, 0.152, 0.148, 0.153, 0.147, 0.115, 0.130];
const MAX_PROMO_DAYS: i64 = 30;
/// Share of orders that carry a promotion (the spec's 70% nulls).
const PROMOTED_SHARE: f64 = 0.30;
/// Cap of the Pareto customer weight: the busiest customer is at most this many times
/// as likely as the quietest one.
const CUSTOMER_WEIGHT_CAP: f64 = 5.0;

/// Bits of the keep draw of a customer candidate.
const KEEP_BITS: u32 = 12;
/// Steps of the keep draw of a customer candidate.
const KEEP_STEPS: usize = 1 << KEEP_BITS;

/// A candidate with Pareto weight `w = v^(-1/1.16)` (`v = 1 - u` in `(0, 1]`) is kept
/// when a uniform `r` is below `min(w, cap) / cap`, that is when `cap * r < 1` or
/// `v < (cap * r)^(-1.16)`: for `r` in [`KEEP_STEPS`] steps (at their middles), the
/// bound on `v`. Comparing a hash of the customer with a bound from a small table keeps
/// the draw free of a lookup into a per-customer array (a cache miss at large scales).
fn keep_thresholds() -> Vec<f32> {
    (0..KEEP_STEPS)
        .map(|step| {
            let r = (step as f64 + 0.5) / KEEP_STEPS as f64;
            let scaled = CUSTOMER_WEIGHT_CAP * r;
            if scaled < 1.0 {
                2.0 // every v passes
            } else {
                scaled.powf(-1.16) as f32
            }
        })
        .collect()
}

/// Weights of the 24 hours of a day: peaks at 12:00 and 20:00, std dev 2 h.
fn hour_weights() -> [f64; 24] {
    let mut w = [0.0; 24];
    for (h, slot) in w.iter_mut().enumerate() {
        let x = h as f64 + 0.5;
        *slot = [12.0f64, 20.0]
            .iter()
            .map(|peak| {
                let d = (x - peak).abs();
                let d = d.min(24.0 - d);
                (-d * d / 8.0).exp()
            })
            .sum();
    }
    w
}

/// The Retail domain planned for one scale and seed.
pub struct RetailPlan {
    domain: RetailDomain,
    scale: Scale,
    seed: u64,
    counts: Counts,
    addresses: ExactPrefix,
    lines: ExactPrefix,
    return_count: u64,
    /// Signup instant (Unix seconds) of every customer, ascending.
    signup: Vec<i64>,
    /// Each customer's Pareto weight, as a uniform draw `u` (the weight is
    /// `(1 - u)^(-1/1.16)`, capped).
    customer_weights: RandomStream,
    /// For a keep draw `r` in 4,096 steps, the largest `1 - u` of a customer kept.
    keep_below: Vec<f32>,
    /// Draws of each order's customer candidates.
    customer_draws: RandomStream,
    /// Each order's date and customer, kept or drawn again by chunks: worked out once,
    /// by the first caller of [`RetailPlan::order_draws`].
    order_draws: OnceLock<cap::OrderDraws>,
    /// Set by the caller working out `order_draws`.
    drawing_orders: AtomicBool,
    product_price_cents: Vec<i64>,
    product_popularity: Alias,
    product_by_rank: Vec<u32>,
    /// `product_price_cents` of each rank's product: an order line's amount without
    /// looking its product up first.
    price_by_rank: Vec<i64>,
    store_popularity: Alias,
    store_by_rank: Vec<u32>,
    promotions: Vec<Promotion>,
    promoted_probability: f64,
    order_positions: SortedUniforms,
    hours: Weighted,
    leaf_popularity: Alias,
    leaf_ids: Vec<i64>,
}

impl RetailPlan {
    /// Plans the Retail domain at `scale` with `seed`.
    ///
    /// # Errors
    /// Counts of zero or beyond the limits.
    pub fn new(domain: RetailDomain, scale: Scale, seed: u64) -> Result<Self> {
        let counts = scale.counts();
        counts.validate()?;
        let s = |name| RandomStream::new(seed, name);

        let mut signup: Vec<i64> = SortedUniforms::new(seed, "customer.signup", counts.customers)
            .range(0, counts.customers)
            .into_iter()
            .map(|u| RANGE_START + (u * (RANGE_END - RANGE_START) as f64) as i64)
            .collect();
        // The first customer signs up when the model starts, so every order has someone
        // who could have placed it.
        signup[0] = RANGE_START;

        let price_stream = s("product.price");
        let product_price_cents: Vec<i64> = (0..counts.products)
            .map(|i| {
                let price = (3.0 + price_stream.normal(i)).exp().clamp(0.99, 999.99);
                (price * 100.0).round() as i64
            })
            .collect();

        let product_by_rank = permutation(s("product.popularity"), counts.products as usize);
        let price_by_rank = product_by_rank
            .iter()
            .map(|&p| product_price_cents[p as usize])
            .collect();
        let promotions = Self::plan_promotions(seed);
        let covered = Self::covered_share(&promotions);

        let mut day_hour = Vec::with_capacity((RANGE_DAYS * 24) as usize);
        let hours = hour_weights();
        let first_day = NaiveDate::from_ymd_opt(2022, 1, 1).expect("valid date");
        for d in 0..RANGE_DAYS {
            let date = first_day + chrono::Days::new(d as u64);
            let month = date.month0() as usize;
            let days_in_month = {
                let (y, m) = (date.year(), date.month());
                let next = if m == 12 {
                    NaiveDate::from_ymd_opt(y + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(y, m + 1, 1)
                }
                .expect("valid date");
                (next - NaiveDate::from_ymd_opt(y, m, 1).expect("valid date")).num_days() as f64
            };
            let day_weight = MONTH_WEIGHTS[month] / days_in_month
                * WEEKDAY_WEIGHTS[date.weekday().num_days_from_monday() as usize];
            day_hour.extend(hours.iter().map(|h| h * day_weight));
        }
        // Every customer orders at the same pace from signing up on (the Pareto weights
        // make some faster): orders per hour grow with the customers signed up by then,
        // so a stream's first hours spread over the first customers as later ones spread
        // over all, instead of the few early customers taking the seasonal volume.
        let mut signed_up = 0;
        for (hour, weight) in day_hour.iter_mut().enumerate() {
            let end = RANGE_START + (hour as i64 + 1) * 3600;
            while signed_up < signup.len() && signup[signed_up] < end {
                signed_up += 1;
            }
            *weight *= signed_up as f64;
        }

        let leaves: Vec<&Category> = categories().iter().filter(|c| c.is_leaf).collect();

        Ok(Self {
            domain,
            scale,
            seed,
            counts,
            addresses: ExactPrefix {
                per_unit: ADDRESSES_PER_CUSTOMER,
                jitter: 0.5,
                units: counts.customers,
                stream: s("address.count"),
            },
            lines: ExactPrefix {
                per_unit: LINES_PER_ORDER,
                jitter: 1.5,
                units: counts.orders,
                stream: s("order_line.count"),
            },
            return_count: (counts.orders as f64 * RETURNS_PER_ORDER).round() as u64,
            signup,
            product_price_cents,
            customer_weights: s("customer.weight"),
            keep_below: keep_thresholds(),
            product_popularity: Alias::zipf(counts.products as usize, 1.5),
            price_by_rank,
            product_by_rank,
            store_popularity: Alias::zipf(STORE_COUNT as usize, 1.3),
            store_by_rank: permutation(s("store.popularity"), STORE_COUNT as usize),
            promotions,
            promoted_probability: (PROMOTED_SHARE / covered).min(1.0),
            order_positions: SortedUniforms::new(seed, "order.date", counts.orders),
            hours: Weighted::new(&day_hour),
            leaf_popularity: Alias::new(&leaves.iter().map(|c| c.weight).collect::<Vec<_>>()),
            leaf_ids: leaves.iter().map(|c| c.id).collect(),
            customer_draws: s("order.customer"),
            order_draws: OnceLock::new(),
            drawing_orders: AtomicBool::new(false),
        })
    }

    /// Each order's date and customer under the orders-per-customer cap, worked out on
    /// first use (a pass over every order: the tables of other drivers are made
    /// meanwhile). The first caller works it out, on the rayon pool; a caller that
    /// finds it under way waits, running queued pool work if it is a pool thread, so
    /// that the work it waits for cannot be stuck behind it.
    fn order_draws(&self) -> &cap::OrderDraws {
        loop {
            if let Some(draws) = self.order_draws.get() {
                return draws;
            }
            if !self.drawing_orders.swap(true, Ordering::AcqRel) {
                let cap = cap::order_cap(self.counts.orders, self.counts.customers);
                let draws = cap::OrderDraws::plan(self, cap, cap::STORED_ORDERS);
                return self.order_draws.get_or_init(|| draws);
            }
            if rayon::yield_now() != Some(rayon::Yield::Executed) {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }

    fn plan_promotions(seed: u64) -> Vec<Promotion> {
        let starts =
            SortedUniforms::new(seed, "promotion.start", PROMOTION_COUNT).range(0, PROMOTION_COUNT);
        let days = RandomStream::new(seed, "promotion.days");
        let discount = RandomStream::new(seed, "promotion.discount");
        let kind = RandomStream::new(seed, "promotion.type");
        let discounts = Weighted::new(&DISCOUNTS.map(|d| d.1));
        let kinds = Weighted::new(&PROMO_TYPES.map(|d| d.1));
        starts
            .into_iter()
            .enumerate()
            .map(|(i, u)| {
                let i = i as u64;
                let start = RANGE_START + (u * (RANGE_END - RANGE_START) as f64) as i64;
                let length = 3 + days.below(i, (MAX_PROMO_DAYS - 3 + 1) as u64) as i64;
                Promotion {
                    start,
                    end: start + length * DAY,
                    discount_pct: DISCOUNTS[discounts.sample(discount, i)].0,
                    type_index: kinds.sample(kind, i),
                }
            })
            .collect()
    }

    /// Share of the date range during which at least one promotion runs.
    fn covered_share(promotions: &[Promotion]) -> f64 {
        let mut covered = 0i64;
        let mut reach = RANGE_START;
        for p in promotions {
            let (s, e) = (p.start.max(reach), p.end.min(RANGE_END));
            if e > s {
                covered += e - s;
                reach = e;
            }
        }
        (covered as f64 / (RANGE_END - RANGE_START) as f64).max(1e-9)
    }

    fn check_range(&self, driver: &str, units: &Range<u64>) -> Result<()> {
        let total = self.units(driver);
        if units.start > units.end || units.end > total {
            return Err(Error::Invalid {
                field: "units",
                message: format!(
                    "range {}..{} is outside 0..{total} of {driver}",
                    units.start, units.end
                ),
            });
        }
        Ok(())
    }
}

impl DomainPlan for RetailPlan {
    fn domain(&self) -> &dyn Domain {
        &self.domain
    }

    fn scale(&self) -> Scale {
        self.scale
    }

    fn seed(&self) -> u64 {
        self.seed
    }

    fn units(&self, driver: &str) -> u64 {
        match driver {
            "customer" => self.counts.customers,
            "product" => self.counts.products,
            "order" => self.counts.orders,
            "product_category" => CATEGORY_COUNT,
            "promotion" => PROMOTION_COUNT,
            "store" => STORE_COUNT,
            _ => 0,
        }
    }

    fn row_count(&self, table: &str) -> u64 {
        derived_counts(&self.counts)
            .iter()
            .find(|(name, _)| *name == table)
            .map_or(0, |(_, n)| *n)
    }

    fn prepare(&self, tables: &[&str]) {
        let drives_orders =
            |table: &&str| self.domain.table(table).is_ok_and(|s| s.driver == "order");
        if tables.iter().any(drives_orders) {
            self.order_draws();
        }
    }

    fn generate(&self, tables: &[&str], units: Range<u64>) -> Result<Vec<RecordBatch>> {
        let specs = tables
            .iter()
            .map(|t| self.domain.table(t))
            .collect::<Result<Vec<_>>>()?;
        let Some(first) = specs.first() else {
            return Ok(Vec::new());
        };
        if specs.iter().any(|s| s.driver != first.driver) {
            return Err(Error::MixedDrivers {
                tables: tables.join(", "),
            });
        }
        self.check_range(first.driver, &units)?;
        match first.driver {
            "customer" => self.customer_group(tables, units),
            "order" => self.order_group(tables, None, tables::Orders::Range(&units)),
            "product" => Ok(vec![self.products(units)?]),
            "product_category" => Ok(vec![self.product_categories(units)?]),
            "promotion" => Ok(vec![self.promotions_batch(units)?]),
            "store" => Ok(vec![self.stores(units)?]),
            other => unreachable!("retail driver {other} is handled above"),
        }
    }

    /// `order`'s columns are made without the rest of the row (the lines are drawn
    /// only for `order_total`); other tables' rows are made whole.
    fn generate_columns(
        &self,
        table: &str,
        columns: &[&str],
        units: Range<u64>,
    ) -> Result<RecordBatch> {
        if table != "order" {
            return crate::domain::generated_columns(self, table, columns, units);
        }
        self.check_range("order", &units)?;
        Ok(self
            .order_group(&["order"], Some(columns), tables::Orders::Range(&units))?
            .remove(0))
    }

    /// `order`, where the plan keeps every order's date and customer (up to `large`).
    /// Beyond, they are drawn a block of orders at a time, so that rows scattered over
    /// the table would each cost a block.
    fn generates_rows(&self, table: &str) -> bool {
        table == "order" && self.counts.orders <= cap::STORED_ORDERS
    }

    /// `order`'s rows, each made on its own (beyond `large`, with the block of orders
    /// around it: see [`DomainPlan::generates_rows`]).
    fn generate_rows(&self, table: &str, rows: &[u64]) -> Result<RecordBatch> {
        if table != "order" {
            return Err(crate::domain::not_made_by_row(self, table));
        }
        if let Some(&past) = rows.iter().find(|&&r| r >= self.counts.orders) {
            return Err(Error::Invalid {
                field: "rows",
                message: format!("row {past} is outside 0..{} of order", self.counts.orders),
            });
        }
        Ok(self
            .order_group(&["order"], None, tables::Orders::List(rows))?
            .remove(0))
    }
}
