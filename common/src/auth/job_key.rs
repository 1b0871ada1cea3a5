//! The per-job key: derived from the cluster secret and the job's id, handed to the job's tasks
//! only, it signs their shuffle requests so a worker serves a map output to that job alone.

use super::secret::{hmac, hmac_matches, ClusterSecret};

/// The key of `job` under the secret's key `key_id`.
pub fn job_key(secret: &ClusterSecret, key_id: u32, job: &str) -> Option<[u8; 32]> {
    secret.derive(key_id, format!("mr job key v1 {job}").as_bytes())
}

/// The signature of a request's canonical bytes under a job key.
pub fn sign(job_key: &[u8; 32], request: &[u8]) -> [u8; 32] {
    hmac(job_key, request)
}

/// Whether `tag` signs `request` under `job_key` (constant time).
pub fn verify(job_key: &[u8; 32], request: &[u8], tag: &[u8]) -> bool {
    hmac_matches(job_key, request, tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_key_signs_only_for_its_job() {
        let s = ClusterSecret::from_keys(vec![(1, [1; 32])]);
        let a = job_key(&s, 1, "job_a").expect("key");
        let b = job_key(&s, 1, "job_b").expect("key");
        let tag = sign(&a, b"fetch m1 p0");
        assert!(verify(&a, b"fetch m1 p0", &tag));
        assert!(!verify(&b, b"fetch m1 p0", &tag));
        assert!(!verify(&a, b"fetch m2 p0", &tag));
    }
}
