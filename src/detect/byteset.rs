//! A compact set of byte strings: the distinct values of a multivalue column of one group
//! (paths, agents, addresses). The values live end to end in one arena and a sorted index
//! of `(offset, length)` pairs orders them, so a value costs its bytes plus 8, where a
//! `ValueSet<Vec<u8>>` costs a 24-byte `Vec` header, an allocation of its own and the
//! allocator's overhead on top. Paths that carry IDs make most API events add a value, so
//! this is what a search's memory grows with.

use std::fmt;
use std::rc::Rc;

/// What a capped insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    New,
    /// The value was there already.
    Present,
    /// The value is new but the set is full (or, for a [`ByteSet`], it does not fit).
    Full,
}

/// Distinct byte strings, iterated in ascending byte order.
#[derive(Clone, Default)]
pub struct ByteSet {
    /// The values, in the order they were added.
    arena: Vec<u8>,
    /// `(offset, length)` of each value in `arena`, sorted by the value's bytes.
    index: Vec<(u32, u32)>,
}

impl ByteSet {
    pub fn new() -> ByteSet {
        ByteSet::default()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The values' total length in bytes.
    pub fn bytes(&self) -> usize {
        self.arena.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn get(&self, (at, len): (u32, u32)) -> &[u8] {
        &self.arena[at as usize..at as usize + len as usize]
    }

    fn find(&self, value: &[u8]) -> Result<usize, usize> {
        self.index
            .binary_search_by(|&entry| self.get(entry).cmp(value))
    }

    pub fn contains(&self, value: &[u8]) -> bool {
        self.find(value).is_ok()
    }

    /// Starts loading a small set's index and values into the cache (see [`prefetch`]).
    #[inline]
    pub fn prefetch(&self) {
        prefetch(
            self.index.as_ptr().cast(),
            size_of_val(self.index.as_slice()),
            256,
        );
        prefetch(self.arena.as_ptr(), self.arena.len(), 1024);
    }

    /// Whether `value` can be stored: offsets and lengths are 32-bit, so the arena holds at
    /// most 4 GiB (far beyond the `max_values` cap on any real column).
    fn fits(&self, value: &[u8]) -> bool {
        u32::try_from(self.arena.len() + value.len()).is_ok()
    }

    /// Adds `value`; `false` when it was there already (or does not fit, see [`ByteSet::fits`]).
    pub fn insert(&mut self, value: &[u8]) -> bool {
        self.insert_capped(value, usize::MAX) == Added::New
    }

    /// Adds `value` while the set holds fewer than `max` values (one search either way).
    pub fn insert_capped(&mut self, value: &[u8], max: usize) -> Added {
        match self.find(value) {
            Ok(_) => Added::Present,
            Err(_) if self.len() >= max || !self.fits(value) => Added::Full,
            Err(slot) => {
                let at = self.arena.len() as u32;
                self.arena.extend_from_slice(value);
                self.index.insert(slot, (at, value.len() as u32));
                Added::New
            }
        }
    }

    /// The values in ascending byte order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.index.iter().map(|&entry| self.get(entry))
    }
}

impl PartialEq for ByteSet {
    /// Equal when they hold the same values, whatever order they were added in.
    fn eq(&self, other: &ByteSet) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ByteSet {}

impl fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

impl<V: AsRef<[u8]>> FromIterator<V> for ByteSet {
    fn from_iter<I: IntoIterator<Item = V>>(items: I) -> ByteSet {
        let mut set = ByteSet::new();
        for v in items {
            set.insert(v.as_ref());
        }
        set
    }
}

/// Distinct strings in ascending byte order: the small label columns of a group
/// (services, providers, categories, clients).
///
/// The values are `Rc<str>`s that groups share (the scorer's copies, see
/// `standard::EventLabels`): a search has a few dozen distinct labels across thousands of
/// groups, so each group holds pointers, and a lookup reads label bytes that every group uses
/// (and the cache keeps), not a copy of its own somewhere in memory.
///
/// Most groups have one value per label column; that one is held without a vector.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StrSet(Repr);

/// Never `Many` with fewer than two values, so that equal sets are equal values.
#[derive(Clone, Default, PartialEq, Eq)]
enum Repr {
    #[default]
    Empty,
    One(Rc<str>),
    Many(Vec<Rc<str>>),
}

impl StrSet {
    pub fn new() -> StrSet {
        StrSet::default()
    }

    /// The values in ascending byte order, as the shared copies they are held as.
    pub fn shared(&self) -> &[Rc<str>] {
        self.values()
    }

    fn values(&self) -> &[Rc<str>] {
        match &self.0 {
            Repr::Empty => &[],
            Repr::One(v) => std::slice::from_ref(v),
            Repr::Many(vs) => vs,
        }
    }

    pub fn len(&self) -> usize {
        self.values().len()
    }

    /// The values' total length in bytes.
    pub fn bytes(&self) -> usize {
        self.values().iter().map(|v| v.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.values().is_empty()
    }

    fn find(&self, value: &str) -> Result<usize, usize> {
        self.values()
            .binary_search_by(|v| v.as_bytes().cmp(value.as_bytes()))
    }

    pub fn contains(&self, value: &str) -> bool {
        self.find(value).is_ok()
    }

    /// Starts loading the values' pointers into the cache (see [`prefetch`]).
    #[inline]
    pub fn prefetch(&self) {
        if let Repr::Many(vs) = &self.0 {
            prefetch(vs.as_ptr().cast(), size_of_val(vs.as_slice()), 512);
        }
    }

    /// Adds a copy of `value`; `false` when it was there already.
    pub fn insert(&mut self, value: &str) -> bool {
        self.add(value, || Rc::from(value), usize::MAX) == Added::New
    }

    /// Adds `value` while the set holds fewer than `max` values (one search either way),
    /// stored as `stored()` gives it (called only when the value is new).
    fn add(&mut self, value: &str, stored: impl FnOnce() -> Rc<str>, max: usize) -> Added {
        let at = match self.find(value) {
            Ok(_) => return Added::Present,
            Err(_) if self.len() >= max => return Added::Full,
            Err(at) => at,
        };
        let new = stored();
        self.0 = match std::mem::take(&mut self.0) {
            Repr::Empty => Repr::One(new),
            Repr::One(old) if at == 0 => Repr::Many(vec![new, old]),
            Repr::One(old) => Repr::Many(vec![old, new]),
            Repr::Many(mut vs) => {
                vs.insert(at, new);
                Repr::Many(vs)
            }
        };
        Added::New
    }

    /// Adds a shared copy, stored as it is, while the set holds fewer than `max` values. A
    /// set of up to 32 values that holds this very `Rc` finds it without comparing bytes:
    /// the usual case, when the value comes from the same cache as the last time the group
    /// saw it (agents share long prefixes, so a search by bytes compares many of them).
    /// Equal bytes in another `Rc` are found by the search, as with any value.
    pub fn insert_rc(&mut self, value: &Rc<str>, max: usize) -> Added {
        let values = self.values();
        if values.len() <= 32 && values.iter().any(|v| Rc::ptr_eq(v, value)) {
            return Added::Present;
        }
        self.add(value, || value.clone(), max)
    }

    /// The values in ascending byte order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.values().iter().map(|v| &**v)
    }
}

impl fmt::Debug for StrSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Asks the CPU to load the cache lines of `len` bytes at `at` (at most `max`), and goes on.
///
/// A group's sets are separate allocations, touched once per event of the group; with
/// thousands of groups and the input streaming through the cache, each is in memory, not in
/// the cache. A search reads them one after the other (the index, then a value, then the
/// next the comparison picks), each read waiting for the last; asked for together first, the
/// loads overlap and the searches wait about once. A hint only: it changes no result.
#[inline(always)]
pub(crate) fn prefetch(at: *const u8, len: usize, max: usize) {
    // An empty vector's pointer is not an allocation: nothing to load.
    if len == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = at as usize & !63;
        let end = at as usize + len.min(max);
        let mut line = start;
        while line < end {
            // SAFETY: a prefetch reads nothing the program sees and never faults, whatever
            // the address (here the lines that hold `len` bytes of a live allocation).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
            line += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (at, len, max);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use crate::test_rng::Rng;

    /// Short values over a tiny alphabet (many repeats, shared prefixes, the empty value,
    /// bytes that are not UTF-8).
    fn value(rng: &mut Rng) -> Vec<u8> {
        let len = rng.below(6);
        (0..len)
            .map(|_| [b'a', b'b', b'/', 0, 0xff][rng.below(5)])
            .collect()
    }

    #[test]
    fn keeps_distinct_values_in_byte_order() {
        let mut s = ByteSet::new();
        for v in [&b"b"[..], b"a", b"c", b"a", b"B", b"", b"ab"] {
            s.insert(v);
        }
        let got: Vec<&[u8]> = s.iter().collect();
        assert_eq!(got, [&b""[..], b"B", b"a", b"ab", b"b", b"c"]);
        assert!(s.contains(b"a") && s.contains(b"") && !s.contains(b"d"));
        assert!(!s.insert(b"ab"));
        assert_eq!(s.len(), 6);
        assert_eq!(format!("{s:?}"), r#"{"", "B", "a", "ab", "b", "c"}"#);
    }

    #[test]
    fn agrees_with_a_btreeset_on_random_inputs() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let mut set = ByteSet::new();
            let mut reference = BTreeSet::new();
            for _ in 0..rng.below(200) {
                let v = value(&mut rng);
                assert_eq!(set.insert(&v), reference.insert(v.clone()), "round {round}");
                let probe = value(&mut rng);
                assert_eq!(set.contains(&probe), reference.contains(&probe));
            }
            assert_eq!(set.len(), reference.len());
            assert!(set.iter().eq(reference.iter().map(Vec::as_slice)));
            // Built in another order, or from an iterator, it is the same set.
            let rebuilt: ByteSet = reference.iter().rev().collect();
            assert_eq!(rebuilt, set);
        }
    }

    #[test]
    fn string_sets_agree_with_a_btreeset() {
        let mut rng = Rng(0x51ab_1e5e_7000_0001);
        let mut set = StrSet::new();
        let mut reference = BTreeSet::new();
        for _ in 0..2000 {
            let len = rng.below(4);
            let v: String = (0..len)
                .map(|_| ['a', 'B', 'é', '/', '\u{1f600}'][rng.below(5)])
                .collect();
            assert_eq!(set.contains(&v), reference.contains(&v));
            assert_eq!(set.insert(&v), reference.insert(v));
        }
        assert!(set.iter().eq(reference.iter().map(String::as_str)));
        assert_eq!(set.iter().len(), reference.len());
        assert_eq!(format!("{:?}", StrSet::new()), "{}");
    }

    #[test]
    fn sets_differ_when_their_values_do() {
        let a: ByteSet = [&b"x"[..], b"y"].into_iter().collect();
        let b: ByteSet = [&b"x"[..]].into_iter().collect();
        assert_ne!(a, b);
        assert_eq!(ByteSet::new(), ByteSet::default());
    }

    #[test]
    fn groups_share_one_copy_of_each_label() {
        let openai: Rc<str> = Rc::from("openai");
        let (mut a, mut b) = (StrSet::new(), StrSet::new());
        assert_eq!(a.insert_rc(&openai, 10), Added::New);
        assert_eq!(b.insert_rc(&openai, 10), Added::New);
        assert_eq!(b.insert_rc(&Rc::from("anthropic"), 10), Added::New);
        assert!(Rc::ptr_eq(&a.values()[0], &b.values()[1]), "{a:?} {b:?}");
        assert_eq!(b.iter().collect::<Vec<_>>(), ["anthropic", "openai"]);
        // The same value in another copy is found by its bytes: not listed twice.
        assert_eq!(a.insert_rc(&Rc::from("openai"), 10), Added::Present);
        assert_eq!(a.insert_rc(&openai, 10), Added::Present);
        assert_eq!(a.len(), 1);
        // A full set takes no new value, shared or not.
        assert_eq!(a.insert_rc(&Rc::from("xai"), 1), Added::Full);
        // Past the pointer scan's reach, values are found by their bytes.
        let mut c = StrSet::new();
        let many: Vec<Rc<str>> = (0..20).map(|i| Rc::from(format!("v{i:02}"))).collect();
        for v in many.iter().rev() {
            assert_eq!(c.insert_rc(v, 100), Added::New);
        }
        for v in &many {
            assert_eq!(c.insert_rc(&Rc::from(&**v), 100), Added::Present);
        }
        assert!(c.iter().eq(many.iter().map(|v| &**v)));
    }
}
