//! The cap on orders per customer.
//!
//! Each order's customer is drawn on its own, yet no customer may get more than the cap
//! of orders. The cap is defined by reading the order table in order: a customer who
//! already has the cap of orders is passed over, and the order goes to its next
//! candidate ([`RetailPlan::pick_customer`]). The plan works that reading out once:
//!
//! 1. In parallel, every order's first choice (its customer were nobody full), counted
//!    per customer. When no count exceeds the cap, nobody is ever passed over.
//! 2. Otherwise the orders whose first choice is a customer near or over the cap (the
//!    watched customers) are replayed in order, keeping their counts: an order whose
//!    first choice is full goes to the next candidate who is not. A customer who is not
//!    watched cannot fill up while their first-choice count plus the orders sent their
//!    way stays within the cap; one that would go over is watched too, and the replay
//!    starts again (in practice it never does: a handful of orders move).
//!
//! Up to [`STORED_ORDERS`] orders, the plan keeps every order's date and customer (12
//! bytes an order; chunks then draw neither again). Beyond, it keeps only who reaches
//! the cap and when ([`FullCustomers`]), and chunks draw dates and customers again,
//! passing over those who are full: the same values, without holding columns of the
//! order table.

use super::RetailPlan;
use crate::chunk_ranges;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};

/// Orders a customer may have at most: the spec's 50, or five times the mean at scales
/// whose mean is above 10 orders per customer (at `xxl`, 50 per customer is the mean).
pub(super) fn order_cap(orders: u64, customers: u64) -> u64 {
    50.max((5 * orders).div_ceil(customers.max(1)))
}

/// Most orders whose dates and customers the plan keeps (96 MiB of them).
pub(super) const STORED_ORDERS: u64 = 1 << 23;

/// Customers watched in the replay: those whose first-choice count is within this many
/// orders of the cap.
pub(super) const WATCH_MARGIN: u64 = 8;

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
    /// `store_limit` orders; the replay watches customers within `margin` orders of the
    /// cap ([`WATCH_MARGIN`]).
    pub(super) fn plan(plan: &RetailPlan, cap: u64, store_limit: u64, margin: u64) -> Self {
        let orders = plan.counts.orders;
        if orders > store_limit {
            return Self::Drawn(FullCustomers::find(plan, cap, margin));
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
                let range = start..start + dates.len() as u64;
                dates.copy_from_slice(&plan.order_dates(&range));
                let counts = plan.eligible_customers(dates);
                for (slot, (order, count)) in range.zip(counts).enumerate() {
                    customers[slot] = plan.pick_customer(order, count, |_| false) as u32;
                    eligible[slot] = count as u32;
                }
            });
        let mut first_counts = vec![0u32; plan.counts.customers as usize];
        for &c in &customers {
            first_counts[c as usize] += 1;
        }
        let mut watched = watch_list(&first_counts, cap, margin);
        while !watched.is_empty() {
            let events = (0u64..)
                .zip(customers.iter().zip(&eligible))
                .filter(|(_, (first, _))| watched.contains(&u64::from(**first)))
                .map(|(order, (&first, &count))| (order, count as usize, u64::from(first)));
            match replay(plan, cap, &first_counts, &watched, events) {
                Ok(outcome) => {
                    for (order, customer) in outcome.moved {
                        customers[order as usize] = customer as u32;
                    }
                    break;
                }
                Err(overflowing) => {
                    watched.insert(overflowing);
                }
            }
        }
        Self::Stored { dates, customers }
    }

    /// The dates and customers (0-based) of orders `units`.
    pub(super) fn of(&self, plan: &RetailPlan, units: &Range<u64>) -> (Vec<i64>, Vec<u64>) {
        let (start, end) = (units.start as usize, units.end as usize);
        match self {
            Self::Stored { dates, customers } => (
                dates[start..end].to_vec(),
                customers[start..end]
                    .iter()
                    .map(|&c| u64::from(c))
                    .collect(),
            ),
            Self::Drawn(full) => {
                let dates = plan.order_dates(units);
                let customers = units
                    .clone()
                    .zip(plan.eligible_customers(&dates))
                    .map(|(o, eligible)| plan.pick_customer(o, eligible, |c| full.is_full(c, o)))
                    .collect();
                (dates, customers)
            }
        }
    }
}

/// The customers who reach the cap of orders, each with the order that gives them their
/// last one: from the next order on, they are passed over.
#[derive(Debug, Default)]
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

    /// Works out who reaches `cap` among the orders of `plan`, drawing first choices
    /// again rather than keeping them.
    fn find(plan: &RetailPlan, cap: u64, margin: u64) -> Self {
        let ranges = chunk_ranges(0..plan.counts.orders, PASS_CHUNK as u64);
        let first_counts: Vec<AtomicU32> = (0..plan.counts.customers)
            .map(|_| AtomicU32::new(0))
            .collect();
        ranges.par_iter().for_each(|range| {
            for (_, _, first) in first_choices(plan, range) {
                first_counts[first as usize].fetch_add(1, Ordering::Relaxed);
            }
        });
        let first_counts: Vec<u32> = first_counts
            .into_iter()
            .map(AtomicU32::into_inner)
            .collect();
        let mut watched = watch_list(&first_counts, cap, margin);
        while !watched.is_empty() {
            let events: Vec<(u64, usize, u64)> = ranges
                .par_iter()
                .flat_map_iter(|range| {
                    first_choices(plan, range)
                        .into_iter()
                        .filter(|(_, _, first)| watched.contains(first))
                })
                .collect();
            match replay(plan, cap, &first_counts, &watched, events.into_iter()) {
                Ok(outcome) => {
                    return Self {
                        reached_at: outcome.reached_at,
                    };
                }
                Err(overflowing) => {
                    watched.insert(overflowing);
                }
            }
        }
        Self::default()
    }
}

/// The customers to watch in a replay (first-choice count within `margin` of the cap):
/// none when no first-choice count exceeds the cap.
fn watch_list(first_counts: &[u32], cap: u64, margin: u64) -> HashSet<u64> {
    if first_counts.iter().all(|&n| u64::from(n) <= cap) {
        return HashSet::new();
    }
    (0u64..)
        .zip(first_counts)
        .filter(|&(_, &n)| u64::from(n) + margin > cap)
        .map(|(c, _)| c)
        .collect()
}

/// `(order, customers eligible, first choice)` for the orders of `range`.
fn first_choices(plan: &RetailPlan, range: &Range<u64>) -> Vec<(u64, usize, u64)> {
    let dates = plan.order_dates(range);
    range
        .clone()
        .zip(plan.eligible_customers(&dates))
        .map(|(order, eligible)| {
            (
                order,
                eligible,
                plan.pick_customer(order, eligible, |_| false),
            )
        })
        .collect()
}

/// What a replay found.
struct Replayed {
    /// The order that brought each customer who reaches the cap to it.
    reached_at: HashMap<u64, u64>,
    /// Orders whose customer is not their first choice, with their customer.
    moved: Vec<(u64, u64)>,
}

/// Replays `events` (in order: every order whose first choice is `watched`, as
/// `(order, customers eligible, first choice)`), passing over customers who have the
/// cap. Fails with a customer who is not watched but would go over the cap with the
/// orders sent their way.
fn replay(
    plan: &RetailPlan,
    cap: u64,
    first_counts: &[u32],
    watched: &HashSet<u64>,
    events: impl Iterator<Item = (u64, usize, u64)>,
) -> std::result::Result<Replayed, u64> {
    let mut counts: HashMap<u64, u64> = HashMap::new();
    let mut sent: HashMap<u64, u64> = HashMap::new();
    let mut outcome = Replayed {
        reached_at: HashMap::new(),
        moved: Vec::new(),
    };
    for (order, eligible, first) in events {
        let full = |c: u64| counts.get(&c).is_some_and(|&n| n >= cap);
        let customer = if full(first) {
            let other = plan.pick_customer(order, eligible, full);
            outcome.moved.push((order, other));
            other
        } else {
            first
        };
        if watched.contains(&customer) {
            let n = counts.entry(customer).or_insert(0);
            *n += 1;
            if *n == cap {
                outcome.reached_at.insert(customer, order);
            }
        } else {
            let n = sent.entry(customer).or_insert(0);
            *n += 1;
            if u64::from(first_counts[customer as usize]) + *n > cap {
                return Err(customer);
            }
        }
    }
    Ok(outcome)
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
            let (dates, customers) = draws.of(plan, &range);
            all.0.extend(dates);
            all.1.extend(customers);
        }
        all
    }

    #[test]
    fn kept_and_drawn_orders_agree_and_no_customer_passes_the_cap() {
        let plan = RetailPlan::new(RetailDomain::new(), Scale::Small, 7).unwrap();
        // `small` has 5 orders per customer: a cap of 12 binds for many customers, and
        // watching only those over it sends orders to customers who are not watched
        // (the replay then starts again with them).
        let cap = 12;
        for margin in [0, WATCH_MARGIN] {
            let kept = OrderDraws::plan(&plan, cap, u64::MAX, margin);
            let drawn = OrderDraws::plan(&plan, cap, 0, margin);
            assert!(matches!(kept, OrderDraws::Stored { .. }));
            assert!(matches!(drawn, OrderDraws::Drawn(_)));
            let (dates, customers) = read(&plan, &kept);
            assert_eq!(
                (&dates, &customers),
                (&read(&plan, &drawn).0, &read(&plan, &drawn).1)
            );
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
    }

    #[test]
    fn without_a_cap_every_order_keeps_its_first_choice() {
        let plan = RetailPlan::new(RetailDomain::new(), Scale::Small, 7).unwrap();
        let capped = OrderDraws::plan(&plan, 12, u64::MAX, WATCH_MARGIN);
        let free = OrderDraws::plan(&plan, u64::MAX, u64::MAX, WATCH_MARGIN);
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
