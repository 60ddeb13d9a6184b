//! Handing freed heap pages back to the system, whichever allocator the binary uses.

/// Return the pages of freed memory to the system: jemalloc's (the binary's
/// allocator) are purged, glibc's trimmed; with any other allocator the calls
/// find nothing to release. Costs a walk over the allocator's free lists, so
/// callers rate-limit it (see `http::server::conn`).
pub(crate) fn release_free_memory() {
    // "arena.<MALLCTL_ARENAS_ALL>.purge": every arena's unused dirty pages.
    const PURGE_ALL: &[u8] = b"arena.4096.purge\0";
    // SAFETY: a purge takes no arguments and returns nothing: every pointer is null.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
