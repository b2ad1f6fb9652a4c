//! Worker scale-down guard. A StatefulSet scale-down removes the highest ordinals; if one of
//! those workers holds chunk tables, its chunks would vanish from query results (the test
//! instances this operator makes have no replicas to fall back on). So the controller asks each
//! worker that would go away, and keeps the current size unless `spec.workers.allowDataLoss`.

use crate::qserv::worker::chunk_table_count;

/// One worker that would be removed.
#[derive(Debug, Clone)]
pub struct DepartingWorker {
    pub pod: String,
    pub endpoint: String,
}

/// Why the scale-down must not happen, or None when every departing worker holds no chunks.
pub async fn refuse_scale_down(departing: &[DepartingWorker]) -> Option<String> {
    let mut problems = Vec::new();
    for worker in departing {
        match chunk_table_count(&worker.endpoint).await {
            Ok(0) => {}
            Ok(n) => problems.push(format!("{} holds {n} chunk tables", worker.pod)),
            Err(e) => problems.push(format!(
                "cannot tell whether {} holds chunks ({e})",
                worker.pod
            )),
        }
    }
    (!problems.is_empty()).then(|| {
        format!(
            "scale-down to fewer workers refused: {}; set spec.workers.allowDataLoss: true to \
             remove them anyway",
            problems.join("; ")
        )
    })
}
