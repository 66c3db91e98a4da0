//! A counting semaphore over a fixed number of slots, for work that must not
//! run more than that many at once (the dense index's search contexts, the
//! engine's block computations). Waiting, not failing, is the point: a
//! caller past the limit queues until a slot is free.

use std::sync::{Condvar, Mutex};

/// `n` slots; [`Permits::acquire`] waits for one, the guard gives it back.
pub struct Permits {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A held slot, given back when dropped.
pub struct Permit<'a>(&'a Permits);

impl Permits {
    /// `n` slots (at least one).
    pub fn new(n: usize) -> Permits {
        Permits { free: Mutex::new(n.max(1)), freed: Condvar::new() }
    }

    /// Waits for a free slot and holds it.
    pub fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        Permit(self)
    }

    /// Holds a slot if one is free right now.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if *free == 0 {
            return None;
        }
        *free -= 1;
        Some(Permit(self))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_given_back_and_waited_for() {
        let p = std::sync::Arc::new(Permits::new(2));
        let a = p.acquire();
        let b = p.try_acquire().expect("a second slot");
        assert!(p.try_acquire().is_none(), "both slots are held");
        drop(a);
        let c = p.try_acquire().expect("given back");
        // A waiter gets the slot when it is freed.
        let p2 = p.clone();
        let waiter = std::thread::spawn(move || {
            let _held = p2.acquire();
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(b);
        waiter.join().unwrap();
        drop(c);
        assert!(p.try_acquire().is_some());
    }
}
