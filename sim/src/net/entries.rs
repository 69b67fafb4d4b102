//! A namespace's list of entries (routes, neighbours, VXLAN FDB entries) in the order they
//! were added, where one run of them may be a list shared with other namespaces.
//!
//! flannel writes into every node one route, one neighbour and one FDB entry per other
//! node, alike in all of them: a cluster of N nodes holds N lists of N-1 equal entries,
//! which at 5,000 nodes is 25 million entries. Each node holds the one shared list of every
//! node's entry instead, less its own, and reads it as if it held its own copy. A node
//! that changes its entries (`make_mut`) gets its own copy first.

use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Entries<T> {
    /// Entries added before the shared run (or all of them, without one).
    head: Vec<T>,
    shared: Option<Shared<T>>,
    /// Entries added after the shared run.
    tail: Vec<T>,
}

#[derive(Clone, Debug)]
struct Shared<T> {
    list: Arc<[T]>,
    /// The holder's own entry in `list`, which it does not hold.
    except: Option<usize>,
}

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries {
            head: Vec::new(),
            shared: None,
            tail: Vec::new(),
        }
    }
}

impl<T: Clone> Entries<T> {
    /// Every entry, in the order added.
    pub fn iter(&self) -> Iter<'_, T> {
        let (shared, except): (&[T], Option<usize>) = match &self.shared {
            Some(s) => (&s.list, s.except),
            None => (&[], None),
        };
        Iter {
            head: self.head.iter(),
            shared: shared.iter().enumerate(),
            except,
            tail: self.tail.iter(),
        }
    }

    pub fn len(&self) -> usize {
        let shared = self.shared.as_ref().map_or(0, |s| {
            s.list.len() - usize::from(s.except.is_some_and(|e| e < s.list.len()))
        });
        self.head.len() + shared + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Add an entry after every other.
    pub fn push(&mut self, entry: T) {
        if self.shared.is_some() {
            self.tail.push(entry);
        } else {
            self.head.push(entry);
        }
    }

    /// Add the entries of `list`, less the one at `except`, after every other, shared with
    /// whoever else holds `list`.
    pub fn push_shared(&mut self, list: Arc<[T]>, except: Option<usize>) {
        if self.shared.is_some() {
            // One shared run at a time: a second one is copied in.
            let own = self.make_mut();
            own.extend(
                list.iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != except)
                    .map(|(_, e)| e.clone()),
            );
            return;
        }
        self.shared = Some(Shared { list, except });
    }

    /// The entries as this namespace's own, to change: a shared run is copied first.
    pub fn make_mut(&mut self) -> &mut Vec<T> {
        if let Some(s) = self.shared.take() {
            self.head.extend(
                s.list
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != s.except)
                    .map(|(_, e)| e.clone()),
            );
            self.head.append(&mut self.tail);
        }
        &mut self.head
    }
}

impl<T: Clone> Extend<T> for Entries<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for e in iter {
            self.push(e);
        }
    }
}

impl<T: Clone> FromIterator<T> for Entries<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Entries {
            head: iter.into_iter().collect(),
            shared: None,
            tail: Vec::new(),
        }
    }
}

impl<T: Clone> From<Vec<T>> for Entries<T> {
    fn from(head: Vec<T>) -> Self {
        Entries {
            head,
            shared: None,
            tail: Vec::new(),
        }
    }
}

/// Two lists are equal when they hold the same entries in the same order, shared or not.
impl<T: Clone + PartialEq> PartialEq for Entries<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Clone + Eq> Eq for Entries<T> {}

impl<'a, T: Clone> IntoIterator for &'a Entries<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// The entries of an [`Entries`], in order.
#[derive(Clone)]
pub struct Iter<'a, T> {
    head: std::slice::Iter<'a, T>,
    shared: std::iter::Enumerate<std::slice::Iter<'a, T>>,
    except: Option<usize>,
    tail: std::slice::Iter<'a, T>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        if let Some(e) = self.head.next() {
            return Some(e);
        }
        for (i, e) in self.shared.by_ref() {
            if Some(i) != self.except {
                return Some(e);
            }
        }
        self.tail.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_run_reads_in_place_less_the_holder_s_own_entry() {
        let list: Arc<[u32]> = vec![10, 11, 12, 13].into();
        let mut e: Entries<u32> = vec![1, 2].into();
        e.push_shared(list.clone(), Some(2));
        e.push(3);
        assert_eq!(e.iter().copied().collect::<Vec<_>>(), [1, 2, 10, 11, 13, 3]);
        assert_eq!(e.len(), 6);
        let mut other: Entries<u32> = Entries::default();
        other.push_shared(list, None);
        assert_eq!(other.len(), 4);
        // Changing one holder's entries copies them; the other holder's stay as they were.
        e.make_mut()[2] = 99;
        assert_eq!(e.iter().copied().collect::<Vec<_>>(), [1, 2, 99, 11, 13, 3]);
        assert_eq!(other.iter().copied().collect::<Vec<_>>(), [10, 11, 12, 13]);
        let copied: Entries<u32> = vec![1, 2, 99, 11, 13, 3].into();
        assert_eq!(e, copied);
    }

    #[test]
    fn a_second_shared_run_is_copied_in_after_the_first() {
        let mut e: Entries<u32> = Entries::default();
        e.push_shared(vec![1, 2].into(), Some(0));
        e.push(3);
        e.push_shared(vec![4, 5].into(), Some(1));
        assert_eq!(e.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
    }
}
