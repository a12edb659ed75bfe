//! Work split over the cores: an ordered map of a slice, one contiguous chunk
//! per thread, for the bulk steps that are pure CPU per item (an import's
//! JSON parsing and mapping, a pack's hashing and compression). The results
//! come back in the items' order, so output does not depend on the number of
//! threads. And [`map_waiting`], for steps that mostly wait on the file
//! system rather than compute.

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

/// `f` of every item, in order, on `threads` threads that each take the
/// next item not yet taken: for work that mostly waits on the file system
/// (deleting many files, where the waits of several threads overlap even
/// on one core), whose items differ widely in cost.
pub fn map_waiting<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let (next, f) = (&next, &f);
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(at) else { break };
                        mine.push((at, f(item)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_unstable_by_key(|(at, _)| *at);
    done.into_iter().map(|(_, r)| r).collect()
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

    #[test]
    fn map_waiting_keeps_the_order_and_runs_every_item_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let items: Vec<u32> = (0..1000).collect();
        for threads in [1, 3, 8] {
            let calls = AtomicUsize::new(0);
            let out = super::map_waiting(&items, threads, |i| {
                calls.fetch_add(1, Ordering::Relaxed);
                if i % 7 == 0 {
                    std::thread::yield_now();
                }
                i * 3
            });
            assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>());
            assert_eq!(calls.load(Ordering::Relaxed), items.len());
        }
        assert!(super::map_waiting(&[] as &[u32], 8, |i| *i).is_empty());
    }
}
