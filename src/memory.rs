//! The allocator's settings for a long-running process.
//!
//! glibc's malloc gives a block of 128 KiB or more its own mapping, handed back to the system
//! when freed, but each time such a block is freed it raises that threshold to the block's
//! size (up to 32 MiB), so that later blocks of that size come from the thread's arena
//! instead, and stay there once freed. One log-in (Argon2 hashes in 7 MiB of memory) moved
//! the threshold to 7 MiB, and from then on every large buffer of every thread — response
//! bodies, upstream listings, rendered pages — was kept by its thread's arena: 64 log-ins took
//! the server from 28 to 94 MiB resident, and a browse load to 112 MiB.
//!
//! [`settle`] fixes the threshold at 1 MiB, which also stops it moving: above the largest
//! buffer a stream reads into (hyper's, 400 KiB), so an import's buffers are reused from the
//! arena rather than mapped and faulted in afresh each time, and below Argon2's 7 MiB and
//! object storage's 5 MiB parts, which go back to the system when freed. Measured against
//! the moving threshold (bench/RESULTS.md, sixth round): 64 log-ins end at 33 MiB, a browse
//! load at 50 MiB at the same requests per second, and a 1 GiB import takes 1.1–1.2 s and
//! 1.2 CPU-seconds instead of 1.4–1.8 s and 1.7–2.2. glibc's own 128 KiB held memory as low
//! but mapped every read buffer anew (the import as slow as before); 8 MiB kept the Argon2
//! blocks (107 MiB).

/// The fixed `M_MMAP_THRESHOLD` (see the module notes).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1024 * 1024;

/// Fixes malloc's mapping threshold (see the module notes); whether the C library took it.
/// Call it early in `main`, before the process starts any other thread. Where the C library
/// is not glibc there is nothing to fix, and it says so (`true`).
pub fn settle() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only sets a malloc parameter, under malloc's own lock.
        #[allow(unsafe_code)]
        let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        set == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_c_library_takes_the_threshold() {
        assert!(super::settle());
    }
}
