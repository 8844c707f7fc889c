//! The table of a search's groups, shared by both profiles: found by an encoded byte key,
//! so that an event whose group exists costs one hash of a reused buffer and no allocation.

use super::byteset;
use std::collections::HashMap;

/// Groups, in order of creation, with their encoded keys, and an index from a hash of the
/// key to the position (the groups of `profile=seed` and of `profile=standard`).
///
/// The index holds only a 64-bit hash and a position, 16 bytes a bucket: with thousands of
/// groups it stays in the CPU's cache while the input streams through, where the groups
/// and their keys do not. A lookup finds the position there, starts loading the group and
/// its key from memory, and compares the key once they are in (the caller does other
/// work meanwhile). Two keys with one hash (never seen in practice, but possible) are told
/// apart: the later one is held in `collided`, by its bytes. The index's spare buckets cost
/// 16 bytes a group and the keys 40, not the size of a group (hundreds of bytes). A group's
/// key values are decoded from its key only when the groups are emitted.
#[derive(Debug)]
pub struct Table<G> {
    index: HashMap<u64, usize, std::hash::BuildHasherDefault<HashIsKey>>,
    collided: HashMap<KeyBytes, usize, foldhash::fast::RandomState>,
    hasher: foldhash::fast::RandomState,
    keys: Vec<KeyBytes>,
    slots: Vec<G>,
}

impl<G> Default for Table<G> {
    fn default() -> Table<G> {
        Table {
            index: HashMap::default(),
            collided: HashMap::default(),
            hasher: foldhash::fast::RandomState::default(),
            keys: Vec::new(),
            slots: Vec::new(),
        }
    }
}

/// The hasher of `Table::index`, whose keys are hashes already.
#[derive(Debug, Default)]
struct HashIsKey(u64);

impl std::hash::Hasher for HashIsKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, h: u64) {
        self.0 = h;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by `u64` keys; a plain fold keeps it a hasher all the same.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
}

/// An encoded group key (see `Table`): in place when short (an address and a user name,
/// the usual key, fit), else on the heap, so that a new group mostly allocates nothing for
/// its key and a comparison reads no other allocation. Hashed and compared as its bytes,
/// so `Table::collided` is searched by a `&[u8]`.
#[derive(Clone)]
pub enum KeyBytes {
    Inline {
        len: u8,
        bytes: [u8; KeyBytes::INLINE],
    },
    Heap(Box<[u8]>),
}

impl KeyBytes {
    /// 38 bytes: the key and its length fill 40, as a boxed key and its tag do.
    const INLINE: usize = 38;

    fn new(key: &[u8]) -> KeyBytes {
        if key.len() <= Self::INLINE {
            let mut bytes = [0; Self::INLINE];
            bytes[..key.len()].copy_from_slice(key);
            KeyBytes::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            KeyBytes::Heap(key.into())
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            KeyBytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            KeyBytes::Heap(b) => b,
        }
    }
}

impl std::borrow::Borrow<[u8]> for KeyBytes {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for KeyBytes {
    fn eq(&self, other: &KeyBytes) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for KeyBytes {}

impl std::hash::Hash for KeyBytes {
    /// As its bytes hash (what `Borrow<[u8]>` requires).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl<G: Default> Table<G> {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    /// `key`'s hash and what `probe` gives for it: the start of a search (see `group`).
    pub fn lookup(&self, key: &[u8]) -> (u64, Option<usize>) {
        let h = self.hash(key);
        (h, self.probe(h))
    }

    /// The position the index gives for hash `h`, when it has one, and a request to load
    /// that group and its key (see `find`).
    fn probe(&self, h: u64) -> Option<usize> {
        let at = self.index.get(&h).copied()?;
        let bytes = |p: *const u8, len| byteset::prefetch(p, len, len);
        bytes((&raw const self.slots[at]).cast(), size_of::<G>());
        bytes((&raw const self.keys[at]).cast(), size_of::<KeyBytes>());
        Some(at)
    }

    /// The position of `key`, whose hash `probe` looked up (giving `guess`).
    fn find(&self, key: &[u8], guess: Option<usize>) -> Option<usize> {
        let at = guess?;
        if self.keys[at].as_bytes() == key {
            return Some(at);
        }
        self.collided.get(key).copied()
    }

    /// Adds a group for `key` (not in the table), whose hash is `h`; its position.
    fn insert(&mut self, key: &[u8], h: u64) -> usize {
        let at = self.slots.len();
        self.slots.push(G::default());
        self.keys.push(KeyBytes::new(key));
        match self.index.entry(h) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(at);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(KeyBytes::new(key), at);
            }
        }
        at
    }

    /// The group of the key in `key`, for which `lookup` gave `found`, new if need be; past
    /// `max_groups` groups a new key is first rewritten by `overflow` (to the key of the
    /// group that collects the keys past the cap).
    pub fn group(
        &mut self,
        key: &mut Vec<u8>,
        found: (u64, Option<usize>),
        max_groups: usize,
        overflow: impl FnOnce(&mut Vec<u8>),
    ) -> &mut G {
        let (h, guess) = found;
        let at = match self.find(key, guess) {
            Some(at) => at,
            None if self.len() < max_groups => self.insert(key, h),
            None => {
                overflow(key);
                let (h, guess) = self.lookup(key);
                match self.find(key, guess) {
                    Some(at) => at,
                    None => self.insert(key, h),
                }
            }
        };
        &mut self.slots[at]
    }

    /// The encoded keys and the groups, by position.
    pub fn into_parts(self) -> (Vec<KeyBytes>, Vec<G>) {
        (self.keys, self.slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys in place and on the heap are found by their bytes, as a table of byte vectors
    /// finds them, across the length where they switch.
    #[test]
    fn table_keys_are_found_by_their_bytes_in_place_or_not() {
        let mut rng = crate::test_rng::Rng(0x6b65_7962_7974_6573);
        let mut table: HashMap<KeyBytes, usize, foldhash::fast::RandomState> = HashMap::default();
        let mut reference: HashMap<Vec<u8>, usize> = HashMap::new();
        for i in 0..5000 {
            let len = rng.below(2 * KeyBytes::INLINE + 3);
            let key: Vec<u8> = (0..len).map(|_| [0, b'a', 0xff][rng.below(3)]).collect();
            let k = KeyBytes::new(&key);
            assert_eq!(k.as_bytes(), &key[..]);
            assert_eq!(
                matches!(k, KeyBytes::Inline { .. }),
                len <= KeyBytes::INLINE
            );
            assert_eq!(table.get(&key[..]).copied(), reference.get(&key).copied());
            reference.entry(key.clone()).or_insert(i);
            table.entry(k).or_insert(i);
        }
        assert_eq!(table.len(), reference.len());
        for (key, at) in &reference {
            assert_eq!(table.get(&key[..]), Some(at));
        }
        assert_eq!(size_of::<KeyBytes>(), 40);
    }

    /// The table finds every key at the position it was added at, also when keys share a
    /// hash (forced here: each key's own hash cut to 6 bits, so most keys share one with
    /// another), as a map of byte vectors does.
    #[test]
    fn the_table_tells_keys_with_one_hash_apart() {
        let mut rng = crate::test_rng::Rng(0x7461_626c_6568_6173);
        let mut table: Table<u32> = Table::default();
        let mut reference: HashMap<Vec<u8>, usize> = HashMap::new();
        let hash = |table: &Table<u32>, key: &[u8]| table.hash(key) % 64;
        for _ in 0..5000 {
            let len = rng.below(2 * KeyBytes::INLINE + 3);
            let key: Vec<u8> = (0..len).map(|_| [0, b'a', 0xff][rng.below(3)]).collect();
            let h = hash(&table, &key);
            let found = table.find(&key, table.probe(h));
            assert_eq!(found, reference.get(&key).copied(), "{key:?}");
            if found.is_none() {
                let at = table.insert(&key, h);
                reference.insert(key, at);
            }
        }
        assert!(table.collided.len() > 1000, "{}", table.collided.len());
        assert!(reference.len() > table.index.len() + 1000);
        for (key, &at) in &reference {
            let h = hash(&table, key);
            assert_eq!(table.find(key, table.probe(h)), Some(at), "{key:?}");
        }
        let (keys, groups) = table.into_parts();
        assert_eq!(
            (keys.len(), groups.len()),
            (reference.len(), reference.len())
        );
        for (key, &at) in &reference {
            assert_eq!(keys[at].as_bytes(), &key[..]);
        }
    }
}
