//! Work split over the cores: an ordered map of a slice, one contiguous chunk
//! per thread, for the bulk steps that are pure CPU per item (an import's
//! JSON parsing and mapping, a pack's hashing and compression). The results
//! come back in the items' order, so output does not depend on the number of
//! threads.

/// Below this many items the work stays on the calling thread: a thread
/// costs more than a few hundred small items.
const SPLIT_FROM: usize = 512;

/// `f` of every item, in order, computed on up to as many threads as there
/// are cores.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let parts = chunks(items, |part| part.iter().map(&f).collect::<Vec<R>>());
    let mut out = Vec::with_capacity(items.len());
    for part in parts {
        out.extend(part);
    }
    out
}

/// `f` of contiguous chunks of `items`, one per thread, in order: for work
/// that sums up as it goes (counts, reports), so that no per-item result is
/// kept.
pub fn chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    if threads == 1 || items.len() < SPLIT_FROM {
        return vec![f(items)];
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || f(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_order_of_the_items() {
        let items: Vec<u32> = (0..10_001).collect();
        let doubled = super::map(&items, |i| i * 2);
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::map(&[] as &[u32], |i| *i).is_empty());
    }
}
