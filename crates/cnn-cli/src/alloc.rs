//! Memory a training step frees, kept for the next step.
//!
//! A step allocates and frees the same large tensors every time. glibc gives every block over its
//! mapping threshold a mapping of its own and unmaps it on free, so the next step faults in (and
//! the kernel zeroes) those pages again. [`keep_freed_memory`] raises the threshold to glibc's
//! most, 32 MB, and stops it trimming its heap; [`StepAllocator`] keeps the larger blocks, which
//! no setting keeps (`vgg11-r4`'s 4096x4096 weight gradient, 64 MB: 16,500 page faults, about a
//! tenth of a step at batch 32). The allocators tried in glibc's place were slower here (Debian's
//! mimalloc 2.0.9 and jemalloc 5.3: see the README's Speed section).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::{Mutex, PoisonError};

/// Blocks this large or larger are kept when freed (glibc maps each on its own).
const LARGE: usize = 32 << 20;
/// At most this much freed memory is kept; the oldest block goes first.
const KEPT_BYTES: usize = 1 << 30;
const SLOTS: usize = 16;

/// A freed block: its address, size and alignment (`size` 0: an empty slot).
#[derive(Clone, Copy)]
struct Block {
    address: usize,
    size: usize,
    align: usize,
}

const EMPTY: Block = Block { address: 0, size: 0, align: 0 };

/// Freed large blocks, the oldest first.
struct Kept {
    blocks: [Block; SLOTS],
    len: usize,
}

impl Kept {
    fn bytes(&self) -> usize {
        self.blocks[..self.len].iter().map(|b| b.size).sum()
    }

    /// A kept block of exactly this layout (a step asks for the same sizes every time).
    fn take(&mut self, layout: Layout) -> Option<*mut u8> {
        let at = self.blocks[..self.len].iter().rposition(|b| b.size == layout.size() && b.align == layout.align())?;
        let block = self.blocks[at];
        self.blocks.copy_within(at + 1..self.len, at);
        self.len -= 1;
        Some(block.address as *mut u8)
    }

    /// Keeps `block`, handing back the blocks that no longer fit to be freed.
    fn keep(&mut self, block: Block, mut free: impl FnMut(Block)) {
        if block.size > KEPT_BYTES {
            return free(block);
        }
        while self.len == SLOTS || self.bytes() + block.size > KEPT_BYTES {
            free(self.blocks[0]);
            self.blocks.copy_within(1..self.len, 0);
            self.len -= 1;
        }
        self.blocks[self.len] = block;
        self.len += 1;
    }
}

static KEPT: Mutex<Kept> = Mutex::new(Kept { blocks: [EMPTY; SLOTS], len: 0 });

/// The system's allocator, keeping up to [`KEPT_BYTES`] of freed blocks over [`LARGE`].
pub struct StepAllocator;

fn kept() -> std::sync::MutexGuard<'static, Kept> {
    // Nothing in `Kept`'s methods panics midway, so a poisoned lock still guards a whole list.
    KEPT.lock().unwrap_or_else(PoisonError::into_inner)
}

// SAFETY: every block handed out is either the system allocator's own answer for this layout or a
// block it gave for exactly the same layout and that was freed since; blocks are handed back to
// it with the layout they were allocated with.
unsafe impl GlobalAlloc for StepAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE
            && let Some(block) = kept().take(layout)
        {
            return block;
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE
            && let Some(block) = kept().take(layout)
        {
            // SAFETY: the block holds `layout.size()` bytes.
            unsafe { block.write_bytes(0, layout.size()) };
            return block;
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() < LARGE {
            // SAFETY: small blocks always come from the system allocator with this layout.
            return unsafe { System.dealloc(ptr, layout) };
        }
        let block = Block { address: ptr as usize, size: layout.size(), align: layout.align() };
        let mut freed = [EMPTY; SLOTS + 1];
        let mut count = 0;
        kept().keep(block, |b| {
            freed[count] = b;
            count += 1;
        });
        // Outside the lock: unmapping takes a while.
        for b in &freed[..count] {
            // SAFETY: each block came from the system allocator with this size and alignment.
            unsafe { System.dealloc(b.address as *mut u8, Layout::from_size_align_unchecked(b.size, b.align)) };
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() < LARGE && new_size < LARGE {
            // SAFETY: a small block from the system allocator, resized to a small one.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the caller's arguments; the new layout is valid by realloc's contract.
        let new = unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !new.is_null() {
            // SAFETY: both blocks hold at least the smaller size, and are distinct.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

/// Keeps memory under glibc's mapping threshold in its heap once freed.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE as i32);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(size: usize) -> Block {
        Block { address: size, size, align: 4 }
    }

    #[test]
    fn a_freed_block_is_handed_out_again_for_the_same_layout_only() {
        let mut kept = Kept { blocks: [EMPTY; SLOTS], len: 0 };
        kept.keep(block(64 << 20), |_| panic!("nothing should be freed"));
        assert_eq!(kept.take(Layout::from_size_align(64 << 20, 8).unwrap()), None);
        assert_eq!(kept.take(Layout::from_size_align(48 << 20, 4).unwrap()), None);
        assert_eq!(kept.take(Layout::from_size_align(64 << 20, 4).unwrap()), Some((64usize << 20) as *mut u8));
        assert_eq!(kept.len, 0);
    }

    #[test]
    fn the_oldest_blocks_go_once_the_kept_bytes_are_full() {
        let mut kept = Kept { blocks: [EMPTY; SLOTS], len: 0 };
        let mut freed = Vec::new();
        for mb in [400, 300, 200, 600] {
            kept.keep(block(mb << 20), |b| freed.push(b.size >> 20));
        }
        // 400 + 300 + 200 + 600 MB > 1 GB, and so is 300 + 200 + 600: the two oldest go.
        assert_eq!(freed, [400, 300]);
        assert_eq!(kept.bytes(), 800 << 20);
        kept.keep(block(2 << 30), |b| freed.push(b.size >> 20));
        assert_eq!(freed, [400, 300, 2048]);
    }
}
