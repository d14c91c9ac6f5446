//! The per-process half of single-flight token refresh: one async mutex per connection
//! being refreshed (the cross-process half is a lease on the `connection` row, see
//! `token_refresh`). A leaf module, so the application state can hold it without
//! depending on the refresh logic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The per-process half of the single flight: one async mutex per connection being refreshed.
#[derive(Default)]
pub struct RefreshLocks {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl RefreshLocks {
    pub fn for_connection(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        // Drop locks nobody holds or waits for, so the map stays as small as the work.
        map.retain(|_, lock| Arc::strong_count(lock) > 1);
        map.entry(id).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_map_forgets_connections_nobody_is_refreshing() {
        let locks = RefreshLocks::default();
        let held = locks.for_connection(7);
        drop(locks.for_connection(8));
        let _ = locks.for_connection(9);
        let map = locks.locks.lock().expect("lock");
        assert!(map.contains_key(&7) && map.contains_key(&9));
        assert!(!map.contains_key(&8));
        drop(held);
    }
}
