//! The sweeper: every so often, ages out what the being-written areas hold without a writer
//! (failed copies, files of writes that failed half-way) and asks the namenode about replicas
//! being written whose client is gone, so deleted or abandoned blocks leave no partial
//! replicas behind. The start-up scan does the same for what a restart finds.

use crate::nn::NamenodeLink;
use crate::storage::Storage;
use std::sync::Arc;
use std::time::Duration;

/// Runs sweeps forever on the calling thread, one per half `max_age` (1 s to 1 min).
pub fn run(storage: Arc<Storage>, link: NamenodeLink, max_age: Duration) {
    let every = (max_age / 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        std::thread::sleep(every);
        let idle = storage.sweep(max_age);
        if !idle.is_empty() {
            tracing::info!(
                count = idle.len(),
                "replicas being written without a writer reported"
            );
            link.unfinished(&idle);
        }
    }
}
