//! Column builders of the Retail tables. Each works on a range of its driving table's
//! rows and draws every value from `(seed, column, row)`, so any range can be built on
//! its own and equals the same rows of a whole run.

use super::words::*;
use super::*;
use crate::reference::{categories, zip_centroids};
use arrow_array::builder::StringBuilder;
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
    UInt32Array,
};
use arrow_select::take::take;

const MICROS: i64 = 1_000_000;
const GENDERS: [(&str, f64); 2] = [("M", 0.49), ("F", 0.51)];
const LOYALTY: [(&str, f64); 4] = [
    ("Basic", 0.55),
    ("Silver", 0.25),
    ("Gold", 0.13),
    ("Platinum", 0.07),
];
const ADDRESS_TYPES: [(&str, f64); 3] = [("billing", 0.50), ("shipping", 0.40), ("both", 0.10)];
const STORE_TYPES: [(&str, f64); 3] = [("physical", 0.85), ("online", 0.10), ("warehouse", 0.05)];
const PRODUCT_STATUS: [(&str, f64); 3] = [
    ("active", 0.75),
    ("discontinued", 0.15),
    ("introduced", 0.10),
];
const ORDER_STATUS: [(&str, f64); 5] = [
    ("completed", 0.77),
    ("shipped", 0.08),
    ("processing", 0.02),
    ("cancelled", 0.04),
    ("returned", 0.09),
];
const RETURN_REASONS: [(&str, f64); 7] = [
    ("wrong_size", 0.25),
    ("changed_mind", 0.22),
    ("not_as_described", 0.20),
    ("defective", 0.15),
    ("damaged_shipping", 0.10),
    ("arrived_late", 0.05),
    ("other", 0.03),
];

/// Cumulative probabilities of quantity 1..=19 under geometric(p = 0.6); quantities
/// past 19 are folded into 20.
const QUANTITY_CDF: [f64; 19] = {
    let mut c = [0.0; 19];
    let mut k = 0;
    let mut fail = 1.0;
    while k < 19 {
        fail *= 0.4;
        c[k] = 1.0 - fail;
        k += 1;
    }
    c
};

/// Buckets of the unit interval for [`quantity`]: every order line draws a quantity,
/// and looked up by bucket it compares with the CDF only where the bucket holds one of
/// its values (7 of the 256 buckets hold them all), not with each value up to its own.
const QUANTITY_BUCKETS: usize = 256;

/// For each bucket, how many values of [`QUANTITY_CDF`] lie below its start.
const QUANTITY_BEFORE: [u8; QUANTITY_BUCKETS] = {
    let mut before = [0u8; QUANTITY_BUCKETS];
    let mut bucket = 0;
    while bucket < QUANTITY_BUCKETS {
        let start = bucket as f64 / QUANTITY_BUCKETS as f64;
        let mut k = 0;
        while k < QUANTITY_CDF.len() && QUANTITY_CDF[k] < start {
            k += 1;
        }
        before[bucket] = k as u8;
        bucket += 1;
    }
    before
};

/// The quantity at cumulative probability `u` in `[0, 1)`: one more than the number of
/// values of [`QUANTITY_CDF`] at or below `u`. Those below `u`'s bucket all are; of the
/// rest (the CDF rises) only those inside the bucket need comparing.
#[inline]
fn quantity(u: f64) -> i64 {
    let bucket = ((u * QUANTITY_BUCKETS as f64) as usize).min(QUANTITY_BUCKETS - 1);
    let mut k = usize::from(QUANTITY_BEFORE[bucket]);
    while k < QUANTITY_CDF.len() && QUANTITY_CDF[k] <= u {
        k += 1;
    }
    1 + k as i64
}

/// How many promotions' starts [`RetailPlan::active_promotion`] steps past from one
/// order's date to the next before it searches for the next date's place instead.
const PROMOTION_STEPS: usize = 8;

/// A categorical column drawn from `(label, weight)` pairs.
struct Categorical<'a> {
    labels: Vec<&'a str>,
    weights: Weighted,
}

impl<'a> Categorical<'a> {
    fn new(pairs: &[(&'a str, f64)]) -> Self {
        Self {
            labels: pairs.iter().map(|p| p.0).collect(),
            weights: Weighted::new(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()),
        }
    }

    fn index(&self, stream: RandomStream, row: u64) -> usize {
        self.weights.sample(stream, row)
    }

    fn column(&self, stream: RandomStream, rows: impl Iterator<Item = u64>) -> StringArray {
        StringArray::from_iter_values(rows.map(|r| self.labels[self.index(stream, r)]))
    }
}

fn money(cents: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(
        cents.into_iter().map(|c| c as f64 / 100.0),
    ))
}

fn ids(range: Range<u64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(range.map(|i| i as i64 + 1)))
}

fn timestamps(seconds: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter_values(
        seconds.into_iter().map(|s| s * MICROS),
    ))
}

/// The orders a call to [`RetailPlan::order_group`] makes.
#[derive(Clone, Copy)]
pub(super) enum Orders<'a> {
    /// Orders `start..end`, in order.
    Range(&'a Range<u64>),
    /// Orders at these positions, in this order.
    List(&'a [u64]),
}

impl Orders<'_> {
    /// How many orders.
    pub(super) fn len(self) -> usize {
        match self {
            Self::Range(range) => (range.end - range.start) as usize,
            Self::List(list) => list.len(),
        }
    }

    /// The orders, in the order made.
    pub(super) fn iter(self) -> impl Iterator<Item = u64> {
        let (range, list) = match self {
            Self::Range(range) => (range.clone(), &[][..]),
            Self::List(list) => (0..0, list),
        };
        range.chain(list.iter().copied())
    }
}

fn pick<'a>(list: &[&'a str], stream: RandomStream, row: u64) -> &'a str {
    list[stream.below(row, list.len() as u64) as usize]
}

/// Appends `name` lower-cased, keeping only ASCII letters.
fn push_handle(out: &mut String, name: &str) {
    out.extend(
        name.chars()
            .filter(char::is_ascii_alphabetic)
            .map(|c| c.to_ascii_lowercase()),
    );
}

impl RetailPlan {
    fn stream(&self, name: &str) -> RandomStream {
        RandomStream::new(self.seed, name)
    }

    fn batch(&self, table: &str, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
        let schema = self.domain.table(table)?.schema.clone();
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// `customer` and/or `address` for customers `units`.
    pub(super) fn customer_group(
        &self,
        tables: &[&str],
        units: Range<u64>,
    ) -> Result<Vec<RecordBatch>> {
        let gender = Categorical::new(&GENDERS);
        let gender_stream = self.stream("customer.gender");
        let genders: Vec<usize> = units
            .clone()
            .map(|c| gender.index(gender_stream, c))
            .collect();
        tables
            .iter()
            .map(|&t| match t {
                "customer" => self.customers(units.clone(), &gender, &genders),
                _ => self.addresses_of(units.clone()),
            })
            .collect()
    }

    fn customers(
        &self,
        units: Range<u64>,
        gender: &Categorical,
        genders: &[usize],
    ) -> Result<RecordBatch> {
        let first_stream = self.stream("customer.first_name");
        let last_stream = self.stream("customer.last_name");
        let first: Vec<&str> = units
            .clone()
            .zip(genders)
            .map(|(c, &g)| {
                let list = if g == 0 { MALE_FIRST } else { FEMALE_FIRST };
                pick(list, first_stream, c)
            })
            .collect();
        let last: Vec<&str> = units.clone().map(|c| pick(LAST, last_stream, c)).collect();

        let email_null = self.stream("customer.email.null");
        let email_style = self.stream("customer.email.style");
        let domains = Categorical::new(EMAIL_DOMAINS);
        let domain_stream = self.stream("customer.email.domain");
        let mut emails = StringBuilder::with_capacity(first.len(), first.len() * 28);
        let mut buf = String::with_capacity(64);
        let mut digits = itoa::Buffer::new();
        for (k, c) in units.clone().enumerate() {
            if email_null.unit(c) < 0.05 {
                emails.append_null();
                continue;
            }
            buf.clear();
            let bits = email_style.bits(c);
            match bits % 5 {
                0 => {
                    push_handle(&mut buf, first[k]);
                    buf.push('.');
                    push_handle(&mut buf, last[k]);
                }
                1 => {
                    push_handle(&mut buf, first[k]);
                    push_handle(&mut buf, last[k]);
                }
                2 => {
                    push_handle(&mut buf, &first[k][..1]);
                    push_handle(&mut buf, last[k]);
                }
                3 => {
                    push_handle(&mut buf, first[k]);
                    buf.push('_');
                    push_handle(&mut buf, last[k]);
                }
                _ => {
                    push_handle(&mut buf, first[k]);
                    push_handle(&mut buf, &last[k][..1]);
                }
            }
            if (bits >> 8) % 2 == 0 {
                buf.push_str(digits.format((bits >> 16) % 1000));
            }
            buf.push('@');
            buf.push_str(domains.labels[domains.index(domain_stream, c)]);
            emails.append_value(&buf);
        }

        let active = self.stream("customer.is_active");
        let columns: Vec<ArrayRef> = vec![
            ids(units.clone()),
            Arc::new(StringArray::from_iter_values(first.iter())),
            Arc::new(StringArray::from_iter_values(last.iter())),
            Arc::new(emails.finish()),
            Arc::new(StringArray::from_iter_values(
                genders.iter().map(|&g| gender.labels[g]),
            )),
            Arc::new(
                Categorical::new(&LOYALTY).column(self.stream("customer.loyalty"), units.clone()),
            ),
            timestamps(units.clone().map(|c| self.signup[c as usize])),
            Arc::new(StringArray::from_iter_values(units.map(|c| {
                if active.unit(c) < 0.85 {
                    "true"
                } else {
                    "false"
                }
            }))),
        ];
        self.batch("customer", columns)
    }

    fn addresses_of(&self, customers: Range<u64>) -> Result<RecordBatch> {
        let rows = self.addresses.at(customers.start)..self.addresses.at(customers.end);
        let mut owner = Vec::with_capacity((rows.end - rows.start) as usize);
        let mut primary = Vec::with_capacity(owner.capacity());
        for c in customers {
            let (a, b) = (self.addresses.at(c), self.addresses.at(c + 1));
            for row in a..b {
                owner.push(c as i64 + 1);
                primary.push(row == a);
            }
        }
        let zips = zip_centroids();
        let zip_stream = self.stream("address.zip");
        let zip_of = UInt32Array::from_iter_values(
            rows.clone()
                .map(|r| zip_stream.below(r, zips.len() as u64) as u32),
        );
        let number = self.stream("address.number");
        let street_stream = self.stream("address.street");
        let suffix_stream = self.stream("address.suffix");
        let suffixes = Categorical::new(STREET_SUFFIXES);
        let mut streets = StringBuilder::with_capacity(owner.len(), owner.len() * 20);
        let mut buf = String::with_capacity(48);
        let mut digits = itoa::Buffer::new();
        for r in rows.clone() {
            buf.clear();
            buf.push_str(digits.format(1 + number.below(r, 9_999)));
            buf.push(' ');
            buf.push_str(pick(STREETS, street_stream, r));
            buf.push(' ');
            buf.push_str(suffixes.labels[suffixes.index(suffix_stream, r)]);
            streets.append_value(&buf);
        }
        let columns: Vec<ArrayRef> = vec![
            ids(rows.clone()),
            Arc::new(Int64Array::from(owner)),
            Arc::new(Categorical::new(&ADDRESS_TYPES).column(self.stream("address.type"), rows)),
            Arc::new(streets.finish()),
            take(&zips.city, &zip_of, None)?,
            take(&zips.state, &zip_of, None)?,
            take(&zips.zip, &zip_of, None)?,
            take(&zips.lat, &zip_of, None)?,
            take(&zips.lng, &zip_of, None)?,
            Arc::new(BooleanArray::from(primary)),
        ];
        self.batch("address", columns)
    }

    pub(super) fn product_categories(&self, rows: Range<u64>) -> Result<RecordBatch> {
        let cats = &categories()[rows.start as usize..rows.end as usize];
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(cats.iter().map(|c| c.id))),
            Arc::new(StringArray::from_iter_values(cats.iter().map(|c| c.name))),
            Arc::new(Int64Array::from(
                cats.iter().map(|c| c.parent).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from_iter_values(cats.iter().map(|c| c.level))),
        ];
        self.batch("product_category", columns)
    }

    pub(super) fn promotions_batch(&self, rows: Range<u64>) -> Result<RecordBatch> {
        let promos = &self.promotions[rows.start as usize..rows.end as usize];
        let theme = self.stream("promotion.theme");
        let event = self.stream("promotion.event");
        let mut names = StringBuilder::with_capacity(promos.len(), promos.len() * 32);
        for (k, p) in promos.iter().enumerate() {
            let row = rows.start + k as u64;
            let start = chrono::DateTime::from_timestamp(p.start, 0).expect("in range");
            names.append_value(format!(
                "{} {} {} {}",
                SEASON_BY_MONTH[start.month0() as usize],
                pick(PROMO_THEMES, theme, row),
                pick(PROMO_EVENTS, event, row),
                start.year()
            ));
        }
        let columns: Vec<ArrayRef> = vec![
            ids(rows),
            Arc::new(names.finish()),
            Arc::new(StringArray::from_iter_values(
                promos.iter().map(|p| PROMO_TYPES[p.type_index].0),
            )),
            Arc::new(Int64Array::from_iter_values(
                promos.iter().map(|p| p.discount_pct),
            )),
            timestamps(promos.iter().map(|p| p.start)),
            timestamps(promos.iter().map(|p| p.end)),
        ];
        self.batch("promotion", columns)
    }

    pub(super) fn stores(&self, rows: Range<u64>) -> Result<RecordBatch> {
        let zips = zip_centroids();
        let zip_stream = self.stream("store.zip");
        let zip_of = UInt32Array::from_iter_values(
            rows.clone()
                .map(|r| zip_stream.below(r, zips.len() as u64) as u32),
        );
        let columns: Vec<ArrayRef> = vec![
            ids(rows.clone()),
            Arc::new(StringArray::from_iter_values(
                rows.clone().map(|r| format!("Store #{:04}", r + 1)),
            )),
            Arc::new(Categorical::new(&STORE_TYPES).column(self.stream("store.type"), rows)),
            take(&zips.city, &zip_of, None)?,
            take(&zips.state, &zip_of, None)?,
        ];
        self.batch("store", columns)
    }

    pub(super) fn products(&self, rows: Range<u64>) -> Result<RecordBatch> {
        let category = self.stream("product.category");
        let brand = self.stream("product.brand");
        let adjective = self.stream("product.adjective");
        let noun = self.stream("product.noun");
        let cost = self.stream("product.cost");
        let mut names = StringBuilder::with_capacity((rows.end - rows.start) as usize, 0);
        let mut buf = String::with_capacity(64);
        for r in rows.clone() {
            buf.clear();
            buf.push_str(pick(BRANDS, brand, r));
            buf.push(' ');
            buf.push_str(pick(PRODUCT_ADJECTIVES, adjective, r));
            buf.push(' ');
            buf.push_str(pick(PRODUCT_NOUNS, noun, r));
            names.append_value(&buf);
        }
        let price = |r: u64| self.product_price_cents[r as usize];
        let columns: Vec<ArrayRef> = vec![
            ids(rows.clone()),
            Arc::new(Int64Array::from_iter_values(rows.clone().map(|r| {
                self.leaf_ids[self.leaf_popularity.sample(category, r)]
            }))),
            Arc::new(names.finish()),
            money(rows.clone().map(price)),
            money(
                rows.clone()
                    .map(|r| (price(r) as f64 * (0.30 + 0.40 * cost.unit(r))).floor() as i64),
            ),
            Arc::new(Categorical::new(&PRODUCT_STATUS).column(self.stream("product.status"), rows)),
        ];
        self.batch("product", columns)
    }

    /// The order in which return `r` falls: returns spread evenly over orders, at most
    /// a few per order, non-decreasing in `r`.
    fn order_of_return(&self, r: u64, stream: RandomStream) -> u64 {
        let n = self.counts.orders as f64;
        let per = n / self.return_count as f64;
        (((r as f64 + stream.unit(r)) * per) as u64).min(self.counts.orders - 1)
    }

    /// The first return whose order is at or after order `o`.
    fn first_return_from(&self, o: u64, stream: RandomStream) -> u64 {
        if self.return_count == 0 {
            return 0;
        }
        let guess = (o as f64 * self.return_count as f64 / self.counts.orders as f64) as u64;
        let mut r = guess.saturating_sub(1).min(self.return_count);
        while r > 0 && self.order_of_return(r - 1, stream) >= o {
            r -= 1;
        }
        while r < self.return_count && self.order_of_return(r, stream) < o {
            r += 1;
        }
        r
    }

    /// A promotion active at `t`, chosen by `bits`, if any runs then. `upto` is the
    /// number of promotions started by the previous call's time (0 at first), left at
    /// `t`'s: times mostly rise a little from call to call, so it steps forward, and is
    /// searched for only when `t` went back or far ahead.
    fn active_promotion(&self, t: i64, bits: u64, upto: &mut usize) -> Option<usize> {
        let started = |p: &Promotion| p.start <= t;
        let behind = *upto > 0 && !started(&self.promotions[*upto - 1]);
        let far_ahead = self
            .promotions
            .get(*upto + PROMOTION_STEPS)
            .is_some_and(started);
        if behind || far_ahead {
            *upto = self.promotions.partition_point(started);
        }
        while self.promotions.get(*upto).is_some_and(started) {
            *upto += 1;
        }
        let upto = *upto;
        let mut active = [0usize; 16];
        let mut n = 0;
        for i in (0..upto).rev() {
            let p = &self.promotions[i];
            if p.start <= t - MAX_PROMO_DAYS * DAY {
                break;
            }
            if p.end > t && n < active.len() {
                active[n] = i;
                n += 1;
            }
        }
        (n > 0).then(|| active[(bits % n as u64) as usize])
    }

    /// Dates of orders `units` (Unix seconds), ascending: sorted positions mapped
    /// through the seasonal CDF.
    pub(super) fn order_dates(&self, units: &Range<u64>) -> Vec<i64> {
        let positions = self.order_positions.range(units.start, units.end);
        let mut cursor = crate::dist::CdfCursor::new(&self.hours);
        if let Some(&first) = positions.first() {
            // Start the walk where a search puts the first position.
            cursor = crate::dist::CdfCursor::starting_at(&self.hours, self.hours.at(first));
        }
        positions
            .into_iter()
            .map(|u| {
                let (hour, frac) = cursor.at_with_fraction(u);
                RANGE_START + hour as i64 * 3_600 + (frac * 3_600.0) as i64
            })
            .collect()
    }

    /// For orders `units` placed at `dates`, how many customers have signed up by each.
    pub(super) fn eligible_customers(&self, dates: &[i64]) -> Vec<usize> {
        let mut eligible = self
            .signup
            .partition_point(|&s| s < dates.first().copied().unwrap_or(0));
        dates
            .iter()
            .map(|&t| {
                while eligible < self.signup.len() && self.signup[eligible] <= t {
                    eligible += 1;
                }
                eligible.max(1)
            })
            .collect()
    }

    /// The customer of order `order`, among the first `eligible` customers (those
    /// signed up by its date): a uniform one, kept with its capped Pareto weight, and
    /// passed over when `full` (they already have the cap of orders). After 64 draws,
    /// the nearest customer who is not full.
    pub(super) fn pick_customer(
        &self,
        order: u64,
        eligible: usize,
        full: impl Fn(u64) -> bool,
    ) -> u64 {
        let k = eligible as u64;
        let draws = self.customer_draws.fork(order);
        // One draw per attempt: the high half picks, the top of the low half keeps.
        let attempt = |n: u64| {
            let bits = draws.bits(n);
            let pick = (bits >> 32) as f64 * (1.0 / 4_294_967_296.0);
            let candidate = ((pick * k as f64) as u64).min(k - 1);
            let bound = self.keep_below[(bits as u32 >> (32 - KEEP_BITS)) as usize];
            // The candidate's Pareto weight is base^(-1/1.16).
            let base = 1.0 - self.customer_weights.unit(candidate) as f32;
            (candidate, base < bound)
        };
        let mut candidate = 0;
        // Attempts go in pairs: the two draws are independent, so the processor works
        // on both at once instead of waiting on the first to decide.
        for pair in 0..32 {
            let (first, first_kept) = attempt(2 * pair);
            let (second, second_kept) = attempt(2 * pair + 1);
            if first_kept && !full(first) {
                return first;
            }
            if second_kept && !full(second) {
                return second;
            }
            candidate = second;
        }
        (0..=candidate)
            .rev()
            .chain(candidate + 1..k)
            .find(|&c| !full(c))
            .unwrap_or(candidate)
    }

    /// `order`, `order_line` and/or `return` for `orders` (a list of orders makes
    /// `order` alone); of `order`, only the columns `order_columns` (in that order) if
    /// given, made without the work the others need (the lines are drawn only for the
    /// total or the other tables).
    pub(super) fn order_group(
        &self,
        tables: &[&str],
        order_columns: Option<&[&str]>,
        orders: Orders<'_>,
    ) -> Result<Vec<RecordBatch>> {
        let n = orders.len();
        let order_wants = |column: &str| {
            tables.contains(&"order") && order_columns.is_none_or(|c| c.contains(&column))
        };
        let draws = self.order_draws();
        let (dates, customers) = if order_wants("customer_id") || order_wants("shipping_address_id")
        {
            draws.of(self, &orders)
        } else {
            (draws.dates_of(self, &orders), Vec::new())
        };
        // `order_line` and `return` are made for ranges only.
        let units = match orders {
            Orders::Range(range) => range.clone(),
            Orders::List(_) => 0..0,
        };
        // The lines' columns are kept only when `order_line` is asked for; the order's
        // total (also what a return refunds at most) needs the lines' amounts alone.
        let keep_lines = tables.contains(&"order_line");
        let totals_wanted = keep_lines || tables.contains(&"return") || order_wants("order_total");

        let address_stream = self.stream("order.address");
        let shipping: Option<ArrayRef> = order_wants("shipping_address_id").then(|| {
            Arc::new(Int64Array::from_iter_values(
                orders.iter().zip(&customers).map(|(o, &c)| {
                    let (a, b) = (self.addresses.at(c), self.addresses.at(c + 1));
                    (a + address_stream.below(o, b - a) + 1) as i64
                }),
            )) as ArrayRef
        });
        let store_stream = self.stream("order.store");
        let promo_gate = self.stream("order.promotion");
        let promos: Vec<Option<usize>> = if totals_wanted || order_wants("promotion_id") {
            let mut promotions_started = 0;
            orders
                .iter()
                .zip(&dates)
                .map(|(o, &t)| {
                    if promo_gate.unit(o) < self.promoted_probability {
                        self.active_promotion(t, promo_gate.bits2(o, 1), &mut promotions_started)
                    } else {
                        None
                    }
                })
                .collect()
        } else {
            Vec::new()
        };

        // Lines and totals, in whole cents.
        let line_rows = self.lines.at(units.start)..self.lines.at(units.end);
        let line_count = if keep_lines {
            (line_rows.end - line_rows.start) as usize
        } else {
            0
        };
        let product_stream = self.stream("order_line.product");
        let quantity_stream = self.stream("order_line.quantity");
        let mut line_order = Vec::with_capacity(line_count);
        let mut line_product = Vec::with_capacity(line_count);
        let mut line_quantity = Vec::with_capacity(line_count);
        let mut line_price = Vec::with_capacity(line_count);
        let mut line_discount = Vec::with_capacity(line_count);
        let mut line_total = Vec::with_capacity(line_count);
        let mut order_total = vec![0i64; n];
        let mut lines_end = line_rows.start;
        let totalled = if totals_wanted { n } else { 0 };
        for (k, o) in orders.iter().enumerate().take(totalled) {
            let discount = promos[k].map_or(0, |p| self.promotions[p].discount_pct);
            let lines_start = match orders {
                Orders::Range(_) => lines_end,
                Orders::List(_) => self.lines.at(o),
            };
            lines_end = self.lines.at(o + 1);
            for l in lines_start..lines_end {
                let rank = self.product_popularity.sample(product_stream, l);
                let quantity = quantity(quantity_stream.unit(l));
                let price = self.price_by_rank[rank];
                let total = (quantity * price * (100 - discount) + 50) / 100;
                if keep_lines {
                    line_order.push(o as i64 + 1);
                    line_product.push(i64::from(self.product_by_rank[rank]) + 1);
                    line_quantity.push(quantity);
                    line_price.push(price);
                    line_discount.push(discount);
                    line_total.push(total);
                }
                order_total[k] += total;
            }
        }

        let mut out = Vec::with_capacity(tables.len());
        for &table in tables {
            let batch = match table {
                "order" => {
                    let spec = self.domain.table("order")?;
                    // The whole row keeps the table's schema; a projection, its own.
                    let (names, schema) = match order_columns {
                        None => (
                            spec.schema
                                .fields()
                                .iter()
                                .map(|f| f.name().as_str())
                                .collect(),
                            spec.schema.clone(),
                        ),
                        Some(names) => {
                            let indices = crate::domain::column_indices(spec, names)?;
                            (names.to_vec(), Arc::new(spec.schema.project(&indices)?))
                        }
                    };
                    let mut columns: Vec<ArrayRef> = Vec::with_capacity(names.len());
                    for &name in &names {
                        columns.push(match name {
                            "order_id" => Arc::new(Int64Array::from_iter_values(
                                orders.iter().map(|o| o as i64 + 1),
                            )),
                            "customer_id" => Arc::new(Int64Array::from_iter_values(
                                customers.iter().map(|&c| c as i64 + 1),
                            )),
                            "store_id" => {
                                Arc::new(Int64Array::from_iter_values(orders.iter().map(|o| {
                                    let rank = self.store_popularity.sample(store_stream, o);
                                    self.store_by_rank[rank] as i64 + 1
                                })))
                            }
                            "shipping_address_id" => shipping.clone().expect("made when asked for"),
                            "promotion_id" => Arc::new(Int64Array::from(
                                promos
                                    .iter()
                                    .map(|p| p.map(|i| i as i64 + 1))
                                    .collect::<Vec<_>>(),
                            )),
                            "order_date" => timestamps(dates.iter().copied()),
                            "status" => Arc::new(
                                Categorical::new(&ORDER_STATUS)
                                    .column(self.stream("order.status"), orders.iter()),
                            ),
                            "order_total" => money(order_total.iter().copied()),
                            other => unreachable!("order has no column {other}: checked above"),
                        });
                    }
                    RecordBatch::try_new(schema, columns)?
                }
                "order_line" => {
                    let promo_of_line: Vec<Option<i64>> = line_order
                        .iter()
                        .map(|&o| {
                            promos[(o as u64 - 1 - units.start) as usize].map(|p| p as i64 + 1)
                        })
                        .collect();
                    let columns: Vec<ArrayRef> = vec![
                        ids(line_rows.clone()),
                        Arc::new(Int64Array::from(std::mem::take(&mut line_order))),
                        Arc::new(Int64Array::from(std::mem::take(&mut line_product))),
                        Arc::new(Int64Array::from(promo_of_line)),
                        Arc::new(Int64Array::from(std::mem::take(&mut line_quantity))),
                        money(line_price.iter().copied()),
                        Arc::new(Int64Array::from(std::mem::take(&mut line_discount))),
                        money(line_total.iter().copied()),
                    ];
                    self.batch("order_line", columns)?
                }
                _ => self.returns_of(units.clone(), &dates, &order_total)?,
            };
            out.push(batch);
        }
        Ok(out)
    }

    fn returns_of(&self, orders: Range<u64>, dates: &[i64], totals: &[i64]) -> Result<RecordBatch> {
        let which = self.stream("return.order");
        let rows =
            self.first_return_from(orders.start, which)..self.first_return_from(orders.end, which);
        let delay = self.stream("return.delay");
        let refund = self.stream("return.refund");
        let mut order_ids = Vec::new();
        let mut return_dates = Vec::new();
        let mut refunds = Vec::new();
        for r in rows.clone() {
            let o = self.order_of_return(r, which);
            let k = (o - orders.start) as usize;
            let days = (2.0 + 0.8 * delay.normal(r)).exp().clamp(1.0, 90.0);
            let amount =
                ((3.5 + refund.normal(r)).exp().clamp(5.0, 2_000.0) * 100.0).round() as i64;
            order_ids.push(o as i64 + 1);
            return_dates.push(dates[k] + (days * DAY as f64).round() as i64);
            refunds.push(amount.min(totals[k]));
        }
        let columns: Vec<ArrayRef> = vec![
            ids(rows.clone()),
            Arc::new(Int64Array::from(order_ids)),
            timestamps(return_dates),
            Arc::new(Categorical::new(&RETURN_REASONS).column(self.stream("return.reason"), rows)),
            money(refunds),
        ];
        self.batch("return", columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_by_bucket_are_those_of_the_cdf() {
        let counted = |u: f64| 1 + QUANTITY_CDF.iter().filter(|&&c| c <= u).count() as i64;
        // Every value of the CDF and every bucket's start, each with its neighbours,
        // then an even spread.
        let mut at = vec![0.0, 1.0_f64.next_down()];
        for edge in QUANTITY_CDF
            .into_iter()
            .chain((0..=QUANTITY_BUCKETS).map(|b| b as f64 / QUANTITY_BUCKETS as f64))
        {
            at.extend([edge.next_down(), edge, edge.next_up()]);
        }
        at.extend((0..100_000).map(|i| (f64::from(i) + 0.5) / 100_000.0));
        let mut seen = std::collections::BTreeSet::new();
        for u in at.into_iter().filter(|u| (0.0..1.0).contains(u)) {
            assert_eq!(quantity(u), counted(u), "u = {u}");
            seen.insert(quantity(u));
        }
        assert_eq!(seen, (1..=20).collect(), "every quantity is reached");
    }
}
