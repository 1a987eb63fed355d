//! The cap on orders per customer.
//!
//! Each order's customer is drawn on its own, yet no customer may get more than the cap
//! of orders. The cap is defined by reading the order table in order: a customer who
//! already has the cap of orders is passed over, and the order goes to its next
//! candidate ([`RetailPlan::pick_customer`]). The plan works that reading out once:
//! every order's first choice (its customer were nobody full) is drawn in parallel,
//! then the orders are settled in order, counting each customer's orders ([`Settle`]):
//! a cheap pass, since first choices are rarely full (at `medium`, 53 customers reach
//! the cap and a few dozen orders move).
//!
//! Up to [`STORED_ORDERS`] orders, the plan keeps every order's date and customer (12
//! bytes an order; chunks then draw neither again). Beyond, it keeps only who reaches
//! the cap and when ([`FullCustomers`]), and chunks draw dates and customers again,
//! passing over those who are full: the same values, without holding columns of the
//! order table.

use super::RetailPlan;
use super::tables::Orders;
use crate::chunks::chunk_ranges;
use rayon::prelude::*;
use std::collections::HashMap;
use std::ops::Range;

/// Orders a customer may have at most: the spec's 50, or five times the mean at scales
/// whose mean is above 10 orders per customer (at `xxl`, 50 per customer is the mean).
pub(super) fn order_cap(orders: u64, customers: u64) -> u64 {
    50.max((5 * orders).div_ceil(customers.max(1)))
}

/// Most orders whose dates and customers the plan keeps (96 MiB of them).
pub(super) const STORED_ORDERS: u64 = 1 << 23;

/// Orders per task of the parallel passes.
const PASS_CHUNK: usize = 65_536;

/// Each order's date and customer, as the plan keeps them.
#[derive(Debug)]
pub(super) enum OrderDraws {
    /// The date and customer (0-based) of every order.
    Stored {
        /// Unix seconds, ascending.
        dates: Vec<i64>,
        /// 0-based customer indices.
        customers: Vec<u32>,
    },
    /// Who reaches the cap and when; chunks draw dates and customers themselves.
    Drawn(FullCustomers),
}

impl OrderDraws {
    /// Works out every order's customer under `cap`, kept with the dates up to
    /// `store_limit` orders.
    pub(super) fn plan(plan: &RetailPlan, cap: u64, store_limit: u64) -> Self {
        let orders = plan.counts.orders;
        if orders > store_limit {
            return Self::Drawn(FullCustomers::find(plan, cap));
        }
        let mut dates = vec![0i64; orders as usize];
        let mut customers = vec![0u32; orders as usize];
        let mut eligible = vec![0u32; orders as usize];
        dates
            .par_chunks_mut(PASS_CHUNK)
            .zip(customers.par_chunks_mut(PASS_CHUNK))
            .zip(eligible.par_chunks_mut(PASS_CHUNK))
            .enumerate()
            .for_each(|(index, ((dates, customers), eligible))| {
                let start = (index * PASS_CHUNK) as u64;
                let (drawn, choices) = first_choices(plan, &(start..start + dates.len() as u64));
                dates.copy_from_slice(&drawn);
                for (slot, (_, count, first)) in choices.into_iter().enumerate() {
                    customers[slot] = first as u32;
                    eligible[slot] = count as u32;
                }
            });
        let mut settle = Settle::new(plan, cap);
        for (order, (customer, &count)) in (0u64..).zip(customers.iter_mut().zip(&eligible)) {
            *customer = settle.assign(order, count as usize, u64::from(*customer)) as u32;
        }
        Self::Stored { dates, customers }
    }

    /// The dates and customers (0-based) of `orders`.
    pub(super) fn of(&self, plan: &RetailPlan, orders: &Orders<'_>) -> (Vec<i64>, Vec<u64>) {
        match (self, orders) {
            (Self::Stored { dates, customers }, Orders::Range(range)) => {
                let (start, end) = (range.start as usize, range.end as usize);
                (
                    dates[start..end].to_vec(),
                    customers[start..end]
                        .iter()
                        .map(|&c| u64::from(c))
                        .collect(),
                )
            }
            (Self::Stored { dates, customers }, Orders::List(_)) => orders
                .iter()
                .map(|o| (dates[o as usize], u64::from(customers[o as usize])))
                .unzip(),
            (Self::Drawn(full), _) => {
                let mut all = (Vec::with_capacity(orders.len()), Vec::new());
                for range in runs(orders) {
                    let (dates, drawn) = draw_orders(plan, &range, |c, o| full.is_full(c, o));
                    all.0.extend(dates);
                    all.1.extend(drawn.into_iter().map(|(_, _, c)| c));
                }
                all
            }
        }
    }

    /// The dates of `orders`, as [`OrderDraws::of`] gives them, without drawing their
    /// customers.
    pub(super) fn dates_of(&self, plan: &RetailPlan, orders: &Orders<'_>) -> Vec<i64> {
        match (self, orders) {
            (Self::Stored { dates, .. }, Orders::Range(range)) => {
                dates[range.start as usize..range.end as usize].to_vec()
            }
            (Self::Stored { dates, .. }, Orders::List(_)) => {
                orders.iter().map(|o| dates[o as usize]).collect()
            }
            (Self::Drawn(_), _) => runs(orders).flat_map(|r| plan.order_dates(&r)).collect(),
        }
    }
}

/// `orders` as runs of consecutive orders, in order: what is drawn a range at a time
/// (each draw makes the order times of the whole blocks its range touches).
fn runs(orders: &Orders<'_>) -> impl Iterator<Item = Range<u64>> {
    let mut orders = orders.iter().peekable();
    std::iter::from_fn(move || {
        let start = orders.next()?;
        let mut end = start + 1;
        while orders.next_if_eq(&end).is_some() {
            end += 1;
        }
        Some(start..end)
    })
}

/// The customers who reach the cap of orders, each with the order that gives them their
/// last one: from the next order on, they are passed over.
#[derive(Debug)]
pub(super) struct FullCustomers {
    reached_at: HashMap<u64, u64>,
}

impl FullCustomers {
    /// Whether `customer` already has the cap of orders before order `order`.
    #[inline]
    pub(super) fn is_full(&self, customer: u64, order: u64) -> bool {
        !self.reached_at.is_empty()
            && self
                .reached_at
                .get(&customer)
                .is_some_and(|&reached| reached < order)
    }

    /// Works out who reaches `cap` among the orders of `plan`: first choices are drawn
    /// a window of chunks at a time, in parallel, while the window before is settled.
    fn find(plan: &RetailPlan, cap: u64) -> Self {
        let ranges = chunk_ranges(0..plan.counts.orders, PASS_CHUNK as u64);
        let window = 2 * rayon::current_num_threads().max(1);
        let draw = |ranges: &[Range<u64>]| -> Vec<Vec<(u64, usize, u64)>> {
            ranges
                .par_iter()
                .map(|r| first_choices(plan, r).1)
                .collect()
        };
        let mut settle = Settle::new(plan, cap);
        let mut windows = ranges.chunks(window);
        let mut drawn = windows.next().map(draw).unwrap_or_default();
        loop {
            let next = windows.next();
            let (_, following) = rayon::join(
                || {
                    for (order, eligible, first) in drawn.iter().flatten() {
                        settle.assign(*order, *eligible, *first);
                    }
                },
                || next.map(draw),
            );
            match following {
                Some(following) => drawn = following,
                None => break,
            }
        }
        Self {
            reached_at: settle.reached_at,
        }
    }
}

/// The orders of `range` drawn: their dates, and `(order, customers eligible,
/// customer)` for each, passing over customers for whom `full(customer, order)`.
fn draw_orders(
    plan: &RetailPlan,
    range: &Range<u64>,
    full: impl Fn(u64, u64) -> bool,
) -> (Vec<i64>, Vec<(u64, usize, u64)>) {
    let dates = plan.order_dates(range);
    let drawn = range
        .clone()
        .zip(plan.eligible_customers(&dates))
        .map(|(order, eligible)| {
            let customer = plan.pick_customer(order, eligible, |c| full(c, order));
            (order, eligible, customer)
        })
        .collect();
    (dates, drawn)
}

/// [`draw_orders`] with nobody full: every order's first choice.
fn first_choices(plan: &RetailPlan, range: &Range<u64>) -> (Vec<i64>, Vec<(u64, usize, u64)>) {
    draw_orders(plan, range, |_, _| false)
}

/// Orders settled in order: each customer's count so far, and the order at which each
/// customer who reaches the cap does.
struct Settle<'a> {
    plan: &'a RetailPlan,
    cap: u64,
    counts: Vec<u32>,
    reached_at: HashMap<u64, u64>,
}

impl<'a> Settle<'a> {
    fn new(plan: &'a RetailPlan, cap: u64) -> Self {
        Self {
            plan,
            cap,
            counts: vec![0; plan.counts.customers as usize],
            reached_at: HashMap::new(),
        }
    }

    /// The customer of the next order, `order` (among `eligible` customers, first
    /// choice `first`): the first choice unless it has the cap, then the next candidate
    /// who does not.
    fn assign(&mut self, order: u64, eligible: usize, first: u64) -> u64 {
        let (counts, cap) = (&self.counts, self.cap);
        let full = |c: u64| u64::from(counts[c as usize]) >= cap;
        let customer = if full(first) {
            self.plan.pick_customer(order, eligible, full)
        } else {
            first
        };
        let count = &mut self.counts[customer as usize];
        *count = count.saturating_add(1);
        if u64::from(*count) == self.cap {
            self.reached_at.insert(customer, order);
        }
        customer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retail::RetailDomain;
    use crate::scale::Scale;

    /// Dates and customers of every order, read chunk by chunk.
    fn read(plan: &RetailPlan, draws: &OrderDraws) -> (Vec<i64>, Vec<u64>) {
        let mut all = (Vec::new(), Vec::new());
        for range in chunk_ranges(0..plan.counts.orders, 777) {
            let (dates, customers) = draws.of(plan, &Orders::Range(&range));
            all.0.extend(dates);
            all.1.extend(customers);
        }
        all
    }

    #[test]
    fn kept_and_drawn_orders_agree_and_no_customer_passes_the_cap() {
        let plan = RetailPlan::new(RetailDomain::new(), Scale::Small, 7).unwrap();
        // `small` has 5 orders per customer: a cap of 12 binds for many customers.
        let cap = 12;
        let kept = OrderDraws::plan(&plan, cap, u64::MAX);
        let drawn = OrderDraws::plan(&plan, cap, 0);
        assert!(matches!(kept, OrderDraws::Stored { .. }));
        assert!(matches!(drawn, OrderDraws::Drawn(_)));
        let (dates, customers) = read(&plan, &kept);
        assert_eq!((dates.clone(), customers.clone()), read(&plan, &drawn));
        for draws in [&kept, &drawn] {
            let alone: Vec<i64> = chunk_ranges(0..plan.counts.orders, 777)
                .iter()
                .flat_map(|range| draws.dates_of(&plan, &Orders::Range(range)))
                .collect();
            assert_eq!(alone, dates, "the dates without the customers");
            // Orders at scattered positions: runs, repeats, out of order.
            let n = plan.counts.orders;
            let list: Vec<u64> = [0, n - 1, 5, 6, 7, 7, 3, n / 2, n / 2 + 1, 1]
                .into_iter()
                .chain((0..300).map(|i| (i * 7_919) % n))
                .collect();
            let (at_dates, at_customers) = draws.of(&plan, &Orders::List(&list));
            let expected: (Vec<i64>, Vec<u64>) = list
                .iter()
                .map(|&o| (dates[o as usize], customers[o as usize]))
                .unzip();
            assert_eq!((at_dates, at_customers), expected, "orders at positions");
            assert_eq!(draws.dates_of(&plan, &Orders::List(&list)), expected.0);
        }
        assert!(dates.windows(2).all(|w| w[0] <= w[1]), "dates ascend");
        for (date, &customer) in dates.iter().zip(&customers) {
            assert!(plan.signup[customer as usize] <= *date, "signed up first");
        }
        let mut per_customer: HashMap<u64, u64> = HashMap::new();
        for &customer in &customers {
            *per_customer.entry(customer).or_default() += 1;
        }
        assert!(per_customer.values().all(|&n| n <= cap));
        let at_cap = per_customer.values().filter(|&&n| n == cap).count();
        assert!(at_cap >= 20, "the cap binds: {at_cap} customers at it");
    }

    #[test]
    fn without_a_cap_every_order_keeps_its_first_choice() {
        let plan = RetailPlan::new(RetailDomain::new(), Scale::Small, 7).unwrap();
        let capped = OrderDraws::plan(&plan, 12, u64::MAX);
        let free = OrderDraws::plan(&plan, u64::MAX, u64::MAX);
        let (_, capped) = read(&plan, &capped);
        let (dates, free) = read(&plan, &free);
        let eligible = plan.eligible_customers(&dates);
        for (order, (&customer, &eligible)) in free.iter().zip(&eligible).enumerate() {
            assert_eq!(
                customer,
                plan.pick_customer(order as u64, eligible, |_| false)
            );
        }
        assert_ne!(capped, free, "the cap of 12 moves some orders");
    }
}
