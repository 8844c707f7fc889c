//! Resource guards: caps on the number of groups and on the values kept per multivalue
//! column. When one trips the search still finishes, counts stay exact (events of further
//! groups go to one overflow group), and the command says what was cut.

use super::byteset::{Added, ByteSet, StrSet};
use super::set::ValueSet;
use std::rc::Rc;

/// The key value of the group that collects the events of groups past `max_groups`.
pub const OVERFLOW: &str = "(over max_groups)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_groups: usize,
    pub max_values: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_groups: 200_000,
            max_values: 10_000,
        }
    }
}

/// What the guards cut, for the inspector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tripped {
    /// Events counted in the overflow group instead of a group of their own.
    pub overflow_events: u64,
    /// Values not listed because a multivalue column was full.
    pub dropped_values: u64,
}

impl Tripped {
    pub fn merge(&mut self, o: Tripped) {
        self.overflow_events += o.overflow_events;
        self.dropped_values += o.dropped_values;
    }

    /// Warnings saying what was cut and how to raise the limit.
    pub fn warnings(&self, limits: &Limits) -> Vec<String> {
        let mut v = Vec::new();
        if self.overflow_events > 0 {
            v.push(format!(
                "max_groups={} reached: {} events of further groups are counted in the row {OVERFLOW:?}; raise max_groups= to see them separately",
                limits.max_groups, self.overflow_events
            ));
        }
        if self.dropped_values > 0 {
            v.push(format!(
                "max_values={} reached: {} event values were not listed in full multivalue columns (counts are exact); raise max_values= to list them",
                limits.max_values, self.dropped_values
            ));
        }
        v
    }
}

/// Inserts `value` unless the set is full; a value already there costs nothing.
pub fn insert_bytes(set: &mut ByteSet, value: &[u8], limits: &Limits, tripped: &mut Tripped) {
    if set.insert_capped(value, limits.max_values) == Added::Full {
        tripped.dropped_values += 1;
    }
}

pub fn insert_str(set: &mut ValueSet<String>, value: &str, limits: &Limits, tripped: &mut Tripped) {
    if set.contains(value) {
        return;
    }
    if set.len() >= limits.max_values {
        tripped.dropped_values += 1;
    } else {
        set.insert(value.to_string());
    }
}

/// Adds the values of `from` to `into`, up to the cap.
pub fn union<T: Ord + Clone>(
    into: &mut ValueSet<T>,
    from: &ValueSet<T>,
    limits: &Limits,
    tripped: &mut Tripped,
) {
    for v in from {
        if into.contains(v) {
            continue;
        }
        if into.len() >= limits.max_values {
            tripped.dropped_values += 1;
        } else {
            into.insert(v.clone());
        }
    }
}

/// Inserts `value`, a shared copy (stored as it is), unless the set is full; a value already
/// there costs nothing.
pub fn insert_rc(set: &mut StrSet, value: &Rc<str>, limits: &Limits, tripped: &mut Tripped) {
    if set.insert_rc(value, limits.max_values) == Added::Full {
        tripped.dropped_values += 1;
    }
}

/// Adds the values of `from` to `into`, up to the cap (sharing `from`'s copies).
pub fn union_labels(into: &mut StrSet, from: &StrSet, limits: &Limits, tripped: &mut Tripped) {
    for v in from.shared() {
        insert_rc(into, v, limits, tripped);
    }
}

/// Adds the values of `from` to `into`, up to the cap.
pub fn union_bytes(into: &mut ByteSet, from: &ByteSet, limits: &Limits, tripped: &mut Tripped) {
    for v in from.iter() {
        insert_bytes(into, v, limits, tripped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sets_match_a_capped_btreeset_on_random_inputs() {
        use std::collections::BTreeSet;
        let mut rng = crate::test_rng::Rng(0x2545_f491_4f6c_dd1d);
        let mut next = move |n: u64| rng.next() % n;
        for round in 0..200 {
            let max_values = 1 + next(12) as usize;
            let limits = Limits {
                max_groups: 1,
                max_values,
            };
            let (mut t, mut want) = (Tripped::default(), Tripped::default());
            let (mut a, mut b) = (ByteSet::new(), ByteSet::new());
            let (mut ra, mut rb) = (BTreeSet::new(), BTreeSet::new());
            for _ in 0..next(40) {
                let v = vec![b'a' + next(20) as u8; next(3) as usize];
                let (set, reference) = if next(2) == 0 {
                    (&mut a, &mut ra)
                } else {
                    (&mut b, &mut rb)
                };
                insert_bytes(set, &v, &limits, &mut t);
                if !reference.contains(&v) {
                    if reference.len() < max_values {
                        reference.insert(v);
                    } else {
                        want.dropped_values += 1;
                    }
                }
            }
            // A union adds what fits, in byte order, and counts the rest.
            union_bytes(&mut a, &b, &limits, &mut t);
            for v in &rb {
                if !ra.contains(v) {
                    if ra.len() < max_values {
                        ra.insert(v.clone());
                    } else {
                        want.dropped_values += 1;
                    }
                }
            }
            assert!(a.iter().eq(ra.iter().map(Vec::as_slice)), "round {round}");
            assert!(b.iter().eq(rb.iter().map(Vec::as_slice)), "round {round}");
            assert!(a.len() <= max_values);
            assert_eq!(t, want, "round {round}");
        }
    }

    #[test]
    fn label_sets_stop_at_the_cap_in_inserts_and_unions() {
        let limits = Limits {
            max_groups: 1,
            max_values: 2,
        };
        let mut t = Tripped::default();
        let (mut a, mut b) = (StrSet::new(), StrSet::new());
        for v in ["b", "a", "b", "c"] {
            insert_rc(&mut a, &Rc::from(v), &limits, &mut t);
        }
        assert_eq!(a.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(t.dropped_values, 1);
        for v in ["z", "a"] {
            insert_rc(&mut b, &Rc::from(v), &limits, &mut t);
        }
        union_labels(&mut a, &b, &limits, &mut t);
        assert_eq!(a.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(t.dropped_values, 2);
        union_labels(&mut b, &StrSet::new(), &limits, &mut t);
        assert_eq!(b.iter().collect::<Vec<_>>(), ["a", "z"]);
    }

    #[test]
    fn sets_stop_growing_at_the_cap_and_count_what_they_leave_out() {
        let limits = Limits {
            max_groups: 1,
            max_values: 2,
        };
        let mut t = Tripped::default();
        let mut set = ValueSet::new();
        for v in ["a", "b", "a", "c", "d"] {
            insert_str(&mut set, v, &limits, &mut t);
        }
        assert_eq!(set.len(), 2);
        assert_eq!(t.dropped_values, 2);
        let w = t.warnings(&limits);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("max_values=2 reached: 2 event values"),
            "{w:?}"
        );
    }
}
