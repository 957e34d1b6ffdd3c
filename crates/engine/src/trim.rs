//! Giving freed memory back to the system after large, rare work (an index pass that parsed files,
//! a connection that ends). glibc keeps what threads freed in their arenas: after indexing 1 MB of
//! symbol-dense Python the daemon held 424 MB it no longer used.

/// Gives the memory back on a blocking thread when called inside the async runtime (a trim walks
/// every arena and may take milliseconds), else here.
pub fn give_back_memory_soon() {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(give_back_memory)),
        Err(_) => give_back_memory(),
    }
}

/// Returns the free memory at the top of every malloc arena to the system (glibc's `malloc_trim`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn give_back_memory() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim takes a byte count, touches only the allocator's own state under its
    // locks, and is safe to call from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

/// Other allocators give memory back on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back_memory() {}
