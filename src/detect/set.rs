//! A small sorted set: the distinct values of a multivalue column of one group. Most such
//! sets hold a handful of values, and a search may hold hundreds of thousands of groups, so
//! a sorted vector (one allocation, no tree nodes) costs a fraction of a `BTreeSet`.

use std::borrow::Borrow;

/// Distinct values in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSet<T>(Vec<T>);

impl<T> Default for ValueSet<T> {
    fn default() -> ValueSet<T> {
        ValueSet(Vec::new())
    }
}

impl<T: Ord> ValueSet<T> {
    pub fn new() -> ValueSet<T> {
        ValueSet::default()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains<Q: Ord + ?Sized>(&self, value: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.0.binary_search_by(|v| v.borrow().cmp(value)).is_ok()
    }

    /// Adds `value`; `false` when it was there already.
    pub fn insert(&mut self, value: T) -> bool {
        match self.0.binary_search(&value) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, value);
                true
            }
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T: Ord> Extend<T> for ValueSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for v in items {
            self.insert(v);
        }
    }
}

impl<T: Ord> FromIterator<T> for ValueSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> ValueSet<T> {
        let mut v: Vec<T> = items.into_iter().collect();
        v.sort();
        v.dedup();
        ValueSet(v)
    }
}

impl<'a, T> IntoIterator for &'a ValueSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_distinct_values_in_order() {
        let mut s: ValueSet<Vec<u8>> = ValueSet::new();
        for v in [&b"b"[..], b"a", b"c", b"a", b"B"] {
            s.insert(v.to_vec());
        }
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [
                &b"B".to_vec(),
                &b"a".to_vec(),
                &b"b".to_vec(),
                &b"c".to_vec()
            ]
        );
        assert!(s.contains(&b"a"[..]));
        assert!(!s.contains(&b"d"[..]));
        assert_eq!(s.len(), 4);
        let t: ValueSet<String> = ["z", "x", "z"].iter().map(|x| x.to_string()).collect();
        assert_eq!(t.iter().cloned().collect::<Vec<_>>(), ["x", "z"]);
    }
}
