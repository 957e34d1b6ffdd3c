//! Interned names. A workspace holds millions of references but only a few hundred thousand
//! distinct names (the cargo registry: 3.8M references, 164k names): a [`Name`] is a 4-byte handle
//! into one process-wide table, so a reference costs no allocation for its name, and comparing or
//! hashing names compares ids. The text of a name is read without a lock.
//!
//! Interned names are never freed: the table grows with the distinct identifiers the process has
//! seen (a few MB for the registry), not with how often it sees them.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::ops::Deref;
use std::sync::{LazyLock, Mutex};

/// An interned string: equal names have equal ids. Ordered by text, like the strings it stands
/// for; hashed by id (so it does not implement `Borrow<str>`: look a `&str` up with
/// [`Name::existing`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name(NonZeroU32);

const SHARDS: usize = 16;

struct Interner {
    /// Id − 1 → text.
    texts: boxcar::Vec<&'static str>,
    /// Text → name, sharded by the text's hash so that indexing threads rarely wait on each other.
    ids: [Mutex<HashMap<&'static str, Name>>; SHARDS],
}

static INTERNER: LazyLock<Interner> = LazyLock::new(|| Interner {
    texts: boxcar::Vec::new(),
    ids: std::array::from_fn(|_| Mutex::new(HashMap::new())),
});

fn shard(text: &str) -> &'static Mutex<HashMap<&'static str, Name>> {
    let h = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
    &INTERNER.ids[(h as usize) % SHARDS]
}

impl Name {
    /// The name for `text`, interning it the first time.
    pub fn new(text: &str) -> Name {
        let mut ids = shard(text).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = ids.get(text) {
            return *name;
        }
        let text: &'static str = Box::leak(text.into());
        let index = INTERNER.texts.push(text);
        let id = u32::try_from(index + 1)
            .ok()
            .and_then(NonZeroU32::new)
            .expect("fewer than 4 billion distinct names");
        let name = Name(id);
        ids.insert(text, name);
        name
    }

    /// The name for `text` if some fact ever held it: a name nothing interned is in no index.
    pub fn existing(text: &str) -> Option<Name> {
        let ids = shard(text).lock().unwrap_or_else(|e| e.into_inner());
        ids.get(text).copied()
    }

    pub fn as_str(self) -> &'static str {
        INTERNER.texts[self.0.get() as usize - 1]
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Name {
        Name::new(text)
    }
}

impl From<String> for Name {
    fn from(text: String) -> Name {
        Name::new(&text)
    }
}

impl From<&String> for Name {
    fn from(text: &String) -> Name {
        Name::new(text)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.as_str().to_owned()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        if self == other {
            return std::cmp::Ordering::Equal;
        }
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Name;

    #[test]
    fn equal_texts_are_one_name_from_any_thread() {
        let names: Vec<Vec<Name>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    s.spawn(move || {
                        (0..2000)
                            .map(|i| Name::new(&format!("n{}", (i * 7 + t) % 1500)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (t, list) in names.iter().enumerate() {
            for (i, n) in list.iter().enumerate() {
                let text = format!("n{}", (i * 7 + t) % 1500);
                assert_eq!(n.as_str(), text);
                assert_eq!(*n, Name::new(&text));
                assert_eq!(Name::existing(&text), Some(*n));
            }
        }
        assert_eq!(Name::existing("never interned by anyone 0x5f3759df"), None);
    }

    #[test]
    fn names_order_by_text_and_compare_with_strings() {
        let (b, a) = (Name::new("beta"), Name::new("alpha"));
        assert!(a < b);
        let mut v = vec![b, a, Name::new("")];
        v.sort();
        assert_eq!(v, ["", "alpha", "beta"].map(Name::new));
        assert_eq!(a, "alpha");
        assert_eq!(format!("{a} {a:?}"), "alpha \"alpha\"");
    }
}
